package exec

import (
	"fmt"
	"math"
	"strings"
	"testing"
)

const semReg = `
version: 1
source:
  url: mem://
  dimensions: [tenant, broker]
  tenant: tenant
aggregations:
  - name: cpu
    metric: cpu
    type: gauge
    window: 1m
    group_by: [tenant]
    functions: [count, sum, min, max, avg, first, last]
  - name: bytes
    metric: bytes
    type: sum
    temporality: cumulative
    monotonic: true
    window: 1m
    group_by: [tenant]
    functions: [delta, rate, count, last]
  - name: errors
    metric: errors
    type: sum
    temporality: delta
    window: 1m
    group_by: [tenant]
    functions: [sum, count, rate]
  - name: latency
    metric: latency
    type: histogram
    temporality: delta
    window: 1m
    group_by: [tenant]
    functions: [count, sum, buckets, p50]
  - name: expo
    metric: expo
    type: exponential_histogram
    temporality: delta
    window: 1m
    group_by: [tenant]
    functions: [count, sum, buckets]
  - name: expo_cum
    metric: expo_cum
    type: exponential_histogram
    temporality: cumulative
    window: 1m
    group_by: [tenant]
    functions: [count, sum, buckets]
`

// want is an expected row: "window dims | fn=value ..." compared by rowString.
func rowString(r Rollup) []string {
	var out []string
	for _, row := range r.Rows {
		var b strings.Builder
		fmt.Fprintf(&b, "%s %s samples=%d", fmtTime(row.WindowStart * 1e6)[11:16], strings.Join(row.Dims, ","), row.Samples)
		if r.Agg.Has("count") {
			fmt.Fprintf(&b, " count=%d", row.Count)
		}
		for i, f := range r.Agg.ValueFunctions() {
			fmt.Fprintf(&b, " %s=%s", f, fmtFloat(row.Values[i]))
		}
		if row.Hist != nil {
			fmt.Fprintf(&b, " buckets=%v/%v", row.Hist.Bounds, row.Hist.Counts)
		}
		if row.Exp != nil {
			fmt.Fprintf(&b, " exp=s%d z%d +%d%v", row.Exp.Scale, row.Exp.ZeroCount, row.Exp.PositiveOffset, row.Exp.PositiveCounts)
		}
		out = append(out, b.String())
	}
	return out
}

func fmtFloat(v float64) string {
	if math.IsNaN(v) {
		return "NaN"
	}
	return fmt.Sprintf("%.6g", v)
}

func TestSemanticsWorkedExamples(t *testing.T) {
	reg := mustRegistry(t, semReg)
	S := "11:00:00"
	cases := []struct {
		name  string
		agg   string
		from  string
		to    string
		pts   []tp
		want  []string
		check func(t *testing.T, r *Result)
	}{
		{
			name: "gauge: duplicates count once, NaN dropped, first/last ties",
			agg:  "cpu", from: "12:00:00", to: "12:02:00",
			pts: []tp{
				{time: "12:00:10", metric: "cpu", dims: []string{"t1", "b1"}, value: 10},
				{time: "12:00:10", metric: "cpu", dims: []string{"t1", "b1"}, value: 10},
				{time: "12:00:20", metric: "cpu", dims: []string{"t1", "b2"}, value: 30},
				{time: "12:00:50", metric: "cpu", dims: []string{"t1", "b1"}, value: math.NaN()},
				{time: "12:01:00", metric: "cpu", dims: []string{"t1", "b1"}, value: 40},
			},
			want: []string{
				"12:00 t1 samples=2 count=2 sum=40 min=10 max=30 avg=20 first=10 last=30",
				"12:01 t1 samples=1 count=1 sum=40 min=40 max=40 avg=40 first=40 last=40",
			},
			check: func(t *testing.T, r *Result) {
				s := r.Stats.PerAggregation["cpu"]
				if s.Duplicates != 1 || s.DroppedNonFinite != 1 {
					t.Errorf("stats = %+v, want 1 duplicate and 1 non-finite", s)
				}
			},
		},
		{
			name: "counter: predecessor before from, resets by value drop and new start",
			agg:  "bytes", from: "12:00:00", to: "12:02:00",
			pts: []tp{
				{time: "11:59:50", metric: "bytes", dims: []string{"t1", "b1"}, value: 100, start: S},
				{time: "12:00:10", metric: "bytes", dims: []string{"t1", "b1"}, value: 130, start: S},
				{time: "12:00:40", metric: "bytes", dims: []string{"t1", "b1"}, value: 150, start: S},
				{time: "12:01:10", metric: "bytes", dims: []string{"t1", "b1"}, value: 5, start: S},
				{time: "12:01:20", metric: "bytes", dims: []string{"t1", "b1"}, value: 12, start: "12:01:15"},
				{time: "12:01:40", metric: "bytes", dims: []string{"t1", "b1"}, value: 20, start: "12:01:15"},
			},
			want: []string{
				"12:00 t1 samples=2 count=2 delta=50 rate=0.833333 last=150",
				"12:01 t1 samples=3 count=3 delta=25 rate=0.416667 last=20",
			},
		},
		{
			name: "counter: no predecessor, recent start counts, unknown start is a baseline, time==start is zero",
			agg:  "bytes", from: "12:00:00", to: "12:01:00",
			pts: []tp{
				{time: "12:00:10", metric: "bytes", dims: []string{"t1", "b1"}, value: 7, start: "12:00:05"},
				{time: "12:00:10", metric: "bytes", dims: []string{"t1", "b2"}, value: 1000},
				{time: "12:00:20", metric: "bytes", dims: []string{"t1", "b2"}, value: 1010},
				{time: "12:00:30", metric: "bytes", dims: []string{"t1", "b3"}, value: 0, start: "12:00:30"},
				{time: "12:00:40", metric: "bytes", dims: []string{"t1", "b4"}, value: 500, start: "10:00:00"},
			},
			want: []string{"12:00 t1 samples=5 count=5 delta=17 rate=0.283333 last=500"},
		},
		{
			name: "counter: predecessor older than staleness is ignored",
			agg:  "bytes", from: "12:00:00", to: "12:01:00",
			pts: []tp{
				{time: "11:49:59", metric: "bytes", dims: []string{"t1", "b1"}, value: 100, start: S},
				{time: "12:00:00", metric: "bytes", dims: []string{"t1", "b1"}, value: 130, start: S},
			},
			want: []string{"12:00 t1 samples=1 count=1 delta=0 rate=0 last=130"},
		},
		{
			name: "counter: predecessor exactly staleness before counts",
			agg:  "bytes", from: "12:00:00", to: "12:01:00",
			pts: []tp{
				{time: "11:50:00", metric: "bytes", dims: []string{"t1", "b1"}, value: 100, start: S},
				{time: "12:00:00", metric: "bytes", dims: []string{"t1", "b1"}, value: 130, start: S},
			},
			want: []string{"12:00 t1 samples=1 count=1 delta=30 rate=0.5 last=130"},
		},
		{
			name: "delta sum: points at window boundaries, null dropped",
			agg:  "errors", from: "12:00:00", to: "12:02:00",
			pts: []tp{
				{time: "11:59:59", metric: "errors", dims: []string{"t1", "b1"}, value: 100},
				{time: "12:00:00", metric: "errors", dims: []string{"t1", "b1"}, value: 3},
				{time: "12:00:59", metric: "errors", dims: []string{"t1", "b2"}, value: 3},
				{time: "12:01:00", metric: "errors", dims: []string{"t1", "b1"}, value: 6},
				{time: "12:01:30", metric: "errors", dims: []string{"t1", "b1"}, null: true},
				{time: "12:02:00", metric: "errors", dims: []string{"t1", "b1"}, value: 100},
			},
			want: []string{
				"12:00 t1 samples=2 count=2 sum=6 rate=0.1",
				"12:01 t1 samples=1 count=1 sum=6 rate=0.1",
			},
			check: func(t *testing.T, r *Result) {
				if n := r.Stats.PerAggregation["errors"].DroppedNull; n != 1 {
					t.Errorf("dropped null = %d, want 1", n)
				}
			},
		},
		{
			name: "delta histogram: buckets merge",
			agg:  "latency", from: "12:00:00", to: "12:01:00",
			pts: []tp{
				{time: "12:00:10", metric: "latency", dims: []string{"t1", "b1"}, hcount: 4, hsum: 20, bounds: []float64{1, 10}, buckets: []int64{1, 3, 0}},
				{time: "12:00:20", metric: "latency", dims: []string{"t1", "b2"}, hcount: 2, hsum: 30, bounds: []float64{1, 10}, buckets: []int64{0, 1, 1}},
			},
			want: []string{"12:00 t1 samples=2 count=6 sum=50 p50=" + fmtFloat(5.5) + " buckets=[1 10]/[1 4 1]"},
		},
		{
			name: "exponential histogram: merge downscales to the common scale",
			agg:  "expo", from: "12:00:00", to: "12:01:00",
			pts: []tp{
				{time: "12:00:10", metric: "expo", dims: []string{"t1", "b1"}, hcount: 3, hsum: 5, exp: &expTP{scale: 1, offset: 0, counts: []int64{1, 2}}},
				{time: "12:00:20", metric: "expo", dims: []string{"t1", "b2"}, hcount: 5, hsum: 10, exp: &expTP{scale: 0, zero: 1, offset: 1, counts: []int64{4}}},
			},
			want: []string{"12:00 t1 samples=2 count=8 sum=15 exp=s0 z1 +0[3 4]"},
		},
		{
			name: "exponential histogram: cumulative points become deltas",
			agg:  "expo_cum", from: "12:00:00", to: "12:01:00",
			pts: []tp{
				{time: "11:59:50", metric: "expo_cum", dims: []string{"t1", "b1"}, start: S, hcount: 3, hsum: 5, exp: &expTP{scale: 0, offset: 0, counts: []int64{1, 2}}},
				{time: "12:00:10", metric: "expo_cum", dims: []string{"t1", "b1"}, start: S, hcount: 6, hsum: 9, exp: &expTP{scale: 0, offset: 0, counts: []int64{2, 4}}},
			},
			want: []string{"12:00 t1 samples=1 count=3 sum=4 exp=s0 z0 +0[1 2]"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, par := range []int{1, 3} {
				// Split the points over two row groups to exercise merging.
				half := len(tc.pts) / 2
				res := runTask(t, reg, tc.from, tc.to, par, tc.pts[:half], tc.pts[half:])
				var got []string
				for _, r := range res.Rollups {
					if r.Agg.Name == tc.agg {
						got = rowString(r)
					}
				}
				if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
					t.Errorf("parallelism %d:\ngot:\n%s\nwant:\n%s", par, strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
				}
				if tc.check != nil {
					tc.check(t, res)
				}
			}
		})
	}
}

// TestConflictingDuplicatesKeepTheSamePoint: which of two conflicting duplicates is kept
// does not depend on file or row-group order (gauges and histograms).
func TestConflictingDuplicatesKeepTheSamePoint(t *testing.T) {
	reg := mustRegistry(t, semReg)
	a := []tp{
		{time: "12:00:10", metric: "latency", dims: []string{"t1", "b1"}, hcount: 4, hsum: 20, bounds: []float64{1, 10}, buckets: []int64{1, 3, 0}},
		{time: "12:00:10", metric: "cpu", dims: []string{"t1", "b1"}, value: 7},
	}
	b := []tp{
		{time: "12:00:10", metric: "latency", dims: []string{"t1", "b1"}, hcount: 3, hsum: 25, bounds: []float64{1, 10}, buckets: []int64{0, 2, 1}},
		{time: "12:00:10", metric: "cpu", dims: []string{"t1", "b1"}, value: 5},
	}
	render := func(res *Result) string {
		var out []string
		for _, r := range res.Rollups {
			out = append(out, rowString(r)...)
		}
		return strings.Join(out, "\n")
	}
	ab := runTask(t, reg, "12:00:00", "12:01:00", 1, a, b)
	ba := runTask(t, reg, "12:00:00", "12:01:00", 1, b, a)
	if render(ab) != render(ba) {
		t.Fatalf("kept point depends on input order:\n%s\n---\n%s", render(ab), render(ba))
	}
	if s := ab.Stats.PerAggregation["latency"]; s.Duplicates != 1 || s.ConflictingDuplicates != 1 {
		t.Fatalf("latency stats %+v, want one conflicting duplicate", s)
	}
	// The smaller count (3) and the smaller value (5) are kept, as docs/semantics.md says.
	for _, r := range ab.Rollups {
		switch r.Agg.Name {
		case "latency":
			if len(r.Rows) != 1 || r.Rows[0].Count != 3 {
				t.Fatalf("latency kept %+v, want the histogram of count 3", r.Rows)
			}
		case "cpu":
			if len(r.Rows) != 1 || r.Rows[0].Values[0] != 5 {
				t.Fatalf("cpu kept %+v, want value 5", r.Rows)
			}
		}
	}
}
