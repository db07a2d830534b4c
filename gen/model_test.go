package gen

import (
	"cmp"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// seriesOf is a point's series identity.
func seriesOf(p Point) string {
	return strings.Join([]string{p.Metric, p.Tenant, p.Cluster, p.Broker, p.Topic, p.RequestType}, "|")
}

// allPoints returns the Points of cfg in generation order.
func allPoints(t testing.TB, cfg Config) []Point {
	t.Helper()
	var out []Point
	if err := Points(cfg, func(p Point) error { out = append(out, p); return nil }); err != nil {
		t.Fatalf("Points: %v", err)
	}
	return out
}

// TestDataModel checks the documented shape of the data on a quirk-free lake
// (counter resets aside): reporting cadence, row order, file assignment, value
// ranges, counter epochs and histogram consistency.
func TestDataModel(t *testing.T) {
	cfg := small(6 * time.Hour)
	cfg.From = cfg.From.Add(17 * time.Minute) // a partial first hour
	cfg.FilesPerPartition = 2
	cfg.ResetProbability = 0.3
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	fl := newFleet(&cfg)
	idx := map[string]int{}
	for _, s := range fl.series {
		idx[s.key] = int(s.idx)
	}
	pts := allPoints(t, cfg)
	if want, _ := ExpectedRows(cfg); int64(len(pts)) != want {
		t.Fatalf("%d points, ExpectedRows %d", len(pts), want)
	}
	names := regexp.MustCompile(`^tenant-(\d{3})\|cluster-(\d{3})-\d{2}\|broker-\d+$`)
	bySeries := map[string][]Point{}
	var prev Point
	for i, p := range pts {
		key := seriesOf(p)
		if _, ok := idx[key]; !ok {
			t.Fatalf("point %d: unknown series %q", i, key)
		}
		m := names.FindStringSubmatch(p.Tenant + "|" + p.Cluster + "|" + p.Broker)
		if m == nil || m[1] != m[2] {
			t.Fatalf("point %d: names %s %s %s", i, p.Tenant, p.Cluster, p.Broker)
		}
		tenant, _ := strconv.Atoi(m[1])
		if want := fmt.Sprintf("part-%05d.parquet", tenant%cfg.FilesPerPartition); !strings.HasSuffix(p.File, want) {
			t.Fatalf("point %d: tenant %d in %s, want file %s", i, tenant, p.File, want)
		}
		if p.Time.Before(cfg.From) || !p.Time.Before(cfg.To) {
			t.Fatalf("point %d: time %s outside [%s, %s)", i, p.Time, cfg.From, cfg.To)
		}
		if !strings.HasPrefix(p.File, partitionPrefix(LayoutHive, p.Time.Truncate(time.Hour))) {
			t.Fatalf("point %d at %s is in %s", i, p.Time, p.File)
		}
		if d := p.IngestTime.Sub(p.Time); d < 100*time.Millisecond || d > 3*time.Second {
			t.Fatalf("point %d: ingest delay %s", i, d)
		}
		if i > 0 && prev.File == p.File {
			if c := cmp.Or(p.Time.Compare(prev.Time), cmp.Compare(idx[key], idx[seriesOf(prev)])); c <= 0 {
				t.Fatalf("point %d of %s is not after the previous one by (time, series)", p.Row, p.File)
			}
		}
		prev = p
		bySeries[key] = append(bySeries[key], p)
		checkPoint(t, p)
	}
	if len(bySeries) != len(fl.series) {
		t.Fatalf("%d series reported, fleet has %d", len(bySeries), len(fl.series))
	}
	resets := 0
	for key, ps := range bySeries {
		slices.SortFunc(ps, func(a, b Point) int { return a.Time.Compare(b.Time) })
		if off := ps[0].Time.Sub(cfg.From); off < 0 || off >= cfg.Interval {
			t.Fatalf("%s: first point %s is not within an interval of From", key, ps[0].Time)
		}
		for i := 1; i < len(ps); i++ {
			if d := ps[i].Time.Sub(ps[i-1].Time); d != cfg.Interval {
				t.Fatalf("%s: points %s and %s are %s apart, want %s", key, ps[i-1].Time, ps[i].Time, d, cfg.Interval)
			}
			if ps[i].Type != TypeSum || ps[i].Temporality != TemporalityCumulative {
				continue
			}
			a, b := ps[i-1], ps[i]
			switch {
			case b.StartTime.Equal(a.StartTime):
				if b.Reset || b.Value <= a.Value {
					t.Fatalf("%s: %v then %v in one epoch (reset=%v)", key, a.Value, b.Value, b.Reset)
				}
			default:
				resets++
				if !b.Reset || !b.StartTime.After(a.Time) || b.StartTime.After(b.Time) {
					t.Fatalf("%s: start_time %s changed at %s (previous point %s) without a reset flag or outside the gap", key, b.StartTime, b.Time, a.Time)
				}
			}
		}
	}
	if resets == 0 {
		t.Fatal("no counter reset in 6 hours at probability 0.3 per hour")
	}
}

// checkPoint checks one point's values against its metric's model.
func checkPoint(t *testing.T, p Point) {
	t.Helper()
	fail := func(format string, args ...any) {
		t.Fatalf("%s at %s: %s", seriesOf(p), p.Time, fmt.Sprintf(format, args...))
	}
	dims := map[bool]string{true: "set", false: "empty"}
	wantTopic := p.Metric == MetricBytesIn || p.Metric == MetricBytesOut
	wantRT := p.Metric == MetricRequests || p.Metric == MetricRequestErrors || p.Metric == MetricLatency
	if (p.Topic != "") != wantTopic || (p.RequestType != "") != wantRT {
		fail("topic %q request_type %q: want topic %s, request_type %s", p.Topic, p.RequestType, dims[wantTopic], dims[wantRT])
	}
	if wantRT && !slices.Contains(requestTypes, p.RequestType) {
		fail("request_type %q", p.RequestType)
	}
	if (p.Type == TypeSum && p.Temporality == TemporalityCumulative) != !p.StartTime.IsZero() {
		fail("start_time %v for %s %s", p.StartTime, p.Type, p.Temporality)
	}
	switch p.Metric {
	case MetricCPU:
		if p.Value < 0 || p.Value > 100 || p.Type != TypeGauge {
			fail("cpu %v", p.Value)
		}
	case MetricMemory, MetricDisk:
		if p.Value <= 0 || p.Value > diskBytes || p.Value != math.Trunc(p.Value) {
			fail("bytes %v", p.Value)
		}
	case MetricBytesIn, MetricBytesOut, MetricRequests:
		if p.Value < 0 || p.Value != math.Trunc(p.Value) || !p.Monotonic || p.Temporality != TemporalityCumulative {
			fail("counter %v monotonic %v", p.Value, p.Monotonic)
		}
	case MetricRequestErrors:
		if p.Value < 0 || p.Value > 5 || p.Value != math.Trunc(p.Value) || p.Temporality != TemporalityDelta {
			fail("errors %v", p.Value)
		}
	case MetricLatency:
		checkHistogram(t, p)
	default:
		fail("unknown metric")
	}
}

func checkHistogram(t *testing.T, p Point) {
	t.Helper()
	fail := func(format string, args ...any) {
		t.Fatalf("%s at %s: %s (%+v)", seriesOf(p), p.Time, fmt.Sprintf(format, args...), p)
	}
	if p.Type != TypeHistogram || p.Temporality != TemporalityDelta || !slices.Equal(p.Bounds, latencyBounds) {
		fail("type %s temporality %s bounds %v", p.Type, p.Temporality, p.Bounds)
	}
	if len(p.BucketCounts) != len(p.Bounds)+1 {
		fail("%d buckets for %d bounds", len(p.BucketCounts), len(p.Bounds))
	}
	var total int64
	lowest, highest := -1, -1
	for i, c := range p.BucketCounts {
		if c < 0 {
			fail("negative bucket")
		}
		if c > 0 {
			if lowest < 0 {
				lowest = i
			}
			highest = i
		}
		total += c
	}
	if total != p.Count || total == 0 {
		fail("count %d, buckets sum to %d", p.Count, total)
	}
	in := func(v float64, i int) bool {
		lo, hi := math.Inf(-1), math.Inf(1)
		if i > 0 {
			lo = p.Bounds[i-1]
		}
		if i < len(p.Bounds) {
			hi = p.Bounds[i]
		}
		return v > lo && v <= hi
	}
	if !in(p.Min, lowest) || !in(p.Max, highest) || p.Min <= 0 {
		fail("min %v not in bucket %d or max %v not in bucket %d", p.Min, lowest, p.Max, highest)
	}
	mean := p.Sum / float64(p.Count)
	if mean < p.Min-1e-9 || mean > p.Max+1e-9 {
		fail("mean %v outside [min %v, max %v]", mean, p.Min, p.Max)
	}
}

// TestQuirks checks each quirk's rate and shape.
func TestQuirks(t *testing.T) {
	cfg := small(4 * time.Hour)
	cfg.Interval = 20 * time.Second
	cfg.FilesPerPartition = 2
	const frac = 0.04
	cfg.LateFraction, cfg.DuplicateFraction, cfg.NaNFraction, cfg.OutOfOrderFraction = frac, frac, frac, frac
	cfg.LateBy = 45 * time.Minute
	pts := allPoints(t, cfg)
	type partKey struct{ part, point string }
	originals := map[partKey]Point{}
	var n, gauges, late, dups, nans, infs, displaced, crossFile int64
	strip := func(p Point) string {
		p.File, p.Row, p.Late, p.Duplicate, p.OutOfOrder, p.Reset, p.NaN = "", 0, false, false, false, false, false
		return fmt.Sprintf("%+v", p)
	}
	partOf := func(p Point) string { return p.File[:strings.LastIndex(p.File, "/")] }
	for _, p := range pts {
		if p.Duplicate {
			continue
		}
		n++
		originals[partKey{partOf(p), strip(p)}] = p
		if p.Type == TypeGauge {
			gauges++
		}
		if p.Late {
			late++
			if p.IngestTime.Sub(p.Time) != cfg.LateBy {
				t.Fatalf("late point ingested %s after its time, want %s", p.IngestTime.Sub(p.Time), cfg.LateBy)
			}
		}
		if p.NaN {
			if p.Type != TypeGauge {
				t.Fatalf("NaN in a %s", p.Type)
			}
			switch {
			case math.IsNaN(p.Value):
				nans++
			case math.IsInf(p.Value, 1):
				infs++
			default:
				t.Fatalf("NaN-flagged point with value %v", p.Value)
			}
		} else if math.IsNaN(p.Value) || math.IsInf(p.Value, 0) {
			t.Fatalf("unflagged non-finite value %v", p.Value)
		}
		if p.OutOfOrder {
			displaced++
		}
	}
	for _, p := range pts {
		if !p.Duplicate {
			continue
		}
		dups++
		orig, ok := originals[partKey{partOf(p), strip(p)}]
		if !ok {
			t.Fatalf("duplicate %s row %d has no identical original in its partition", p.File, p.Row)
		}
		if orig.File != p.File {
			crossFile++
		}
	}
	near := func(name string, got int64, base int64, want float64) {
		exp := want * float64(base)
		if math.Abs(float64(got)-exp) > 0.25*exp {
			t.Errorf("%s: %d of %d, want about %.0f", name, got, base, exp)
		}
	}
	near("late", late, n, frac)
	near("duplicates", dups, n, frac)
	near("NaN or +Inf gauges", nans+infs, gauges, frac)
	near("out of order", displaced, n, frac)
	if infs == 0 || nans == 0 {
		t.Errorf("want both NaN and +Inf, got %d and %d", nans, infs)
	}
	if crossFile == 0 || crossFile == dups {
		t.Errorf("%d of %d duplicates in another file than the original: want some in each", crossFile, dups)
	}
	// Displaced rows break the time order of their file, and only they do.
	inversions := 0
	for i := 1; i < len(pts); i++ {
		if pts[i].File == pts[i-1].File && pts[i].Time.Before(pts[i-1].Time) {
			inversions++
			if !pts[i].OutOfOrder {
				t.Fatalf("row %d of %s goes back in time but is not flagged out of order", pts[i].Row, pts[i].File)
			}
		}
	}
	if inversions == 0 {
		t.Error("no row goes back in time")
	}
}

func TestResetProbability(t *testing.T) {
	cfg := small(24 * time.Hour)
	cfg.Metrics = []string{MetricBytesIn, MetricRequests}
	cfg.ResetProbability = 0.25
	pts := allPoints(t, cfg)
	series := map[string]bool{}
	var resets int64
	for _, p := range pts {
		series[seriesOf(p)] = true
		if p.Reset {
			resets++
		}
	}
	want := cfg.ResetProbability * 24 * float64(len(series))
	if math.Abs(float64(resets)-want) > 0.2*want {
		t.Fatalf("%d resets over %d series and 24 hours, want about %.0f", resets, len(series), want)
	}
}

// TestYearStart: every counter restarts at 00:00 UTC on January 1.
func TestYearStart(t *testing.T) {
	ny := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	cfg := small(2 * time.Hour)
	cfg.From, cfg.To = ny.Add(-time.Hour), ny.Add(time.Hour)
	cfg.Metrics = []string{MetricBytesOut}
	y2026 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	resets := map[string]Point{}
	for _, p := range allPoints(t, cfg) {
		wantStart := y2026
		if !p.Time.Before(ny) {
			wantStart = ny
		}
		if !p.StartTime.Equal(wantStart) {
			t.Fatalf("%s at %s starts at %s, want %s", seriesOf(p), p.Time, p.StartTime, wantStart)
		}
		if p.Reset {
			if _, twice := resets[seriesOf(p)]; twice || p.Time.Before(ny) {
				t.Fatalf("%s reset at %s: want one reset, at the new year", seriesOf(p), p.Time)
			}
			resets[seriesOf(p)] = p
		}
	}
	if len(resets) != 8 {
		t.Fatalf("%d series reset at the new year, want all 8", len(resets))
	}
	for key, p := range resets {
		if p.Time.Sub(ny) >= cfg.Interval {
			t.Fatalf("%s reset at %s, not its first point of the year", key, p.Time)
		}
	}
}

// TestRangeIndependent: a point's values depend on its time, not on the range
// generated, so a lake over [a,c) holds the points of [a,b) and [b,c).
func TestRangeIndependent(t *testing.T) {
	whole := small(3 * time.Hour)
	whole.LateFraction, whole.DuplicateFraction, whole.NaNFraction, whole.OutOfOrderFraction, whole.ResetProbability = 0.05, 0.05, 0.05, 0.05, 0.2
	cut := whole.From.Add(90*time.Minute + 7*time.Second)
	first, second := whole, whole
	first.To, second.From = cut, cut
	render := func(ps []Point) []string {
		out := make([]string, len(ps))
		for i, p := range ps {
			p.File, p.Row, p.OutOfOrder = "", 0, false
			out[i] = fmt.Sprintf("%+v", p)
		}
		slices.Sort(out)
		return out
	}
	got := render(append(allPoints(t, first), allPoints(t, second)...))
	want := render(allPoints(t, whole))
	if !slices.Equal(got, want) {
		t.Fatalf("split ranges give %d points, the whole range %d, or their values differ", len(got), len(want))
	}
}

func TestMetricsSubset(t *testing.T) {
	cfg := small(time.Hour)
	cfg.Metrics = []string{MetricLatency, MetricCPU}
	seen := map[string]bool{}
	for _, p := range allPoints(t, cfg) {
		seen[p.Metric] = true
	}
	if len(seen) != 2 || !seen[MetricLatency] || !seen[MetricCPU] {
		t.Fatalf("metrics %v", seen)
	}
	_, st := generateMem(t, cfg)
	if want := 4 * (1 + len(requestTypes)); st.Series != want {
		t.Fatalf("Series = %d, want %d", st.Series, want)
	}
}
