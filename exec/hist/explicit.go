package hist

import (
	"math"
	"math/bits"
)

const kindExplicit = "explicit histogram"

// Explicit accumulates explicit-bucket histogram points (OpenTelemetry Histogram) that
// share one bucket layout. len(Counts) == len(Bounds)+1; bucket i holds observations in
// (Bounds[i-1], Bounds[i]] with Bounds[-1] = -Inf and Bounds[len] = +Inf.
//
// The zero value is an empty accumulator that adopts the layout of the first merged
// point. Min and Max are meaningful only when HasMinMax is true, which holds when every
// non-empty merged point carried min and max.
type Explicit struct {
	Bounds    []float64
	Counts    []uint64
	Count     uint64
	Sum       float64
	Min, Max  float64
	HasMinMax bool
}

// Reset empties h, forgetting its layout but keeping its memory for reuse.
func (h *Explicit) Reset() {
	*h = Explicit{Bounds: h.Bounds[:0], Counts: h.Counts[:0]}
}

// Merge adds one point to h. The point is validated first (len(counts) == len(bounds)+1,
// bounds finite and strictly increasing, counts summing to count, sum not NaN, min <= max
// and finite when hasMinMax) and an *InvalidError names the first bad field. bounds must
// equal the accumulated bounds exactly, else a *BoundsMismatchError is returned. On any
// error h is unchanged. min and max of a point with count 0 are ignored.
//
// Merge does not retain bounds or counts and does not allocate once h has a layout.
func (h *Explicit) Merge(bounds []float64, counts []uint64, count uint64, sum, min, max float64, hasMinMax bool) error {
	if err := validateExplicit(bounds, counts, count, sum, min, max, hasMinMax); err != nil {
		return err
	}
	if len(h.Counts) == 0 {
		h.Bounds = appendBounds(h.Bounds[:0], bounds)
		h.Counts = appendZeros(h.Counts[:0], len(counts))
	} else if !equalBounds(h.Bounds, bounds) {
		return &BoundsMismatchError{Have: append([]float64(nil), h.Bounds...), Got: append([]float64(nil), bounds...)}
	}
	if len(h.Counts) != len(h.Bounds)+1 {
		return invalid(kindExplicit, "accumulator", "has %d bucket counts for %d bounds: it was modified outside Merge/Sub/Reset", len(h.Counts), len(h.Bounds))
	}
	if _, carry := bits.Add64(h.Count, count, 0); carry != 0 {
		return invalid(kindExplicit, "count", "merged count %d + %d overflows uint64", h.Count, count)
	}
	for i, c := range counts {
		h.Counts[i] += c
	}
	mergeMinMax(&h.Min, &h.Max, &h.HasMinMax, h.Count, count, min, max, hasMinMax)
	h.Count += count
	h.Sum += sum
	return nil
}

// mergeMinMax folds the min/max of a point with n observations into an accumulator that
// holds have observations so far. The result is independent of merge order: HasMinMax is
// the conjunction over non-empty points, Min/Max the extremes over them.
func mergeMinMax(hMin, hMax *float64, hHas *bool, have, n uint64, min, max float64, has bool) {
	switch {
	case n == 0:
	case have == 0:
		*hHas = has
		if has {
			*hMin, *hMax = min, max
		} else {
			*hMin, *hMax = 0, 0
		}
	case *hHas && has:
		*hMin = math.Min(*hMin, min)
		*hMax = math.Max(*hMax, max)
	default:
		*hHas = false
		*hMin, *hMax = 0, 0
	}
}

func validateExplicit(bounds []float64, counts []uint64, count uint64, sum, min, max float64, hasMinMax bool) error {
	if len(counts) != len(bounds)+1 {
		return invalid(kindExplicit, "bucket_counts", "has %d counts for %d explicit_bounds, want %d (one more than the bounds)", len(counts), len(bounds), len(bounds)+1)
	}
	for i, b := range bounds {
		if math.IsNaN(b) || math.IsInf(b, 0) {
			return invalid(kindExplicit, fieldIndex("explicit_bounds", i), "is %v, bounds must be finite", b)
		}
		if i > 0 && !(b > bounds[i-1]) {
			return invalid(kindExplicit, fieldIndex("explicit_bounds", i), "is %v after %v, bounds must be strictly increasing", b, bounds[i-1])
		}
	}
	var total uint64
	for i, c := range counts {
		var carry uint64
		total, carry = bits.Add64(total, c, 0)
		if carry != 0 {
			return invalid(kindExplicit, fieldIndex("bucket_counts", i), "sum of bucket counts overflows uint64")
		}
	}
	if total != count {
		return invalid(kindExplicit, "count", "is %d but bucket_counts sum to %d", count, total)
	}
	if math.IsNaN(sum) {
		return invalid(kindExplicit, "sum", "is NaN")
	}
	return validateMinMax(kindExplicit, count, min, max, hasMinMax)
}

func validateMinMax(kind string, count uint64, min, max float64, has bool) error {
	if !has || count == 0 {
		return nil
	}
	if math.IsNaN(min) || math.IsInf(min, 0) {
		return invalid(kind, "min", "is %v, want a finite value", min)
	}
	if math.IsNaN(max) || math.IsInf(max, 0) {
		return invalid(kind, "max", "is %v, want a finite value", max)
	}
	if min > max {
		return invalid(kind, "min", "%v is greater than max %v", min, max)
	}
	return nil
}

// appendBounds appends src to dst with -0 replaced by +0, so that the stored layout does
// not depend on which of two equal layouts was merged first.
func appendBounds(dst, src []float64) []float64 {
	for _, b := range src {
		dst = append(dst, b+0)
	}
	return dst
}

func appendZeros(dst []uint64, n int) []uint64 {
	if cap(dst)-len(dst) >= n {
		dst = dst[:len(dst)+n]
		clear(dst[len(dst)-n:])
		return dst
	}
	return append(dst, make([]uint64, n)...)
}

func equalBounds(a, b []float64) bool {
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

// Sub sets h to cur − prev, the delta between two points of one cumulative series, and
// is how cumulative histograms become deltas. Both points are validated; their bounds
// must be equal (*BoundsMismatchError). If the count or any bucket of cur is below prev,
// a *ResetError is returned: the series was reset and the caller decides what to do.
// Sum is cur.Sum − prev.Sum. Min and max of the delta are unknown (HasMinMax false)
// unless prev is empty, in which case the delta is cur and keeps cur's min and max.
// h may be cur or prev. On error h is unchanged.
func (h *Explicit) Sub(cur, prev *Explicit) error {
	if err := validateExplicit(cur.Bounds, cur.Counts, cur.Count, cur.Sum, cur.Min, cur.Max, cur.HasMinMax); err != nil {
		return err
	}
	if err := validateExplicit(prev.Bounds, prev.Counts, prev.Count, prev.Sum, prev.Min, prev.Max, prev.HasMinMax); err != nil {
		return err
	}
	if !equalBounds(cur.Bounds, prev.Bounds) {
		return &BoundsMismatchError{Have: append([]float64(nil), prev.Bounds...), Got: append([]float64(nil), cur.Bounds...)}
	}
	if cur.Count < prev.Count {
		return &ResetError{Field: "count", Index: -1, Cur: cur.Count, Prev: prev.Count}
	}
	for i, c := range cur.Counts {
		if c < prev.Counts[i] {
			return &ResetError{Field: "bucket_counts", Index: int64(i), Cur: c, Prev: prev.Counts[i]}
		}
	}
	curBounds, curCounts, prevCounts := cur.Bounds, cur.Counts, prev.Counts
	d := Explicit{Count: cur.Count - prev.Count, Sum: cur.Sum - prev.Sum}
	if prev.Count == 0 && cur.HasMinMax && cur.Count > 0 {
		d.HasMinMax, d.Min, d.Max = true, cur.Min, cur.Max
	}
	// h.Counts is reused; when h is cur or prev the subtraction runs element-wise in
	// place, each position read before it is written.
	n := len(curCounts)
	counts := h.Counts
	if cap(counts) < n {
		counts = make([]uint64, n)
	}
	counts = counts[:n]
	for i := range counts {
		counts[i] = curCounts[i] - prevCounts[i]
	}
	bounds := appendBounds(h.Bounds[:0], curBounds)
	d.Bounds, d.Counts = bounds, counts
	*h = d
	return nil
}

// Quantile estimates the q-quantile (0 <= q <= 1) of the observations in h, the way
// Prometheus histogram_quantile does, narrowed by min and max when they are known:
//
//   - the rank is r = q·Count; the chosen bucket is the first non-empty bucket whose
//     cumulative count reaches r, and f = (r − count before it) / its count;
//   - the bucket's edges are (Bounds[i-1], Bounds[i]], intersected with [Min, Max] when
//     HasMinMax; without min/max the first bucket starts at 0 when Bounds[0] > 0 (and
//     the estimate is Bounds[0] when Bounds[0] <= 0), and the last (+Inf) bucket
//     yields the largest bound;
//   - the estimate is lo + (hi − lo)·f, clamped to [Min, Max] when known.
//
// Quantile returns NaN for an empty histogram, for q outside [0, 1] or NaN, and for a
// histogram without bounds and without min/max. See docs/quantiles.md.
func (h *Explicit) Quantile(q float64) float64 {
	if !(q >= 0 && q <= 1) || h.Count == 0 || len(h.Counts) != len(h.Bounds)+1 {
		return math.NaN()
	}
	b, f, ok := locateRank(h.Counts, q*float64(h.Count))
	if !ok {
		return math.NaN()
	}
	n := len(h.Bounds)
	var lo, hi float64
	if h.HasMinMax {
		lo, hi = h.Min, h.Max
		if b > 0 {
			lo = math.Max(lo, h.Bounds[b-1])
		}
		if b < n {
			hi = math.Min(hi, h.Bounds[b])
		}
	} else {
		switch {
		case n == 0:
			return math.NaN()
		case b == n:
			return h.Bounds[n-1]
		case b == 0 && h.Bounds[0] <= 0:
			return h.Bounds[0]
		case b == 0:
			lo, hi = 0, h.Bounds[0]
		default:
			lo, hi = h.Bounds[b-1], h.Bounds[b]
		}
	}
	v := lo + (hi-lo)*f
	switch {
	case f == 0:
		v = lo
	case f == 1:
		v = hi
	}
	if h.HasMinMax {
		v = math.Max(h.Min, math.Min(h.Max, v))
	}
	return v
}

// locateRank finds the first non-empty bucket whose cumulative count reaches rank and
// the fraction f in [0, 1] of that bucket's count below the rank. It does not allocate.
func locateRank(counts []uint64, rank float64) (bucket int, f float64, ok bool) {
	var cum uint64
	last := -1
	for i, c := range counts {
		if c == 0 {
			continue
		}
		before := cum
		cum += c
		last = i
		if float64(cum) >= rank {
			return i, clampUnit((rank - float64(before)) / float64(c)), true
		}
	}
	if last < 0 {
		return 0, 0, false
	}
	// Only reachable through float rounding of huge counts: the rank is the last value.
	return last, 1, true
}

func clampUnit(f float64) float64 {
	if f < 0 {
		return 0
	}
	if f > 1 {
		return 1
	}
	return f
}
