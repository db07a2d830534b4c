package hist

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// point is the argument list of Explicit.Merge.
type point struct {
	bounds    []float64
	counts    []uint64
	count     uint64
	sum       float64
	min, max  float64
	hasMinMax bool
}

func (p point) mergeInto(h *Explicit) error {
	return h.Merge(p.bounds, p.counts, p.count, p.sum, p.min, p.max, p.hasMinMax)
}

func TestExplicitMerge(t *testing.T) {
	b := []float64{10, 50, 100}
	tests := []struct {
		name    string
		points  []point
		want    Explicit
		wantErr string // substring of the error of the last point; "" for success
		errIs   error
	}{
		{
			name:   "first point adopts the layout",
			points: []point{{bounds: b, counts: []uint64{1, 2, 0, 1}, count: 4, sum: 150, min: 3, max: 120, hasMinMax: true}},
			want:   Explicit{Bounds: b, Counts: []uint64{1, 2, 0, 1}, Count: 4, Sum: 150, Min: 3, Max: 120, HasMinMax: true},
		},
		{
			name: "two points add counts, sums and extremes",
			points: []point{
				{bounds: b, counts: []uint64{1, 2, 0, 1}, count: 4, sum: 150, min: 3, max: 120, hasMinMax: true},
				{bounds: b, counts: []uint64{0, 1, 5, 0}, count: 6, sum: 400, min: 20, max: 90, hasMinMax: true},
			},
			want: Explicit{Bounds: b, Counts: []uint64{1, 3, 5, 1}, Count: 10, Sum: 550, Min: 3, Max: 120, HasMinMax: true},
		},
		{
			name: "one non-empty point without min/max makes them unknown",
			points: []point{
				{bounds: b, counts: []uint64{1, 0, 0, 0}, count: 1, sum: 5, min: 5, max: 5, hasMinMax: true},
				{bounds: b, counts: []uint64{0, 1, 0, 0}, count: 1, sum: 20},
			},
			want: Explicit{Bounds: b, Counts: []uint64{1, 1, 0, 0}, Count: 2, Sum: 25},
		},
		{
			name: "min/max of empty points are ignored",
			points: []point{
				{bounds: b, counts: []uint64{0, 0, 0, 0}, count: 0, sum: 0, min: -1000, max: 1000, hasMinMax: true},
				{bounds: b, counts: []uint64{0, 1, 0, 0}, count: 1, sum: 20, min: 20, max: 20, hasMinMax: true},
				{bounds: b, counts: []uint64{0, 0, 0, 0}, count: 0},
			},
			want: Explicit{Bounds: b, Counts: []uint64{0, 1, 0, 0}, Count: 1, Sum: 20, Min: 20, Max: 20, HasMinMax: true},
		},
		{
			name:   "no bounds is one bucket (-Inf, +Inf)",
			points: []point{{bounds: nil, counts: []uint64{3}, count: 3, sum: 6}},
			want:   Explicit{Bounds: []float64{}, Counts: []uint64{3}, Count: 3, Sum: 6},
		},
		{
			name: "negative zero bound is stored as zero and equals zero",
			points: []point{
				{bounds: []float64{math.Copysign(0, -1), 1}, counts: []uint64{1, 0, 0}, count: 1, sum: -1},
				{bounds: []float64{0, 1}, counts: []uint64{0, 1, 0}, count: 1, sum: 0.5},
			},
			want: Explicit{Bounds: []float64{0, 1}, Counts: []uint64{1, 1, 0}, Count: 2, Sum: -0.5},
		},
		{
			name: "different bounds are never mixed",
			points: []point{
				{bounds: b, counts: []uint64{1, 0, 0, 0}, count: 1, sum: 1},
				{bounds: []float64{10, 50, 200}, counts: []uint64{1, 0, 0, 0}, count: 1, sum: 1},
			},
			wantErr: "explicit bounds [10 50 200] differ from the bounds [10 50 100] already merged for this group (first difference at position 2)",
			errIs:   ErrBoundsMismatch,
		},
		{
			name: "different number of bounds",
			points: []point{
				{bounds: b, counts: []uint64{1, 0, 0, 0}, count: 1, sum: 1},
				{bounds: []float64{10, 50}, counts: []uint64{1, 0, 0}, count: 1, sum: 1},
			},
			wantErr: "differ from the bounds",
			errIs:   ErrBoundsMismatch,
		},
		{
			name:    "counts length",
			points:  []point{{bounds: b, counts: []uint64{1, 2, 3}, count: 6}},
			wantErr: "invalid explicit histogram: bucket_counts: has 3 counts for 3 explicit_bounds, want 4",
			errIs:   ErrInvalid,
		},
		{
			name:    "NaN bound",
			points:  []point{{bounds: []float64{1, math.NaN()}, counts: []uint64{0, 0, 0}}},
			wantErr: "explicit_bounds[1]: is NaN, bounds must be finite",
			errIs:   ErrInvalid,
		},
		{
			name:    "infinite bound",
			points:  []point{{bounds: []float64{math.Inf(-1), 1}, counts: []uint64{0, 0, 0}}},
			wantErr: "explicit_bounds[0]: is -Inf, bounds must be finite",
			errIs:   ErrInvalid,
		},
		{
			name:    "bounds not increasing",
			points:  []point{{bounds: []float64{1, 5, 5}, counts: []uint64{0, 0, 0, 0}}},
			wantErr: "explicit_bounds[2]: is 5 after 5, bounds must be strictly increasing",
			errIs:   ErrInvalid,
		},
		{
			name:    "count differs from the bucket counts",
			points:  []point{{bounds: b, counts: []uint64{1, 2, 3, 4}, count: 11}},
			wantErr: "count: is 11 but bucket_counts sum to 10",
			errIs:   ErrInvalid,
		},
		{
			name:    "bucket counts overflow",
			points:  []point{{bounds: b, counts: []uint64{math.MaxUint64, 1, 0, 0}, count: 0}},
			wantErr: "bucket_counts[1]: sum of bucket counts overflows uint64",
			errIs:   ErrInvalid,
		},
		{
			name:    "NaN sum",
			points:  []point{{bounds: b, counts: []uint64{1, 0, 0, 0}, count: 1, sum: math.NaN()}},
			wantErr: "sum: is NaN",
			errIs:   ErrInvalid,
		},
		{
			name:    "NaN min",
			points:  []point{{bounds: b, counts: []uint64{1, 0, 0, 0}, count: 1, sum: 1, min: math.NaN(), max: 1, hasMinMax: true}},
			wantErr: "min: is NaN, want a finite value",
			errIs:   ErrInvalid,
		},
		{
			name:    "infinite max",
			points:  []point{{bounds: b, counts: []uint64{1, 0, 0, 0}, count: 1, sum: 1, min: 1, max: math.Inf(1), hasMinMax: true}},
			wantErr: "max: is +Inf, want a finite value",
			errIs:   ErrInvalid,
		},
		{
			name:    "min above max",
			points:  []point{{bounds: b, counts: []uint64{1, 0, 0, 0}, count: 1, sum: 1, min: 2, max: 1, hasMinMax: true}},
			wantErr: "min: 2 is greater than max 1",
			errIs:   ErrInvalid,
		},
		{
			name: "merged count overflows",
			points: []point{
				{bounds: nil, counts: []uint64{math.MaxUint64}, count: math.MaxUint64},
				{bounds: nil, counts: []uint64{1}, count: 1},
			},
			wantErr: "count: merged count 18446744073709551615 + 1 overflows uint64",
			errIs:   ErrInvalid,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var h Explicit
			var err error
			for i, p := range tc.points {
				before := cloneExplicit(&h)
				err = p.mergeInto(&h)
				if err != nil {
					if i != len(tc.points)-1 {
						t.Fatalf("point %d: unexpected error %v", i, err)
					}
					if !explicitEqual(&before, &h) {
						t.Errorf("failed merge changed the accumulator: before %+v, after %+v", before, h)
					}
				}
			}
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error = %v, want it to contain %q", err, tc.wantErr)
				}
				if !errors.Is(err, tc.errIs) {
					t.Errorf("errors.Is(%v, %v) = false", err, tc.errIs)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if !explicitEqual(&h, &tc.want) {
				t.Errorf("got %+v, want %+v", h, tc.want)
			}
		})
	}
}

func TestExplicitMergeBoundsMismatchError(t *testing.T) {
	var h Explicit
	if err := h.Merge([]float64{1, 2}, []uint64{0, 1, 0}, 1, 1.5, 0, 0, false); err != nil {
		t.Fatal(err)
	}
	got := []float64{1, 3}
	err := h.Merge(got, []uint64{0, 1, 0}, 1, 1.5, 0, 0, false)
	var bm *BoundsMismatchError
	if !errors.As(err, &bm) {
		t.Fatalf("error %v is not a *BoundsMismatchError", err)
	}
	got[1] = 99 // the error must hold its own copies
	if !slices.Equal(bm.Have, []float64{1, 2}) || !slices.Equal(bm.Got, []float64{1, 3}) {
		t.Errorf("Have = %v, Got = %v", bm.Have, bm.Got)
	}
}

func TestExplicitMergeDoesNotRetainInputs(t *testing.T) {
	var h Explicit
	bounds, counts := []float64{1, 2}, []uint64{1, 1, 1}
	if err := h.Merge(bounds, counts, 3, 3, 0, 0, false); err != nil {
		t.Fatal(err)
	}
	bounds[0], counts[0] = 100, 100
	if h.Bounds[0] != 1 || h.Counts[0] != 1 {
		t.Errorf("accumulator shares memory with the merged point: %+v", h)
	}
}

func TestExplicitReset(t *testing.T) {
	var h Explicit
	if err := h.Merge([]float64{1}, []uint64{1, 1}, 2, 3, 0.5, 2.5, true); err != nil {
		t.Fatal(err)
	}
	h.Reset()
	if h.Count != 0 || len(h.Counts) != 0 || len(h.Bounds) != 0 || h.HasMinMax || h.Sum != 0 {
		t.Fatalf("Reset left %+v", h)
	}
	// A reset accumulator adopts a new layout.
	if err := h.Merge([]float64{5, 6}, []uint64{0, 1, 0}, 1, 5.5, 0, 0, false); err != nil {
		t.Fatal(err)
	}
	want := Explicit{Bounds: []float64{5, 6}, Counts: []uint64{0, 1, 0}, Count: 1, Sum: 5.5}
	if !explicitEqual(&h, &want) {
		t.Errorf("got %+v, want %+v", h, want)
	}
}

func TestExplicitQuantile(t *testing.T) {
	// docExplicit is the worked example of docs/quantiles.md.
	withMM := docExplicit()
	noMM := docExplicit()
	noMM.HasMinMax, noMM.Min, noMM.Max = false, 0, 0
	tests := []struct {
		name string
		h    Explicit
		q    float64
		want float64
	}{
		{"doc p50", withMM, 0.5, 34},
		{"doc p10 from min", withMM, 0.1, 6.5},
		{"doc p10 from zero", noMM, 0.1, 5},
		{"doc p90 at a bound", withMM, 0.9, 100},
		{"doc p99 up to max", withMM, 0.99, 388},
		{"doc p99 up to last bound", noMM, 0.99, 460},
		{"doc q=0 is min", withMM, 0, 3},
		{"doc q=1 is max", withMM, 1, 420},
		{"doc q=0 without min is 0", noMM, 0, 0},
		{"doc q=1 without max is the top of the last non-empty bucket", noMM, 1, 500},
		{"empty", Explicit{Bounds: []float64{1}, Counts: []uint64{0, 0}}, 0.5, math.NaN()},
		{"zero value", Explicit{}, 0.5, math.NaN()},
		{"q below 0", withMM, -0.1, math.NaN()},
		{"q above 1", withMM, 1.1, math.NaN()},
		{"q NaN", withMM, math.NaN(), math.NaN()},
		{"all in one middle bucket", Explicit{Bounds: []float64{1, 2, 3}, Counts: []uint64{0, 4, 0, 0}, Count: 4}, 0.25, 1.25},
		{"all in one bucket narrowed by min/max", Explicit{Bounds: []float64{0, 100}, Counts: []uint64{0, 4, 0}, Count: 4, Min: 40, Max: 60, HasMinMax: true}, 0.5, 50},
		{"+Inf bucket without max is the last bound", Explicit{Bounds: []float64{1, 2}, Counts: []uint64{0, 0, 5}, Count: 5}, 0.5, 2},
		{"+Inf bucket with max interpolates to max", Explicit{Bounds: []float64{1, 2}, Counts: []uint64{0, 0, 4}, Count: 4, Min: 3, Max: 7, HasMinMax: true}, 0.5, 5},
		{"first bucket with a non-positive bound returns the bound", Explicit{Bounds: []float64{-5, 0}, Counts: []uint64{2, 0, 0}, Count: 2}, 0.5, -5},
		{"negative values with min", Explicit{Bounds: []float64{-5, 0}, Counts: []uint64{2, 2, 0}, Count: 4, Min: -9, Max: -1, HasMinMax: true}, 0.25, -7},
		{"no bounds, no min/max", Explicit{Bounds: []float64{}, Counts: []uint64{3}, Count: 3}, 0.5, math.NaN()},
		{"no bounds with min/max", Explicit{Bounds: []float64{}, Counts: []uint64{4}, Count: 4, Min: 2, Max: 6, HasMinMax: true}, 0.75, 5},
		{"empty buckets are skipped at q=0", Explicit{Bounds: []float64{1, 2, 3}, Counts: []uint64{0, 0, 2, 0}, Count: 2}, 0, 2},
		{"inconsistent max below the bucket is clamped", Explicit{Bounds: []float64{10, 100}, Counts: []uint64{0, 2, 0}, Count: 2, Min: 1, Max: 5, HasMinMax: true}, 0.5, 5},
		{"corrupt layout", Explicit{Bounds: []float64{1}, Counts: []uint64{1}, Count: 1}, 0.5, math.NaN()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.h.Quantile(tc.q)
			if !sameFloat(got, tc.want, 1e-12) {
				t.Errorf("Quantile(%v) = %v, want %v", tc.q, got, tc.want)
			}
		})
	}
}

func TestExplicitSub(t *testing.T) {
	b := []float64{1, 2}
	cur := Explicit{Bounds: b, Counts: []uint64{5, 7, 1}, Count: 13, Sum: 20, Min: 0.5, Max: 3, HasMinMax: true}
	prev := Explicit{Bounds: b, Counts: []uint64{2, 7, 0}, Count: 9, Sum: 12, Min: 0.5, Max: 1.5, HasMinMax: true}
	tests := []struct {
		name       string
		cur, prev  Explicit
		want       Explicit
		wantErr    string
		errIs      error
		wantResetF string
	}{
		{
			name: "delta of counts, count and sum; min/max unknown",
			cur:  cur, prev: prev,
			want: Explicit{Bounds: b, Counts: []uint64{3, 0, 1}, Count: 4, Sum: 8},
		},
		{
			name: "empty previous point keeps min/max",
			cur:  cur, prev: Explicit{Bounds: b, Counts: []uint64{0, 0, 0}, Min: 9, Max: 9, HasMinMax: true},
			want: cur,
		},
		{
			name: "equal points give an empty delta",
			cur:  cur, prev: cur,
			want: Explicit{Bounds: b, Counts: []uint64{0, 0, 0}},
		},
		{
			name: "bucket went down",
			cur:  Explicit{Bounds: b, Counts: []uint64{5, 6, 2}, Count: 13, Sum: 20}, prev: prev,
			wantErr: "cumulative bucket_counts[1] went from 7 to 6: the series was reset", errIs: ErrReset, wantResetF: "bucket_counts",
		},
		{
			name: "count went down",
			cur:  Explicit{Bounds: b, Counts: []uint64{1, 1, 1}, Count: 3, Sum: 20}, prev: prev,
			wantErr: "cumulative count went from 9 to 3", errIs: ErrReset, wantResetF: "count",
		},
		{
			name: "bounds differ",
			cur:  Explicit{Bounds: []float64{1, 3}, Counts: []uint64{5, 7, 1}, Count: 13}, prev: prev,
			wantErr: "explicit bounds [1 3] differ from the bounds [1 2]", errIs: ErrBoundsMismatch,
		},
		{
			name: "invalid current point",
			cur:  Explicit{Bounds: b, Counts: []uint64{5, 7}, Count: 12}, prev: prev,
			wantErr: "bucket_counts: has 2 counts for 2 explicit_bounds", errIs: ErrInvalid,
		},
		{
			name: "invalid previous point",
			cur:  cur, prev: Explicit{Bounds: b, Counts: []uint64{2, 7, 0}, Count: 10},
			wantErr: "count: is 10 but bucket_counts sum to 9", errIs: ErrInvalid,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := Explicit{Bounds: []float64{42}, Counts: []uint64{4, 2}, Count: 6}
			before := cloneExplicit(&h)
			c, p := cloneExplicit(&tc.cur), cloneExplicit(&tc.prev)
			err := h.Sub(&c, &p)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error = %v, want it to contain %q", err, tc.wantErr)
				}
				if !errors.Is(err, tc.errIs) {
					t.Errorf("errors.Is(%v, %v) = false", err, tc.errIs)
				}
				var re *ResetError
				if tc.wantResetF != "" && (!errors.As(err, &re) || re.Field != tc.wantResetF) {
					t.Errorf("error %v: want a *ResetError on %s", err, tc.wantResetF)
				}
				if !explicitEqual(&h, &before) {
					t.Errorf("failed Sub changed the destination: %+v", h)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if !explicitEqual(&h, &tc.want) {
				t.Errorf("got %+v, want %+v", h, tc.want)
			}
			if !explicitEqual(&c, &tc.cur) || !explicitEqual(&p, &tc.prev) {
				t.Errorf("Sub modified its inputs")
			}
		})
	}
}

func TestExplicitSubAliasing(t *testing.T) {
	b := []float64{1, 2}
	mk := func() (Explicit, Explicit) {
		return Explicit{Bounds: []float64{1, 2}, Counts: []uint64{5, 7, 1}, Count: 13, Sum: 20},
			Explicit{Bounds: []float64{1, 2}, Counts: []uint64{2, 7, 0}, Count: 9, Sum: 12}
	}
	want := Explicit{Bounds: b, Counts: []uint64{3, 0, 1}, Count: 4, Sum: 8}
	t.Run("destination is cur", func(t *testing.T) {
		cur, prev := mk()
		if err := cur.Sub(&cur, &prev); err != nil {
			t.Fatal(err)
		}
		if !explicitEqual(&cur, &want) {
			t.Errorf("got %+v, want %+v", cur, want)
		}
	})
	t.Run("destination is prev", func(t *testing.T) {
		cur, prev := mk()
		if err := prev.Sub(&cur, &prev); err != nil {
			t.Fatal(err)
		}
		if !explicitEqual(&prev, &want) {
			t.Errorf("got %+v, want %+v", prev, want)
		}
	})
}

// TestExplicitMergeOrderIndependent merges random points in random orders: counts, count,
// min and max must be identical, sums equal up to rounding.
func TestExplicitMergeOrderIndependent(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	bounds := []float64{0, 1, 5, 10, 50, 100}
	for iter := 0; iter < 200; iter++ {
		pts := make([]point, 1+rng.IntN(8))
		for i := range pts {
			pts[i] = randomExplicitPoint(rng, bounds)
		}
		var ref Explicit
		for _, p := range pts {
			if err := p.mergeInto(&ref); err != nil {
				t.Fatal(err)
			}
		}
		for perm := 0; perm < 5; perm++ {
			rng.Shuffle(len(pts), func(i, j int) { pts[i], pts[j] = pts[j], pts[i] })
			var h Explicit
			for _, p := range pts {
				if err := p.mergeInto(&h); err != nil {
					t.Fatal(err)
				}
			}
			if !slices.Equal(h.Counts, ref.Counts) || h.Count != ref.Count || h.HasMinMax != ref.HasMinMax ||
				h.Min != ref.Min || h.Max != ref.Max || !sameFloat(h.Sum, ref.Sum, 1e-9) {
				t.Fatalf("iteration %d: order changed the result: %+v vs %+v", iter, h, ref)
			}
		}
	}
}

// TestExplicitQuantileBruteForce checks against the sorted observations: the estimate must
// lie in the bucket (narrowed to [min, max]) holding the observation of rank ⌈q·n⌉.
func TestExplicitQuantileBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	bounds := []float64{1, 2, 5, 10, 20, 50, 100}
	for iter := 0; iter < 300; iter++ {
		n := 1 + rng.IntN(60)
		obs := make([]float64, n)
		var h Explicit
		for i := range obs {
			obs[i] = math.Round(rng.ExpFloat64()*15*1000) / 1000
			counts := make([]uint64, len(bounds)+1)
			counts[explicitBucket(bounds, obs[i])] = 1
			if err := h.Merge(bounds, counts, 1, obs[i], obs[i], obs[i], true); err != nil {
				t.Fatal(err)
			}
		}
		slices.Sort(obs)
		for _, q := range []float64{0, 0.01, 0.25, 0.5, 0.75, 0.9, 0.99, 1} {
			got := h.Quantile(q)
			x := obs[max(int(math.Ceil(q*float64(n))), 1)-1]
			b := explicitBucket(bounds, x)
			lo, hi := obs[0], obs[n-1]
			if b > 0 {
				lo = math.Max(lo, bounds[b-1])
			}
			if b < len(bounds) {
				hi = math.Min(hi, bounds[b])
			}
			if got < lo-1e-9 || got > hi+1e-9 {
				t.Fatalf("n=%d q=%v: estimate %v outside the bucket [%v, %v] of the true quantile %v", n, q, got, lo, hi, x)
			}
		}
	}
}

func explicitBucket(bounds []float64, v float64) int {
	i, _ := slices.BinarySearch(bounds, v) // first bound >= v: bucket (b[i-1], b[i]]
	return i
}

func randomExplicitPoint(rng *rand.Rand, bounds []float64) point {
	p := point{bounds: bounds, counts: make([]uint64, len(bounds)+1)}
	n := rng.IntN(20)
	p.hasMinMax = rng.IntN(4) != 0
	p.min, p.max = math.Inf(1), math.Inf(-1)
	for i := 0; i < n; i++ {
		v := rng.Float64()*150 - 10
		p.counts[explicitBucket(bounds, v)]++
		p.count++
		p.sum += v
		p.min, p.max = math.Min(p.min, v), math.Max(p.max, v)
	}
	if n == 0 || !p.hasMinMax {
		p.min, p.max = 0, 0
	}
	return p
}

func docExplicit() Explicit {
	return Explicit{
		Bounds: []float64{10, 50, 100, 500}, Counts: []uint64{2, 5, 2, 1, 0},
		Count: 10, Sum: 1234, Min: 3, Max: 420, HasMinMax: true,
	}
}

func cloneExplicit(h *Explicit) Explicit {
	c := *h
	c.Bounds = slices.Clone(h.Bounds)
	c.Counts = slices.Clone(h.Counts)
	return c
}

func explicitEqual(a, b *Explicit) bool {
	return slices.Equal(a.Bounds, b.Bounds) && slices.Equal(a.Counts, b.Counts) && a.Count == b.Count &&
		sameFloat(a.Sum, b.Sum, 0) && a.Min == b.Min && a.Max == b.Max && a.HasMinMax == b.HasMinMax
}

// sameFloat compares with a relative tolerance; NaN equals NaN.
func sameFloat(a, b, rel float64) bool {
	if math.IsNaN(a) || math.IsNaN(b) {
		return math.IsNaN(a) && math.IsNaN(b)
	}
	return a == b || math.Abs(a-b) <= rel*math.Max(math.Abs(a), math.Abs(b))
}
