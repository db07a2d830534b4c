package hist

import (
	"math"
	"math/bits"
)

const kindExp = "exponential histogram"

// Bucket limits of an accumulated exponential histogram (per range, positive and
// negative separately).
const (
	// DefaultMaxBuckets is used when Exponential.MaxBuckets is 0; it is the default
	// max_size of the OpenTelemetry SDKs and of the Collector's exponential histograms.
	DefaultMaxBuckets = 160
	// MinBucketLimit is the smallest accepted MaxBuckets: at MinScale every finite value
	// fits in 3 buckets, so a merge can always succeed.
	MinBucketLimit = 4
	// MaxBucketLimit is the largest accepted MaxBuckets; it bounds the memory of one
	// accumulator to 2 × 16384 × 8 bytes.
	MaxBucketLimit = 1 << 14
)

// Buckets is one range (positive or negative) of an exponential histogram: Counts[k] is
// the count of bucket index Offset+k.
type Buckets struct {
	Offset int32
	Counts []uint64
}

// Exponential is an OpenTelemetry base-2 exponential histogram, used both as an input
// point and as an accumulator. Bucket index i at scale s holds values whose magnitude is
// in (base^i, base^(i+1)] with base = 2^(2^-s); ZeroCount holds values with magnitude
// <= ZeroThreshold. Min and Max are meaningful only when HasMinMax is true.
//
// As an accumulator the zero value is empty and ready to use; it must only be changed
// by Merge, Sub and Reset. Its state is canonical: bucket ranges are trimmed of empty
// edge buckets, ZeroThreshold is 0 or a power of two (see docs/quantiles.md), and it is
// a function of the multiset of merged points and MaxBuckets only.
type Exponential struct {
	Scale         int32
	ZeroCount     uint64
	ZeroThreshold float64
	Positive      Buckets
	Negative      Buckets
	Count         uint64
	Sum           float64
	Min, Max      float64
	HasMinMax     bool
	// MaxBuckets bounds the number of buckets of each range of the accumulator (it is
	// ignored on merged inputs); 0 means DefaultMaxBuckets. Merge lowers the scale until
	// both ranges fit. Set it to the stream's limit so that both downscale alike.
	MaxBuckets int
}

// Reset empties h, keeping MaxBuckets and the memory of its bucket arrays.
func (h *Exponential) Reset() {
	*h = Exponential{
		Positive:   Buckets{Counts: h.Positive.Counts[:0]},
		Negative:   Buckets{Counts: h.Negative.Counts[:0]},
		MaxBuckets: h.MaxBuckets,
	}
}

func (h *Exponential) bucketLimit() (int, error) {
	switch {
	case h.MaxBuckets == 0:
		return DefaultMaxBuckets, nil
	case h.MaxBuckets < MinBucketLimit || h.MaxBuckets > MaxBucketLimit:
		return 0, invalid(kindExp, "max_buckets", "is %d, want 0 (default %d) or a value in [%d, %d]", h.MaxBuckets, DefaultMaxBuckets, MinBucketLimit, MaxBucketLimit)
	}
	return h.MaxBuckets, nil
}

// Validate checks h as an input point: scale in [MinScale, MaxScale], zero_threshold
// finite and >= 0, sum not NaN, every non-empty bucket index inside the range of finite
// float64 values at that scale, count equal to zero_count plus all bucket counts, and
// min <= max, both finite, when HasMinMax. The error is an *InvalidError.
func (h *Exponential) Validate() error {
	if h.Scale < MinScale || h.Scale > MaxScale {
		return invalid(kindExp, "scale", "is %d, want a value in [%d, %d]", h.Scale, MinScale, MaxScale)
	}
	if !(h.ZeroThreshold >= 0) || math.IsInf(h.ZeroThreshold, 0) {
		return invalid(kindExp, "zero_threshold", "is %v, want a finite value >= 0", h.ZeroThreshold)
	}
	if math.IsNaN(h.Sum) {
		return invalid(kindExp, "sum", "is NaN")
	}
	total := h.ZeroCount
	lo, hi := indexRange(h.Scale)
	for _, r := range [2]struct {
		name string
		b    *Buckets
	}{{"positive", &h.Positive}, {"negative", &h.Negative}} {
		for k, c := range r.b.Counts {
			if c == 0 {
				continue
			}
			if idx := int64(r.b.Offset) + int64(k); idx < lo || idx > hi {
				return invalid(kindExp, fieldIndex(r.name+".bucket_counts", k), "bucket index %d (offset %d) is outside [%d, %d], the indices of finite values at scale %d", idx, r.b.Offset, lo, hi, h.Scale)
			}
			var carry uint64
			total, carry = bits.Add64(total, c, 0)
			if carry != 0 {
				return invalid(kindExp, fieldIndex(r.name+".bucket_counts", k), "sum of zero_count and bucket counts overflows uint64")
			}
		}
	}
	if total != h.Count {
		return invalid(kindExp, "count", "is %d but zero_count and bucket_counts sum to %d", h.Count, total)
	}
	return validateMinMax(kindExp, h.Count, h.Min, h.Max, h.HasMinMax)
}

// src is one bucket range being merged, with the positions of its first and last
// non-empty buckets (first = -1 when it has none).
type src struct {
	off         int64
	counts      []uint64
	first, last int
	scale       int32
}

func newSrc(b *Buckets, scale int32) src {
	x := src{off: int64(b.Offset), counts: b.Counts, first: -1, last: -1, scale: scale}
	for k, c := range b.Counts {
		if c != 0 {
			x.first = k
			break
		}
	}
	if x.first >= 0 {
		for k := len(b.Counts) - 1; k >= x.first; k-- {
			if b.Counts[k] != 0 {
				x.last = k
				break
			}
		}
	}
	return x
}

func (x *src) empty() bool { return x.first < 0 }

// rangeAt returns the smallest and largest indices at scale s (<= x.scale) of the
// non-empty buckets of x.
func (x *src) rangeAt(s int32) (lo, hi int64, ok bool) {
	if x.first < 0 {
		return 0, 0, false
	}
	d := x.scale - s
	return (x.off + int64(x.first)) >> d, (x.off + int64(x.last)) >> d, true
}

// addDown adds the buckets of x, downscaled to s, into buf (index lo at position 0).
func (x *src) addDown(buf []uint64, s int32, lo int64) {
	if x.first < 0 {
		return
	}
	d := x.scale - s
	for k := x.first; k <= x.last; k++ {
		if c := x.counts[k]; c != 0 {
			buf[((x.off+int64(k))>>d)-lo] += c
		}
	}
}

func unionRange(a, b *src, s int32) (lo, hi int64, ok bool) {
	alo, ahi, aok := a.rangeAt(s)
	blo, bhi, bok := b.rangeAt(s)
	switch {
	case aok && bok:
		return min(alo, blo), max(ahi, bhi), true
	case aok:
		return alo, ahi, true
	case bok:
		return blo, bhi, true
	}
	return 0, 0, false
}

// chooseScale returns the largest scale <= s0 at which the union of each pair of ranges
// spans at most limit buckets. Buckets below the zero threshold are counted in the span
// (folding happens only in Fold), so a larger input set never allows a larger scale and
// the result of successive merges does not depend on their order.
func chooseScale(s0 int32, limit int, pos, neg *[2]src) int32 {
	for s := s0; s > MinScale; s-- {
		if fitsAt(&pos[0], &pos[1], s, limit) && fitsAt(&neg[0], &neg[1], s, limit) {
			return s
		}
	}
	return MinScale
}

// noFold is the fold index that folds nothing.
const noFold = math.MinInt64

func fitsAt(a, b *src, s int32, limit int) bool {
	lo, hi, ok := unionRange(a, b, s)
	return !ok || hi-lo < int64(limit)
}

// growCap is the capacity given to a bucket array that must hold n buckets.
func growCap(n, limit int) int { return max(n, min(2*n, limit)) }

// Merge adds the point o to h. o is validated first (see Validate). The accumulator keeps
// the largest scale, not above the scales of the merged points that have buckets, at which
// each range spans at most MaxBuckets buckets: downscaling maps bucket i to i >> (scale
// difference), which is exact. ZeroThreshold becomes the largest threshold merged so far;
// buckets below it are kept until Fold, so that the result does not depend on the merge
// order. On error h is unchanged. Merge allocates only when a range grows beyond its
// capacity or h is downscaled.
func (h *Exponential) Merge(o *Exponential) error {
	limit, err := h.bucketLimit()
	if err != nil {
		return err
	}
	if err := o.Validate(); err != nil {
		return err
	}
	if h.Count > 0 && (h.Scale < MinScale || h.Scale > MaxScale) {
		return invalid(kindExp, "accumulator", "scale %d is outside [%d, %d]: it was modified outside Merge/Sub/Reset", h.Scale, MinScale, MaxScale)
	}
	if _, carry := bits.Add64(h.Count, o.Count, 0); carry != 0 {
		return invalid(kindExp, "count", "merged count %d + %d overflows uint64", h.Count, o.Count)
	}
	if o == h {
		c := h.clone()
		o = &c
	}
	pos := [2]src{newSrc(&h.Positive, h.Scale), newSrc(&o.Positive, o.Scale)}
	neg := [2]src{newSrc(&h.Negative, h.Scale), newSrc(&o.Negative, o.Scale)}
	s0 := MaxScale
	if h.Count == 0 {
		// An empty accumulator holds no buckets and its scale is free.
		pos[0], neg[0] = src{first: -1, last: -1}, src{first: -1, last: -1}
	} else {
		s0 = min(s0, h.Scale)
	}
	if !pos[1].empty() || !neg[1].empty() {
		s0 = min(s0, o.Scale)
	}
	s := chooseScale(s0, limit, &pos, &neg)
	mergeRange(&h.Positive, &pos[0], &pos[1], s, limit)
	mergeRange(&h.Negative, &neg[0], &neg[1], s, limit)

	mergeMinMax(&h.Min, &h.Max, &h.HasMinMax, h.Count, o.Count, o.Min, o.Max, o.HasMinMax)
	h.Scale = s
	h.ZeroThreshold = math.Max(h.ZeroThreshold, o.ZeroThreshold)
	h.ZeroCount += o.ZeroCount
	h.Count += o.Count
	h.Sum += o.Sum
	return nil
}

// Fold makes h ready to be emitted: a non-zero ZeroThreshold is widened to the smallest
// power of two at or above it (and, at negative scales, to the next bucket boundary),
// and the buckets entirely below it are moved into ZeroCount, as the OpenTelemetry data
// model prescribes for merged zero thresholds. The widened threshold depends only on the
// largest merged threshold and the scale, never on the merge order. Fold is idempotent
// and does not change quantiles. It is the last step before emitting; merging more points
// afterwards is valid but can differ from merging them before Fold.
func (h *Exponential) Fold() {
	fold, t := zeroFold(h.Scale, h.ZeroThreshold)
	h.ZeroThreshold = t
	if fold == noFold {
		return
	}
	h.ZeroCount += foldBelow(&h.Positive, fold) + foldBelow(&h.Negative, fold)
}

// foldBelow removes the buckets of b below index fold, returns their total count, and
// trims b.
func foldBelow(b *Buckets, fold int64) uint64 {
	var n uint64
	k := 0
	for ; k < len(b.Counts) && int64(b.Offset)+int64(k) < fold; k++ {
		n += b.Counts[k]
	}
	for k < len(b.Counts) && b.Counts[k] == 0 {
		k++
	}
	if k == len(b.Counts) {
		b.Offset, b.Counts = 0, b.Counts[:0]
		return n
	}
	if k > 0 {
		b.Offset += int32(k)
		b.Counts = b.Counts[:copy(b.Counts, b.Counts[k:])]
	}
	return n
}

// mergeRange rebuilds dst (whose content is acc) at scale s with the buckets of o added.
func mergeRange(dst *Buckets, acc, o *src, s int32, limit int) {
	lo, hi, ok := unionRange(acc, o, s)
	if !ok {
		dst.Offset, dst.Counts = 0, dst.Counts[:0]
		return
	}
	n := int(hi - lo + 1)
	var buf []uint64
	if acc.empty() || acc.scale == s {
		buf = shiftInPlace(dst.Counts, acc, lo, n, limit)
	} else {
		buf = make([]uint64, n, growCap(n, limit))
		acc.addDown(buf, s, lo)
	}
	o.addDown(buf, s, lo)
	dst.Offset, dst.Counts = int32(lo), buf
}

// shiftInPlace moves the buckets of acc (stored in counts, already at the target scale)
// so that index lo is at position 0 of an n-bucket array, reusing counts' memory when it
// is large enough.
func shiftInPlace(counts []uint64, acc *src, lo int64, n int, limit int) []uint64 {
	a, b := 0, 0 // window of old positions to keep
	if !acc.empty() {
		a, b = acc.first, acc.last+1
	}
	if cap(counts) < n {
		buf := make([]uint64, n, growCap(n, limit))
		if a < b {
			copy(buf[acc.off+int64(a)-lo:], counts[a:b])
		}
		return buf
	}
	full := counts[:max(len(counts), n)]
	if a < b {
		at := int(acc.off + int64(a) - lo)
		copy(full[at:], full[a:b])
		clear(full[:at])
		clear(full[at+b-a : n])
	} else {
		clear(full[:n])
	}
	return full[:n]
}

func (h *Exponential) clone() Exponential {
	c := *h
	c.Positive.Counts = append([]uint64(nil), h.Positive.Counts...)
	c.Negative.Counts = append([]uint64(nil), h.Negative.Counts...)
	return c
}

// Sub sets h to cur − prev, the delta between two points of one cumulative series. Both
// points are validated and brought to a common scale (as Merge does, within h's
// MaxBuckets) before the subtraction; ZeroThreshold is the larger of the two. If the
// count, the zero count or any bucket of cur is below prev, a *ResetError is returned:
// the series was reset and the caller decides what to do; a reset hidden inside one
// downscaled bucket is caught by the count check only when the total dropped. Sum is
// cur.Sum − prev.Sum; min and max are unknown unless prev is empty. h may be cur or prev
// but must not otherwise share bucket memory with them. On error h is left empty.
func (h *Exponential) Sub(cur, prev *Exponential) error {
	err := h.sub(cur, prev)
	if err != nil {
		h.Reset()
	}
	return err
}

func (h *Exponential) sub(cur, prev *Exponential) error {
	limit, err := h.bucketLimit()
	if err != nil {
		return err
	}
	if err := cur.Validate(); err != nil {
		return err
	}
	if err := prev.Validate(); err != nil {
		return err
	}
	if cur.Count < prev.Count {
		return &ResetError{Field: "count", Index: -1, Cur: cur.Count, Prev: prev.Count}
	}
	if cur == h {
		c := cur.clone()
		cur = &c
	}
	if prev == h {
		c := prev.clone()
		prev = &c
	}
	pos := [2]src{newSrc(&cur.Positive, cur.Scale), newSrc(&prev.Positive, prev.Scale)}
	neg := [2]src{newSrc(&cur.Negative, cur.Scale), newSrc(&prev.Negative, prev.Scale)}
	s0 := MaxScale
	if !pos[0].empty() || !neg[0].empty() {
		s0 = min(s0, cur.Scale)
	}
	if !pos[1].empty() || !neg[1].empty() {
		s0 = min(s0, prev.Scale)
	}
	s := chooseScale(s0, limit, &pos, &neg)
	if err := subRange(&h.Positive, &pos[0], &pos[1], s, "positive.bucket_counts"); err != nil {
		return err
	}
	if err := subRange(&h.Negative, &neg[0], &neg[1], s, "negative.bucket_counts"); err != nil {
		return err
	}
	if cur.ZeroCount < prev.ZeroCount {
		return &ResetError{Field: "zero_count", Index: -1, Cur: cur.ZeroCount, Prev: prev.ZeroCount}
	}
	if len(h.Positive.Counts) == 0 && len(h.Negative.Counts) == 0 {
		s = MaxScale // no buckets: the scale is free, use the canonical one
	}
	h.Scale = s
	h.ZeroThreshold = math.Max(cur.ZeroThreshold, prev.ZeroThreshold)
	h.ZeroCount = cur.ZeroCount - prev.ZeroCount
	h.Count = cur.Count - prev.Count
	h.Sum = cur.Sum - prev.Sum
	h.HasMinMax, h.Min, h.Max = false, 0, 0
	if prev.Count == 0 && cur.HasMinMax && cur.Count > 0 {
		h.HasMinMax, h.Min, h.Max = true, cur.Min, cur.Max
	}
	return nil
}

// subRange writes cur − prev for one range into dst (which aliases neither) at scale s.
func subRange(dst *Buckets, cur, prev *src, s int32, field string) error {
	lo, hi, ok := unionRange(cur, prev, s)
	if !ok {
		dst.Offset, dst.Counts = 0, dst.Counts[:0]
		return nil
	}
	n := int(hi - lo + 1)
	buf := appendZeros(dst.Counts[:0], n)
	cur.addDown(buf, s, lo)
	if !prev.empty() {
		d := prev.scale - s
		for k := prev.first; k <= prev.last; k++ {
			c := prev.counts[k]
			if c == 0 {
				continue
			}
			j := (prev.off + int64(k)) >> d
			if buf[j-lo] < c {
				return &ResetError{Field: field, Index: j, Cur: buf[j-lo], Prev: c}
			}
			buf[j-lo] -= c
		}
	}
	a, b := 0, n
	for a < b && buf[a] == 0 {
		a++
	}
	for b > a && buf[b-1] == 0 {
		b--
	}
	if a == b {
		dst.Offset, dst.Counts = 0, buf[:0]
		return nil
	}
	copy(buf, buf[a:b])
	dst.Offset, dst.Counts = int32(lo+int64(a)), buf[:b-a]
	return nil
}

// Quantile estimates the q-quantile (0 <= q <= 1) of the observations in h, as if Fold had
// been applied. Buckets are ordered from the most negative to the most positive: negative
// buckets by decreasing index, the zero bucket, positive buckets by increasing index. The
// rank is r = q·Count; the chosen bucket is the first non-empty one whose cumulative count
// reaches r, and f = (r − count before it) / its count. Within a positive bucket (a, b],
// narrowed to [Min, Max] when known, the estimate is a·(b/a)^f (log-linear, "exponential"
// interpolation, as Prometheus does for native histograms); negative buckets mirror this;
// the zero bucket interpolates linearly over [-t, t], t the folded threshold (from 0 when
// there are no negative buckets, to 0 when there are no positive ones). The estimate is
// clamped to [Min, Max] when known. Quantile returns NaN for an empty histogram and for q
// outside [0, 1] or NaN. It does not allocate. See docs/quantiles.md.
func (h *Exponential) Quantile(q float64) float64 {
	if !(q >= 0 && q <= 1) || h.Count == 0 {
		return math.NaN()
	}
	fold, t := zeroFold(h.Scale, h.ZeroThreshold)
	zero := h.ZeroCount
	negFolded, hasNeg := splitAt(&h.Negative, fold)
	posFolded, hasPos := splitAt(&h.Positive, fold)
	zero += negFolded + posFolded
	rank := q * float64(h.Count)
	var cum uint64
	kind, idx := 0, int64(0) // kind of the last non-empty bucket seen: -1 negative, 1 zero, 2 positive
	neg := &h.Negative
	for k := len(neg.Counts) - 1; k >= 0 && int64(neg.Offset)+int64(k) >= fold; k-- {
		c := neg.Counts[k]
		if c == 0 {
			continue
		}
		before := cum
		cum += c
		kind, idx = -1, int64(neg.Offset)+int64(k)
		if float64(cum) >= rank {
			return h.negValue(idx, clampUnit((rank-float64(before))/float64(c)))
		}
	}
	if zero > 0 {
		before := cum
		cum += zero
		kind = 1
		if float64(cum) >= rank {
			return h.zeroValue(t, hasNeg, hasPos, clampUnit((rank-float64(before))/float64(zero)))
		}
	}
	pos := &h.Positive
	for k, c := range pos.Counts {
		if c == 0 || int64(pos.Offset)+int64(k) < fold {
			continue
		}
		before := cum
		cum += c
		kind, idx = 2, int64(pos.Offset)+int64(k)
		if float64(cum) >= rank {
			return h.posValue(idx, clampUnit((rank-float64(before))/float64(c)))
		}
	}
	// Only reachable through float rounding of huge counts: the rank is the last value.
	switch kind {
	case -1:
		return h.negValue(idx, 1)
	case 1:
		return h.zeroValue(t, hasNeg, hasPos, 1)
	case 2:
		return h.posValue(idx, 1)
	}
	return math.NaN()
}

// splitAt returns the total count of the buckets of b below index fold and whether b has
// a non-empty bucket at or above it.
func splitAt(b *Buckets, fold int64) (below uint64, above bool) {
	for k, c := range b.Counts {
		if int64(b.Offset)+int64(k) < fold {
			below += c
		} else if c != 0 {
			return below, true
		}
	}
	return below, false
}

func (h *Exponential) posValue(idx int64, f float64) float64 {
	a, b := bucketEdges(h.Scale, idx)
	if h.HasMinMax {
		a, b = math.Max(a, h.Min), math.Min(b, h.Max)
	}
	return h.clamp(logInterp(a, b, f))
}

func (h *Exponential) negValue(idx int64, f float64) float64 {
	a, b := bucketEdges(h.Scale, idx) // magnitudes; values run from -b up to -a
	if h.HasMinMax {
		a, b = math.Max(a, -h.Max), math.Min(b, -h.Min)
	}
	return h.clamp(-logInterp(b, a, f))
}

func (h *Exponential) zeroValue(t float64, hasNeg, hasPos bool, f float64) float64 {
	lo, hi := -t, t
	if !hasNeg {
		lo = 0
	}
	if !hasPos {
		hi = 0
	}
	if h.HasMinMax {
		lo, hi = math.Max(lo, h.Min), math.Min(hi, h.Max)
	}
	v := lo + (hi-lo)*f
	if f == 1 {
		v = hi
	}
	return h.clamp(v)
}

func (h *Exponential) clamp(v float64) float64 {
	if h.HasMinMax {
		return math.Max(h.Min, math.Min(h.Max, v))
	}
	return v
}

// logInterp moves from 'from' towards 'to' by the fraction f on a logarithmic scale; it
// falls back to linear interpolation when either end is not positive. It works in base 2
// through Frexp/Ldexp because math.Log is inaccurate for subnormal inputs on some
// platforms (amd64), which would break monotonicity in the lowest buckets.
func logInterp(from, to, f float64) float64 {
	switch {
	case f == 0:
		return from
	case f == 1:
		return to
	case from <= 0 || to <= 0:
		return from + (to-from)*f
	}
	lf, lt := math.Log2(from), math.Log2(to)
	x := lf + f*(lt-lf)
	ip := math.Floor(x)
	return math.Ldexp(math.Exp2(x-ip), int(ip))
}
