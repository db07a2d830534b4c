package reference

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/tallyhq/tally/exec"
	"github.com/tallyhq/tally/specs"
)

// Point is one raw data point in contract terms (docs/raw-schema.md).
type Point struct {
	// Time is the event time, ns since the epoch, UTC.
	Time int64
	// StartTime is the start of a cumulative series, ns since the epoch; HasStart
	// is false when the lake has no start_time for the point.
	StartTime int64
	HasStart  bool
	// IngestTime is when the pipeline received the point; not used by any function.
	IngestTime int64
	HasIngest  bool
	// Metric is the metric name.
	Metric string
	// Dims are the values of reg.Source.Dimensions, in that order ("" for null).
	Dims []string
	// Value is the value of a gauge or sum point; ValueNull marks a null value.
	Value     float64
	ValueNull bool
	// Count, Sum, Min, Max, Bounds and BucketCounts are the fields of an
	// explicit-bucket histogram point. CountNull marks a null count; HasMinMax is
	// false when the point carries no min and max.
	Count        uint64
	CountNull    bool
	Sum          float64
	Min, Max     float64
	HasMinMax    bool
	Bounds       []float64
	BucketCounts []uint64
	// Scale, ZeroCount, ZeroThreshold and the positive and negative bucket ranges
	// are the fields of a base-2 exponential histogram point (OpenTelemetry
	// layout: count i of a range is bucket index Offset+i). Count, CountNull, Sum,
	// Min, Max and HasMinMax are shared with explicit histograms.
	Scale          int32
	ZeroCount      uint64
	ZeroThreshold  float64
	PositiveOffset int32
	PositiveCounts []uint64
	NegativeOffset int32
	NegativeCounts []uint64
}

// AggStats are the run-summary counters of one aggregation (docs/semantics.md,
// "Junk and duplicates"). Only points the run counts are counted: see the package
// documentation.
type AggStats struct {
	// Points is the number of points read for the aggregation: right metric,
	// filters passed, from ≤ time < to.
	Points int64
	// DroppedNonFinite counts points dropped for a NaN or infinite value (or a NaN
	// histogram sum).
	DroppedNonFinite int64
	// DroppedNull counts points dropped for a null value (or a null histogram count).
	DroppedNull int64
	// Duplicates counts points dropped because their series already had a point at
	// the same time; ConflictingDuplicates is the subset whose value differed.
	Duplicates            int64
	ConflictingDuplicates int64
	// Samples is the number of points that contributed to rows; it is the sum of
	// the rows' Samples.
	Samples int64
	// Rows is the number of output rows.
	Rows int64
}

// Stats are the run-summary counters of a Compute call, per aggregation name.
type Stats struct {
	// PerAggregation holds the counters of each aggregation, by name.
	PerAggregation map[string]AggStats
}

// Compute returns one Rollup per aggregation of reg (in registry order) over
// [from, to). points may include points before from (they are only read as
// predecessors of cumulative points) and at or after to (they are ignored). from
// and to must be aligned to the registry's largest window.
func Compute(reg *specs.Registry, from, to time.Time, points []Point) ([]exec.Rollup, Stats, error) {
	stats := Stats{PerAggregation: map[string]AggStats{}}
	if reg == nil {
		return nil, stats, fmt.Errorf("reference: registry is nil")
	}
	fromNS, toNS := from.UnixNano(), to.UnixNano()
	if toNS < fromNS {
		return nil, stats, fmt.Errorf("reference: range [%s, %s) ends before it starts", from.UTC().Format(time.RFC3339), to.UTC().Format(time.RFC3339))
	}
	if w := reg.MaxWindow(); w > 0 {
		if floorDiv(fromNS, int64(w))*int64(w) != fromNS || floorDiv(toNS, int64(w))*int64(w) != toNS {
			return nil, stats, fmt.Errorf("reference: range [%s, %s) is not aligned to the registry's largest window %s", from.UTC().Format(time.RFC3339Nano), to.UTC().Format(time.RFC3339Nano), specs.FormatWindow(w))
		}
	}
	for i := range points {
		if len(points[i].Dims) != len(reg.Source.Dimensions) {
			return nil, stats, fmt.Errorf("reference: point %d (metric %q) has %d dimension values, the source has %d dimensions (%s)",
				i, points[i].Metric, len(points[i].Dims), len(reg.Source.Dimensions), strings.Join(reg.Source.Dimensions, ", "))
		}
	}
	// Index the points by metric once, so each aggregation reads only its own.
	byMetric := map[string][]*Point{}
	for i := range points {
		byMetric[points[i].Metric] = append(byMetric[points[i].Metric], &points[i])
	}
	out := make([]exec.Rollup, 0, len(reg.Aggregations))
	for _, agg := range reg.Aggregations {
		r, st, err := computeAggregation(reg, agg, fromNS, toNS, byMetric)
		if err != nil {
			return nil, stats, err
		}
		stats.PerAggregation[agg.Name] = st
		out = append(out, r)
	}
	return out, stats, nil
}

// series is the cleaned, time-sorted points of one metric + dimension tuple.
type series struct {
	key    []string // metric, then the dimension values in source order
	group  []string // the aggregation's group_by values
	points []*Point
}

// seriesName renders a series for error messages: metric{dim=value,...}.
func seriesName(src *specs.Source, s *series) string {
	parts := make([]string, len(src.Dimensions))
	for i, d := range src.Dimensions {
		parts[i] = d + "=" + strconv.Quote(s.key[i+1])
	}
	return s.key[0] + "{" + strings.Join(parts, ",") + "}"
}

// tupleKey encodes a string tuple as a map key that no two different tuples share.
func tupleKey(parts []string) string {
	return string(appendTupleKey(nil, parts...))
}

// appendTupleKey appends the tupleKey encoding of parts to b.
func appendTupleKey(b []byte, parts ...string) []byte {
	for _, p := range parts {
		b = strconv.AppendInt(b, int64(len(p)), 10)
		b = append(b, ':')
		b = append(b, p...)
	}
	return b
}

// compareTuples orders string tuples element by element (byte order), shorter first on a tie.
func compareTuples(a, b []string) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		if c := strings.Compare(a[i], b[i]); c != 0 {
			return c
		}
	}
	return len(a) - len(b)
}

// floorDiv is a/b rounded toward negative infinity (b > 0).
func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}

// needsPredecessors reports whether the aggregation turns cumulative totals into
// increases, and so reads points before from.
func needsPredecessors(agg *specs.Aggregation) bool {
	if agg.Temporality != specs.TemporalityCumulative {
		return false
	}
	return (agg.Type == specs.TypeSum && agg.Monotonic) || isHistogram(agg)
}

// passesFilters applies the aggregation's filters to a point's dimension values.
func passesFilters(src *specs.Source, agg *specs.Aggregation, dims []string) bool {
	for _, f := range agg.Filters {
		idx := -1
		for i, d := range src.Dimensions {
			if d == f.Dimension {
				idx = i
				break
			}
		}
		v := ""
		if idx >= 0 {
			v = dims[idx]
		}
		in := false
		for _, want := range f.Values {
			if v == want {
				in = true
				break
			}
		}
		switch f.Op {
		case specs.OpEq, specs.OpIn:
			if !in {
				return false
			}
		case specs.OpNe, specs.OpNotIn:
			if in {
				return false
			}
		}
	}
	return true
}

// collectSeries selects the aggregation's points (metric, filters, time < to, and
// time ≥ from unless predecessors are needed) and groups them by series, sorted by
// series key.
func collectSeries(src *specs.Source, agg *specs.Aggregation, fromNS, toNS int64, byMetric map[string][]*Point) ([]*series, error) {
	groupIdx := make([]int, len(agg.GroupBy))
	for i, g := range agg.GroupBy {
		groupIdx[i] = -1
		for j, d := range src.Dimensions {
			if d == g {
				groupIdx[i] = j
			}
		}
		if groupIdx[i] < 0 {
			return nil, fmt.Errorf("aggregation %s: group_by %q is not one of source.dimensions (%s)", agg.Name, g, strings.Join(src.Dimensions, ", "))
		}
	}
	keepBefore := needsPredecessors(agg)
	byKey := map[string]*series{}
	var buf []byte
	seen := map[string]bool{}
	for _, m := range agg.Metrics {
		if seen[m] {
			continue
		}
		seen[m] = true
		for _, p := range byMetric[m] {
			if p.Time >= toNS || (p.Time < fromNS && !keepBefore) {
				continue
			}
			if !passesFilters(src, agg, p.Dims) {
				continue
			}
			buf = appendTupleKey(appendTupleKey(buf[:0], p.Metric), p.Dims...)
			s := byKey[string(buf)]
			if s == nil {
				group := make([]string, len(groupIdx))
				for gi, di := range groupIdx {
					group[gi] = p.Dims[di]
				}
				s = &series{key: append([]string{p.Metric}, p.Dims...), group: group}
				byKey[string(buf)] = s
			}
			s.points = append(s.points, p)
		}
	}
	all := make([]*series, 0, len(byKey))
	for _, s := range byKey {
		all = append(all, s)
	}
	sort.Slice(all, func(i, j int) bool { return compareTuples(all[i].key, all[j].key) < 0 })
	return all, nil
}
