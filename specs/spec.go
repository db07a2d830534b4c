// Package specs is the metric registry: the YAML file that says where the raw
// telemetry lives (source) and which predefined aggregations are computed from it.
//
// A registry is parsed with Load or Parse, which validate it completely and return
// every problem at once, each naming the file, line and field path. Every
// aggregation has a stable Version: a hash of its normalized definition that is
// stamped into every output, so a changed definition never mixes with old results.
package specs

import (
	"time"
)

// Metric types, as in the OpenTelemetry metrics data model.
const (
	TypeGauge                = "gauge"
	TypeSum                  = "sum"
	TypeHistogram            = "histogram"
	TypeExponentialHistogram = "exponential_histogram"
)

// Aggregation temporalities of sums and histograms.
const (
	TemporalityCumulative = "cumulative"
	TemporalityDelta      = "delta"
)

// Layout names accepted by Source.Layout.
const (
	// LayoutHive is dt=YYYY-MM-DD/hour=HH/ partitions by event time.
	LayoutHive = "hive"
	// LayoutHiveDaily is dt=YYYY-MM-DD/ partitions by event time.
	LayoutHiveDaily = "hive-daily"
	// LayoutDruid is one folder per ISO-8601 interval: START_END/ (Druid segment style).
	LayoutDruid = "druid"
	// LayoutFlat lists every object under the URL and prunes by footer statistics only.
	LayoutFlat = "flat"
)

// Timestamp units for integer time columns without a Parquet TIMESTAMP annotation.
const (
	UnitAuto = "auto" // guessed from the magnitude of the values (s, ms, us or ns since the epoch)
	UnitS    = "s"
	UnitMS   = "ms"
	UnitUS   = "us"
	UnitNS   = "ns"
)

// Value encodings of Kafka records.
const (
	EncodingOTLP = "otlp"
	EncodingJSON = "json"
)

// Key formats of Kafka records.
const (
	// KeyFormatString is the rendered key template as UTF-8 bytes.
	KeyFormatString = "string"
	// KeyFormatWindowed is Kafka Streams' TimeWindowedSerde layout: the rendered
	// key bytes followed by the window start as 8-byte big-endian epoch milliseconds.
	KeyFormatWindowed = "windowed"
)

// Defaults.
const (
	DefaultLayout      = LayoutHive
	DefaultTimeUnit    = UnitAuto
	DefaultEncoding    = EncodingOTLP
	DefaultKeyFormat   = KeyFormatString
	DefaultKeyTemplate = "{aggregation}|{dimensions}|{window_start}"
	// DefaultWindowedKeyTemplate is the default inner key of the windowed key format,
	// whose 8-byte suffix already holds the window start.
	DefaultWindowedKeyTemplate = "{aggregation}|{dimensions}"
	// DefaultStaleness is how far back the predecessor of a cumulative point is looked for.
	DefaultStaleness = 10 * time.Minute
	// DefaultSketchAlpha is the relative accuracy of the DDSketch behind gauge quantiles.
	DefaultSketchAlpha = 0.01
	// SemanticsVersion is mixed into every spec version: bump it when the meaning of an
	// emitted function changes, so old and new outputs never mix.
	SemanticsVersion = "tally-semantics-1"
)

// Registry is a whole registry file: one source and the aggregations computed from it.
type Registry struct {
	// Path is the file the registry was read from ("" when parsed from bytes).
	Path string `json:"path,omitempty"`
	// Source says where the raw segments are and how their columns are named.
	Source Source `json:"source"`
	// Aggregations are the predefined rollups, in file order; names are unique.
	Aggregations []*Aggregation `json:"aggregations"`
}

// Source describes the raw telemetry lake.
type Source struct {
	// URL of the lake's root: file://, mem://, s3://, gs:// or azblob:// (gocloud.dev/blob).
	URL string `json:"url"`
	// Layout is one of hive (default), hive-daily, druid or flat.
	Layout string `json:"layout"`
	// TimeUnit is the unit of integer time columns that carry no TIMESTAMP annotation.
	TimeUnit string `json:"time_unit"`
	// Columns maps contract column names (time, metric, value, …, and dimension names)
	// to the lake's physical column names. Unmapped names are used as they are.
	Columns map[string]string `json:"columns,omitempty"`
	// Dimensions are the attribute columns that, with the metric name, identify a series.
	Dimensions []string `json:"dimensions"`
	// Tenant is the dimension that names the tenant; every aggregation groups by it and
	// every tenant's output lives under its own prefix.
	Tenant string `json:"tenant"`
}

// Filter keeps only the points whose dimension matches.
type Filter struct {
	Dimension string   `json:"dimension"`
	Op        string   `json:"op"` // eq, ne, in, not_in
	Values    []string `json:"values"`
}

// Filter operators.
const (
	OpEq    = "eq"
	OpNe    = "ne"
	OpIn    = "in"
	OpNotIn = "not_in"
)

// Aggregation is one predefined rollup.
type Aggregation struct {
	// Name is unique in the registry: [a-z][a-z0-9_]*.
	Name string `json:"name"`
	// Metrics are the source metric names the aggregation reads (one or more).
	Metrics []string `json:"metrics"`
	// Type is gauge, sum, histogram or exponential_histogram.
	Type string `json:"type"`
	// Temporality of sums and histograms: cumulative or delta ("" for gauges).
	Temporality string `json:"temporality,omitempty"`
	// Monotonic is true for counters (sums that only go up between resets).
	Monotonic bool `json:"monotonic,omitempty"`
	// Window is the tumbling, UTC-aligned window: 1m, 5m, 15m, 1h or 1d and the like.
	Window time.Duration `json:"window"`
	// GroupBy are the dimensions kept; all others are aggregated away. Always holds the tenant.
	GroupBy []string `json:"group_by"`
	// Filters all have to match for a point to count.
	Filters []Filter `json:"filters,omitempty"`
	// Functions are the emitted functions, in output column order.
	Functions []string `json:"functions"`
	// Staleness bounds how far back the predecessor of a cumulative point is looked for.
	Staleness time.Duration `json:"staleness,omitempty"`
	// SketchAlpha is the DDSketch relative accuracy for gauge quantiles.
	SketchAlpha float64 `json:"sketch_alpha,omitempty"`
	// Output routes the results.
	Output Output `json:"output"`

	// Version is the stable hash of the normalized definition (computed, not parsed).
	Version string `json:"version"`
	// Line is where the aggregation starts in its file (computed).
	Line int `json:"-"`
}

// Output routes an aggregation's results.
type Output struct {
	// Parquet turns the rollup Parquet dataset on (default true).
	Parquet bool `json:"parquet"`
	// Kafka, when set, publishes one record per output row.
	Kafka *KafkaOutput `json:"kafka,omitempty"`
}

// KafkaOutput is how an aggregation's rows become Kafka records.
type KafkaOutput struct {
	// Topic is a template: {aggregation}, {tenant}, {window} (the window's name, e.g. 1m).
	Topic string `json:"topic"`
	// Key is a template over {aggregation}, {dimensions} (name=value pairs joined by ','),
	// {dim:NAME}, {window_start} (epoch ms) and {window_start_iso}.
	Key string `json:"key"`
	// KeyFormat is string or windowed (Kafka Streams' windowed key layout).
	KeyFormat string `json:"key_format"`
	// Encoding is otlp (MetricsData protobuf) or json.
	Encoding string `json:"encoding"`
}
