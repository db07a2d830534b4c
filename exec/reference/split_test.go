package reference

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"testing"
	"time"

	"github.com/tallyhq/tally/exec"
)

// splitAggs is one aggregation of every kind, with every quirk the generator below
// produces switched on.
var splitAggs = []string{
	`{name: gauge_1m, metric: g, type: gauge, window: 1m, group_by: [tenant], functions: [count, sum, min, max, avg, first, last, p50, p99, sketch]}`,
	`{name: gauge_5m, metric: g, type: gauge, window: 5m, group_by: [tenant, broker], filters: [{dimension: broker, op: ne, values: [b3]}], functions: [sum, last]}`,
	`{name: delta_5m, metric: d, type: sum, temporality: delta, window: 5m, group_by: [tenant], functions: [sum, count, rate, min, max]}`,
	`{name: counter_1m, metric: c, type: sum, temporality: cumulative, monotonic: true, window: 1m, staleness: 3m, group_by: [tenant], functions: [delta, rate, count, last]}`,
	`{name: counter_5m, metric: c, type: sum, temporality: cumulative, monotonic: true, window: 5m, group_by: [tenant, broker], functions: [delta, count]}`,
	`{name: updown_1m, metric: u, type: sum, temporality: cumulative, window: 1m, group_by: [tenant], functions: [first, last, min, max, count]}`,
	`{name: hist_delta_1m, metric: hd, type: histogram, temporality: delta, window: 1m, group_by: [tenant], functions: [count, sum, min, max, avg, buckets, p90]}`,
	`{name: exp_delta_1m, metric: ed, type: exponential_histogram, temporality: delta, window: 1m, group_by: [tenant], functions: [count, sum, min, max, avg, buckets, p50]}`,
	`{name: exp_cum_5m, metric: ec, type: exponential_histogram, temporality: cumulative, window: 5m, group_by: [tenant], functions: [count, sum, buckets, p90]}`,
	`{name: hist_cum_5m, metric: hc, type: histogram, temporality: cumulative, window: 5m, staleness: 4m, group_by: [tenant], functions: [count, sum, min, max, avg, buckets, p50]}`,
}

// genPoints makes random raw points for every metric of splitAggs between lo and
// hi: irregular intervals, gaps longer than staleness, duplicates (exact and
// conflicting), NaN, infinities, nulls, counter resets by value drop and by new
// start_time, points at their start_time, unknown start times, and histograms with
// and without min and max.
func genPoints(rng *rand.Rand, lo, hi time.Time) []Point {
	var pts []Point
	bounds := []float64{0.5, 2, 10}
	for _, tenant := range []string{"t1", "t2"} {
		for _, broker := range []string{"b1", "b2", "b3", ""} {
			dims := []string{tenant, broker}
			for _, metric := range []string{"g", "d", "c", "u", "hd", "hc", "ed", "ec"} {
				knownStart := rng.IntN(3) > 0
				start := lo.Add(-time.Duration(rng.IntN(30)) * time.Minute).UnixNano()
				total := 0.0
				cum := make([]uint64, len(bounds)+1)
				var cumCount, cumZero uint64
				cumSum := 0.0
				expScale := int32(rng.IntN(4))
				expOffset := int32(rng.IntN(11) - 5)
				for t := lo.UnixNano(); t < hi.UnixNano(); {
					p := Point{Time: t, Metric: metric, Dims: dims, StartTime: start, HasStart: knownStart}
					switch rng.IntN(20) {
					case 0: // reset with a new start time, sometimes at the point itself
						total, cumSum, cumCount, cumZero = 0, 0, 0, 0
						clear(cum)
						start = t - int64(rng.IntN(2))*int64(time.Second)
						p.StartTime = start
					case 1: // reset by value drop, same start time
						total, cumSum, cumCount, cumZero = total/4, 0, 0, 0
						clear(cum)
					}
					switch metric {
					case "g", "u":
						p.Value = math.Round(rng.NormFloat64()*1000) / 8
					case "d":
						p.Value = rng.Float64() * 100
					case "c":
						total += math.Floor(rng.Float64() * 50)
						p.Value = total
					case "hd":
						p.Bounds = bounds
						p.BucketCounts = make([]uint64, len(bounds)+1)
						for i := range p.BucketCounts {
							p.BucketCounts[i] = uint64(rng.IntN(4))
							p.Count += p.BucketCounts[i]
						}
						p.Sum = rng.Float64() * float64(p.Count) * 3
						if rng.IntN(4) > 0 {
							p.Min, p.Max, p.HasMinMax = 0.1, 11, true
						}
					case "hc":
						for i := range cum {
							add := uint64(rng.IntN(3))
							cum[i] += add
							cumCount += add
						}
						cumSum += rng.Float64() * 10
						p.Bounds = bounds
						p.BucketCounts = append([]uint64(nil), cum...)
						p.Count, p.Sum = cumCount, cumSum
						if rng.IntN(2) == 0 {
							p.Min, p.Max, p.HasMinMax = 0, 20, true
						}
					case "ed":
						p.Scale = int32(rng.IntN(4))
						p.PositiveOffset = int32(rng.IntN(11) - 5)
						p.ZeroCount = uint64(rng.IntN(3))
						p.Count = p.ZeroCount
						p.PositiveCounts = make([]uint64, 1+rng.IntN(4))
						for i := range p.PositiveCounts {
							p.PositiveCounts[i] = uint64(rng.IntN(4))
							p.Count += p.PositiveCounts[i]
						}
						p.Sum = rng.Float64() * float64(p.Count) * 30
						if rng.IntN(4) > 0 {
							p.Min, p.Max, p.HasMinMax = 0, 100, true
						}
					case "ec":
						cumZero += uint64(rng.IntN(2))
						for i := range cum {
							cum[i] += uint64(rng.IntN(3))
						}
						cumSum += rng.Float64() * 10
						p.Scale, p.PositiveOffset, p.ZeroCount = expScale, expOffset, cumZero
						p.PositiveCounts = append([]uint64(nil), cum...)
						p.Count = cumZero
						for _, c := range cum {
							p.Count += c
						}
						p.Sum = cumSum
					}
					switch rng.IntN(30) {
					case 0:
						p.Value, p.Sum = math.NaN(), math.NaN()
					case 1:
						p.Value = math.Inf(1 - 2*rng.IntN(2))
					case 2:
						p.ValueNull, p.CountNull = true, true
					}
					pts = append(pts, p)
					switch rng.IntN(12) {
					case 0: // exact duplicate
						pts = append(pts, p)
					case 1: // conflicting duplicate
						q := p
						q.Value += 1
						q.Sum += 1
						q.BucketCounts = append([]uint64(nil), p.BucketCounts...)
						if len(q.BucketCounts) > 0 {
							q.BucketCounts[0]++
							q.Count++
						}
						pts = append(pts, q)
					}
					step := time.Duration(1+rng.IntN(50)) * time.Second
					if rng.IntN(25) == 0 {
						step = time.Duration(3+rng.IntN(10)) * time.Minute // a gap
					}
					t += int64(step)
				}
			}
		}
	}
	rng.Shuffle(len(pts), func(i, j int) { pts[i], pts[j] = pts[j], pts[i] })
	return pts
}

// concatRollups joins per-aggregation rows of several runs, restoring the row order.
func concatRollups(parts ...[]exec.Rollup) []exec.Rollup {
	out := make([]exec.Rollup, len(parts[0]))
	for i := range out {
		out[i].Agg = parts[0][i].Agg
		for _, p := range parts {
			out[i].Rows = append(out[i].Rows, p[i].Rows...)
		}
		sort.SliceStable(out[i].Rows, func(a, b int) bool {
			ra, rb := &out[i].Rows[a], &out[i].Rows[b]
			if c := compareTuples(ra.Dims, rb.Dims); c != 0 {
				return c < 0
			}
			return ra.WindowStart < rb.WindowStart
		})
	}
	return out
}

func addStats(a, b AggStats) AggStats {
	return AggStats{
		Points: a.Points + b.Points, DroppedNonFinite: a.DroppedNonFinite + b.DroppedNonFinite,
		DroppedNull: a.DroppedNull + b.DroppedNull, Duplicates: a.Duplicates + b.Duplicates,
		ConflictingDuplicates: a.ConflictingDuplicates + b.ConflictingDuplicates,
		Samples:               a.Samples + b.Samples, Rows: a.Rows + b.Rows,
	}
}

// TestSplitInvarianceReference checks that Compute over [a,c) equals Compute over
// [a,b) and [b,c) for every aligned b, bit for bit, on random lakes with every
// quirk, for every aggregation kind (counter deltas across the cut included).
func TestSplitInvarianceReference(t *testing.T) {
	reg := testRegistry(t, splitAggs...)
	a := day.Add(12 * time.Hour)
	c := a.Add(time.Hour)
	for seed := uint64(1); seed <= 6; seed++ {
		rng := rand.New(rand.NewPCG(seed, 42))
		pts := genPoints(rng, a.Add(-20*time.Minute), c.Add(10*time.Minute))
		whole, wholeStats, err := Compute(reg, a, c, pts)
		if err != nil {
			t.Fatalf("seed %d: Compute [a,c): %v", seed, err)
		}
		rows := 0
		for _, r := range whole {
			rows += len(r.Rows)
			if len(r.Rows) == 0 {
				t.Fatalf("seed %d: aggregation %s has no rows; the generator does not exercise it", seed, r.Agg.Name)
			}
		}
		for _, cut := range []time.Duration{5 * time.Minute, 30 * time.Minute, 55 * time.Minute, time.Duration(1+rng.IntN(11)) * 5 * time.Minute} {
			b := a.Add(cut)
			t.Run(fmt.Sprintf("seed=%d/b=+%s", seed, cut), func(t *testing.T) {
				left, leftStats, err := Compute(reg, a, b, pts)
				if err != nil {
					t.Fatalf("Compute [a,b): %v", err)
				}
				right, rightStats, err := Compute(reg, b, c, pts)
				if err != nil {
					t.Fatalf("Compute [b,c): %v", err)
				}
				joined := concatRollups(left, right)
				for i := range whole {
					name := whole[i].Agg.Name
					if d := diffRows(joined[i].Rows, whole[i].Rows); d != "" {
						t.Errorf("%s: [a,b)+[b,c) differs from [a,c): %s", name, d)
					}
					if got := addStats(leftStats.PerAggregation[name], rightStats.PerAggregation[name]); got != wholeStats.PerAggregation[name] {
						t.Errorf("%s: stats [a,b)+[b,c) = %+v, [a,c) = %+v", name, got, wholeStats.PerAggregation[name])
					}
				}
			})
		}
		if seed == 1 {
			t.Logf("seed 1: %d points, %d rows; stats %+v", len(pts), rows, wholeStats.PerAggregation)
		}
	}
}

// TestComputeIgnoresInputOrder checks that shuffling the raw points (duplicates
// included) changes nothing, bit for bit.
func TestComputeIgnoresInputOrder(t *testing.T) {
	reg := testRegistry(t, splitAggs...)
	a := day.Add(12 * time.Hour)
	c := a.Add(time.Hour)
	rng := rand.New(rand.NewPCG(7, 7))
	pts := genPoints(rng, a.Add(-20*time.Minute), c)
	want, wantStats, err := Compute(reg, a, c, pts)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		rng.Shuffle(len(pts), func(i, j int) { pts[i], pts[j] = pts[j], pts[i] })
		got, gotStats, err := Compute(reg, a, c, pts)
		if err != nil {
			t.Fatal(err)
		}
		for j := range want {
			if d := diffRows(got[j].Rows, want[j].Rows); d != "" {
				t.Errorf("shuffle %d, %s: %s", i, want[j].Agg.Name, d)
			}
		}
		for name, st := range wantStats.PerAggregation {
			if gotStats.PerAggregation[name] != st {
				t.Errorf("shuffle %d, %s: stats %+v, want %+v", i, name, gotStats.PerAggregation[name], st)
			}
		}
	}
}

// TestStatsAddUp checks the summary's bookkeeping on random lakes: every point
// read is dropped as junk, dropped as a duplicate, or is a sample, and samples
// are the rows' samples.
func TestStatsAddUp(t *testing.T) {
	reg := testRegistry(t, splitAggs...)
	a := day.Add(12 * time.Hour)
	pts := genPoints(rand.New(rand.NewPCG(3, 3)), a.Add(-15*time.Minute), a.Add(70*time.Minute))
	rollups, stats, err := Compute(reg, a, a.Add(time.Hour), pts)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rollups {
		st := stats.PerAggregation[r.Agg.Name]
		if st.Points != st.DroppedNonFinite+st.DroppedNull+st.Duplicates+st.Samples {
			t.Errorf("%s: %+v: points != dropped + duplicates + samples", r.Agg.Name, st)
		}
		if st.ConflictingDuplicates == 0 || st.ConflictingDuplicates >= st.Duplicates || st.DroppedNonFinite == 0 || st.DroppedNull == 0 {
			t.Errorf("%s: %+v: the generator should produce every kind of junk", r.Agg.Name, st)
		}
		var samples int64
		for _, row := range r.Rows {
			samples += row.Samples
		}
		if samples != st.Samples || int64(len(r.Rows)) != st.Rows {
			t.Errorf("%s: rows hold %d samples in %d rows, stats say %+v", r.Agg.Name, samples, len(r.Rows), st)
		}
	}
}

// BenchmarkCompute measures the reference on a registry of every kind over about
// one million points.
func BenchmarkCompute(b *testing.B) {
	reg := testRegistry(b, splitAggs...)
	a := day.Add(12 * time.Hour)
	var pts []Point
	for seed := uint64(0); len(pts) < 1_000_000; seed++ {
		pts = append(pts, genPoints(rand.New(rand.NewPCG(seed, 1)), a, a.Add(time.Hour))...)
	}
	b.ResetTimer()
	for b.Loop() {
		if _, _, err := Compute(reg, a, a.Add(time.Hour), pts); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(pts))*float64(b.N)/b.Elapsed().Seconds(), "points/s")
}
