package kafka

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/DataDog/sketches-go/ddsketch/pb/sketchpb"
	"github.com/twmb/franz-go/pkg/kgo"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	metricspb "go.opentelemetry.io/proto/otlp/metrics/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	"google.golang.org/protobuf/proto"

	"github.com/tallyhq/tally/exec"
	"github.com/tallyhq/tally/specs"
)

// RecordVersion is the version of the record contract (docs/kafka-records.md) that this
// package writes and reads. It is stamped into every record (header and JSON field); a
// change that an existing consumer could misread bumps it.
const RecordVersion = 1

// Record headers. Every record carries all of them, in this order.
const (
	HeaderContentType   = "content-type"
	HeaderRecordVersion = "tally.record_version"
	HeaderSpec          = "tally.spec"
	HeaderSpecVersion   = "tally.spec_version"
	HeaderRunID         = "tally.run_id"
	HeaderTask          = "tally.task"
	HeaderOrigin        = "tally.origin"
)

// Content types of the two value encodings.
const (
	ContentTypeOTLP = "application/x-protobuf"
	ContentTypeJSON = "application/json"
)

// Origins of a record: why tally published it.
const (
	OriginBackfill = "backfill"
	OriginRepair   = "repair"
)

// OTLP identifiers: the instrumentation scope of every record, the scope attribute that
// carries the row's sample count, and the point attribute that carries a serialized sketch.
const (
	ScopeName        = "tally"
	ScopeAttrSamples = "tally.samples"
	PointAttrSketch  = "tally.ddsketch"
)

// Encoder turns rollup rows into Kafka records following docs/kafka-records.md. It is
// safe for concurrent use.
type Encoder struct {
	tenantDim string
}

// NewEncoder returns an encoder for the aggregations of reg. tenantDim (the registry's
// tenant dimension, may be empty) fills {tenant} in topic templates and the OTLP resource.
func NewEncoder(tenantDim string) *Encoder {
	return &Encoder{tenantDim: tenantDim}
}

// rowError names the aggregation and row a problem belongs to.
func rowError(agg *specs.Aggregation, row *exec.Row, err error) error {
	return fmt.Errorf("aggregation %s, window %s, dims [%s]: %w", agg.Name, formatISO(row.WindowStart), strings.Join(row.Dims, ","), err)
}

// checkRow verifies that row has the shape agg promises, so encoding never indexes out
// of range and never writes a record a consumer would misread.
func checkRow(agg *specs.Aggregation, row *exec.Row) error {
	if len(row.Dims) != len(agg.GroupBy) {
		return fmt.Errorf("row has %d dimension values for %d group_by dimensions", len(row.Dims), len(agg.GroupBy))
	}
	if n := len(agg.ValueFunctions()); len(row.Values) != n {
		return fmt.Errorf("row has %d values for %d scalar functions (%s)", len(row.Values), n, strings.Join(agg.ValueFunctions(), ", "))
	}
	if row.WindowStart < 0 || row.WindowEnd <= row.WindowStart {
		return fmt.Errorf("window [%d, %d) ms is empty or before 1970", row.WindowStart, row.WindowEnd)
	}
	if row.WindowEnd > math.MaxInt64/int64(time.Millisecond) {
		return fmt.Errorf("window end %d ms is out of range", row.WindowEnd)
	}
	if agg.Has(specs.FnBuckets) {
		if agg.Type == specs.TypeExponentialHistogram {
			if row.Exp == nil {
				return fmt.Errorf("aggregation emits buckets but the row has no exponential histogram")
			}
		} else {
			if row.Hist == nil {
				return fmt.Errorf("aggregation emits buckets but the row has no histogram")
			}
			if len(row.Hist.Counts) != len(row.Hist.Bounds)+1 {
				return fmt.Errorf("histogram has %d counts for %d bounds; want bounds+1", len(row.Hist.Counts), len(row.Hist.Bounds))
			}
		}
	}
	if agg.Has(specs.FnSketch) && len(row.Sketch) == 0 {
		return fmt.Errorf("aggregation emits sketch but the row has none")
	}
	return nil
}

// Topic renders the topic of one row from the aggregation's topic template.
func (e *Encoder) Topic(agg *specs.Aggregation, row *exec.Row) (string, error) {
	k := agg.Output.Kafka
	if k == nil {
		return "", fmt.Errorf("aggregation %s has no kafka output", agg.Name)
	}
	t, err := render(k.Topic, &keyContext{agg: agg, dims: row.Dims, tenantDim: e.tenantDim, start: row.WindowStart}, topicVars, false)
	if err != nil {
		return "", rowError(agg, row, err)
	}
	if err := validTopic(t); err != nil {
		return "", rowError(agg, row, err)
	}
	return t, nil
}

// Key renders the record key of one row (template and key format of the aggregation).
func (e *Encoder) Key(agg *specs.Aggregation, row *exec.Row) ([]byte, error) {
	k := agg.Output.Kafka
	if k == nil {
		return nil, fmt.Errorf("aggregation %s has no kafka output", agg.Name)
	}
	key, err := renderKey(k, &keyContext{agg: agg, dims: row.Dims, tenantDim: e.tenantDim, start: row.WindowStart})
	if err != nil {
		return nil, rowError(agg, row, err)
	}
	return key, nil
}

// Value encodes one row in the aggregation's encoding (otlp or json).
func (e *Encoder) Value(agg *specs.Aggregation, row *exec.Row) ([]byte, error) {
	if err := checkRow(agg, row); err != nil {
		return nil, rowError(agg, row, err)
	}
	enc := specs.DefaultEncoding
	if agg.Output.Kafka != nil && agg.Output.Kafka.Encoding != "" {
		enc = agg.Output.Kafka.Encoding
	}
	var (
		v   []byte
		err error
	)
	switch enc {
	case specs.EncodingOTLP:
		v, err = e.otlpValue(agg, row)
	case specs.EncodingJSON:
		v, err = jsonValue(agg, row)
	default:
		err = fmt.Errorf("unknown encoding %q; allowed: otlp, json", enc)
	}
	if err != nil {
		return nil, rowError(agg, row, err)
	}
	return v, nil
}

// Record builds the complete record of one row: topic, key, value, headers and
// timestamp (the window end). The partition is left to the producer's partitioner,
// which computes Partition(key, n).
func (e *Encoder) Record(agg *specs.Aggregation, row *exec.Row, task TaskRef) (*kgo.Record, error) {
	topic, err := e.Topic(agg, row)
	if err != nil {
		return nil, err
	}
	key, err := e.Key(agg, row)
	if err != nil {
		return nil, err
	}
	value, err := e.Value(agg, row)
	if err != nil {
		return nil, err
	}
	ct := ContentTypeOTLP
	if agg.Output.Kafka.Encoding == specs.EncodingJSON {
		ct = ContentTypeJSON
	}
	origin := task.Origin
	if origin == "" {
		origin = OriginBackfill
	}
	return &kgo.Record{
		Topic:     topic,
		Key:       key,
		Value:     value,
		Timestamp: time.UnixMilli(row.WindowEnd).UTC(),
		Headers: []kgo.RecordHeader{
			{Key: HeaderContentType, Value: []byte(ct)},
			{Key: HeaderRecordVersion, Value: []byte(strconv.Itoa(RecordVersion))},
			{Key: HeaderSpec, Value: []byte(agg.Name)},
			{Key: HeaderSpecVersion, Value: []byte(agg.Version)},
			{Key: HeaderRunID, Value: []byte(task.RunID)},
			{Key: HeaderTask, Value: []byte(task.TaskID)},
			{Key: HeaderOrigin, Value: []byte(origin)},
		},
	}, nil
}

// recordBytes is what a record weighs for rate limiting and buffering: key, value and
// headers.
func recordBytes(r *kgo.Record) int64 {
	n := len(r.Key) + len(r.Value)
	for _, h := range r.Headers {
		n += len(h.Key) + len(h.Value)
	}
	return int64(n)
}

func strAttr(k, v string) *commonpb.KeyValue {
	return &commonpb.KeyValue{Key: k, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: v}}}
}

// isMonotonicSum says whether a function's Sum metric only goes up.
func isMonotonicSum(agg *specs.Aggregation, fn string) bool {
	switch fn {
	case specs.FnCount, specs.FnDelta:
		return true
	case specs.FnSum:
		return agg.Type == specs.TypeSum && agg.Monotonic
	}
	return false
}

// sketchCount is the number of values a serialized DDSketch summarizes.
func sketchCount(b []byte) (float64, error) {
	var s sketchpb.DDSketch
	if err := proto.Unmarshal(b, &s); err != nil {
		return 0, fmt.Errorf("sketch is not a serialized DDSketch: %w", err)
	}
	n := s.ZeroCount
	for _, st := range []*sketchpb.Store{s.PositiveValues, s.NegativeValues} {
		if st == nil {
			continue
		}
		for _, c := range st.BinCounts {
			n += c
		}
		for _, c := range st.ContiguousBinCounts {
			n += c
		}
	}
	return n, nil
}

func (e *Encoder) otlpValue(agg *specs.Aggregation, row *exec.Row) ([]byte, error) {
	start := uint64(row.WindowStart) * uint64(time.Millisecond)
	end := uint64(row.WindowEnd) * uint64(time.Millisecond)
	attrs := make([]*commonpb.KeyValue, len(agg.GroupBy))
	var res []*commonpb.KeyValue
	for i, g := range agg.GroupBy {
		attrs[i] = strAttr(g, row.Dims[i])
		if g == e.tenantDim {
			res = append(res, strAttr(g, row.Dims[i]))
		}
	}
	doublePoint := func(v float64) *metricspb.NumberDataPoint {
		return &metricspb.NumberDataPoint{Attributes: attrs, StartTimeUnixNano: start, TimeUnixNano: end,
			Value: &metricspb.NumberDataPoint_AsDouble{AsDouble: v}}
	}
	optional := func(fn string) *float64 {
		if v, ok := row.Value(agg, fn); ok && fn != specs.FnCount {
			return &v
		}
		return nil
	}
	values := map[string]float64{}
	for i, fn := range agg.ValueFunctions() {
		values[fn] = row.Values[i]
	}
	var metrics []*metricspb.Metric
	for _, fn := range agg.Functions {
		m := &metricspb.Metric{Name: agg.Name + "." + fn}
		switch {
		case fn == specs.FnCount:
			m.Data = &metricspb.Metric_Sum{Sum: &metricspb.Sum{
				DataPoints: []*metricspb.NumberDataPoint{{Attributes: attrs, StartTimeUnixNano: start, TimeUnixNano: end,
					Value: &metricspb.NumberDataPoint_AsInt{AsInt: row.Count}}},
				AggregationTemporality: metricspb.AggregationTemporality_AGGREGATION_TEMPORALITY_DELTA,
				IsMonotonic:            true,
			}}
		case fn == specs.FnSum || fn == specs.FnDelta:
			m.Data = &metricspb.Metric_Sum{Sum: &metricspb.Sum{
				DataPoints:             []*metricspb.NumberDataPoint{doublePoint(values[fn])},
				AggregationTemporality: metricspb.AggregationTemporality_AGGREGATION_TEMPORALITY_DELTA,
				IsMonotonic:            isMonotonicSum(agg, fn),
			}}
		case fn == specs.FnBuckets && agg.Type == specs.TypeExponentialHistogram:
			x := row.Exp
			count := x.ZeroCount
			for _, c := range x.PositiveCounts {
				count += c
			}
			for _, c := range x.NegativeCounts {
				count += c
			}
			m.Data = &metricspb.Metric_ExponentialHistogram{ExponentialHistogram: &metricspb.ExponentialHistogram{
				DataPoints: []*metricspb.ExponentialHistogramDataPoint{{
					Attributes: attrs, StartTimeUnixNano: start, TimeUnixNano: end,
					Count: count, Sum: optional(specs.FnSum), Min: optional(specs.FnMin), Max: optional(specs.FnMax),
					Scale: x.Scale, ZeroCount: x.ZeroCount, ZeroThreshold: x.ZeroThreshold,
					Positive: &metricspb.ExponentialHistogramDataPoint_Buckets{Offset: x.PositiveOffset, BucketCounts: x.PositiveCounts},
					Negative: &metricspb.ExponentialHistogramDataPoint_Buckets{Offset: x.NegativeOffset, BucketCounts: x.NegativeCounts},
				}},
				AggregationTemporality: metricspb.AggregationTemporality_AGGREGATION_TEMPORALITY_DELTA,
			}}
		case fn == specs.FnBuckets:
			h := row.Hist
			var count uint64
			for _, c := range h.Counts {
				count += c
			}
			m.Data = &metricspb.Metric_Histogram{Histogram: &metricspb.Histogram{
				DataPoints: []*metricspb.HistogramDataPoint{{
					Attributes: attrs, StartTimeUnixNano: start, TimeUnixNano: end,
					Count: count, Sum: optional(specs.FnSum), Min: optional(specs.FnMin), Max: optional(specs.FnMax),
					BucketCounts: h.Counts, ExplicitBounds: h.Bounds,
				}},
				AggregationTemporality: metricspb.AggregationTemporality_AGGREGATION_TEMPORALITY_DELTA,
			}}
		case fn == specs.FnSketch:
			n, err := sketchCount(row.Sketch)
			if err != nil {
				return nil, err
			}
			p := doublePoint(n)
			p.Attributes = append(append([]*commonpb.KeyValue(nil), attrs...),
				&commonpb.KeyValue{Key: PointAttrSketch, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_BytesValue{BytesValue: row.Sketch}}})
			m.Description = fmt.Sprintf("DDSketch (sketches-go protobuf, relative accuracy %g) in attribute %s; the value is the number of values it holds", agg.SketchAlpha, PointAttrSketch)
			m.Data = &metricspb.Metric_Gauge{Gauge: &metricspb.Gauge{DataPoints: []*metricspb.NumberDataPoint{p}}}
		default: // avg, min, max, first, last, rate, pNN
			m.Data = &metricspb.Metric_Gauge{Gauge: &metricspb.Gauge{
				DataPoints: []*metricspb.NumberDataPoint{doublePoint(values[fn])},
			}}
		}
		metrics = append(metrics, m)
	}
	md := &metricspb.MetricsData{ResourceMetrics: []*metricspb.ResourceMetrics{{
		Resource: &resourcepb.Resource{Attributes: res},
		ScopeMetrics: []*metricspb.ScopeMetrics{{
			Scope: &commonpb.InstrumentationScope{
				Name:    ScopeName,
				Version: agg.Version,
				Attributes: []*commonpb.KeyValue{{Key: ScopeAttrSamples, Value: &commonpb.AnyValue{
					Value: &commonpb.AnyValue_IntValue{IntValue: row.Samples}}}},
			},
			Metrics: metrics,
		}},
	}}}
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(md)
	if err != nil {
		return nil, fmt.Errorf("marshal OTLP MetricsData: %w", err)
	}
	return b, nil
}

// jsonFloat writes a float64 as a JSON number, or as the strings "NaN", "Infinity" and
// "-Infinity" (the protobuf JSON mapping's spelling) for values JSON cannot hold.
func jsonFloat(b *bytes.Buffer, v float64) {
	switch {
	case math.IsNaN(v):
		b.WriteString(`"NaN"`)
	case math.IsInf(v, 1):
		b.WriteString(`"Infinity"`)
	case math.IsInf(v, -1):
		b.WriteString(`"-Infinity"`)
	default:
		out, _ := json.Marshal(v) // finite float64: cannot fail
		b.Write(out)
	}
}

func jsonString(b *bytes.Buffer, s string) {
	out, _ := json.Marshal(s) // a string: cannot fail
	b.Write(out)
}

func jsonUints(b *bytes.Buffer, xs []uint64) {
	b.WriteByte('[')
	for i, x := range xs {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.FormatUint(x, 10))
	}
	b.WriteByte(']')
}

// jsonValue writes the flat JSON object of docs/kafka-records.md, fields in a fixed order.
func jsonValue(agg *specs.Aggregation, row *exec.Row) ([]byte, error) {
	var b bytes.Buffer
	b.Grow(256)
	b.WriteString(`{"record_version":`)
	b.WriteString(strconv.Itoa(RecordVersion))
	b.WriteString(`,"aggregation":`)
	jsonString(&b, agg.Name)
	b.WriteString(`,"spec_version":`)
	jsonString(&b, agg.Version)
	b.WriteString(`,"window":`)
	jsonString(&b, specs.FormatWindow(agg.Window))
	b.WriteString(`,"window_start":`)
	jsonString(&b, formatISO(row.WindowStart))
	b.WriteString(`,"window_start_ms":`)
	b.WriteString(strconv.FormatInt(row.WindowStart, 10))
	b.WriteString(`,"window_end":`)
	jsonString(&b, formatISO(row.WindowEnd))
	b.WriteString(`,"window_end_ms":`)
	b.WriteString(strconv.FormatInt(row.WindowEnd, 10))
	b.WriteString(`,"dims":{`)
	for i, g := range agg.GroupBy {
		if i > 0 {
			b.WriteByte(',')
		}
		jsonString(&b, g)
		b.WriteByte(':')
		jsonString(&b, row.Dims[i])
	}
	b.WriteString(`},"samples":`)
	b.WriteString(strconv.FormatInt(row.Samples, 10))
	b.WriteString(`,"values":{`)
	vi, first := 0, true
	for _, fn := range agg.Functions {
		if fn == specs.FnBuckets || fn == specs.FnSketch {
			continue
		}
		if !first {
			b.WriteByte(',')
		}
		first = false
		jsonString(&b, fn)
		b.WriteByte(':')
		if fn == specs.FnCount {
			b.WriteString(strconv.FormatInt(row.Count, 10))
			continue
		}
		jsonFloat(&b, row.Values[vi])
		vi++
	}
	b.WriteByte('}')
	if agg.Has(specs.FnBuckets) {
		if x := row.Exp; agg.Type == specs.TypeExponentialHistogram {
			b.WriteString(`,"exp_buckets":{"scale":`)
			b.WriteString(strconv.FormatInt(int64(x.Scale), 10))
			b.WriteString(`,"zero_count":`)
			b.WriteString(strconv.FormatUint(x.ZeroCount, 10))
			b.WriteString(`,"zero_threshold":`)
			jsonFloat(&b, x.ZeroThreshold)
			b.WriteString(`,"positive":{"offset":`)
			b.WriteString(strconv.FormatInt(int64(x.PositiveOffset), 10))
			b.WriteString(`,"counts":`)
			jsonUints(&b, x.PositiveCounts)
			b.WriteString(`},"negative":{"offset":`)
			b.WriteString(strconv.FormatInt(int64(x.NegativeOffset), 10))
			b.WriteString(`,"counts":`)
			jsonUints(&b, x.NegativeCounts)
			b.WriteString(`}}`)
		} else {
			h := row.Hist
			b.WriteString(`,"buckets":{"bounds":[`)
			for i, x := range h.Bounds {
				if i > 0 {
					b.WriteByte(',')
				}
				jsonFloat(&b, x)
			}
			b.WriteString(`],"counts":`)
			jsonUints(&b, h.Counts)
			b.WriteByte('}')
		}
	}
	if agg.Has(specs.FnSketch) {
		b.WriteString(`,"sketch":"`)
		b.WriteString(base64.StdEncoding.EncodeToString(row.Sketch))
		b.WriteByte('"')
	}
	b.WriteString("}")
	return b.Bytes(), nil
}
