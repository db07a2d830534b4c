package exec

import (
	"time"

	"github.com/tallyhq/tally/specs"
)

// Rollup is the result of one aggregation over one task: its rows sorted by the
// group_by dimensions, then by window start.
type Rollup struct {
	Agg  *specs.Aggregation
	Rows []Row
}

// Row is one output row: one group of one aggregation in one window.
type Row struct {
	// WindowStart and WindowEnd are epoch milliseconds, UTC; the window is [start, end).
	WindowStart int64
	WindowEnd   int64
	// Dims are the values of Agg.GroupBy, in that order.
	Dims []string
	// Samples is the number of raw points that contributed, after duplicates, NaN and
	// out-of-range points were dropped.
	Samples int64
	// Count is the count function: points (gauges, sums) or observations (histograms).
	Count int64
	// Values are parallel to Agg.ValueFunctions(): one float64 per scalar function
	// (sum, min, max, avg, first, last, delta, rate, pNN).
	Values []float64
	// Hist holds merged explicit buckets when the aggregation emits buckets.
	Hist *Histogram
	// Exp holds merged exponential buckets when the aggregation emits buckets.
	Exp *ExpHistogram
	// Sketch is the serialized DDSketch (protobuf, sketches-go) when the aggregation
	// emits sketch.
	Sketch []byte
}

// Histogram is a merged explicit-bucket histogram. len(Counts) == len(Bounds)+1:
// bucket i holds observations in (Bounds[i-1], Bounds[i]], as in OpenTelemetry.
type Histogram struct {
	Bounds []float64
	Counts []uint64
}

// ExpHistogram is a merged base-2 exponential histogram (OpenTelemetry layout).
type ExpHistogram struct {
	Scale          int32
	ZeroCount      uint64
	ZeroThreshold  float64
	PositiveOffset int32
	PositiveCounts []uint64
	NegativeOffset int32
	NegativeCounts []uint64
}

// Value returns the row's value of a scalar function (see Aggregation.ValueFunctions)
// and whether the aggregation emits it.
func (r *Row) Value(agg *specs.Aggregation, fn string) (float64, bool) {
	if fn == specs.FnCount {
		return float64(r.Count), agg.Has(specs.FnCount)
	}
	for i, f := range agg.ValueFunctions() {
		if f == fn {
			return r.Values[i], true
		}
	}
	return 0, false
}

// fmtTime renders epoch nanoseconds as RFC 3339 UTC, for messages.
func fmtTime(ns int64) string {
	return time.Unix(0, ns).UTC().Format(time.RFC3339)
}
