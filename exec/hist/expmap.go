package hist

import "math"

// Exponential histogram scales accepted by this package, as in the OpenTelemetry SDKs.
const (
	MinScale int32 = -10
	MaxScale int32 = 20
)

// ExpIndex returns the index of the bucket of an OpenTelemetry base-2 exponential
// histogram at the given scale that holds the positive, finite value v: the index i with
// ExpLowerBoundary(scale, i) < v <= ExpLowerBoundary(scale, i+1). For scale <= 0 and for
// exact powers of two it is exact (the specification's reference mapping); for scale > 0
// it uses the logarithm and is then corrected against ExpLowerBoundary, so the two
// functions always agree. The result is meaningless for v <= 0, Inf or NaN.
func ExpIndex(scale int32, v float64) int32 {
	return int32(expIndex(scale, v))
}

func expIndex(scale int32, v float64) int64 {
	frac, exp := math.Frexp(v) // v = frac·2^exp, frac in [0.5, 1); subnormals are normalized
	e := int64(exp - 1)        // v = (2·frac)·2^e, 2·frac in [1, 2)
	if scale <= 0 {
		if frac == 0.5 {
			e-- // exact powers of two belong to the bucket below (upper-inclusive buckets)
		}
		return e >> -scale
	}
	if frac == 0.5 {
		return e<<scale - 1
	}
	sub := int64(math.Floor(math.Log2(2*frac) * float64(int64(1)<<scale)))
	sub = max(0, min(sub, int64(1)<<scale-1))
	i := e<<scale + sub
	if v <= lowerBoundary(scale, i) {
		i--
	} else if v > lowerBoundary(scale, i+1) {
		i++
	}
	return i
}

// ExpLowerBoundary returns base**index with base = 2**(2**-scale): the exclusive lower
// boundary of bucket index (and the inclusive upper boundary of bucket index-1). It is
// exact for scale <= 0 and for boundaries that are powers of two; it returns 0 or +Inf
// where the boundary is outside the float64 range.
func ExpLowerBoundary(scale int32, index int32) float64 {
	return lowerBoundary(scale, int64(index))
}

func lowerBoundary(scale int32, index int64) float64 {
	if scale <= 0 {
		return ldexp2(index << -scale)
	}
	q := index >> scale                // floor division by 2^scale
	r := index & (int64(1)<<scale - 1) // 0 <= r < 2^scale
	return math.Ldexp(math.Exp2(float64(r)/float64(int64(1)<<scale)), clampExp(q))
}

func ldexp2(k int64) float64 { return math.Ldexp(1, clampExp(k)) }

// clampExp keeps an exponent inside int range without changing what Ldexp returns.
func clampExp(k int64) int {
	return int(max(-2000, min(k, 2000)))
}

// indexRange is the range of bucket indices that hold finite non-zero float64 values at
// the given scale: from the bucket of the smallest subnormal 2^-1074 to the bucket of
// math.MaxFloat64.
func indexRange(scale int32) (lo, hi int64) {
	if scale >= 0 {
		return -1074<<scale - 1, 1024<<scale - 1
	}
	return -1075 >> -scale, 1023 >> -scale
}

// bucketEdges returns the boundaries of bucket index clamped to the positive finite
// float64 range, for interpolation. The lower boundary of a valid index is never +Inf.
func bucketEdges(scale int32, index int64) (lo, hi float64) {
	lo = lowerBoundary(scale, index)
	hi = lowerBoundary(scale, index+1)
	if lo <= 0 {
		lo = math.SmallestNonzeroFloat64
	}
	if math.IsInf(hi, 1) {
		hi = math.MaxFloat64
	}
	return lo, hi
}

// zeroFold returns, for a zero threshold z at scale s, the lowest bucket index that stays
// outside the zero bucket (indices below fold are counted in zero_count) and the widened
// threshold t. A non-zero threshold is widened to the smallest power of two 2^e >= z, and
// further to the next bucket boundary when s < 0, so that it is a bucket boundary at s and
// at every scale between s and 0. Because t depends only on z and s, the merged threshold
// and zero count do not depend on the order of merges. z = 0 gives no folding and t = 0.
func zeroFold(s int32, z float64) (fold int64, t float64) {
	if !(z > 0) {
		return math.MinInt64, 0
	}
	frac, exp := math.Frexp(z)
	e := int64(exp)
	if frac == 0.5 {
		e-- // z is 2^(exp-1) exactly
	}
	var k int64
	if s >= 0 {
		fold, k = e<<s, e
	} else {
		j := -((-e) >> -s) // ceil(e / 2^-s)
		fold, k = j, j<<-s
	}
	if k >= 1024 {
		return fold, math.MaxFloat64
	}
	return fold, ldexp2(k)
}
