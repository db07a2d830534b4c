package gen

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"time"
)

// Layouts of the partition folders.
const (
	// LayoutHive is <root>/dt=YYYY-MM-DD/hour=HH/part-NNNNN.parquet.
	LayoutHive = "hive"
	// LayoutDruid is <root>/<start>_<end>/part-NNNNN.parquet with ISO-8601 hour intervals.
	LayoutDruid = "druid"
)

// Compression codecs of the Parquet column chunks.
const (
	CodecZstd   = "zstd"
	CodecSnappy = "snappy"
	CodecLZ4Raw = "lz4_raw"
	CodecGzip   = "gzip"
	CodecNone   = "none"
)

// Time units of the time, start_time and ingest_time columns.
const (
	// UnitS writes TIMESTAMP(MILLIS) holding whole seconds: Parquet has no seconds unit.
	UnitS = "s"
	// UnitMS writes TIMESTAMP(MILLIS, UTC).
	UnitMS = "ms"
	// UnitUS writes TIMESTAMP(MICROS, UTC).
	UnitUS = "us"
	// UnitNS writes TIMESTAMP(NANOS, UTC).
	UnitNS = "ns"
	// UnitInt64MS writes plain INT64 epoch milliseconds with no logical type.
	UnitInt64MS = "int64-ms"
	// UnitInt64NS writes plain INT64 epoch nanoseconds with no logical type.
	UnitInt64NS = "int64-ns"
)

// Defaults applied by Config.Validate to zero-valued fields.
const (
	DefaultTenants           = 3
	DefaultClustersPerTenant = 2
	DefaultBrokersPerCluster = 3
	DefaultTopicsPerBroker   = 4
	DefaultInterval          = 10 * time.Second
	DefaultLayout            = LayoutHive
	DefaultFilesPerPartition = 2
	DefaultRowGroupRows      = 128 * 1024
	DefaultCodec             = CodecZstd
	DefaultTimeUnit          = UnitMS
	DefaultLateBy            = 30 * time.Minute
	// DefaultResetProbability is the per-series, per-hour counter reset probability
	// used by DefaultConfig and the command line. A Config's zero value means no
	// drawn resets, so tests get exactly the quirks they ask for.
	DefaultResetProbability = 0.001
)

// Limits that keep a mistyped flag from exhausting memory.
const (
	// MaxSeries bounds the number of series (the series table is held in memory).
	MaxSeries = 1 << 22
	// MaxFilesPerPartition bounds FilesPerPartition.
	MaxFilesPerPartition = 4096
	// MaxRowGroupRows bounds RowGroupRows (one row group is buffered per file being written).
	MaxRowGroupRows = 1 << 24
	// MaxInterval is the longest reporting interval: every series reports at least once an hour.
	MaxInterval = time.Hour
)

// earliest and latest bound the event-time range so that nanosecond arithmetic never overflows.
var (
	earliest = time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)
	latest   = time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)
)

// Config says what lake to generate. The zero value of every size, layout and
// format field means its Default constant; quirk fractions default to 0 (off).
type Config struct {
	// URL of the lake root, for GenerateURL: file:///abs/path, mem://,
	// s3://bucket/prefix?endpoint=…, gs://bucket/prefix, azblob://container/prefix.
	URL string
	// From and To bound event time: points with From <= time < To are written (UTC).
	From, To time.Time
	// Tenants, ClustersPerTenant, BrokersPerCluster and TopicsPerBroker shape the fleet.
	Tenants, ClustersPerTenant, BrokersPerCluster, TopicsPerBroker int
	// Interval is how often every series reports; at most MaxInterval.
	Interval time.Duration
	// Seed makes a different but equally deterministic lake.
	Seed int64
	// Layout is LayoutHive (default) or LayoutDruid.
	Layout string
	// FilesPerPartition splits each hour's tenants across files: file k holds the
	// tenants whose index modulo FilesPerPartition is k.
	FilesPerPartition int
	// RowGroupRows is the number of rows per Parquet row group.
	RowGroupRows int
	// Codec is zstd (default), snappy, lz4_raw, gzip or none.
	Codec string
	// TimeUnit is ms (default), us, ns, s, int64-ms or int64-ns.
	TimeUnit string
	// Columns renames contract columns: contract name → physical name.
	Columns map[string]string
	// Metrics keeps only these metrics; empty means all of MetricNames().
	Metrics []string

	// LateFraction of points arrive LateBy after their event time (ingest_time).
	LateFraction float64
	// LateBy is how late a late point arrives (default DefaultLateBy).
	LateBy time.Duration
	// DuplicateFraction of points are written twice, the copy in the same file or
	// in another file of the same partition.
	DuplicateFraction float64
	// NaNFraction of gauge points carry NaN (one in ten of those +Inf) instead of a value.
	NaNFraction float64
	// OutOfOrderFraction of rows are moved up to maxDisplacement rows later in their file.
	OutOfOrderFraction float64
	// ResetProbability is the chance that a cumulative counter resets in a given hour.
	ResetProbability float64

	// Concurrency bounds the files written at once by Generate; 0 means GOMAXPROCS.
	Concurrency int
	// Progress, when set, is called after each row group with the number of rows
	// just written. Calls are serialized.
	Progress func(rows int64)
}

// DefaultConfig returns the configuration the command line starts from: every
// default applied and the default counter reset probability, for [from, to).
func DefaultConfig(url string, from, to time.Time) Config {
	c := Config{URL: url, From: from, To: to, ResetProbability: DefaultResetProbability}
	c.applyDefaults()
	return c
}

func (c *Config) applyDefaults() {
	setInt := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	setInt(&c.Tenants, DefaultTenants)
	setInt(&c.ClustersPerTenant, DefaultClustersPerTenant)
	setInt(&c.BrokersPerCluster, DefaultBrokersPerCluster)
	setInt(&c.TopicsPerBroker, DefaultTopicsPerBroker)
	setInt(&c.FilesPerPartition, DefaultFilesPerPartition)
	setInt(&c.RowGroupRows, DefaultRowGroupRows)
	if c.Interval == 0 {
		c.Interval = DefaultInterval
	}
	if c.LateBy == 0 {
		c.LateBy = DefaultLateBy
	}
	if c.Layout == "" {
		c.Layout = DefaultLayout
	}
	if c.Codec == "" {
		c.Codec = DefaultCodec
	}
	if c.TimeUnit == "" {
		c.TimeUnit = DefaultTimeUnit
	}
}

// Validate applies the defaults to zero-valued fields and checks every field,
// returning all problems at once, each prefixed with its field name.
func (c *Config) Validate() error {
	c.applyDefaults()
	c.From, c.To = c.From.UTC(), c.To.UTC()
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...)))
	}
	switch {
	case c.From.IsZero():
		bad("From", "required: the start of the event-time range")
	case c.From.Before(earliest) || !c.From.Before(latest):
		bad("From", "%s is outside [%s, %s)", c.From.Format(time.RFC3339), earliest.Format(time.RFC3339), latest.Format(time.RFC3339))
	}
	switch {
	case c.To.IsZero():
		bad("To", "required: the end of the event-time range (exclusive)")
	case c.To.After(latest):
		bad("To", "%s is after %s", c.To.Format(time.RFC3339), latest.Format(time.RFC3339))
	case !c.From.IsZero() && !c.To.After(c.From):
		bad("To", "%s must be after From %s", c.To.Format(time.RFC3339), c.From.Format(time.RFC3339))
	}
	for _, f := range []struct {
		name string
		v    int
	}{{"Tenants", c.Tenants}, {"ClustersPerTenant", c.ClustersPerTenant}, {"BrokersPerCluster", c.BrokersPerCluster}, {"TopicsPerBroker", c.TopicsPerBroker}} {
		if f.v < 1 {
			bad(f.name, "%d: must be at least 1", f.v)
		}
	}
	res, unitOK := unitResolution[c.TimeUnit]
	if !unitOK {
		bad("TimeUnit", "%q: want one of %s", c.TimeUnit, joinKeys(unitResolution))
	}
	switch {
	case c.Interval < 0 || c.Interval > MaxInterval:
		bad("Interval", "%s: must be positive and at most %s", c.Interval, MaxInterval)
	case unitOK && (c.Interval < res || c.Interval%res != 0):
		bad("Interval", "%s: must be a whole number of the time unit %s (%s)", c.Interval, c.TimeUnit, res)
	}
	if c.Layout != LayoutHive && c.Layout != LayoutDruid {
		bad("Layout", "%q: want %s or %s", c.Layout, LayoutHive, LayoutDruid)
	}
	if c.FilesPerPartition < 1 || c.FilesPerPartition > MaxFilesPerPartition {
		bad("FilesPerPartition", "%d: must be between 1 and %d", c.FilesPerPartition, MaxFilesPerPartition)
	}
	if c.RowGroupRows < 1 || c.RowGroupRows > MaxRowGroupRows {
		bad("RowGroupRows", "%d: must be between 1 and %d", c.RowGroupRows, MaxRowGroupRows)
	}
	if _, ok := codecs[c.Codec]; !ok {
		bad("Codec", "%q: want one of %s", c.Codec, joinKeys(codecs))
	}
	if c.LateBy < 0 {
		bad("LateBy", "%s: must not be negative", c.LateBy)
	} else if unitOK && c.LateBy%res != 0 {
		bad("LateBy", "%s: must be a whole number of the time unit %s (%s)", c.LateBy, c.TimeUnit, res)
	}
	for _, f := range []struct {
		name string
		v    float64
	}{{"LateFraction", c.LateFraction}, {"DuplicateFraction", c.DuplicateFraction}, {"NaNFraction", c.NaNFraction}, {"OutOfOrderFraction", c.OutOfOrderFraction}, {"ResetProbability", c.ResetProbability}} {
		if math.IsNaN(f.v) || f.v < 0 || f.v > 1 {
			bad(f.name, "%v: must be between 0 and 1", f.v)
		}
	}
	if c.Concurrency < 0 {
		bad("Concurrency", "%d: must not be negative (0 means GOMAXPROCS)", c.Concurrency)
	}
	errs = append(errs, c.validateMetrics()...)
	errs = append(errs, c.validateColumns()...)
	if len(errs) == 0 {
		if n := c.seriesCount(); n > MaxSeries {
			bad("Tenants", "the fleet has %d series, more than the limit of %d: lower Tenants, ClustersPerTenant, BrokersPerCluster or TopicsPerBroker", n, MaxSeries)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("gen config: %w", errors.Join(errs...))
	}
	return nil
}

func (c *Config) validateMetrics() []error {
	var errs []error
	seen := map[string]bool{}
	for i, m := range c.Metrics {
		if metricIndex(m) < 0 {
			errs = append(errs, fmt.Errorf("Metrics[%d]: unknown metric %q: want one of %v", i, m, MetricNames()))
		}
		if seen[m] {
			errs = append(errs, fmt.Errorf("Metrics[%d]: %q is listed twice", i, m))
		}
		seen[m] = true
	}
	return errs
}

func (c *Config) validateColumns() []error {
	var errs []error
	keys := make([]string, 0, len(c.Columns))
	for k := range c.Columns {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !slices.Contains(ContractColumns(), k) {
			errs = append(errs, fmt.Errorf("Columns[%q]: not a contract column: want one of %v", k, ContractColumns()))
		}
		if c.Columns[k] == "" {
			errs = append(errs, fmt.Errorf("Columns[%q]: the physical name is empty", k))
		}
	}
	owner := map[string]string{}
	for _, contract := range ContractColumns() {
		phys := c.physical(contract)
		if prev, ok := owner[phys]; ok {
			errs = append(errs, fmt.Errorf("Columns: %q and %q would both be written as column %q", prev, contract, phys))
		}
		owner[phys] = contract
	}
	return errs
}

// physical is the column name written for a contract column.
func (c *Config) physical(contract string) string {
	if p, ok := c.Columns[contract]; ok && p != "" {
		return p
	}
	return contract
}

// seriesCount is the number of series of the fleet for the selected metrics.
func (c *Config) seriesCount() int64 {
	brokers := int64(c.Tenants) * int64(c.ClustersPerTenant) * int64(c.BrokersPerCluster)
	var per int64
	for _, m := range c.metricSet() {
		switch {
		case metricDefs[m].perTopic:
			per += int64(c.TopicsPerBroker)
		case metricDefs[m].perRequestType:
			per += int64(len(requestTypes))
		default:
			per++
		}
	}
	return brokers * per
}

// metricSet lists the indexes into metricDefs of the selected metrics, in metricDefs order.
func (c *Config) metricSet() []int {
	var out []int
	for i, d := range metricDefs {
		if len(c.Metrics) == 0 || slices.Contains(c.Metrics, d.name) {
			out = append(out, i)
		}
	}
	return out
}

// joinKeys lists a map's keys sorted, for error messages.
func joinKeys[V any](m map[string]V) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return fmt.Sprint(keys)
}
