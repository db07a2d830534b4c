package kafka

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	metricspb "go.opentelemetry.io/proto/otlp/metrics/v1"
	"google.golang.org/protobuf/proto"

	"github.com/tallyhq/tally/exec"
	"github.com/tallyhq/tally/specs"
)

// MaxValueBytes bounds the record values Decode accepts; a rollup row is a few
// kilobytes, and Kafka's own default message limit is 1 MiB.
const MaxValueBytes = 16 << 20

// Dim is one group_by dimension of a decoded record.
type Dim struct {
	Name  string
	Value string
}

// Decoded is one record read back: what the row said, and where and why it was
// published. Records published by the streaming job carry no tally.* headers; their
// RunID, TaskID and Origin are empty.
type Decoded struct {
	// Where the record was read from.
	Topic     string
	Partition int32
	Offset    int64
	Timestamp time.Time
	Key       []byte

	// Encoding is otlp or json; RecordVersion the contract version (1).
	Encoding      string
	RecordVersion int

	Aggregation string
	SpecVersion string
	// WindowStart and WindowEnd are epoch milliseconds, UTC: [start, end).
	WindowStart int64
	WindowEnd   int64
	// Dims are the group_by dimensions, in group_by order.
	Dims []Dim
	// Samples is the number of raw points behind the row.
	Samples int64
	// Functions lists the emitted functions in record order.
	Functions []string
	// Values holds every scalar function by name (count included, as a float).
	Values map[string]float64
	// Count is the count function's exact integer value when HasCount.
	Count    int64
	HasCount bool
	// Hist, Exp and Sketch are set when the record carries buckets or a sketch.
	Hist   *exec.Histogram
	Exp    *exec.ExpHistogram
	Sketch []byte

	// Provenance, from the tally.* headers ("" when absent).
	RunID  string
	TaskID string
	Origin string
}

// Dim returns the value of dimension name and whether the record has it.
func (d *Decoded) Dim(name string) (string, bool) {
	for _, x := range d.Dims {
		if x.Name == name {
			return x.Value, true
		}
	}
	return "", false
}

// DecodeError is a record that does not follow the contract: which record, which field
// and what is wrong.
type DecodeError struct {
	Topic     string
	Partition int32
	Offset    int64
	Field     string
	Err       error
}

// Error names the record (or task) and what is wrong.
func (e *DecodeError) Error() string {
	return fmt.Sprintf("decode record %s/%d@%d: %s: %v", e.Topic, e.Partition, e.Offset, e.Field, e.Err)
}

// Unwrap returns the underlying error.
func (e *DecodeError) Unwrap() error { return e.Err }

// Decode reads a record written under the contract of docs/kafka-records.md (by tally
// or by the streaming job). The encoding is taken from the content-type header, or
// sniffed from the value when the header is absent. Errors are *DecodeError.
func Decode(rec *kgo.Record) (Decoded, error) {
	d := Decoded{Topic: rec.Topic, Partition: rec.Partition, Offset: rec.Offset, Timestamp: rec.Timestamp, Key: rec.Key}
	fail := func(field string, err error) (Decoded, error) {
		return Decoded{}, &DecodeError{Topic: rec.Topic, Partition: rec.Partition, Offset: rec.Offset, Field: field, Err: err}
	}
	ct := ""
	for _, h := range rec.Headers {
		v := string(h.Value)
		switch h.Key {
		case HeaderContentType:
			ct = v
		case HeaderRecordVersion:
			n, err := strconv.Atoi(v)
			if err != nil {
				return fail("header "+HeaderRecordVersion, fmt.Errorf("%q is not a number", v))
			}
			if n != RecordVersion {
				return fail("header "+HeaderRecordVersion, fmt.Errorf("record version %d; this tally reads version %d", n, RecordVersion))
			}
		case HeaderRunID:
			d.RunID = v
		case HeaderTask:
			d.TaskID = v
		case HeaderOrigin:
			d.Origin = v
		}
	}
	if len(rec.Value) == 0 {
		return fail("value", errors.New("empty value (a tombstone?); rollup records always have a value"))
	}
	if len(rec.Value) > MaxValueBytes {
		return fail("value", fmt.Errorf("%d bytes, more than the %d a rollup record may hold", len(rec.Value), MaxValueBytes))
	}
	if base, _, _ := strings.Cut(ct, ";"); ct != "" {
		ct = strings.TrimSpace(base)
	} else if rec.Value[0] == '{' {
		ct = ContentTypeJSON
	} else {
		ct = ContentTypeOTLP
	}
	var field string
	var err error
	switch ct {
	case ContentTypeOTLP:
		d.Encoding = specs.EncodingOTLP
		field, err = decodeOTLP(rec.Value, &d)
	case ContentTypeJSON:
		d.Encoding = specs.EncodingJSON
		field, err = decodeJSON(rec.Value, &d)
	default:
		return fail("header "+HeaderContentType, fmt.Errorf("unknown content type %q; want %s or %s", ct, ContentTypeOTLP, ContentTypeJSON))
	}
	if err != nil {
		return fail(field, err)
	}
	if d.RecordVersion == 0 {
		d.RecordVersion = RecordVersion
	}
	return d, nil
}

func nanosToMillis(ns uint64) (int64, error) {
	if ns%uint64(time.Millisecond) != 0 {
		return 0, fmt.Errorf("%d ns is not a whole millisecond", ns)
	}
	ms := ns / uint64(time.Millisecond)
	if ms > math.MaxInt64/uint64(time.Millisecond) {
		return 0, fmt.Errorf("%d ns is out of range", ns)
	}
	return int64(ms), nil
}

// decodeOTLP reads a MetricsData value. It returns the field at fault with any error.
func decodeOTLP(b []byte, d *Decoded) (string, error) {
	var md metricspb.MetricsData
	if err := proto.Unmarshal(b, &md); err != nil {
		return "value", fmt.Errorf("not an OTLP MetricsData protobuf: %w", err)
	}
	if n := len(md.ResourceMetrics); n != 1 {
		return "resource_metrics", fmt.Errorf("%d entries; want 1", n)
	}
	rm := md.ResourceMetrics[0]
	if n := len(rm.ScopeMetrics); n != 1 {
		return "scope_metrics", fmt.Errorf("%d entries; want 1", n)
	}
	sm := rm.ScopeMetrics[0]
	if sm.Scope != nil {
		d.SpecVersion = sm.Scope.Version
		for _, a := range sm.Scope.Attributes {
			if a.Key == ScopeAttrSamples {
				iv, ok := a.GetValue().GetValue().(*commonpb.AnyValue_IntValue)
				if !ok {
					return "scope.attributes." + ScopeAttrSamples, errors.New("not an integer")
				}
				d.Samples = iv.IntValue
			}
		}
	}
	if len(sm.Metrics) == 0 {
		return "metrics", errors.New("no metrics")
	}
	d.Values = make(map[string]float64, len(sm.Metrics))
	windowSet := false
	for i, m := range sm.Metrics {
		field := fmt.Sprintf("metrics[%d]", i)
		agg, fn, ok := strings.Cut(m.Name, ".")
		if !ok || agg == "" || fn == "" {
			return field + ".name", fmt.Errorf("%q is not <aggregation>.<function>", m.Name)
		}
		if d.Aggregation == "" {
			d.Aggregation = agg
		} else if agg != d.Aggregation {
			return field + ".name", fmt.Errorf("metric %q belongs to aggregation %q, the record to %q", m.Name, agg, d.Aggregation)
		}
		if _, dup := d.Values[fn]; dup || (fn == specs.FnBuckets && (d.Hist != nil || d.Exp != nil)) || (fn == specs.FnSketch && d.Sketch != nil) {
			return field + ".name", fmt.Errorf("function %q appears twice", fn)
		}
		var (
			attrs      []*commonpb.KeyValue
			start, end uint64
		)
		switch data := m.Data.(type) {
		case *metricspb.Metric_Gauge:
			p, err := onePoint(data.Gauge.GetDataPoints())
			if err != nil {
				return field + ".gauge.data_points", err
			}
			attrs, start, end = p.Attributes, p.StartTimeUnixNano, p.TimeUnixNano
			v, err := pointValue(p)
			if err != nil {
				return field + ".gauge.data_points[0]", err
			}
			if fn == specs.FnSketch {
				var sk []byte
				var rest []*commonpb.KeyValue
				for _, a := range attrs {
					if a.Key == PointAttrSketch {
						bv, ok := a.GetValue().GetValue().(*commonpb.AnyValue_BytesValue)
						if !ok {
							return field + ".attributes." + PointAttrSketch, errors.New("not a bytes value")
						}
						sk = bv.BytesValue
						continue
					}
					rest = append(rest, a)
				}
				if len(sk) == 0 {
					return field + ".attributes", fmt.Errorf("sketch metric has no %s attribute", PointAttrSketch)
				}
				d.Sketch, attrs = sk, rest
			} else {
				d.Values[fn] = v
			}
		case *metricspb.Metric_Sum:
			p, err := onePoint(data.Sum.GetDataPoints())
			if err != nil {
				return field + ".sum.data_points", err
			}
			if data.Sum.AggregationTemporality != metricspb.AggregationTemporality_AGGREGATION_TEMPORALITY_DELTA {
				return field + ".sum.aggregation_temporality", fmt.Errorf("%v; rollups are DELTA", data.Sum.AggregationTemporality)
			}
			attrs, start, end = p.Attributes, p.StartTimeUnixNano, p.TimeUnixNano
			v, err := pointValue(p)
			if err != nil {
				return field + ".sum.data_points[0]", err
			}
			d.Values[fn] = v
			if iv, ok := p.Value.(*metricspb.NumberDataPoint_AsInt); ok && fn == specs.FnCount {
				d.Count, d.HasCount = iv.AsInt, true
			}
		case *metricspb.Metric_Histogram:
			ps := data.Histogram.GetDataPoints()
			if len(ps) != 1 {
				return field + ".histogram.data_points", fmt.Errorf("%d points; want 1", len(ps))
			}
			p := ps[0]
			if len(p.BucketCounts) != len(p.ExplicitBounds)+1 {
				return field + ".histogram.data_points[0].bucket_counts", fmt.Errorf("%d counts for %d bounds; want bounds+1", len(p.BucketCounts), len(p.ExplicitBounds))
			}
			attrs, start, end = p.Attributes, p.StartTimeUnixNano, p.TimeUnixNano
			d.Hist = &exec.Histogram{Bounds: p.ExplicitBounds, Counts: p.BucketCounts}
		case *metricspb.Metric_ExponentialHistogram:
			ps := data.ExponentialHistogram.GetDataPoints()
			if len(ps) != 1 {
				return field + ".exponential_histogram.data_points", fmt.Errorf("%d points; want 1", len(ps))
			}
			p := ps[0]
			attrs, start, end = p.Attributes, p.StartTimeUnixNano, p.TimeUnixNano
			d.Exp = &exec.ExpHistogram{
				Scale: p.Scale, ZeroCount: p.ZeroCount, ZeroThreshold: p.ZeroThreshold,
				PositiveOffset: p.GetPositive().GetOffset(), PositiveCounts: p.GetPositive().GetBucketCounts(),
				NegativeOffset: p.GetNegative().GetOffset(), NegativeCounts: p.GetNegative().GetBucketCounts(),
			}
		default:
			return field, fmt.Errorf("metric %q has data of type %T; want gauge, sum, histogram or exponential_histogram", m.Name, m.Data)
		}
		d.Functions = append(d.Functions, fn)
		s, err := nanosToMillis(start)
		if err != nil {
			return field + ".start_time_unix_nano", err
		}
		e, err := nanosToMillis(end)
		if err != nil {
			return field + ".time_unix_nano", err
		}
		dims := make([]Dim, 0, len(attrs))
		for j, a := range attrs {
			sv, ok := a.GetValue().GetValue().(*commonpb.AnyValue_StringValue)
			if !ok {
				return fmt.Sprintf("%s.attributes[%d]", field, j), fmt.Errorf("dimension %q is not a string", a.Key)
			}
			dims = append(dims, Dim{Name: a.Key, Value: sv.StringValue})
		}
		if !windowSet {
			d.WindowStart, d.WindowEnd, d.Dims, windowSet = s, e, dims, true
			continue
		}
		if s != d.WindowStart || e != d.WindowEnd {
			return field, fmt.Errorf("window [%d, %d) ms differs from the record's first metric [%d, %d)", s, e, d.WindowStart, d.WindowEnd)
		}
		if !sameDims(dims, d.Dims) {
			return field + ".attributes", errors.New("dimensions differ from the record's first metric")
		}
	}
	if d.WindowEnd <= d.WindowStart {
		return "metrics[0].time_unix_nano", fmt.Errorf("window [%d, %d) ms is empty", d.WindowStart, d.WindowEnd)
	}
	return "", nil
}

func onePoint(ps []*metricspb.NumberDataPoint) (*metricspb.NumberDataPoint, error) {
	if len(ps) != 1 {
		return nil, fmt.Errorf("%d points; want 1", len(ps))
	}
	return ps[0], nil
}

func pointValue(p *metricspb.NumberDataPoint) (float64, error) {
	switch v := p.Value.(type) {
	case *metricspb.NumberDataPoint_AsDouble:
		return v.AsDouble, nil
	case *metricspb.NumberDataPoint_AsInt:
		return float64(v.AsInt), nil
	}
	return 0, errors.New("point has no value")
}

func sameDims(a, b []Dim) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// jsonRecord mirrors the JSON encoding; dims and values are read separately so their
// order is kept.
type jsonRecord struct {
	RecordVersion *int            `json:"record_version"`
	Aggregation   string          `json:"aggregation"`
	SpecVersion   string          `json:"spec_version"`
	Window        string          `json:"window"`
	WindowStart   string          `json:"window_start"`
	WindowStartMS *int64          `json:"window_start_ms"`
	WindowEnd     string          `json:"window_end"`
	WindowEndMS   *int64          `json:"window_end_ms"`
	Dims          json.RawMessage `json:"dims"`
	Samples       int64           `json:"samples"`
	Values        json.RawMessage `json:"values"`
	Buckets       *struct {
		Bounds []jsonNumber `json:"bounds"`
		Counts []uint64     `json:"counts"`
	} `json:"buckets"`
	ExpBuckets *struct {
		Scale         int32      `json:"scale"`
		ZeroCount     uint64     `json:"zero_count"`
		ZeroThreshold jsonNumber `json:"zero_threshold"`
		Positive      jsonBucket `json:"positive"`
		Negative      jsonBucket `json:"negative"`
	} `json:"exp_buckets"`
	Sketch *string `json:"sketch"`
}

type jsonBucket struct {
	Offset int32    `json:"offset"`
	Counts []uint64 `json:"counts"`
}

// jsonNumber is a float64 that also accepts "NaN", "Infinity" and "-Infinity".
type jsonNumber float64

func (n *jsonNumber) UnmarshalJSON(b []byte) error {
	v, err := parseJSONFloat(b)
	*n = jsonNumber(v)
	return err
}

func parseJSONFloat(b []byte) (float64, error) {
	switch string(b) {
	case `"NaN"`:
		return math.NaN(), nil
	case `"Infinity"`:
		return math.Inf(1), nil
	case `"-Infinity"`:
		return math.Inf(-1), nil
	}
	var f float64
	if err := json.Unmarshal(b, &f); err != nil {
		return 0, fmt.Errorf("%s is not a number", truncate(b))
	}
	return f, nil
}

func truncate(b []byte) string {
	if len(b) > 40 {
		return string(b[:40]) + "…"
	}
	return string(b)
}

// orderedObject reads a flat JSON object's members in order, each value raw.
func orderedObject(raw json.RawMessage, fn func(key string, value json.RawMessage) error) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return errors.New("not an object")
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		key, ok := tok.(string)
		if !ok {
			return errors.New("object key is not a string")
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return fmt.Errorf("member %q: %w", key, err)
		}
		if err := fn(key, v); err != nil {
			return fmt.Errorf("member %q: %w", key, err)
		}
	}
	if _, err := dec.Token(); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("data after the object")
	}
	return nil
}

// decodeJSON reads a JSON value. It returns the field at fault with any error.
func decodeJSON(b []byte, d *Decoded) (string, error) {
	var r jsonRecord
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&r); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return te.Field, fmt.Errorf("has JSON type %s, want %s", te.Value, te.Type)
		}
		return "value", fmt.Errorf("not a JSON record: %w", err)
	}
	if dec.More() {
		return "value", errors.New("data after the JSON object")
	}
	if r.RecordVersion == nil {
		return "record_version", errors.New("missing")
	}
	if *r.RecordVersion != RecordVersion {
		return "record_version", fmt.Errorf("record version %d; this tally reads version %d", *r.RecordVersion, RecordVersion)
	}
	d.RecordVersion = *r.RecordVersion
	if r.Aggregation == "" {
		return "aggregation", errors.New("missing")
	}
	d.Aggregation, d.SpecVersion, d.Samples = r.Aggregation, r.SpecVersion, r.Samples
	if r.WindowStartMS == nil {
		return "window_start_ms", errors.New("missing")
	}
	if r.WindowEndMS == nil {
		return "window_end_ms", errors.New("missing")
	}
	d.WindowStart, d.WindowEnd = *r.WindowStartMS, *r.WindowEndMS
	if d.WindowEnd <= d.WindowStart {
		return "window_end_ms", fmt.Errorf("window [%d, %d) ms is empty", d.WindowStart, d.WindowEnd)
	}
	if r.Dims == nil {
		return "dims", errors.New("missing")
	}
	if err := orderedObject(r.Dims, func(k string, v json.RawMessage) error {
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return errors.New("dimension value is not a string")
		}
		d.Dims = append(d.Dims, Dim{Name: k, Value: s})
		return nil
	}); err != nil {
		return "dims", err
	}
	d.Values = map[string]float64{}
	if r.Values == nil {
		return "values", errors.New("missing")
	}
	if err := orderedObject(r.Values, func(k string, v json.RawMessage) error {
		if _, dup := d.Values[k]; dup {
			return errors.New("appears twice")
		}
		if k == specs.FnCount {
			n, err := strconv.ParseInt(string(v), 10, 64)
			if err != nil {
				return fmt.Errorf("count %s is not an integer", truncate(v))
			}
			d.Count, d.HasCount = n, true
			d.Values[k] = float64(n)
		} else {
			f, err := parseJSONFloat(v)
			if err != nil {
				return err
			}
			d.Values[k] = f
		}
		d.Functions = append(d.Functions, k)
		return nil
	}); err != nil {
		return "values", err
	}
	if r.Buckets != nil && r.ExpBuckets != nil {
		return "buckets", errors.New("record has both buckets and exp_buckets")
	}
	if h := r.Buckets; h != nil {
		if len(h.Counts) != len(h.Bounds)+1 {
			return "buckets.counts", fmt.Errorf("%d counts for %d bounds; want bounds+1", len(h.Counts), len(h.Bounds))
		}
		bounds := make([]float64, len(h.Bounds))
		for i, x := range h.Bounds {
			bounds[i] = float64(x)
		}
		d.Hist = &exec.Histogram{Bounds: bounds, Counts: h.Counts}
		d.Functions = append(d.Functions, specs.FnBuckets)
	}
	if x := r.ExpBuckets; x != nil {
		d.Exp = &exec.ExpHistogram{
			Scale: x.Scale, ZeroCount: x.ZeroCount, ZeroThreshold: float64(x.ZeroThreshold),
			PositiveOffset: x.Positive.Offset, PositiveCounts: x.Positive.Counts,
			NegativeOffset: x.Negative.Offset, NegativeCounts: x.Negative.Counts,
		}
		d.Functions = append(d.Functions, specs.FnBuckets)
	}
	if r.Sketch != nil {
		sk, err := base64.StdEncoding.DecodeString(*r.Sketch)
		if err != nil || len(sk) == 0 {
			return "sketch", errors.New("not a non-empty base64 string")
		}
		d.Sketch = sk
		d.Functions = append(d.Functions, specs.FnSketch)
	}
	return "", nil
}
