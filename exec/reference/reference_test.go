package reference

import (
	"math"
	"strings"
	"testing"

	"github.com/tallyhq/tally/exec"
	"github.com/tallyhq/tally/exec/hist"
)

// Aggregation definitions shared by the cases (YAML flow mappings).
const (
	gaugeAll   = `{name: a, metric: m, type: gauge, window: 1m, group_by: [tenant], functions: [count, sum, min, max, avg, first, last]}`
	counterAll = `{name: a, metric: m, type: sum, temporality: cumulative, monotonic: true, window: 1m, staleness: 10m, group_by: [tenant], functions: [delta, rate, count, last]}`
	counterD   = `{name: a, metric: m, type: sum, temporality: cumulative, monotonic: true, window: 1m, group_by: [tenant], functions: [delta]}`
	deltaSum   = `{name: a, metric: m, type: sum, temporality: delta, window: 1m, group_by: [tenant], functions: [sum, count, rate, min, max]}`
	upDown     = `{name: a, metric: m, type: sum, temporality: cumulative, window: 1m, group_by: [tenant], functions: [first, last, min, max, count]}`
	histDeltaA = `{name: a, metric: m, type: histogram, temporality: delta, window: 1m, group_by: [tenant], functions: [count, sum, min, max, avg, buckets]}`
	expDeltaA  = `{name: a, metric: m, type: exponential_histogram, temporality: delta, window: 1m, group_by: [tenant], functions: [count, sum, min, max, buckets]}`
	expCumA    = `{name: a, metric: m, type: exponential_histogram, temporality: cumulative, window: 1m, group_by: [tenant], functions: [count, sum, buckets]}`
	histCumA   = `{name: a, metric: m, type: histogram, temporality: cumulative, window: 1m, group_by: [tenant], functions: [count, sum, min, max, avg, buckets]}`
)

type computeCase struct {
	name     string
	aggs     []string
	from, to string // clocks on day; default 12:00:00 to 12:02:00
	points   func(t *testing.T) []Point
	want     func(t *testing.T) []exec.Row // rows of the first aggregation
	stats    *AggStats                     // when set, the first aggregation's stats
	errParts []string                      // when set, Compute must fail with all of these in its message
}

func withExp(r exec.Row, scale int32, zero uint64, offset int32, counts []uint64) exec.Row {
	r.Exp = &exec.ExpHistogram{Scale: scale, ZeroCount: zero, PositiveOffset: offset, PositiveCounts: counts}
	return r
}

func withHist(r exec.Row, bounds []float64, counts []uint64) exec.Row {
	r.Hist = &exec.Histogram{Bounds: bounds, Counts: counts}
	return r
}

var t1 = []string{"t1"}

var computeCases = []computeCase{
	{
		name: "semantics gauge worked example",
		aggs: []string{gaugeAll},
		points: func(t *testing.T) []Point {
			return []Point{
				gp(t, "m", "12:00:10", "b1", 10),
				gp(t, "m", "12:00:10", "b1", 10),
				gp(t, "m", "12:00:20", "b2", 30),
				gp(t, "m", "12:00:50", "b1", math.NaN()),
				gp(t, "m", "12:01:00", "b1", 40),
			}
		},
		want: func(t *testing.T) []exec.Row {
			return []exec.Row{
				row(t, "12:00:00", t1, 2, 2, 40, 10, 30, 20, 10, 30),
				row(t, "12:01:00", t1, 1, 1, 40, 40, 40, 40, 40, 40),
			}
		},
		stats: &AggStats{Points: 5, Duplicates: 1, DroppedNonFinite: 1, Samples: 3, Rows: 2},
	},
	{
		name: "semantics counter worked example",
		aggs: []string{counterAll},
		points: func(t *testing.T) []Point {
			return []Point{
				withStart(t, gp(t, "m", "11:59:50", "b1", 100), "11:00:00"),
				withStart(t, gp(t, "m", "12:00:10", "b1", 130), "11:00:00"),
				withStart(t, gp(t, "m", "12:00:40", "b1", 150), "11:00:00"),
				withStart(t, gp(t, "m", "12:01:10", "b1", 5), "11:00:00"),
				withStart(t, gp(t, "m", "12:01:20", "b1", 12), "12:01:15"),
				withStart(t, gp(t, "m", "12:01:40", "b1", 20), "12:01:15"),
			}
		},
		want: func(t *testing.T) []exec.Row {
			return []exec.Row{
				row(t, "12:00:00", t1, 2, 2, 50, 50.0/60, 150),
				row(t, "12:01:00", t1, 3, 3, 25, 25.0/60, 20),
			}
		},
		stats: &AggStats{Points: 5, Samples: 5, Rows: 2},
	},
	{
		name: "counter predecessor exactly staleness before",
		aggs: []string{counterD},
		points: func(t *testing.T) []Point {
			return []Point{gp(t, "m", "11:50:10", "b1", 100), gp(t, "m", "12:00:10", "b1", 130)}
		},
		want: func(t *testing.T) []exec.Row { return []exec.Row{row(t, "12:00:00", t1, 1, 1, 30)} },
	},
	{
		name: "counter predecessor one ns beyond staleness is a gap",
		aggs: []string{counterD},
		points: func(t *testing.T) []Point {
			p := gp(t, "m", "11:50:10", "b1", 100)
			p.Time--
			return []Point{p, gp(t, "m", "12:00:10", "b1", 130)}
		},
		want: func(t *testing.T) []exec.Row { return []exec.Row{row(t, "12:00:00", t1, 1, 1, 0)} },
	},
	{
		name: "counter time equal to start_time carries nothing even after a predecessor",
		aggs: []string{counterD},
		points: func(t *testing.T) []Point {
			return []Point{
				withStart(t, gp(t, "m", "12:00:05", "b1", 100), "11:00:00"),
				withStart(t, gp(t, "m", "12:00:10", "b1", 7), "12:00:10"),
				withStart(t, gp(t, "m", "12:00:20", "b1", 9), "12:00:10"),
			}
		},
		// 12:00:05 opens nothing known: start 1h ago, no predecessor → 0; then 0; then 9−7.
		want: func(t *testing.T) []exec.Row { return []exec.Row{row(t, "12:00:00", t1, 3, 3, 2)} },
	},
	{
		name: "counter reset by value drop",
		aggs: []string{counterD},
		points: func(t *testing.T) []Point {
			return []Point{
				withStart(t, gp(t, "m", "11:59:50", "b1", 100), "11:00:00"),
				withStart(t, gp(t, "m", "12:00:10", "b1", 130), "11:00:00"),
				withStart(t, gp(t, "m", "12:00:20", "b1", 5), "11:00:00"),
			}
		},
		want: func(t *testing.T) []exec.Row { return []exec.Row{row(t, "12:00:00", t1, 2, 2, 35)} },
	},
	{
		name: "counter reset by new start_time while the value grows",
		aggs: []string{counterD},
		points: func(t *testing.T) []Point {
			return []Point{
				withStart(t, gp(t, "m", "11:59:50", "b1", 100), "11:00:00"),
				withStart(t, gp(t, "m", "12:00:10", "b1", 130), "12:00:05"),
			}
		},
		want: func(t *testing.T) []exec.Row { return []exec.Row{row(t, "12:00:00", t1, 1, 1, 130)} },
	},
	{
		name: "counter equal value is an increase of zero, not a reset",
		aggs: []string{counterD},
		points: func(t *testing.T) []Point {
			return []Point{gp(t, "m", "11:59:50", "b1", 100), gp(t, "m", "12:00:10", "b1", 100)}
		},
		want: func(t *testing.T) []exec.Row { return []exec.Row{row(t, "12:00:00", t1, 1, 1, 0)} },
	},
	{
		name: "counter no predecessor with recent start counts the whole value",
		aggs: []string{counterD},
		points: func(t *testing.T) []Point {
			return []Point{withStart(t, gp(t, "m", "12:00:10", "b1", 50), "11:58:00")}
		},
		want: func(t *testing.T) []exec.Row { return []exec.Row{row(t, "12:00:00", t1, 1, 1, 50)} },
	},
	{
		name: "counter no predecessor with start exactly staleness ago counts the whole value",
		aggs: []string{counterD},
		points: func(t *testing.T) []Point {
			return []Point{withStart(t, gp(t, "m", "12:00:10", "b1", 50), "11:50:10")}
		},
		want: func(t *testing.T) []exec.Row { return []exec.Row{row(t, "12:00:00", t1, 1, 1, 50)} },
	},
	{
		name: "counter no predecessor with old start is a baseline",
		aggs: []string{counterD},
		points: func(t *testing.T) []Point {
			return []Point{
				withStart(t, gp(t, "m", "12:00:10", "b1", 50), "11:50:09"),
				withStart(t, gp(t, "m", "12:00:30", "b1", 55), "11:50:09"),
			}
		},
		want: func(t *testing.T) []exec.Row { return []exec.Row{row(t, "12:00:00", t1, 2, 2, 5)} },
	},
	{
		name: "counter no predecessor with unknown start is a baseline",
		aggs: []string{counterD},
		points: func(t *testing.T) []Point {
			return []Point{gp(t, "m", "12:00:10", "b1", 50), gp(t, "m", "12:00:30", "b1", 58)}
		},
		want: func(t *testing.T) []exec.Row { return []exec.Row{row(t, "12:00:00", t1, 2, 2, 8)} },
	},
	{
		name: "counter start_time becoming unknown is a reset",
		aggs: []string{counterD},
		points: func(t *testing.T) []Point {
			return []Point{withStart(t, gp(t, "m", "11:59:50", "b1", 100), "11:00:00"), gp(t, "m", "12:00:10", "b1", 130)}
		},
		want: func(t *testing.T) []exec.Row { return []exec.Row{row(t, "12:00:00", t1, 1, 1, 130)} },
	},
	{
		name: "counter predecessor in the previous window of the run",
		aggs: []string{counterAll},
		points: func(t *testing.T) []Point {
			return []Point{gp(t, "m", "12:00:50", "b1", 10), gp(t, "m", "12:01:10", "b1", 25)}
		},
		want: func(t *testing.T) []exec.Row {
			return []exec.Row{row(t, "12:00:00", t1, 1, 1, 0, 0, 10), row(t, "12:01:00", t1, 1, 1, 15, 15.0/60, 25)}
		},
	},
	{
		name: "counter junk predecessor is skipped",
		aggs: []string{counterD},
		points: func(t *testing.T) []Point {
			return []Point{
				gp(t, "m", "11:59:40", "b1", 100),
				gp(t, "m", "11:59:50", "b1", math.Inf(1)),
				gp(t, "m", "12:00:10", "b1", 130),
			}
		},
		want:  func(t *testing.T) []exec.Row { return []exec.Row{row(t, "12:00:00", t1, 1, 1, 30)} },
		stats: &AggStats{Points: 1, Samples: 1, Rows: 1},
	},
	{
		name: "gauge conflicting duplicates keep the smallest value in any file order",
		aggs: []string{gaugeAll},
		points: func(t *testing.T) []Point {
			return []Point{gp(t, "m", "12:00:10", "b1", 5), gp(t, "m", "12:00:10", "b1", 3), gp(t, "m", "12:00:10", "b1", 3)}
		},
		want:  func(t *testing.T) []exec.Row { return []exec.Row{row(t, "12:00:00", t1, 1, 1, 3, 3, 3, 3, 3, 3)} },
		stats: &AggStats{Points: 3, Duplicates: 2, ConflictingDuplicates: 1, Samples: 1, Rows: 1},
	},
	{
		name: "counter duplicates with the same value keep the smallest start_time",
		aggs: []string{counterD},
		points: func(t *testing.T) []Point {
			return []Point{
				withStart(t, gp(t, "m", "11:59:50", "b1", 100), "11:00:00"),
				withStart(t, gp(t, "m", "12:00:10", "b1", 130), "12:00:05"),
				withStart(t, gp(t, "m", "12:00:10", "b1", 130), "11:00:00"),
			}
		},
		want:  func(t *testing.T) []exec.Row { return []exec.Row{row(t, "12:00:00", t1, 1, 1, 30)} },
		stats: &AggStats{Points: 2, Duplicates: 1, Samples: 1, Rows: 1},
	},
	{
		name: "duplicates are per series, not per group",
		aggs: []string{gaugeAll},
		points: func(t *testing.T) []Point {
			return []Point{gp(t, "m", "12:00:10", "b1", 5), gp(t, "m", "12:00:10", "b2", 7)}
		},
		want:  func(t *testing.T) []exec.Row { return []exec.Row{row(t, "12:00:00", t1, 2, 2, 12, 5, 7, 6, 5, 7)} },
		stats: &AggStats{Points: 2, Samples: 2, Rows: 1},
	},
	{
		name: "NaN, infinities and nulls are dropped and counted",
		aggs: []string{gaugeAll},
		points: func(t *testing.T) []Point {
			null := gp(t, "m", "12:00:40", "b1", 0)
			null.ValueNull = true
			nullNaN := gp(t, "m", "12:00:45", "b1", math.NaN())
			nullNaN.ValueNull = true
			return []Point{
				gp(t, "m", "12:00:10", "b1", math.NaN()),
				gp(t, "m", "12:00:20", "b1", math.Inf(1)),
				gp(t, "m", "12:00:30", "b1", math.Inf(-1)),
				null, nullNaN,
				gp(t, "m", "12:00:50", "b1", 2),
				gp(t, "m", "12:00:50", "b1", math.NaN()), // NaN goes before dedupe: not a duplicate
			}
		},
		want:  func(t *testing.T) []exec.Row { return []exec.Row{row(t, "12:00:00", t1, 1, 1, 2, 2, 2, 2, 2, 2)} },
		stats: &AggStats{Points: 7, DroppedNonFinite: 4, DroppedNull: 2, Samples: 1, Rows: 1},
	},
	{
		name: "window boundary points",
		aggs: []string{gaugeAll},
		points: func(t *testing.T) []Point {
			last := gp(t, "m", "12:01:00", "b1", 1)
			last.Time--
			return []Point{last, gp(t, "m", "12:01:00", "b1", 2)}
		},
		want: func(t *testing.T) []exec.Row {
			return []exec.Row{row(t, "12:00:00", t1, 1, 1, 1, 1, 1, 1, 1, 1), row(t, "12:01:00", t1, 1, 1, 2, 2, 2, 2, 2, 2)}
		},
	},
	{
		name: "points outside the range are ignored and not counted",
		aggs: []string{gaugeAll},
		points: func(t *testing.T) []Point {
			before := gp(t, "m", "12:00:00", "b1", 100)
			before.Time--
			return []Point{before, gp(t, "m", "11:00:00", "b1", 100), gp(t, "m", "12:01:30", "b1", 3),
				gp(t, "m", "12:02:00", "b1", 100), gp(t, "m", "12:02:00", "b1", math.NaN())}
		},
		want:  func(t *testing.T) []exec.Row { return []exec.Row{row(t, "12:01:00", t1, 1, 1, 3, 3, 3, 3, 3, 3)} },
		stats: &AggStats{Points: 1, Samples: 1, Rows: 1},
	},
	{
		name: "other metrics are ignored",
		aggs: []string{gaugeAll},
		points: func(t *testing.T) []Point {
			return []Point{gp(t, "m", "12:00:10", "b1", 1), gp(t, "other", "12:00:10", "b1", 100)}
		},
		want:  func(t *testing.T) []exec.Row { return []exec.Row{row(t, "12:00:00", t1, 1, 1, 1, 1, 1, 1, 1, 1)} },
		stats: &AggStats{Points: 1, Samples: 1, Rows: 1},
	},
	{
		name:   "filter eq",
		aggs:   []string{`{name: a, metric: m, type: gauge, window: 1m, group_by: [tenant], filters: [{dimension: broker, op: eq, values: [b1]}], functions: [sum, count]}`},
		points: filterPoints,
		want:   func(t *testing.T) []exec.Row { return []exec.Row{row(t, "12:00:00", t1, 1, 1, 1)} },
		stats:  &AggStats{Points: 1, Samples: 1, Rows: 1},
	},
	{
		name:   "filter ne keeps nulls",
		aggs:   []string{`{name: a, metric: m, type: gauge, window: 1m, group_by: [tenant], filters: [{dimension: broker, op: ne, values: [b1]}], functions: [sum, count]}`},
		points: filterPoints,
		want:   func(t *testing.T) []exec.Row { return []exec.Row{row(t, "12:00:00", t1, 3, 3, 14)} },
	},
	{
		name:   "filter in",
		aggs:   []string{`{name: a, metric: m, type: gauge, window: 1m, group_by: [tenant], filters: [{dimension: broker, op: in, values: [b1, b3]}], functions: [sum, count]}`},
		points: filterPoints,
		want:   func(t *testing.T) []exec.Row { return []exec.Row{row(t, "12:00:00", t1, 2, 2, 5)} },
	},
	{
		name:   "filter not_in",
		aggs:   []string{`{name: a, metric: m, type: gauge, window: 1m, group_by: [tenant], filters: [{dimension: broker, op: not_in, values: [b1, b3]}], functions: [sum, count]}`},
		points: filterPoints,
		want:   func(t *testing.T) []exec.Row { return []exec.Row{row(t, "12:00:00", t1, 2, 2, 10)} },
	},
	{
		name:   "filter eq on null dimension",
		aggs:   []string{`{name: a, metric: m, type: gauge, window: 1m, group_by: [tenant], filters: [{dimension: broker, op: eq, values: [""]}], functions: [sum, count]}`},
		points: filterPoints,
		want:   func(t *testing.T) []exec.Row { return []exec.Row{row(t, "12:00:00", t1, 1, 1, 8)} },
	},
	{
		name:   "filters all have to match",
		aggs:   []string{`{name: a, metric: m, type: gauge, window: 1m, group_by: [tenant], filters: [{dimension: broker, op: in, values: [b1, b2]}, {dimension: broker, op: ne, values: [b1]}], functions: [sum, count]}`},
		points: filterPoints,
		want:   func(t *testing.T) []exec.Row { return []exec.Row{row(t, "12:00:00", t1, 1, 1, 2)} },
	},
	{
		name: "gauge first and last ties go to the smallest and largest series key",
		aggs: []string{gaugeAll},
		points: func(t *testing.T) []Point {
			return []Point{
				gp(t, "m", "12:00:30", "b2", 9), gp(t, "m", "12:00:10", "b2", 7),
				gp(t, "m", "12:00:30", "b1", 2), gp(t, "m", "12:00:10", "b1", 5),
			}
		},
		want: func(t *testing.T) []exec.Row { return []exec.Row{row(t, "12:00:00", t1, 4, 4, 23, 2, 9, 23.0/4, 5, 9)} },
	},
	{
		name: "series key starts with the metric",
		aggs: []string{`{name: a, metrics: [m1, m2], type: gauge, window: 1m, group_by: [tenant], functions: [first, last, count]}`},
		points: func(t *testing.T) []Point {
			return []Point{gp(t, "m2", "12:00:10", "a", 1), gp(t, "m1", "12:00:10", "z", 2)}
		},
		// m1/z < m2/a: first is m1's, last is m2's.
		want: func(t *testing.T) []exec.Row { return []exec.Row{row(t, "12:00:00", t1, 2, 2, 2, 1)} },
	},
	{
		name: "gauge sum adds series in key order, then time order",
		aggs: []string{`{name: a, metric: m, type: gauge, window: 1m, group_by: [tenant], functions: [sum]}`},
		points: func(t *testing.T) []Point {
			return []Point{gp(t, "m", "12:00:10", "b2", 1), gp(t, "m", "12:00:20", "b2", 1), gp(t, "m", "12:00:30", "b1", 1e16)}
		},
		// 1e16+1 rounds back to 1e16; in time order the sum would be 1e16+2.
		want: func(t *testing.T) []exec.Row { return []exec.Row{row(t, "12:00:00", t1, 3, 3, 1e16)} },
	},
	{
		name: "rows sorted by group dims, then window",
		aggs: []string{`{name: a, metric: m, type: gauge, window: 1m, group_by: [tenant, broker], functions: [sum]}`},
		points: func(t *testing.T) []Point {
			p := gp(t, "m", "12:00:10", "b1", 4)
			p.Dims = []string{"t2", "b1"}
			return []Point{p, gp(t, "m", "12:01:10", "b2", 3), gp(t, "m", "12:00:10", "b2", 2), gp(t, "m", "12:01:10", "b1", 1)}
		},
		want: func(t *testing.T) []exec.Row {
			return []exec.Row{
				row(t, "12:01:00", []string{"t1", "b1"}, 1, 1, 1),
				row(t, "12:00:00", []string{"t1", "b2"}, 1, 1, 2),
				row(t, "12:01:00", []string{"t1", "b2"}, 1, 1, 3),
				row(t, "12:00:00", []string{"t2", "b1"}, 1, 1, 4),
			}
		},
	},
	{
		name: "delta sum functions",
		aggs: []string{deltaSum},
		points: func(t *testing.T) []Point {
			return []Point{gp(t, "m", "12:00:10", "b1", 3), gp(t, "m", "12:00:20", "b2", -1), gp(t, "m", "12:00:59", "b1", 5), gp(t, "m", "12:01:00", "b1", 6)}
		},
		want: func(t *testing.T) []exec.Row {
			return []exec.Row{row(t, "12:00:00", t1, 3, 3, 7, 7.0/60, -1, 5), row(t, "12:01:00", t1, 1, 1, 6, 6.0/60, 6, 6)}
		},
	},
	{
		name: "delta sum rate over a 5m window, delta attributed to the window of its time",
		aggs: []string{`{name: a, metric: m, type: sum, temporality: delta, window: 5m, group_by: [tenant], functions: [rate]}`},
		from: "12:00:00", to: "12:10:00",
		points: func(t *testing.T) []Point {
			// start_time 11:58 spans two windows; the delta still goes to 12:05's window only.
			return []Point{withStart(t, gp(t, "m", "12:05:00", "b1", 30), "11:58:00")}
		},
		want: func(t *testing.T) []exec.Row {
			return []exec.Row{{WindowStart: ms(t, "12:05:00"), WindowEnd: ms(t, "12:10:00"), Dims: t1, Samples: 1, Count: 1, Values: []float64{0.1}}}
		},
	},
	{
		name: "up-down counter functions with gauge tie rules",
		aggs: []string{upDown},
		points: func(t *testing.T) []Point {
			return []Point{
				withStart(t, gp(t, "m", "12:00:10", "b2", 7), "11:00:00"), gp(t, "m", "12:00:10", "b1", 5),
				gp(t, "m", "12:00:30", "b1", -2), gp(t, "m", "12:00:30", "b2", 9),
				gp(t, "m", "11:59:59", "b1", 100), // before from: no predecessor role for up-down counters
			}
		},
		want:  func(t *testing.T) []exec.Row { return []exec.Row{row(t, "12:00:00", t1, 4, 4, 5, 9, -2, 9)} },
		stats: &AggStats{Points: 4, Samples: 4, Rows: 1},
	},
	{
		name: "delta histograms merge",
		aggs: []string{histDeltaA},
		points: func(t *testing.T) []Point {
			return []Point{
				withMinMax(hp(t, "12:00:10", "b1", 3, 6, []float64{1, 5}, []uint64{1, 2, 0}), 0.5, 4),
				withMinMax(hp(t, "12:00:20", "b2", 2, 12, []float64{1, 5}, []uint64{0, 0, 2}), 6, 6),
			}
		},
		want: func(t *testing.T) []exec.Row {
			return []exec.Row{withHist(row(t, "12:00:00", t1, 2, 5, 18, 0.5, 6, 3.6), []float64{1, 5}, []uint64{1, 2, 2})}
		},
	},
	{
		name: "delta histograms min and max unknown when one point lacks them",
		aggs: []string{histDeltaA},
		points: func(t *testing.T) []Point {
			return []Point{
				withMinMax(hp(t, "12:00:10", "b1", 3, 6, []float64{1, 5}, []uint64{1, 2, 0}), 0.5, 4),
				hp(t, "12:00:20", "b2", 2, 12, []float64{1, 5}, []uint64{0, 0, 2}),
			}
		},
		want: func(t *testing.T) []exec.Row {
			return []exec.Row{withHist(row(t, "12:00:00", t1, 2, 5, 18, math.NaN(), math.NaN(), 3.6), []float64{1, 5}, []uint64{1, 2, 2})}
		},
	},
	{
		name: "histogram junk: NaN sum and null count",
		aggs: []string{histDeltaA},
		points: func(t *testing.T) []Point {
			nullCount := hp(t, "12:00:30", "b1", 0, 1, []float64{1}, []uint64{0, 0})
			nullCount.CountNull = true
			return []Point{
				hp(t, "12:00:10", "b1", 1, math.NaN(), []float64{1}, []uint64{1, 0}),
				nullCount,
				hp(t, "12:00:40", "b1", 1, 2, []float64{1}, []uint64{0, 1}),
				hp(t, "12:00:40", "b1", 1, 2, []float64{1}, []uint64{0, 1}),
				hp(t, "12:00:40", "b1", 1, 0.5, []float64{1}, []uint64{1, 0}),
			}
		},
		// The duplicate kept is the first in (count, sum, …) order: sum 0.5.
		want: func(t *testing.T) []exec.Row {
			return []exec.Row{withHist(row(t, "12:00:00", t1, 1, 1, 0.5, math.NaN(), math.NaN(), 0.5), []float64{1}, []uint64{1, 0})}
		},
		stats: &AggStats{Points: 5, DroppedNonFinite: 1, DroppedNull: 1, Duplicates: 2, ConflictingDuplicates: 2, Samples: 1, Rows: 1},
	},
	{
		name: "cumulative histograms: difference, bucket decrease reset, new start reset",
		aggs: []string{histCumA},
		points: func(t *testing.T) []Point {
			b := []float64{1, 5}
			return []Point{
				withStart(t, hp(t, "11:59:50", "b1", 2, 3, b, []uint64{1, 1, 0}), "11:00:00"),
				withStart(t, hp(t, "12:00:10", "b1", 5, 10, b, []uint64{2, 2, 1}), "11:00:00"),                     // +3, +7, [1 1 1]
				withStart(t, withMinMax(hp(t, "12:00:20", "b1", 6, 11, b, []uint64{3, 2, 1}), 0.1, 7), "11:00:00"), // +1, +1, [1 0 0]
				withStart(t, withMinMax(hp(t, "12:01:10", "b1", 6, 30, b, []uint64{0, 1, 5}), 0.7, 9), "11:00:00"), // bucket 0 fell: reset, whole
				withStart(t, withMinMax(hp(t, "12:01:20", "b1", 8, 40, b, []uint64{0, 2, 6}), 0.8, 8), "12:01:15"), // new start: whole
			}
		},
		want: func(t *testing.T) []exec.Row {
			return []exec.Row{
				withHist(row(t, "12:00:00", t1, 2, 4, 8, math.NaN(), math.NaN(), 2), []float64{1, 5}, []uint64{2, 1, 1}),
				withHist(row(t, "12:01:00", t1, 2, 14, 70, 0.7, 9, 5), []float64{1, 5}, []uint64{0, 3, 11}),
			}
		},
	},
	{
		name: "cumulative histograms: an empty predecessor leaves the point whole, min and max included",
		aggs: []string{histCumA},
		points: func(t *testing.T) []Point {
			b := []float64{1}
			return []Point{
				withMinMax(hp(t, "11:59:50", "b1", 0, 0, b, []uint64{0, 0}), 0, 0),
				withMinMax(hp(t, "12:00:10", "b1", 4, 10, b, []uint64{2, 2}), 0.5, 4),
			}
		},
		want: func(t *testing.T) []exec.Row {
			return []exec.Row{withHist(row(t, "12:00:00", t1, 1, 4, 10, 0.5, 4, 2.5), []float64{1}, []uint64{2, 2})}
		},
	},
	{
		name: "histograms: empty points do not make min and max unknown",
		aggs: []string{histDeltaA},
		points: func(t *testing.T) []Point {
			b := []float64{1}
			return []Point{
				hp(t, "12:00:05", "b1", 0, 0, b, []uint64{0, 0}),
				withMinMax(hp(t, "12:00:10", "b1", 4, 10, b, []uint64{2, 2}), 0.5, 4),
				hp(t, "12:00:20", "b2", 0, 0, b, []uint64{0, 0}),
			}
		},
		want: func(t *testing.T) []exec.Row {
			return []exec.Row{withHist(row(t, "12:00:00", t1, 3, 4, 10, 0.5, 4, 2.5), []float64{1}, []uint64{2, 2})}
		},
	},
	{
		name: "histogram quantiles interpolate within the bucket, narrowed by min and max",
		aggs: []string{`{name: a, metric: m, type: histogram, temporality: delta, window: 1m, group_by: [tenant], functions: [count, p50, p90, buckets]}`},
		points: func(t *testing.T) []Point {
			return []Point{
				withMinMax(hp(t, "12:00:10", "b1", 3, 6, []float64{1, 5}, []uint64{1, 2, 0}), 0.5, 4),
				withMinMax(hp(t, "12:00:20", "b2", 2, 12, []float64{1, 5}, []uint64{0, 0, 2}), 6, 6),
			}
		},
		// p50: rank 2.5 falls in (1,5] at (2.5−1)/2 → 4; p90: rank 4.5 in (5,+Inf)∩[.., 6] at 0.75 → 5.75.
		want: func(t *testing.T) []exec.Row {
			return []exec.Row{withHist(row(t, "12:00:00", t1, 2, 5, 4, 5.75), []float64{1, 5}, []uint64{1, 2, 2})}
		},
	},
	{
		name: "histogram quantile of an empty row is unknown",
		aggs: []string{`{name: a, metric: m, type: histogram, temporality: cumulative, window: 1m, group_by: [tenant], functions: [count, p50]}`},
		points: func(t *testing.T) []Point {
			return []Point{hp(t, "12:00:10", "b1", 2, 6, []float64{1}, []uint64{1, 1})} // a baseline
		},
		want: func(t *testing.T) []exec.Row { return []exec.Row{row(t, "12:00:00", t1, 1, 0, math.NaN())} },
	},
	{
		name: "histogram whose bucket counts do not sum to count fails",
		aggs: []string{histDeltaA},
		points: func(t *testing.T) []Point {
			return []Point{hp(t, "12:00:10", "b1", 9, 3, []float64{1}, []uint64{1, 1})}
		},
		errParts: []string{"aggregation a", `m{tenant="t1",broker="b1"}`, "count 9", "sum to 2"},
	},
	{
		name: "histogram with bounds out of order fails",
		aggs: []string{histDeltaA},
		points: func(t *testing.T) []Point {
			return []Point{hp(t, "12:00:10", "b1", 2, 3, []float64{5, 1}, []uint64{1, 1, 0})}
		},
		errParts: []string{"aggregation a", `m{tenant="t1",broker="b1"}`, "[5 1]", "strictly increasing"},
	},
	{
		name: "cumulative histograms: baseline and opening points carry an empty histogram",
		aggs: []string{histCumA},
		points: func(t *testing.T) []Point {
			b := []float64{1}
			return []Point{
				withMinMax(hp(t, "12:00:10", "b1", 5, 10, b, []uint64{2, 3}), 0, 3),                           // unknown start, no predecessor
				withStart(t, withMinMax(hp(t, "12:00:20", "b2", 5, 10, b, []uint64{2, 3}), 0, 3), "12:00:20"), // time == start_time
				withStart(t, withMinMax(hp(t, "12:01:10", "b3", 2, 2, b, []uint64{2, 0}), 1, 1), "12:01:00"),  // recent start: whole
			}
		},
		want: func(t *testing.T) []exec.Row {
			return []exec.Row{
				withHist(row(t, "12:00:00", t1, 2, 0, 0, math.NaN(), math.NaN(), math.NaN()), []float64{1}, []uint64{0, 0}),
				withHist(row(t, "12:01:00", t1, 1, 2, 2, 1, 1, 1), []float64{1}, []uint64{2, 0}),
			}
		},
	},
	{
		name: "histogram bounds mismatch fails naming aggregation, series and both bounds",
		aggs: []string{histDeltaA},
		points: func(t *testing.T) []Point {
			return []Point{
				hp(t, "12:00:10", "b1", 1, 1, []float64{1, 5}, []uint64{1, 0, 0}),
				hp(t, "12:00:20", "b2", 1, 1, []float64{1, 10}, []uint64{1, 0, 0}),
			}
		},
		errParts: []string{"aggregation a", "metric m", `m{tenant="t1",broker="b2"}`, "[1 10]", "[1 5]"},
	},
	{
		name: "cumulative histogram bounds change within a start_time fails",
		aggs: []string{histCumA},
		points: func(t *testing.T) []Point {
			return []Point{
				hp(t, "11:59:50", "b1", 1, 1, []float64{1, 5}, []uint64{1, 0, 0}),
				hp(t, "12:00:20", "b1", 2, 2, []float64{1, 10}, []uint64{2, 0, 0}),
			}
		},
		errParts: []string{"aggregation a", `m{tenant="t1",broker="b1"}`, "[1 10]", "[1 5]"},
	},
	{
		name: "histogram with a bucket count too few fails",
		aggs: []string{histDeltaA},
		points: func(t *testing.T) []Point {
			return []Point{hp(t, "12:00:10", "b1", 1, 1, []float64{1, 5}, []uint64{1, 0})}
		},
		errParts: []string{"aggregation a", `m{tenant="t1",broker="b1"}`, "2 bucket counts for 2 bounds"},
	},
	{
		name: "exponential delta histograms merge at the smallest scale; zero counts add",
		aggs: []string{expDeltaA},
		points: func(t *testing.T) []Point {
			return []Point{
				withMinMax(ep(t, "12:00:10", "b1", 1, 1, 0, []uint64{1, 2}, 10), 0, 2),
				ep(t, "12:00:20", "b2", 0, 2, 1, []uint64{4}, 20),
			}
		},
		// scale-1 indices 0 and 1 both become index 0 at scale 0.
		want: func(t *testing.T) []exec.Row {
			return []exec.Row{withExp(row(t, "12:00:00", t1, 2, 10, 30, math.NaN(), math.NaN()), 0, 3, 0, []uint64{3, 4})}
		},
	},
	{
		name: "exponential merge downscales further while the span exceeds 160 buckets",
		aggs: []string{expDeltaA},
		points: func(t *testing.T) []Point {
			return []Point{
				withMinMax(ep(t, "12:00:10", "b1", 0, 0, 0, []uint64{1}, 1.5), 1.5, 1.5),
				withMinMax(ep(t, "12:00:20", "b1", 0, 0, 200, []uint64{1}, 1e61), 1e61, 1e61),
			}
		},
		want: func(t *testing.T) []exec.Row {
			counts := make([]uint64, 101)
			counts[0], counts[100] = 1, 1
			return []exec.Row{withExp(row(t, "12:00:00", t1, 2, 2, 1.5+1e61, 1.5, 1e61), -1, 0, 0, counts)}
		},
	},
	{
		name: "exponential zero threshold widens to a power of two and swallows the buckets below it",
		aggs: []string{expDeltaA},
		points: func(t *testing.T) []Point {
			p := ep(t, "12:00:10", "b1", 0, 2, 0, []uint64{1, 0, 1}, 9)
			p.ZeroThreshold = 3
			return []Point{p}
		},
		// Bucket 0 is (1,2], inside [−4,4]; bucket 2 is (4,8] and stays.
		want: func(t *testing.T) []exec.Row {
			r := withExp(row(t, "12:00:00", t1, 1, 4, 9, math.NaN(), math.NaN()), 0, 3, 2, []uint64{1})
			r.Exp.ZeroThreshold = 4
			return []exec.Row{r}
		},
	},
	{
		name: "exponential cumulative: difference, then a bucket decrease resets",
		aggs: []string{expCumA},
		points: func(t *testing.T) []Point {
			return []Point{
				withStart(t, ep(t, "11:59:50", "b1", 0, 1, 0, []uint64{1, 1}, 5), "11:00:00"),
				withStart(t, ep(t, "12:00:10", "b1", 0, 2, 0, []uint64{2, 3}, 12), "11:00:00"), // zero +1, [1 2], sum +7
				withStart(t, ep(t, "12:00:20", "b1", 0, 2, 0, []uint64{0, 3}, 9), "11:00:00"),  // bucket 0 fell: whole
			}
		},
		want: func(t *testing.T) []exec.Row {
			return []exec.Row{withExp(row(t, "12:00:00", t1, 2, 9, 16), 0, 3, 0, []uint64{1, 5})}
		},
	},
	{
		name: "exponential cumulative baseline carries nothing",
		aggs: []string{`{name: a, metric: m, type: exponential_histogram, temporality: cumulative, window: 1m, group_by: [tenant], functions: [count, sum, min]}`},
		points: func(t *testing.T) []Point {
			return []Point{withMinMax(ep(t, "12:00:10", "b1", 0, 1, 0, []uint64{1, 1}, 5), 0, 3)}
		},
		want: func(t *testing.T) []exec.Row { return []exec.Row{row(t, "12:00:00", t1, 1, 0, 0, math.NaN())} },
	},
	{
		name: "exponential histogram junk: NaN sum and null count",
		aggs: []string{expDeltaA},
		points: func(t *testing.T) []Point {
			null := ep(t, "12:00:20", "b1", 0, 1, 0, nil, 0)
			null.CountNull = true
			return []Point{ep(t, "12:00:10", "b1", 0, 1, 0, nil, math.NaN()), null, ep(t, "12:00:30", "b1", 0, 1, 0, nil, 0)}
		},
		want: func(t *testing.T) []exec.Row {
			// Points without buckets take no part in choosing the scale (package documentation, item 9).
			return []exec.Row{withExp(row(t, "12:00:00", t1, 1, 1, 0, math.NaN(), math.NaN()), hist.MaxScale, 1, 0, nil)}
		},
		stats: &AggStats{Points: 3, DroppedNonFinite: 1, DroppedNull: 1, Samples: 1, Rows: 1},
	},
	{
		name: "exponential histogram whose buckets do not add up to count fails",
		aggs: []string{expDeltaA},
		points: func(t *testing.T) []Point {
			p := ep(t, "12:00:10", "b1", 0, 1, 0, []uint64{1}, 2)
			p.Count = 7
			return []Point{p}
		},
		errParts: []string{"aggregation a", `m{tenant="t1",broker="b1"}`, "count"},
	},
	{
		name:     "range not aligned to the largest window fails",
		aggs:     []string{gaugeAll, `{name: b, metric: m, type: gauge, window: 1h, group_by: [tenant], functions: [sum]}`},
		points:   func(t *testing.T) []Point { return nil },
		errParts: []string{"not aligned", "1h"},
	},
	{
		name: "point with the wrong number of dimensions fails",
		aggs: []string{gaugeAll},
		points: func(t *testing.T) []Point {
			p := gp(t, "m", "12:00:10", "b1", 1)
			p.Dims = p.Dims[:1]
			return []Point{p}
		},
		errParts: []string{"1 dimension values", "tenant, broker"},
	},
}

// filterPoints are one point per broker value (b1=1, b2=2, b3=4, null=8).
func filterPoints(t *testing.T) []Point {
	return []Point{gp(t, "m", "12:00:10", "b1", 1), gp(t, "m", "12:00:10", "b2", 2), gp(t, "m", "12:00:10", "b3", 4), gp(t, "m", "12:00:10", "", 8)}
}

func TestCompute(t *testing.T) {
	for _, tc := range computeCases {
		t.Run(tc.name, func(t *testing.T) {
			reg := testRegistry(t, tc.aggs...)
			from, to := "12:00:00", "12:02:00"
			if tc.from != "" {
				from, to = tc.from, tc.to
			}
			pts := tc.points(t)
			rollups, stats, err := Compute(reg, at(t, from), at(t, to), pts)
			if tc.errParts != nil {
				if err == nil {
					t.Fatalf("Compute succeeded with %d rollups; want an error mentioning %q", len(rollups), tc.errParts)
				}
				for _, part := range tc.errParts {
					if !strings.Contains(err.Error(), part) {
						t.Errorf("error %q does not mention %q", err, part)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("Compute: %v", err)
			}
			if len(rollups) != len(reg.Aggregations) {
				t.Fatalf("got %d rollups for %d aggregations", len(rollups), len(reg.Aggregations))
			}
			if rollups[0].Agg != reg.Aggregations[0] {
				t.Errorf("rollup 0 is for %v, want the registry's first aggregation", rollups[0].Agg)
			}
			if d := diffRows(rollups[0].Rows, tc.want(t)); d != "" {
				t.Error(d)
			}
			if tc.stats != nil {
				if got := stats.PerAggregation["a"]; got != *tc.stats {
					t.Errorf("stats %+v, want %+v", got, *tc.stats)
				}
			}
			// Reversing the input must not change a single bit.
			rev := make([]Point, len(pts))
			for i := range pts {
				rev[len(pts)-1-i] = pts[i]
			}
			again, stats2, err := Compute(reg, at(t, from), at(t, to), rev)
			if err != nil {
				t.Fatalf("Compute on reversed input: %v", err)
			}
			if d := diffRows(again[0].Rows, rollups[0].Rows); d != "" {
				t.Errorf("reversed input changed the result: %s", d)
			}
			if stats2.PerAggregation["a"] != stats.PerAggregation["a"] {
				t.Errorf("reversed input changed the stats: %+v, want %+v", stats2.PerAggregation["a"], stats.PerAggregation["a"])
			}
		})
	}
}
