package hist

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

func TestExpIndexAndBoundary(t *testing.T) {
	tests := []struct {
		name  string
		scale int32
		v     float64
		want  int32
	}{
		{"scale 0: 1 is the top of bucket -1", 0, 1, -1},
		{"scale 0: just above 1", 0, math.Nextafter(1, 2), 0},
		{"scale 0: 3 in (2, 4]", 0, 3, 1},
		{"scale 0: 4 is the top of bucket 1", 0, 4, 1},
		{"scale 1: 2 is the top of bucket 1", 1, 2, 1},
		{"scale 1: 1.5 in (1.414, 2]", 1, 1.5, 1},
		{"scale 1: 1.4 in (1, 1.414]", 1, 1.4, 0},
		{"scale 3: 1.1 in (2^(1/8), 2^(2/8)]", 3, 1.1, 1},
		{"scale -1: 5 in (4, 16]", -1, 5, 1},
		{"scale -1: 4 in (1, 4]", -1, 4, 0},
		{"scale -1: 0.5 in (1/4, 1]", -1, 0.5, -1},
		{"scale 0: smallest subnormal", 0, math.SmallestNonzeroFloat64, -1075},
		{"scale 0: max float", 0, math.MaxFloat64, 1023},
		{"scale 20: max float", 20, math.MaxFloat64, 1024<<20 - 1},
		{"scale 20: smallest subnormal", 20, math.SmallestNonzeroFloat64, -1074<<20 - 1}, // lower boundary rounds to v
		{"scale -10: max float", -10, math.MaxFloat64, 0},
		{"scale -10: smallest subnormal", -10, math.SmallestNonzeroFloat64, -2},
		{"scale 5: 100", 5, 100, 212}, // log2(100)·32 = 212.6
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := ExpIndex(tc.scale, tc.v); got != tc.want {
				t.Errorf("ExpIndex(%d, %v) = %d, want %d", tc.scale, tc.v, got, tc.want)
			}
			lo, hi := ExpLowerBoundary(tc.scale, tc.want), ExpLowerBoundary(tc.scale, tc.want+1)
			if lo == tc.v && tc.v == math.SmallestNonzeroFloat64 {
				lo = 0 // the true boundary 2^(-1074-2^-20) is not representable
			}
			if !(lo < tc.v && tc.v <= hi) {
				t.Errorf("%v not in (%v, %v], the boundaries of bucket %d", tc.v, lo, hi, tc.want)
			}
		})
	}
}

func TestExpLowerBoundary(t *testing.T) {
	tests := []struct {
		name  string
		scale int32
		index int32
		want  float64
	}{
		{"scale 0 index 0", 0, 0, 1},
		{"scale 0 index 10", 0, 10, 1024},
		{"scale 0 index -3", 0, -3, 0.125},
		{"scale 1 index 1", 1, 1, math.Sqrt2},
		{"scale 3 index 4", 3, 4, math.Sqrt2},
		{"scale 3 index -8", 3, -8, 0.5},
		{"scale -2 index 1", -2, 1, 16},
		{"scale 0 index 1024 overflows", 0, 1024, math.Inf(1)},
		{"scale 0 index -1075 underflows", 0, -1075, 0},
		{"scale 0 index -1074", 0, -1074, math.SmallestNonzeroFloat64},
		{"scale -10 index 1 overflows", -10, 1, math.Inf(1)},
		{"scale -10 index -2 underflows", -10, -2, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := ExpLowerBoundary(tc.scale, tc.index); !sameFloat(got, tc.want, 1e-15) {
				t.Errorf("ExpLowerBoundary(%d, %d) = %v, want %v", tc.scale, tc.index, got, tc.want)
			}
		})
	}
}

// TestExpIndexConsistent checks ExpIndex against ExpLowerBoundary on random values at every
// scale, and that downscaling an index (i >> d) is the index at the lower scale.
func TestExpIndexConsistent(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for iter := 0; iter < 20000; iter++ {
		v := math.Ldexp(1+rng.Float64(), rng.IntN(2000)-1000)
		if iter%10 == 0 {
			v = math.Ldexp(1, rng.IntN(2000)-1000) // exact powers of two
		}
		s := MinScale + int32(rng.IntN(int(MaxScale-MinScale+1)))
		i := ExpIndex(s, v)
		if lo, hi := ExpLowerBoundary(s, i), ExpLowerBoundary(s, i+1); !(lo < v && v <= hi) {
			t.Fatalf("scale %d: %v not in (%v, %v] of bucket %d", s, v, lo, hi, i)
		}
		for d := int32(1); s-d >= MinScale && d < 6; d++ {
			if got, want := i>>d, ExpIndex(s-d, v); got != want {
				t.Fatalf("%v: index %d at scale %d downscaled by %d = %d, but ExpIndex at scale %d = %d", v, i, s, d, got, s-d, want)
			}
		}
	}
}

func TestZeroFold(t *testing.T) {
	tests := []struct {
		name     string
		scale    int32
		z        float64
		wantFold int64
		wantT    float64
	}{
		{"zero threshold folds nothing", 3, 0, math.MinInt64, 0},
		{"power of two is kept", 0, 0.5, -1, 0.5},
		{"0.3 widens to 0.5", 0, 0.3, -1, 0.5},
		{"0.3 at scale 2", 2, 0.3, -4, 0.5},
		{"1 at scale 3", 3, 1, 0, 1},
		{"3 widens to 4", 1, 3, 4, 4},
		{"negative scale widens to its boundary", -2, 3, 1, 16},
		{"negative scale tiny threshold", -1, 0.01, -3, 1.0 / 64},
		{"max float", 0, math.MaxFloat64, 1024, math.MaxFloat64},
		{"smallest subnormal", 0, math.SmallestNonzeroFloat64, -1074, math.SmallestNonzeroFloat64},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fold, th := zeroFold(tc.scale, tc.z)
			if fold != tc.wantFold || th != tc.wantT {
				t.Errorf("zeroFold(%d, %v) = %d, %v; want %d, %v", tc.scale, tc.z, fold, th, tc.wantFold, tc.wantT)
			}
			// Idempotent: the widened threshold widens to itself.
			if f2, t2 := zeroFold(tc.scale, th); f2 != fold || t2 != th {
				t.Errorf("zeroFold(%d, %v) = %d, %v; not idempotent", tc.scale, th, f2, t2)
			}
		})
	}
}

func TestExponentialValidate(t *testing.T) {
	ok := func() Exponential {
		return Exponential{Scale: 2, ZeroCount: 1, Positive: Buckets{Offset: 3, Counts: []uint64{1, 2}}, Negative: Buckets{Offset: -1, Counts: []uint64{4}}, Count: 8, Sum: 3, Min: -2, Max: 5, HasMinMax: true}
	}
	tests := []struct {
		name    string
		mutate  func(h *Exponential)
		wantErr string
	}{
		{"valid", func(h *Exponential) {}, ""},
		{"scale too low", func(h *Exponential) { h.Scale = -11 }, "scale: is -11, want a value in [-10, 20]"},
		{"scale too high", func(h *Exponential) { h.Scale = 21 }, "scale: is 21"},
		{"negative zero threshold", func(h *Exponential) { h.ZeroThreshold = -1 }, "zero_threshold: is -1, want a finite value >= 0"},
		{"NaN zero threshold", func(h *Exponential) { h.ZeroThreshold = math.NaN() }, "zero_threshold: is NaN"},
		{"infinite zero threshold", func(h *Exponential) { h.ZeroThreshold = math.Inf(1) }, "zero_threshold: is +Inf"},
		{"NaN sum", func(h *Exponential) { h.Sum = math.NaN() }, "sum: is NaN"},
		{"count mismatch", func(h *Exponential) { h.Count = 9 }, "count: is 9 but zero_count and bucket_counts sum to 8"},
		{"positive index out of range", func(h *Exponential) { h.Positive.Offset = 1024 << 2 }, "positive.bucket_counts[0]: bucket index 4096 (offset 4096) is outside [-4297, 4095]"},
		{"negative index out of range", func(h *Exponential) { h.Negative.Offset = -5000 }, "negative.bucket_counts[0]: bucket index -5000"},
		{"empty bucket out of range is accepted", func(h *Exponential) {
			h.Positive = Buckets{Offset: math.MaxInt32, Counts: []uint64{0}}
			h.Count = 5
		}, ""},
		{"count overflow", func(h *Exponential) { h.ZeroCount = math.MaxUint64 }, "positive.bucket_counts[0]: sum of zero_count and bucket counts overflows uint64"},
		{"min above max", func(h *Exponential) { h.Min = 6 }, "min: 6 is greater than max 5"},
		{"NaN max", func(h *Exponential) { h.Max = math.NaN() }, "max: is NaN"},
		{"min/max ignored without HasMinMax", func(h *Exponential) { h.Min, h.HasMinMax = math.NaN(), false }, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := ok()
			tc.mutate(&h)
			err := h.Validate()
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !errors.Is(err, ErrInvalid) {
				t.Fatalf("error = %v, want an ErrInvalid containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestExponentialMerge(t *testing.T) {
	tests := []struct {
		name       string
		maxBuckets int
		inputs     []Exponential
		want       Exponential // MaxBuckets is copied from maxBuckets
		wantErr    string
	}{
		{
			name: "same scale adds buckets",
			inputs: []Exponential{
				{Scale: 3, Positive: Buckets{Offset: 2, Counts: []uint64{1, 2}}, Count: 3, Sum: 3.5},
				{Scale: 3, Positive: Buckets{Offset: 3, Counts: []uint64{1, 0, 4}}, Count: 5, Sum: 6.5},
			},
			want: Exponential{Scale: 3, Positive: Buckets{Offset: 2, Counts: []uint64{1, 3, 0, 4}}, Count: 8, Sum: 10},
		},
		{
			name: "the coarser scale wins (doc example)",
			inputs: []Exponential{
				{Scale: 2, Positive: Buckets{Offset: 4, Counts: []uint64{1, 2, 3}}, Count: 6, Sum: 16},
				{Scale: 1, Positive: Buckets{Offset: 3, Counts: []uint64{4}}, Count: 4, Sum: 14},
			},
			want: Exponential{Scale: 1, Positive: Buckets{Offset: 2, Counts: []uint64{3, 7}}, Count: 10, Sum: 30},
		},
		{
			name:       "span above MaxBuckets downscales (doc example)",
			maxBuckets: 4,
			inputs: []Exponential{
				{Scale: 0, Positive: Buckets{Offset: 0, Counts: []uint64{1}}, Count: 1, Sum: 1.5},
				{Scale: 0, Positive: Buckets{Offset: 10, Counts: []uint64{1}}, Count: 1, Sum: 1500},
			},
			want: Exponential{Scale: -2, Positive: Buckets{Offset: 0, Counts: []uint64{1, 0, 1}}, Count: 2, Sum: 1501.5},
		},
		{
			name: "the largest zero threshold is kept, buckets below it until Fold (doc example)",
			inputs: []Exponential{
				{Scale: 0, Positive: Buckets{Offset: -3, Counts: []uint64{1, 1, 1, 1}}, Count: 4, Sum: 2.5},
				{Scale: 0, ZeroThreshold: 0.3, ZeroCount: 2, Count: 2},
			},
			want: Exponential{Scale: 0, ZeroThreshold: 0.3, ZeroCount: 2, Positive: Buckets{Offset: -3, Counts: []uint64{1, 1, 1, 1}}, Count: 6, Sum: 2.5},
		},
		{
			name: "negative range and min/max",
			inputs: []Exponential{
				{Scale: 1, Negative: Buckets{Offset: 0, Counts: []uint64{2}}, Count: 2, Sum: -2.5, Min: -1.3, Max: -1.2, HasMinMax: true},
				{Scale: 1, Negative: Buckets{Offset: 1, Counts: []uint64{1}}, ZeroCount: 1, Count: 2, Sum: -1.9, Min: -1.9, Max: 0, HasMinMax: true},
			},
			want: Exponential{Scale: 1, ZeroCount: 1, Negative: Buckets{Offset: 0, Counts: []uint64{2, 1}}, Count: 4, Sum: -4.4, Min: -1.9, Max: 0, HasMinMax: true},
		},
		{
			name: "empty edge buckets are trimmed",
			inputs: []Exponential{
				{Scale: 4, Positive: Buckets{Offset: -2, Counts: []uint64{0, 0, 5, 0, 1, 0, 0}}, Count: 6, Sum: 6},
			},
			want: Exponential{Scale: 4, Positive: Buckets{Offset: 0, Counts: []uint64{5, 0, 1}}, Count: 6, Sum: 6},
		},
		{
			name: "points without buckets do not constrain the scale",
			inputs: []Exponential{
				{Scale: -3, ZeroCount: 3, Count: 3},
				{Scale: 6, Positive: Buckets{Offset: 64, Counts: []uint64{2}}, Count: 2, Sum: 4},
			},
			want: Exponential{Scale: 6, ZeroCount: 3, Positive: Buckets{Offset: 64, Counts: []uint64{2}}, Count: 5, Sum: 4},
		},
		{
			name:   "only zeros give the canonical scale",
			inputs: []Exponential{{Scale: 2, ZeroCount: 3, Count: 3}},
			want:   Exponential{Scale: MaxScale, ZeroCount: 3, Count: 3},
		},
		{
			name:   "an empty point leaves an empty canonical accumulator",
			inputs: []Exponential{{Scale: 2}},
			want:   Exponential{Scale: MaxScale},
		},
		{
			name:       "the full float range reaches the minimum scale",
			maxBuckets: 4,
			inputs: []Exponential{
				{Scale: 0, Positive: Buckets{Offset: -1075, Counts: []uint64{1}}, Count: 1, Sum: 5e-324},
				{Scale: 0, Positive: Buckets{Offset: 1023, Counts: []uint64{1}}, Count: 1, Sum: 1e308},
			},
			want: Exponential{Scale: MinScale, Positive: Buckets{Offset: -2, Counts: []uint64{1, 0, 1}}, Count: 2, Sum: 1e308},
		},
		{
			name:       "MaxBuckets too small",
			maxBuckets: 3,
			inputs:     []Exponential{{Scale: 2}},
			wantErr:    "max_buckets: is 3, want 0 (default 160) or a value in [4, 16384]",
		},
		{
			name:    "invalid point",
			inputs:  []Exponential{{Scale: 2, Count: 1}},
			wantErr: "count: is 1 but zero_count and bucket_counts sum to 0",
		},
		{
			name: "merged count overflows",
			inputs: []Exponential{
				{Scale: 0, ZeroCount: math.MaxUint64, Count: math.MaxUint64},
				{Scale: 0, ZeroCount: 1, Count: 1},
			},
			wantErr: "count: merged count 18446744073709551615 + 1 overflows uint64",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := Exponential{MaxBuckets: tc.maxBuckets}
			var err error
			for i := range tc.inputs {
				before := cloneExp(&h)
				if err = h.Merge(&tc.inputs[i]); err != nil {
					if !expEqual(&h, &before) {
						t.Errorf("failed merge changed the accumulator")
					}
					break
				}
			}
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !errors.Is(err, ErrInvalid) {
					t.Fatalf("error = %v, want an ErrInvalid containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			tc.want.MaxBuckets = tc.maxBuckets
			if !expEqual(&h, &tc.want) {
				t.Errorf("got  %s\nwant %s", expString(&h), expString(&tc.want))
			}
			// The reference implementation agrees.
			ref := refMerge(tc.inputs, limitOr(tc.maxBuckets))
			if !expEqualBuckets(&h, &ref) || h.Count != ref.Count {
				t.Errorf("reference %s", expString(&ref))
			}
		})
	}
}

func TestExponentialMergeSelf(t *testing.T) {
	h := Exponential{Scale: 1, ZeroCount: 1, Positive: Buckets{Offset: 2, Counts: []uint64{1, 2}}, Count: 4, Sum: 7}
	if err := h.Merge(&Exponential{Scale: 1}); err != nil { // make h a canonical accumulator
		t.Fatal(err)
	}
	if err := h.Merge(&h); err != nil {
		t.Fatal(err)
	}
	want := Exponential{Scale: 1, ZeroCount: 2, Positive: Buckets{Offset: 2, Counts: []uint64{2, 4}}, Count: 8, Sum: 14}
	if !expEqual(&h, &want) {
		t.Errorf("got %s, want %s", expString(&h), expString(&want))
	}
}

// TestExponentialMergeProperties merges random points built from known observations, in
// several orders, and checks against the brute-force reference merge: identical scale,
// zero threshold, zero count and buckets in every order; total count preserved; every
// observation's bucket at the merged scale contains it.
func TestExponentialMergeProperties(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for iter := 0; iter < 400; iter++ {
		limit := []int{4, 6, 20, 160}[rng.IntN(4)]
		pts, obs := randomExpPoints(rng, 1+rng.IntN(6))
		ref := refMerge(pts, limit)
		var total uint64
		for _, p := range pts {
			total += p.Count
		}
		var first Exponential
		for perm := 0; perm < 4; perm++ {
			order := rng.Perm(len(pts))
			h := Exponential{MaxBuckets: limit}
			for _, i := range order {
				p := cloneExp(&pts[i])
				if err := h.Merge(&p); err != nil {
					t.Fatalf("iteration %d: %v", iter, err)
				}
				if len(h.Positive.Counts) > limit || len(h.Negative.Counts) > limit {
					t.Fatalf("iteration %d: %d/%d buckets exceed the limit %d", iter, len(h.Positive.Counts), len(h.Negative.Counts), limit)
				}
			}
			if h.Count != total {
				t.Fatalf("iteration %d: count %d, want %d", iter, h.Count, total)
			}
			if !expEqualBuckets(&h, &ref) {
				t.Fatalf("iteration %d order %v:\n got %s\nwant %s", iter, order, expString(&h), expString(&ref))
			}
			if perm == 0 {
				first = h
			} else if !expEqualBuckets(&h, &first) {
				t.Fatalf("iteration %d: order changed the result", iter)
			}
			folded := cloneExp(&h)
			folded.Fold()
			if want := refFold(ref); !expEqualBuckets(&folded, &want) {
				t.Fatalf("iteration %d: folded\n got %s\nwant %s", iter, expString(&folded), expString(&want))
			}
			for _, q := range []float64{0, 0.1, 0.5, 0.9, 1} {
				if a, b := h.Quantile(q), folded.Quantile(q); !sameFloat(a, b, 0) {
					t.Fatalf("iteration %d: Fold changed Quantile(%v) from %v to %v", iter, q, a, b)
				}
			}
			checkContains(t, &folded, obs)
		}
	}
}

// checkContains verifies that every observation is counted in the bucket of h that
// contains it: its bucket at the merged scale, or the zero bucket.
func checkContains(t *testing.T, h *Exponential, obs []float64) {
	t.Helper()
	pos := map[int64]uint64{}
	neg := map[int64]uint64{}
	var zero uint64
	for _, v := range obs {
		m := math.Abs(v)
		if m <= h.ZeroThreshold || v == 0 {
			zero++
			continue
		}
		i := expIndex(h.Scale, m)
		if lo, hi := lowerBoundary(h.Scale, i), lowerBoundary(h.Scale, i+1); !(lo < m && m <= hi) {
			t.Fatalf("%v not in (%v, %v]", m, lo, hi)
		}
		if v > 0 {
			pos[i]++
		} else {
			neg[i]++
		}
	}
	if zero != h.ZeroCount {
		t.Fatalf("zero count %d, observations in the zero bucket %d (threshold %v)", h.ZeroCount, zero, h.ZeroThreshold)
	}
	for _, r := range []struct {
		b *Buckets
		m map[int64]uint64
	}{{&h.Positive, pos}, {&h.Negative, neg}} {
		for k, c := range r.b.Counts {
			if want := r.m[int64(r.b.Offset)+int64(k)]; c != want {
				t.Fatalf("bucket %d holds %d, observations in it %d (%s)", int64(r.b.Offset)+int64(k), c, want, expString(h))
			}
		}
	}
}

// randomExpPoints builds n points, each from its own observations at its own scale and
// zero threshold, and returns them with the pooled observations.
func randomExpPoints(rng *rand.Rand, n int) ([]Exponential, []float64) {
	var all []float64
	pts := make([]Exponential, n)
	for i := range pts {
		scale := int32(rng.IntN(12)) - 3
		var zt float64
		if rng.IntN(4) == 0 {
			zt = []float64{0.001, 0.3, 1, 5}[rng.IntN(4)]
		}
		obs := make([]float64, rng.IntN(30))
		for j := range obs {
			switch rng.IntN(10) {
			case 0:
				obs[j] = 0
			case 1, 2:
				obs[j] = -math.Exp(rng.NormFloat64() * 3)
			default:
				obs[j] = math.Exp(rng.NormFloat64()*4 + 2)
			}
			if rng.IntN(20) == 0 {
				obs[j] = math.Ldexp(1, rng.IntN(20)-10) // exact boundaries
			}
		}
		pts[i] = expFromObservations(scale, zt, obs)
		if rng.IntN(3) == 0 { // pad with empty buckets, which merging must ignore
			p := &pts[i].Positive
			p.Counts = append([]uint64{0, 0}, append(p.Counts, 0)...)
			p.Offset -= 2
		}
		all = append(all, obs...)
	}
	return pts, all
}

// expFromObservations maps observations into a point the way a producer does.
func expFromObservations(scale int32, zt float64, obs []float64) Exponential {
	h := Exponential{Scale: scale, ZeroThreshold: zt}
	pos, neg := map[int64]uint64{}, map[int64]uint64{}
	for _, v := range obs {
		h.Count++
		h.Sum += v
		if h.Count == 1 {
			h.Min, h.Max = v, v
		}
		h.Min, h.Max = math.Min(h.Min, v), math.Max(h.Max, v)
		switch m := math.Abs(v); {
		case m <= zt || v == 0:
			h.ZeroCount++
		case v > 0:
			pos[expIndex(scale, m)]++
		default:
			neg[expIndex(scale, m)]++
		}
	}
	h.HasMinMax = h.Count > 0
	h.Positive, h.Negative = denseBuckets(pos), denseBuckets(neg)
	return h
}

func denseBuckets(m map[int64]uint64) Buckets {
	if len(m) == 0 {
		return Buckets{}
	}
	lo, hi := int64(math.MaxInt64), int64(math.MinInt64)
	for k := range m {
		lo, hi = min(lo, k), max(hi, k)
	}
	b := Buckets{Offset: int32(lo), Counts: make([]uint64, hi-lo+1)}
	for k, c := range m {
		b.Counts[k-lo] = c
	}
	return b
}

// refMerge is the brute-force definition of the merged state: bucket maps and floor
// division instead of shifts; the largest scale at which the unfolded spans fit.
func refMerge(pts []Exponential, limit int) Exponential {
	s0 := MaxScale
	var out Exponential
	for i := range pts {
		p := &pts[i]
		out.ZeroThreshold = math.Max(out.ZeroThreshold, p.ZeroThreshold)
		if hasCounts(p.Positive.Counts) || hasCounts(p.Negative.Counts) {
			s0 = min(s0, p.Scale)
		}
		out.Count += p.Count
		out.Sum += p.Sum
		out.ZeroCount += p.ZeroCount
	}
	for s := s0; ; s-- {
		pos, neg := map[int64]uint64{}, map[int64]uint64{}
		for i := range pts {
			p := &pts[i]
			if !hasCounts(p.Positive.Counts) && !hasCounts(p.Negative.Counts) {
				continue
			}
			div := int64(1) << (p.Scale - s)
			for _, r := range []struct {
				b *Buckets
				m map[int64]uint64
			}{{&p.Positive, pos}, {&p.Negative, neg}} {
				for kk, c := range r.b.Counts {
					if c == 0 {
						continue
					}
					idx := int64(r.b.Offset) + int64(kk)
					j := idx / div
					if idx%div != 0 && idx < 0 {
						j-- // floor division
					}
					r.m[j] += c
				}
			}
		}
		out.Positive, out.Negative = denseBuckets(pos), denseBuckets(neg)
		if (len(out.Positive.Counts) <= limit && len(out.Negative.Counts) <= limit) || s == MinScale {
			out.Scale = s
			return out
		}
	}
}

// refFold applies the zero threshold by search: T = 2^k, the smallest power of two >= the
// threshold that is a bucket boundary at scale min(s, 0); buckets whose upper boundary is
// <= T join the zero bucket.
func refFold(h Exponential) Exponential {
	z, s := h.ZeroThreshold, h.Scale
	if z == 0 {
		return h
	}
	step := int64(1)
	if s < 0 {
		step = int64(1) << -s
	}
	k := -1080 / step * step
	for math.Ldexp(1, int(k)) < z && k < 1024 {
		k += step
	}
	folded := func(j int64) bool {
		if s >= 0 {
			return j+1 <= k<<s
		}
		return (j+1)*step <= k
	}
	out := h
	for _, r := range []*Buckets{&out.Positive, &out.Negative} {
		m := map[int64]uint64{}
		for kk, c := range r.Counts {
			if j := int64(r.Offset) + int64(kk); folded(j) {
				out.ZeroCount += c
			} else if c != 0 {
				m[j] = c
			}
		}
		*r = denseBuckets(m)
	}
	out.ZeroThreshold = math.Ldexp(1, int(k))
	if k >= 1024 {
		out.ZeroThreshold = math.MaxFloat64
	}
	return out
}

func TestExponentialFold(t *testing.T) {
	tests := []struct {
		name string
		h    Exponential
		want Exponential
	}{
		{
			name: "threshold 0.3 widens to 0.5 and folds two buckets (doc example)",
			h:    Exponential{Scale: 0, ZeroThreshold: 0.3, ZeroCount: 2, Positive: Buckets{Offset: -3, Counts: []uint64{1, 1, 1, 1}}, Count: 6},
			want: Exponential{Scale: 0, ZeroThreshold: 0.5, ZeroCount: 4, Positive: Buckets{Offset: -1, Counts: []uint64{1, 1}}, Count: 6},
		},
		{
			name: "zero threshold folds nothing",
			h:    Exponential{Scale: 2, ZeroCount: 1, Positive: Buckets{Offset: -30, Counts: []uint64{1}}, Count: 2},
			want: Exponential{Scale: 2, ZeroCount: 1, Positive: Buckets{Offset: -30, Counts: []uint64{1}}, Count: 2},
		},
		{
			name: "negative range folds too and is trimmed",
			h:    Exponential{Scale: 1, ZeroThreshold: 1, Negative: Buckets{Offset: -2, Counts: []uint64{3, 4, 0, 5}}, Count: 12},
			want: Exponential{Scale: 1, ZeroThreshold: 1, ZeroCount: 7, Negative: Buckets{Offset: 1, Counts: []uint64{5}}, Count: 12},
		},
		{
			name: "everything folds",
			h:    Exponential{Scale: 0, ZeroThreshold: 100, Positive: Buckets{Offset: 0, Counts: []uint64{1, 2}}, Count: 3},
			want: Exponential{Scale: 0, ZeroThreshold: 128, ZeroCount: 3, Count: 3},
		},
		{
			name: "negative scale widens to its own boundary",
			h:    Exponential{Scale: -2, ZeroThreshold: 3, Positive: Buckets{Offset: 0, Counts: []uint64{1, 2}}, Count: 3},
			want: Exponential{Scale: -2, ZeroThreshold: 16, ZeroCount: 1, Positive: Buckets{Offset: 1, Counts: []uint64{2}}, Count: 3},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := cloneExp(&tc.h)
			qs := []float64{0, 0.3, 0.5, 1}
			before := make([]float64, len(qs))
			for i, q := range qs {
				before[i] = h.Quantile(q)
			}
			h.Fold()
			if !expEqual(&h, &tc.want) {
				t.Errorf("got  %s\nwant %s", expString(&h), expString(&tc.want))
			}
			if ref := refFold(tc.h); !expEqualBuckets(&h, &ref) {
				t.Errorf("reference %s", expString(&ref))
			}
			for i, q := range qs {
				if got := h.Quantile(q); !sameFloat(got, before[i], 0) {
					t.Errorf("Quantile(%v) = %v after Fold, %v before", q, got, before[i])
				}
			}
			again := cloneExp(&h)
			again.Fold()
			if !expEqual(&again, &h) {
				t.Errorf("Fold is not idempotent: %s", expString(&again))
			}
		})
	}
}

func TestExponentialSub(t *testing.T) {
	cur := Exponential{Scale: 2, ZeroCount: 3, Positive: Buckets{Offset: 1, Counts: []uint64{4, 5, 6}}, Negative: Buckets{Offset: 0, Counts: []uint64{2}}, Count: 20, Sum: 40, Min: -1, Max: 9, HasMinMax: true}
	prev := Exponential{Scale: 2, ZeroCount: 1, Positive: Buckets{Offset: 1, Counts: []uint64{4, 2}}, Negative: Buckets{Offset: 0, Counts: []uint64{2}}, Count: 9, Sum: 15, Min: -1, Max: 3, HasMinMax: true}
	tests := []struct {
		name      string
		cur, prev Exponential
		want      Exponential
		wantErr   string
		errIs     error
	}{
		{
			name: "delta at the same scale, trimmed",
			cur:  cur, prev: prev,
			want: Exponential{Scale: 2, ZeroCount: 2, Positive: Buckets{Offset: 2, Counts: []uint64{3, 6}}, Count: 11, Sum: 25},
		},
		{
			name: "previous point at a finer scale is downscaled",
			cur:  Exponential{Scale: 1, Positive: Buckets{Offset: 1, Counts: []uint64{5, 5}}, Count: 10, Sum: 30},
			prev: Exponential{Scale: 2, Positive: Buckets{Offset: 2, Counts: []uint64{1, 2, 1}}, Count: 4, Sum: 10},
			want: Exponential{Scale: 1, Positive: Buckets{Offset: 1, Counts: []uint64{2, 4}}, Count: 6, Sum: 20},
		},
		{
			name: "empty previous point keeps min/max",
			cur:  cur, prev: Exponential{Scale: 5},
			want: cur,
		},
		{
			name: "no buckets left gives the canonical scale",
			cur:  Exponential{Scale: 3, ZeroCount: 5, Positive: Buckets{Offset: 0, Counts: []uint64{1}}, Count: 6},
			prev: Exponential{Scale: 3, ZeroCount: 2, Positive: Buckets{Offset: 0, Counts: []uint64{1}}, Count: 3},
			want: Exponential{Scale: MaxScale, ZeroCount: 3, Count: 3},
		},
		{
			name: "count went down",
			cur:  prev, prev: cur,
			wantErr: "cumulative count went from 20 to 9", errIs: ErrReset,
		},
		{
			name:    "bucket went down",
			cur:     Exponential{Scale: 2, Positive: Buckets{Offset: 1, Counts: []uint64{3, 9}}, Count: 12},
			prev:    Exponential{Scale: 2, Positive: Buckets{Offset: 1, Counts: []uint64{4, 2}}, Count: 6},
			wantErr: "cumulative positive.bucket_counts[1] went from 4 to 3", errIs: ErrReset,
		},
		{
			name:    "negative bucket went down",
			cur:     Exponential{Scale: 2, Negative: Buckets{Offset: 1, Counts: []uint64{3}}, ZeroCount: 9, Count: 12},
			prev:    Exponential{Scale: 2, Negative: Buckets{Offset: 1, Counts: []uint64{4}}, Count: 4},
			wantErr: "cumulative negative.bucket_counts[1] went from 4 to 3", errIs: ErrReset,
		},
		{
			name:    "zero count went down",
			cur:     Exponential{Scale: 2, ZeroCount: 1, Positive: Buckets{Offset: 1, Counts: []uint64{9}}, Count: 10},
			prev:    Exponential{Scale: 2, ZeroCount: 2, Positive: Buckets{Offset: 1, Counts: []uint64{1}}, Count: 3},
			wantErr: "cumulative zero_count went from 2 to 1", errIs: ErrReset,
		},
		{
			name: "invalid current point",
			cur:  Exponential{Scale: 30}, prev: prev,
			wantErr: "scale: is 30", errIs: ErrInvalid,
		},
		{
			name: "invalid previous point",
			cur:  cur, prev: Exponential{Scale: 1, Count: 2},
			wantErr: "count: is 2 but zero_count and bucket_counts sum to 0", errIs: ErrInvalid,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := Exponential{Scale: 1, Positive: Buckets{Offset: 7, Counts: []uint64{9, 9, 9, 9, 9, 9}}, Count: 54}
			c, p := cloneExp(&tc.cur), cloneExp(&tc.prev)
			err := h.Sub(&c, &p)
			if !expEqual(&c, &tc.cur) || !expEqual(&p, &tc.prev) {
				t.Errorf("Sub modified its inputs")
			}
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !errors.Is(err, tc.errIs) {
					t.Fatalf("error = %v, want %v containing %q", err, tc.errIs, tc.wantErr)
				}
				if h.Count != 0 || len(h.Positive.Counts) != 0 {
					t.Errorf("failed Sub left %s, want an empty histogram", expString(&h))
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error %v", err)
			}
			if !expEqual(&h, &tc.want) {
				t.Errorf("got  %s\nwant %s", expString(&h), expString(&tc.want))
			}
		})
	}
}

func TestExponentialSubAliasing(t *testing.T) {
	mk := func() (Exponential, Exponential) {
		return Exponential{Scale: 2, Positive: Buckets{Offset: 1, Counts: []uint64{4, 5}}, Count: 9, Sum: 9},
			Exponential{Scale: 2, Positive: Buckets{Offset: 1, Counts: []uint64{1, 5}}, Count: 6, Sum: 6}
	}
	want := Exponential{Scale: 2, Positive: Buckets{Offset: 1, Counts: []uint64{3}}, Count: 3, Sum: 3}
	cur, prev := mk()
	if err := cur.Sub(&cur, &prev); err != nil || !expEqual(&cur, &want) {
		t.Errorf("h = cur: %v, %s", err, expString(&cur))
	}
	cur, prev = mk()
	if err := prev.Sub(&cur, &prev); err != nil || !expEqual(&prev, &want) {
		t.Errorf("h = prev: %v, %s", err, expString(&prev))
	}
}

// TestExponentialSubThenMerge checks that the deltas of a cumulative series merge back
// into the last cumulative point.
func TestExponentialSubThenMerge(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	for iter := 0; iter < 100; iter++ {
		var obs []float64
		var prev Exponential
		var sum Exponential
		scale := int32(rng.IntN(8))
		for step := 0; step < 5; step++ {
			for j := rng.IntN(20); j > 0; j-- {
				obs = append(obs, math.Exp(rng.NormFloat64()*3)*float64(1-2*rng.IntN(2)))
			}
			cur := expFromObservations(scale, 0, obs)
			var d Exponential
			if err := d.Sub(&cur, &prev); err != nil {
				t.Fatal(err)
			}
			if err := sum.Merge(&d); err != nil {
				t.Fatal(err)
			}
			prev = cur
		}
		var want Exponential
		if err := want.Merge(&prev); err != nil {
			t.Fatal(err)
		}
		if !expEqualBuckets(&sum, &want) || sum.Count != want.Count {
			t.Fatalf("merged deltas %s, last point %s", expString(&sum), expString(&want))
		}
	}
}

func TestExponentialQuantile(t *testing.T) {
	doc := docExponential()
	docMM := docExponential()
	docMM.Min, docMM.Max, docMM.HasMinMax = 2.2, 7, true
	tests := []struct {
		name string
		h    Exponential
		q    float64
		want float64
	}{
		{"doc p50", doc, 0.5, 4.59479341998814}, // 4·√2^0.4
		{"doc q=0 without min is the lower boundary", doc, 0, 2},
		{"doc q=1 without max is the upper boundary", doc, 1, 8},
		{"doc q=0 is min", docMM, 0, 2.2},
		{"doc q=1 is max", docMM, 1, 7},
		{"doc p95 towards max", docMM, 0.95, 6.636930613697949}, // 4√2·(7/4√2)^0.75
		{"doc p20 from min", docMM, 0.2, 2.601182893702774},     // 2.2·(2√2/2.2)^(2/3)
		{"doc p50 with min/max is unchanged", docMM, 0.5, 4.59479341998814},
		{"empty", Exponential{Scale: 3}, 0.5, math.NaN()},
		{"q out of range", doc, 2, math.NaN()},
		{"q NaN", doc, math.NaN(), math.NaN()},
		{"zero bucket only", Exponential{Scale: 3, ZeroCount: 4, Count: 4}, 0.5, 0},
		{"zero bucket with threshold below positive buckets", Exponential{Scale: 0, ZeroThreshold: 1, ZeroCount: 2, Positive: Buckets{Offset: 0, Counts: []uint64{2}}, Count: 4}, 0.25, 0.5},
		{"zero bucket between negative and positive", Exponential{Scale: 0, ZeroThreshold: 1, ZeroCount: 2, Positive: Buckets{Offset: 0, Counts: []uint64{1}}, Negative: Buckets{Offset: 0, Counts: []uint64{1}}, Count: 4}, 0.5, 0},
		{"negative bucket from its most negative edge", Exponential{Scale: 0, Negative: Buckets{Offset: 1, Counts: []uint64{4}}, Count: 4}, 0.25, -math.Pow(2, 1.75)},
		{"negative buckets come first, most negative first", Exponential{Scale: 0, Negative: Buckets{Offset: 0, Counts: []uint64{1, 1}}, Positive: Buckets{Offset: 0, Counts: []uint64{2}}, Count: 4}, 0.25, -2},
		{"negative bucket narrowed by max", Exponential{Scale: 0, Negative: Buckets{Offset: 1, Counts: []uint64{2}}, Count: 2, Min: -4, Max: -3, HasMinMax: true}, 0.5, -math.Sqrt(12)},
		{"top bucket of the float range", Exponential{Scale: 0, Positive: Buckets{Offset: 1023, Counts: []uint64{1}}, Count: 1}, 1, math.MaxFloat64},
		{"lowest bucket at the minimum scale starts at the smallest float", Exponential{Scale: MinScale, Positive: Buckets{Offset: -2, Counts: []uint64{1}}, Count: 1}, 0, math.SmallestNonzeroFloat64},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.h.Quantile(tc.q); !sameFloat(got, tc.want, 1e-12) {
				t.Errorf("Quantile(%v) = %v, want %v", tc.q, got, tc.want)
			}
		})
	}
}

// TestExponentialQuantileBruteForce: the estimate lies in the bucket (narrowed to [min,
// max]) that holds the observation of rank ⌈q·n⌉ of the pooled observations.
func TestExponentialQuantileBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	for iter := 0; iter < 300; iter++ {
		pts, obs := randomExpPoints(rng, 1+rng.IntN(4))
		if len(obs) == 0 {
			continue
		}
		var h Exponential
		for i := range pts {
			if err := h.Merge(&pts[i]); err != nil {
				t.Fatal(err)
			}
		}
		slices.Sort(obs)
		n := len(obs)
		h.Fold()
		for _, q := range []float64{0, 0.05, 0.3, 0.5, 0.8, 0.95, 0.999, 1} {
			got := h.Quantile(q)
			x := obs[max(int(math.Ceil(q*float64(n))), 1)-1]
			var lo, hi float64
			if m := math.Abs(x); m <= h.ZeroThreshold || x == 0 {
				lo, hi = -h.ZeroThreshold, h.ZeroThreshold
			} else {
				i := expIndex(h.Scale, m)
				lo, hi = lowerBoundary(h.Scale, i), lowerBoundary(h.Scale, i+1)
				if x < 0 {
					lo, hi = -hi, -lo
				}
			}
			lo, hi = math.Max(lo, obs[0]), math.Min(hi, obs[n-1])
			tol := 1e-12 * math.Max(math.Abs(lo), math.Abs(hi))
			if got < lo-tol || got > hi+tol {
				t.Fatalf("iteration %d q=%v: estimate %v outside [%v, %v], the bucket of the true quantile %v (%s)", iter, q, got, lo, hi, x, expString(&h))
			}
		}
	}
}

func docExponential() Exponential {
	return Exponential{Scale: 1, Positive: Buckets{Offset: 2, Counts: []uint64{3, 0, 5, 2}}, Count: 10, Sum: 45}
}

func limitOr(n int) int {
	if n == 0 {
		return DefaultMaxBuckets
	}
	return n
}

func cloneExp(h *Exponential) Exponential { return h.clone() }

func expEqualBuckets(a, b *Exponential) bool {
	return a.Scale == b.Scale && a.ZeroCount == b.ZeroCount && a.ZeroThreshold == b.ZeroThreshold &&
		a.Positive.Offset == b.Positive.Offset && slices.Equal(a.Positive.Counts, b.Positive.Counts) &&
		a.Negative.Offset == b.Negative.Offset && slices.Equal(a.Negative.Counts, b.Negative.Counts)
}

func expEqual(a, b *Exponential) bool {
	return expEqualBuckets(a, b) && a.Count == b.Count && sameFloat(a.Sum, b.Sum, 1e-12) &&
		a.HasMinMax == b.HasMinMax && a.Min == b.Min && a.Max == b.Max && a.MaxBuckets == b.MaxBuckets
}

func expString(h *Exponential) string {
	var sb strings.Builder
	sb.WriteString("{scale ")
	sb.WriteString(itoa(int64(h.Scale)))
	sb.WriteString(" zero ")
	sb.WriteString(itoa(int64(h.ZeroCount)))
	sb.WriteString("≤")
	sb.WriteString(ftoa(h.ZeroThreshold))
	sb.WriteString(" pos@")
	sb.WriteString(itoa(int64(h.Positive.Offset)))
	sb.WriteString(uints(h.Positive.Counts))
	sb.WriteString(" neg@")
	sb.WriteString(itoa(int64(h.Negative.Offset)))
	sb.WriteString(uints(h.Negative.Counts))
	sb.WriteString(" count ")
	sb.WriteString(itoa(int64(h.Count)))
	sb.WriteString("}")
	return sb.String()
}
