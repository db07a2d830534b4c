package reference

import (
	"cmp"
	"math"
	"slices"

	"github.com/tallyhq/tally/specs"
)

// isHistogram reports whether the aggregation reads the histogram fields of its
// points (explicit or exponential).
func isHistogram(agg *specs.Aggregation) bool {
	return agg.Type == specs.TypeHistogram || agg.Type == specs.TypeExponentialHistogram
}

// cleanSeries applies "Junk and duplicates" of docs/semantics.md to one series, in
// the contract's order: non-finite values, null values, then exact duplicates. It
// returns the kept points sorted by time. Only points with time ≥ fromNS are
// counted in st (earlier points are predecessors, never counted themselves).
func cleanSeries(agg *specs.Aggregation, pts []*Point, fromNS int64, st *AggStats) []*Point {
	hist := isHistogram(agg)
	kept := make([]*Point, 0, len(pts))
	for _, p := range pts {
		counted := p.Time >= fromNS
		if counted {
			st.Points++
		}
		// Step 1: non-finite values. A null value has no value to be non-finite.
		// Step 2: null values.
		if hist {
			if math.IsNaN(p.Sum) {
				if counted {
					st.DroppedNonFinite++
				}
				continue
			}
			if p.CountNull {
				if counted {
					st.DroppedNull++
				}
				continue
			}
		} else {
			if p.ValueNull {
				if counted {
					st.DroppedNull++
				}
				continue
			}
			if math.IsNaN(p.Value) || math.IsInf(p.Value, 0) {
				if counted {
					st.DroppedNonFinite++
				}
				continue
			}
		}
		kept = append(kept, p)
	}
	// Step 3: exact duplicates. Sort by time, then by the choice order, so the first
	// point of each time is the one kept whatever the file order was. Points that
	// tie in the choice order carry the same numbers, so the sort need not be stable.
	slices.SortFunc(kept, func(a, b *Point) int {
		if a.Time != b.Time {
			return cmp.Compare(a.Time, b.Time)
		}
		if choiceLess(hist, a, b) {
			return -1
		}
		if choiceLess(hist, b, a) {
			return 1
		}
		return 0
	})
	out := kept[:0]
	for i := 0; i < len(kept); i++ {
		if len(out) > 0 && out[len(out)-1].Time == kept[i].Time {
			if kept[i].Time >= fromNS {
				st.Duplicates++
				if !sameValue(hist, out[len(out)-1], kept[i]) {
					st.ConflictingDuplicates++
				}
			}
			continue
		}
		out = append(out, kept[i])
	}
	return out
}

// cmpFloat orders floats ascending (NaN never reaches here).
func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// cmpStart orders start times, unknown first.
func cmpStart(a, b *Point) int {
	switch {
	case a.HasStart != b.HasStart:
		if !a.HasStart {
			return -1
		}
		return 1
	case a.StartTime < b.StartTime:
		return -1
	case a.StartTime > b.StartTime:
		return 1
	}
	return 0
}

// choiceLess is the order in which, among duplicates, the first one is kept:
// (value, start_time) for gauges and sums; (count, sum, start_time, then the rest
// of the payload) for histograms (package documentation, item 4).
func choiceLess(hist bool, a, b *Point) bool {
	if !hist {
		if c := cmpFloat(a.Value, b.Value); c != 0 {
			return c < 0
		}
		return cmpStart(a, b) < 0
	}
	if c := cmp.Compare(a.Count, b.Count); c != 0 {
		return c < 0
	}
	if c := cmpFloat(a.Sum, b.Sum); c != 0 {
		return c < 0
	}
	if c := cmpStart(a, b); c != 0 {
		return c < 0
	}
	return cmpPayload(a, b) < 0
}

// cmpPayload orders the histogram fields besides count and sum: min and max (absent
// first), explicit bounds and counts, then the exponential fields.
func cmpPayload(a, b *Point) int {
	if a.HasMinMax != b.HasMinMax {
		if !a.HasMinMax {
			return -1
		}
		return 1
	}
	if a.HasMinMax {
		if c := cmpFloat(a.Min, b.Min); c != 0 {
			return c
		}
		if c := cmpFloat(a.Max, b.Max); c != 0 {
			return c
		}
	}
	if c := slices.CompareFunc(a.Bounds, b.Bounds, cmpFloat); c != 0 {
		return c
	}
	if c := slices.Compare(a.BucketCounts, b.BucketCounts); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Scale, b.Scale); c != 0 {
		return c
	}
	if c := cmp.Compare(a.ZeroCount, b.ZeroCount); c != 0 {
		return c
	}
	if c := cmpFloat(a.ZeroThreshold, b.ZeroThreshold); c != 0 {
		return c
	}
	if c := cmp.Compare(a.PositiveOffset, b.PositiveOffset); c != 0 {
		return c
	}
	if c := slices.Compare(a.PositiveCounts, b.PositiveCounts); c != 0 {
		return c
	}
	if c := cmp.Compare(a.NegativeOffset, b.NegativeOffset); c != 0 {
		return c
	}
	return slices.Compare(a.NegativeCounts, b.NegativeCounts)
}

// sameValue reports whether two duplicates carry the same value (histograms: the
// same payload). start_time is not part of the value.
func sameValue(hist bool, a, b *Point) bool {
	if !hist {
		return a.Value == b.Value
	}
	return a.Count == b.Count && a.Sum == b.Sum && cmpPayload(a, b) == 0
}
