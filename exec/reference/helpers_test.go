package reference

import (
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tallyhq/tally/exec"
	"github.com/tallyhq/tally/specs"
)

// day is the date every test clock refers to.
var day = time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)

// at returns the instant of a "15:04:05" clock on day.
func at(t testing.TB, clock string) time.Time {
	t.Helper()
	c, err := time.Parse("15:04:05", clock)
	if err != nil {
		t.Fatalf("bad clock %q: %v", clock, err)
	}
	return day.Add(time.Duration(c.Hour())*time.Hour + time.Duration(c.Minute())*time.Minute + time.Duration(c.Second())*time.Second)
}

// ns is at() in nanoseconds since the epoch.
func ns(t testing.TB, clock string) int64 { return at(t, clock).UnixNano() }

// ms is at() in milliseconds since the epoch (window starts of rows).
func ms(t testing.TB, clock string) int64 { return at(t, clock).UnixMilli() }

// testRegistry parses a registry over dimensions [tenant, broker] with the given
// aggregations (YAML list items).
func testRegistry(t testing.TB, aggs ...string) *specs.Registry {
	t.Helper()
	var b strings.Builder
	b.WriteString("version: 1\nsource:\n  url: file:///lake\n  dimensions: [tenant, broker]\n  tenant: tenant\naggregations:\n")
	for _, a := range aggs {
		b.WriteString("  - " + a + "\n")
	}
	reg, err := specs.Parse("test.yaml", []byte(b.String()))
	if err != nil {
		t.Fatalf("parse registry:\n%s\n%v", b.String(), err)
	}
	return reg
}

// gp is a gauge or sum point of tenant t1.
func gp(t testing.TB, metric, clock, broker string, v float64) Point {
	return Point{Time: ns(t, clock), Metric: metric, Dims: []string{"t1", broker}, Value: v}
}

// withStart sets a point's start_time.
func withStart(t testing.TB, p Point, clock string) Point {
	p.StartTime, p.HasStart = ns(t, clock), true
	return p
}

// hp is an explicit-histogram point of tenant t1 without min and max.
func hp(t testing.TB, clock, broker string, count uint64, sum float64, bounds []float64, counts []uint64) Point {
	return Point{Time: ns(t, clock), Metric: "m", Dims: []string{"t1", broker}, Count: count, Sum: sum, Bounds: bounds, BucketCounts: counts}
}

// withMinMax sets a histogram point's min and max.
func withMinMax(p Point, mn, mx float64) Point {
	p.Min, p.Max, p.HasMinMax = mn, mx, true
	return p
}

// row builds an expected row of a 1m window.
func row(t testing.TB, clock string, dims []string, samples, count int64, values ...float64) exec.Row {
	return exec.Row{WindowStart: ms(t, clock), WindowEnd: ms(t, clock) + 60_000, Dims: dims, Samples: samples, Count: count, Values: values}
}

// sameFloat is bit equality, except that every NaN equals every NaN.
func sameFloat(a, b float64) bool {
	if math.IsNaN(a) || math.IsNaN(b) {
		return math.IsNaN(a) && math.IsNaN(b)
	}
	return math.Float64bits(a) == math.Float64bits(b)
}

// diffRows describes the first difference between two row lists, or "".
func diffRows(got, want []exec.Row) string {
	if len(got) != len(want) {
		return fmt.Sprintf("got %d rows, want %d:\ngot  %s\nwant %s", len(got), len(want), fmtRows(got), fmtRows(want))
	}
	for i := range got {
		if d := diffRow(&got[i], &want[i]); d != "" {
			return fmt.Sprintf("row %d: %s\ngot  %s\nwant %s", i, d, fmtRows(got), fmtRows(want))
		}
	}
	return ""
}

func diffRow(g, w *exec.Row) string {
	switch {
	case g.WindowStart != w.WindowStart || g.WindowEnd != w.WindowEnd:
		return fmt.Sprintf("window [%d,%d), want [%d,%d)", g.WindowStart, g.WindowEnd, w.WindowStart, w.WindowEnd)
	case !slices.Equal(g.Dims, w.Dims):
		return fmt.Sprintf("dims %q, want %q", g.Dims, w.Dims)
	case g.Samples != w.Samples:
		return fmt.Sprintf("samples %d, want %d", g.Samples, w.Samples)
	case g.Count != w.Count:
		return fmt.Sprintf("count %d, want %d", g.Count, w.Count)
	case !slices.EqualFunc(g.Values, w.Values, sameFloat):
		return fmt.Sprintf("values %v, want %v", g.Values, w.Values)
	case (g.Hist == nil) != (w.Hist == nil):
		return fmt.Sprintf("hist %v, want %v", g.Hist, w.Hist)
	case g.Hist != nil && (!slices.Equal(g.Hist.Bounds, w.Hist.Bounds) || !slices.Equal(g.Hist.Counts, w.Hist.Counts)):
		return fmt.Sprintf("hist %v, want %v", *g.Hist, *w.Hist)
	case (g.Exp == nil) != (w.Exp == nil):
		return fmt.Sprintf("exp %v, want %v", g.Exp, w.Exp)
	case g.Exp != nil && !reflect.DeepEqual(normExp(*g.Exp), normExp(*w.Exp)):
		return fmt.Sprintf("exp %+v, want %+v", *g.Exp, *w.Exp)
	case !slices.Equal(g.Sketch, w.Sketch):
		return fmt.Sprintf("sketch %x, want %x", g.Sketch, w.Sketch)
	}
	return ""
}

// normExp makes empty bucket ranges comparable whatever their offset or nil-ness.
func normExp(e exec.ExpHistogram) exec.ExpHistogram {
	if len(e.PositiveCounts) == 0 {
		e.PositiveOffset, e.PositiveCounts = 0, nil
	}
	if len(e.NegativeCounts) == 0 {
		e.NegativeOffset, e.NegativeCounts = 0, nil
	}
	return e
}

// ep is an exponential-histogram point of tenant t1 with positive buckets only.
func ep(t testing.TB, clock, broker string, scale int32, zero uint64, offset int32, counts []uint64, sum float64) Point {
	n := zero
	for _, c := range counts {
		n += c
	}
	return Point{Time: ns(t, clock), Metric: "m", Dims: []string{"t1", broker}, Count: n, Sum: sum,
		Scale: scale, ZeroCount: zero, PositiveOffset: offset, PositiveCounts: counts}
}

func fmtRows(rows []exec.Row) string {
	var b strings.Builder
	for _, r := range rows {
		fmt.Fprintf(&b, "\n  {%s %q samples=%d count=%d values=%v", time.UnixMilli(r.WindowStart).UTC().Format("15:04:05"), r.Dims, r.Samples, r.Count, r.Values)
		if r.Hist != nil {
			fmt.Fprintf(&b, " hist=%v/%v", r.Hist.Bounds, r.Hist.Counts)
		}
		if r.Exp != nil {
			fmt.Fprintf(&b, " exp=%+v", *r.Exp)
		}
		if r.Sketch != nil {
			fmt.Fprintf(&b, " sketch=%dB", len(r.Sketch))
		}
		b.WriteString("}")
	}
	return b.String()
}
