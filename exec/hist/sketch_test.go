package hist

import (
	"bytes"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/DataDog/sketches-go/ddsketch"
	"github.com/DataDog/sketches-go/ddsketch/pb/sketchpb"
	"google.golang.org/protobuf/proto"
)

func TestNewSketch(t *testing.T) {
	tests := []struct {
		name    string
		alpha   float64
		bins    int
		wantErr string
	}{
		{"default", DefaultAlpha, DefaultSketchBins, ""},
		{"smallest alpha", MinAlpha, MinSketchBins, ""},
		{"largest alpha", MaxAlpha, MaxSketchBins, ""},
		{"zero alpha", 0, DefaultSketchBins, "sketch relative accuracy 0 is outside [1e-06, 0.5]"},
		{"negative alpha", -0.01, DefaultSketchBins, "sketch relative accuracy -0.01 is outside"},
		{"NaN alpha", math.NaN(), DefaultSketchBins, "sketch relative accuracy NaN is outside"},
		{"alpha too large", 0.6, DefaultSketchBins, "sketch relative accuracy 0.6 is outside"},
		{"too few bins", 0.01, 15, "sketch bin limit 15 is outside [16, 65536]"},
		{"too many bins", 0.01, 1 << 17, "sketch bin limit 131072 is outside"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := NewSketchBins(tc.alpha, tc.bins)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !sameFloat(s.Alpha(), tc.alpha, 1e-9) || s.MaxBins() != tc.bins || s.Count() != 0 {
				t.Errorf("alpha %v bins %d count %v", s.Alpha(), s.MaxBins(), s.Count())
			}
			if !math.IsNaN(s.Quantile(0.5)) {
				t.Errorf("empty sketch quantile is not NaN")
			}
		})
	}
}

func TestSketchAdd(t *testing.T) {
	tests := []struct {
		name    string
		v       float64
		wantErr error
		want    float64 // Quantile(0.5) of a sketch holding only v
	}{
		{"positive", 100, nil, 100.49456770856489},
		{"negative", -100, nil, -100.49456770856489},
		{"zero", 0, nil, 0},
		{"negative zero", math.Copysign(0, -1), nil, 0},
		{"tiny values count as zero", 1e-310, nil, 0},
		{"large", 1e308, nil, 1e308},
		{"NaN", math.NaN(), ddsketch.ErrUntrackableNaN, 0},
		{"+Inf", math.Inf(1), ddsketch.ErrUntrackableTooHigh, 0},
		{"-Inf", math.Inf(-1), ddsketch.ErrUntrackableTooLow, 0},
		{"max float is beyond the mapping", math.MaxFloat64, ddsketch.ErrUntrackableTooHigh, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := NewSketch(0.01)
			if err != nil {
				t.Fatal(err)
			}
			err = s.Add(tc.v)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("error = %v, want %v", err, tc.wantErr)
				}
				if s.Count() != 0 {
					t.Errorf("failed Add changed the sketch")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := s.Quantile(0.5)
			if !sameFloat(got, tc.want, 0.01) || (tc.want != 0 && math.Abs(got-tc.v) > 0.01*math.Abs(tc.v)) {
				t.Errorf("Quantile(0.5) = %v, want %v within 1%% of %v", got, tc.want, tc.v)
			}
		})
	}
}

func TestSketchQuantileEdges(t *testing.T) {
	s, _ := NewSketch(0.01)
	for _, v := range []float64{-5, 0, 1, 2, 3} {
		if err := s.Add(v); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name string
		q    float64
		want float64
	}{
		{"q=0 is the smallest value", 0, -5},
		{"rank 1 is zero", 0.25, 0},
		{"q=1 is the largest value", 1, 3},
		{"q<0", -0.5, math.NaN()},
		{"q>1", 1.5, math.NaN()},
		{"NaN", math.NaN(), math.NaN()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := s.Quantile(tc.q); !sameFloat(got, tc.want, 0.01) {
				t.Errorf("Quantile(%v) = %v, want %v", tc.q, got, tc.want)
			}
		})
	}
}

// TestSketchMergedAccuracy: the quantile of sketches merged in any order is within α of
// the exact quantile (rank ⌊q·(n−1)⌋) of the pooled values, for positive, negative and
// mixed data with zeros.
func TestSketchMergedAccuracy(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	gens := map[string]func() float64{
		"latency-like": func() float64 { return math.Exp(rng.NormFloat64()*2 + 3) },
		"negative":     func() float64 { return -math.Exp(rng.NormFloat64()) },
		"mixed with zeros": func() float64 {
			if rng.IntN(10) == 0 {
				return 0
			}
			return rng.NormFloat64() * 1000
		},
	}
	for _, name := range []string{"latency-like", "negative", "mixed with zeros"} {
		gen := gens[name]
		t.Run(name, func(t *testing.T) {
			for _, alpha := range []float64{0.01, 0.05} {
				var all []float64
				parts := make([]*Sketch, 1+rng.IntN(5))
				for i := range parts {
					parts[i], _ = NewSketch(alpha)
					for j := rng.IntN(2000); j > 0; j-- {
						v := gen()
						all = append(all, v)
						if err := parts[i].Add(v); err != nil {
							t.Fatal(err)
						}
					}
				}
				merged, _ := NewSketch(alpha)
				for _, i := range rng.Perm(len(parts)) {
					if err := merged.Merge(parts[i]); err != nil {
						t.Fatal(err)
					}
				}
				if len(all) == 0 {
					continue
				}
				slices.Sort(all)
				for _, q := range []float64{0, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 0.999, 1} {
					r := q * float64(len(all)-1)
					lo, hi := all[int(math.Floor(r))], all[int(math.Ceil(r))]
					got := merged.Quantile(q)
					if math.Abs(got-lo) > alpha*math.Abs(lo)+1e-12 && math.Abs(got-hi) > alpha*math.Abs(hi)+1e-12 {
						t.Fatalf("α=%v q=%v: %v is not within α of the exact %v (rank %v)", alpha, q, got, lo, r)
					}
				}
			}
		})
	}
}

// TestSketchEncodeDeterministic: the encoding depends only on the multiset of values:
// insertion order, splitting and merge order do not matter, also when bins collapse. It
// equals proto.Marshal of the library's ToProto with Deterministic set.
func TestSketchEncodeDeterministic(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 16))
	for iter := 0; iter < 60; iter++ {
		bins := []int{16, 64, DefaultSketchBins}[rng.IntN(3)]
		vals := make([]float64, rng.IntN(500))
		for i := range vals {
			vals[i] = math.Exp(rng.NormFloat64()*20) * float64(1-2*rng.IntN(2))
			if rng.IntN(15) == 0 {
				vals[i] = 0
			}
		}
		ref, _ := NewSketchBins(0.01, bins)
		for _, v := range vals {
			if err := ref.Add(v); err != nil {
				t.Fatal(err)
			}
		}
		want := ref.Encode()
		std, err := proto.MarshalOptions{Deterministic: true}.Marshal(ref.dd.ToProto())
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(want, std) {
			t.Fatalf("Encode differs from proto.Marshal:\n%x\n%x", want, std)
		}
		for perm := 0; perm < 4; perm++ {
			rng.Shuffle(len(vals), func(i, j int) { vals[i], vals[j] = vals[j], vals[i] })
			parts := make([]*Sketch, 1+rng.IntN(4))
			for i := range parts {
				parts[i], _ = NewSketchBins(0.01, bins)
			}
			for _, v := range vals {
				_ = parts[rng.IntN(len(parts))].Add(v)
			}
			acc, _ := NewSketchBins(0.01, bins)
			for _, i := range rng.Perm(len(parts)) {
				if err := acc.Merge(parts[i]); err != nil {
					t.Fatal(err)
				}
			}
			if got := acc.Encode(); !bytes.Equal(got, want) {
				t.Fatalf("iteration %d (bins %d): bytes depend on order:\n%x\n%x", iter, bins, got, want)
			}
		}
		dec, err := DecodeSketchBins(want, bins)
		if err != nil {
			t.Fatal(err)
		}
		if got := dec.Encode(); !bytes.Equal(got, want) {
			t.Fatalf("decode/encode round trip changed the bytes")
		}
	}
}

// TestSketchCollapseBound: a store never holds more than maxBins bins; the values of
// smallest magnitude are collapsed, the others stay within α.
func TestSketchCollapseBound(t *testing.T) {
	s, _ := NewSketchBins(0.01, 64) // 64 bins cover magnitudes within a factor 1.0202^64 ≈ 3.6
	var all []float64
	for k := 1; k <= 200; k++ { // collapsed: tiny magnitudes
		v := math.Pow(10, -float64(k))
		all = append(all, v, -v)
	}
	for i := 0; i < 1000; i++ { // kept: magnitudes in [100, 200)
		v := 100 + float64(i)/10
		all = append(all, v, -v)
	}
	for _, v := range all {
		if err := s.Add(v); err != nil {
			t.Fatal(err)
		}
	}
	pb := s.dd.ToProto()
	if n := len(pb.PositiveValues.ContiguousBinCounts); n > 64 {
		t.Errorf("positive store has %d bins, limit 64", n)
	}
	if n := len(pb.NegativeValues.ContiguousBinCounts); n > 64 {
		t.Errorf("negative store has %d bins, limit 64", n)
	}
	slices.Sort(all)
	for _, q := range []float64{0, 0.2, 0.4, 0.6, 0.8, 1} {
		r := q * float64(len(all)-1)
		lo, hi := all[int(math.Floor(r))], all[int(math.Ceil(r))]
		if got := s.Quantile(q); math.Abs(got-lo) > 0.01*math.Abs(lo) && math.Abs(got-hi) > 0.01*math.Abs(hi) {
			t.Errorf("Quantile(%v) = %v, want %v within 1%%", q, got, lo)
		}
	}
	// The collapsed values are reported at the lowest kept bin (magnitude ≈ 200/3.6), far
	// from their true magnitude.
	if got := s.Quantile(0.5); math.Abs(got) < 50 {
		t.Errorf("Quantile(0.5) = %v: the tiny values were not collapsed into the lowest kept bin", got)
	}
	if s.Count() != float64(len(all)) {
		t.Errorf("count %v, want %d", s.Count(), len(all))
	}
}

func TestSketchMerge(t *testing.T) {
	a1, _ := NewSketch(0.01)
	a2, _ := NewSketch(0.02)
	b1, _ := NewSketchBins(0.01, 128)
	tests := []struct {
		name    string
		dst, o  *Sketch
		wantErr string
	}{
		{"different alpha", a1, a2, "merge sketch of relative accuracy 0.02 into one of 0.01"},
		{"different bin limits", a1, b1, "merge sketch of 128 bins into one of 2048 bins"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.dst.Merge(tc.o)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !errors.Is(err, ErrSketchMismatch) {
				t.Fatalf("error = %v, want ErrSketchMismatch with %q", err, tc.wantErr)
			}
		})
	}
	t.Run("merge into itself doubles", func(t *testing.T) {
		s, _ := NewSketch(0.01)
		for _, v := range []float64{-1, 0, 1, 2} {
			_ = s.Add(v)
		}
		want, _ := NewSketch(0.01)
		for _, v := range []float64{-1, 0, 1, 2, -1, 0, 1, 2} {
			_ = want.Add(v)
		}
		if err := s.Merge(s); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(s.Encode(), want.Encode()) {
			t.Errorf("self merge differs from adding the values twice")
		}
	})
}

func TestSketchCloneAndReset(t *testing.T) {
	s, _ := NewSketch(0.01)
	for _, v := range []float64{-3, 0, 7} {
		_ = s.Add(v)
	}
	c := s.Clone()
	if !bytes.Equal(c.Encode(), s.Encode()) {
		t.Fatal("clone differs")
	}
	_ = c.Add(100)
	if s.Count() != 3 {
		t.Errorf("adding to the clone changed the original")
	}
	s.Reset()
	empty, _ := NewSketch(0.01)
	if s.Count() != 0 || !bytes.Equal(s.Encode(), empty.Encode()) {
		t.Errorf("Reset sketch encodes as %x, want %x", s.Encode(), empty.Encode())
	}
}

func TestDecodeSketch(t *testing.T) {
	m := func() *sketchpb.IndexMapping { return &sketchpb.IndexMapping{Gamma: (1 + 0.01) / (1 - 0.01)} }
	enc := func(pb *sketchpb.DDSketch) []byte {
		b, err := proto.Marshal(pb)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	tests := []struct {
		name      string
		b         []byte
		wantErr   string
		wantCount float64
		wantP50   float64
	}{
		{"garbage", []byte{0xff, 0xff, 0xff}, "invalid sketch: message: is not a DDSketch protobuf", 0, 0},
		{"missing mapping", enc(&sketchpb.DDSketch{ZeroCount: 1}), "mapping: is missing", 0, 0},
		{"interpolated mapping", enc(&sketchpb.DDSketch{Mapping: &sketchpb.IndexMapping{Gamma: 1.02, Interpolation: sketchpb.IndexMapping_LINEAR}}), "mapping.interpolation: is LINEAR; only the logarithmic mapping", 0, 0},
		{"gamma 1", enc(&sketchpb.DDSketch{Mapping: &sketchpb.IndexMapping{Gamma: 1}}), "mapping.gamma: is 1, want a finite value > 1", 0, 0},
		{"gamma NaN", enc(&sketchpb.DDSketch{Mapping: &sketchpb.IndexMapping{Gamma: math.NaN()}}), "mapping.gamma: is NaN", 0, 0},
		{"gamma too coarse", enc(&sketchpb.DDSketch{Mapping: &sketchpb.IndexMapping{Gamma: 10}}), "means relative accuracy 0.818", 0, 0},
		{"gamma too fine", enc(&sketchpb.DDSketch{Mapping: &sketchpb.IndexMapping{Gamma: 1 + 1e-9}}), "means relative accuracy", 0, 0},
		{"offset NaN", enc(&sketchpb.DDSketch{Mapping: &sketchpb.IndexMapping{Gamma: 1.02, IndexOffset: math.NaN()}}), "mapping.indexOffset: is NaN", 0, 0},
		{"offset huge", enc(&sketchpb.DDSketch{Mapping: &sketchpb.IndexMapping{Gamma: 1.02, IndexOffset: 1e12}}), "mapping.indexOffset: is 1e+12", 0, 0},
		{"negative bin count", enc(&sketchpb.DDSketch{Mapping: m(), PositiveValues: &sketchpb.Store{ContiguousBinCounts: []float64{1, -1}}}), "positiveValues.contiguousBinCounts[1]: count -1 at bin index 1, want a whole number >= 0", 0, 0},
		{"NaN bin count", enc(&sketchpb.DDSketch{Mapping: m(), NegativeValues: &sketchpb.Store{BinCounts: map[int32]float64{3: math.NaN()}}}), "negativeValues.binCounts: count NaN at bin index 3", 0, 0},
		{"infinite bin count", enc(&sketchpb.DDSketch{Mapping: m(), PositiveValues: &sketchpb.Store{BinCounts: map[int32]float64{3: math.Inf(1)}}}), "count +Inf at bin index 3", 0, 0},
		{"bin index beyond the mapping", enc(&sketchpb.DDSketch{Mapping: m(), PositiveValues: &sketchpb.Store{BinCounts: map[int32]float64{math.MaxInt32: 1}}}), "positiveValues.binCounts: bin index 2147483647 is outside [-35418, 35470]", 0, 0},
		{"contiguous bins beyond int32", enc(&sketchpb.DDSketch{Mapping: m(), PositiveValues: &sketchpb.Store{ContiguousBinIndexOffset: math.MaxInt32, ContiguousBinCounts: []float64{0, 1}}}), "bin index 2147483648 is outside", 0, 0},
		{"fractional bin count", enc(&sketchpb.DDSketch{Mapping: m(), PositiveValues: &sketchpb.Store{BinCounts: map[int32]float64{3: 0.5}}}), "count 0.5 at bin index 3, want a whole number", 0, 0},
		{"negative zero count", enc(&sketchpb.DDSketch{Mapping: m(), ZeroCount: -1}), "zeroCount: is -1, want a whole number >= 0", 0, 0},
		{"fractional zero count", enc(&sketchpb.DDSketch{Mapping: m(), ZeroCount: 1.5}), "zeroCount: is 1.5", 0, 0},
		{"infinite zero count", enc(&sketchpb.DDSketch{Mapping: m(), ZeroCount: math.Inf(1)}), "zeroCount: is +Inf", 0, 0},
		{"total above 2^53", enc(&sketchpb.DDSketch{Mapping: m(), ZeroCount: 1 << 54, PositiveValues: &sketchpb.Store{ContiguousBinCounts: []float64{1 << 54}}}), "total count 3.602879701896397e+16 exceeds 2^53", 0, 0},
		{"empty message with a mapping", enc(&sketchpb.DDSketch{Mapping: m()}), "", 0, math.NaN()},
		{"sparse bins", enc(&sketchpb.DDSketch{Mapping: m(), PositiveValues: &sketchpb.Store{BinCounts: map[int32]float64{230: 3, 231: 0, 100: 1}}}), "", 4, 100.49456770856489},
		{"contiguous bins with zero count", enc(&sketchpb.DDSketch{Mapping: m(), ZeroCount: 2, NegativeValues: &sketchpb.Store{ContiguousBinIndexOffset: 230, ContiguousBinCounts: []float64{1, 0, 0}}}), "", 3, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := DecodeSketch(tc.b)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !errors.Is(err, ErrInvalid) {
					t.Fatalf("error = %v, want ErrInvalid with %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s.Count() != tc.wantCount {
				t.Errorf("count %v, want %v", s.Count(), tc.wantCount)
			}
			if got := s.Quantile(0.5); !sameFloat(got, tc.wantP50, 1e-12) {
				t.Errorf("Quantile(0.5) = %v, want %v", got, tc.wantP50)
			}
		})
	}
	t.Run("bin limit", func(t *testing.T) {
		if _, err := DecodeSketchBins(nil, 8); err == nil || !strings.Contains(err.Error(), "sketch bin limit 8 is outside") {
			t.Fatalf("error = %v", err)
		}
	})
}

// TestDecodeLibrarySketch decodes what other sketches-go configurations produce (default
// buffered paginated store, sparse store) and checks the same quantiles come out.
func TestDecodeLibrarySketch(t *testing.T) {
	rng := rand.New(rand.NewPCG(17, 18))
	lib, err := ddsketch.NewDefaultDDSketch(0.01)
	if err != nil {
		t.Fatal(err)
	}
	ours, _ := NewSketch(0.01)
	for i := 0; i < 5000; i++ {
		v := rng.NormFloat64() * 100
		_ = lib.Add(v)
		_ = ours.Add(v)
	}
	b, err := proto.Marshal(lib.ToProto())
	if err != nil {
		t.Fatal(err)
	}
	dec, err := DecodeSketch(b)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(dec.Encode(), ours.Encode()) {
		t.Errorf("library sketch decodes to different content than the same values added here")
	}
	if err := ours.Merge(dec); err != nil {
		t.Fatal(err)
	}
	for _, q := range []float64{0, 0.5, 0.99, 1} {
		want, _ := lib.GetValueAtQuantile(q)
		if got := dec.Quantile(q); got != want {
			t.Errorf("Quantile(%v) = %v, library says %v", q, got, want)
		}
	}
}

// TestDocSketchExample is the sketch example of docs/quantiles.md.
func TestDocSketchExample(t *testing.T) {
	s, _ := NewSketch(0.01)
	gamma := (1 + 0.01) / (1 - 0.01)
	if got := s.dd.ToProto().Mapping.Gamma; got != gamma {
		t.Errorf("gamma %v, want %v", got, gamma)
	}
	tests := []struct {
		v        float64
		index    int
		estimate float64
	}{
		{100, 230, 100.49456770856489},
		{1, 0, 1.01},
		{0.5, -35, 0.501539453403326},
	}
	for _, tc := range tests {
		if got := s.mapping.Index(tc.v); got != tc.index {
			t.Errorf("index(%v) = %d, want %d", tc.v, got, tc.index)
		}
		one, _ := NewSketch(0.01)
		_ = one.Add(tc.v)
		if got := one.Quantile(0.5); !sameFloat(got, tc.estimate, 1e-12) {
			t.Errorf("estimate of %v = %v, want %v", tc.v, got, tc.estimate)
		}
		// γ^i <= v < γ^(i+1) and the estimate is γ^i·(1+α) = 2γ^(i+1)/(γ+1).
		lo, hi := math.Pow(gamma, float64(tc.index)), math.Pow(gamma, float64(tc.index+1))
		if !(lo <= tc.v*(1+1e-12) && tc.v < hi) || !sameFloat(tc.estimate, 2*hi/(gamma+1), 1e-9) {
			t.Errorf("%v: bin [%v, %v), estimate %v, 2γ^(i+1)/(γ+1) = %v", tc.v, lo, hi, tc.estimate, 2*hi/(gamma+1))
		}
	}
}
