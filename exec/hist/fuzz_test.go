package hist

import (
	"encoding/binary"
	"errors"
	"math"
	"testing"
)

// fuzzReader turns fuzz bytes into values; it returns zeros once the input is exhausted.
type fuzzReader struct{ b []byte }

func (r *fuzzReader) more() bool { return len(r.b) > 0 }

func (r *fuzzReader) byte() byte {
	if len(r.b) == 0 {
		return 0
	}
	v := r.b[0]
	r.b = r.b[1:]
	return v
}

// float returns a raw float64 (any bit pattern, NaN and Inf included) when the selector
// byte is odd, else a small integer-valued float.
func (r *fuzzReader) float() float64 {
	if r.byte()%2 == 0 {
		return float64(int8(r.byte()))
	}
	var buf [8]byte
	n := copy(buf[:], r.b)
	r.b = r.b[n:]
	return math.Float64frombits(binary.LittleEndian.Uint64(buf[:]))
}

func FuzzExplicitMerge(f *testing.F) {
	f.Add([]byte{3, 0, 1, 2, 3, 4, 5, 6, 7, 0, 10, 0, 2, 0, 1})
	f.Add([]byte{2, 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xf8, 0x7f, 9, 9, 9})
	f.Add([]byte{0, 0, 5, 1, 0, 3, 0, 9, 1, 5, 5})
	f.Fuzz(func(t *testing.T, data []byte) {
		r := fuzzReader{data}
		var h Explicit
		shared := []float64{1, 2, 4, 8}
		for p := 0; p < 4 && r.more(); p++ {
			var bounds []float64
			if sel := r.byte(); sel%3 == 0 {
				bounds = shared // most points share a layout, so merges happen
			} else {
				bounds = make([]float64, sel%6)
				for i := range bounds {
					bounds[i] = r.float()
				}
			}
			counts := make([]uint64, len(bounds)+1+int(r.byte()%3)/2)
			var count uint64
			for i := range counts {
				counts[i] = uint64(r.byte() % 8)
				count += counts[i]
			}
			if r.byte()%7 == 0 {
				count++
			}
			sum, mn, mx, has := r.float(), r.float(), r.float(), r.byte()%2 == 0
			before := cloneExplicit(&h)
			err := h.Merge(bounds, counts, count, sum, mn, mx, has)
			if err != nil {
				if !errors.Is(err, ErrInvalid) && !errors.Is(err, ErrBoundsMismatch) {
					t.Fatalf("unexpected error type: %v", err)
				}
				if !explicitEqual(&before, &h) {
					t.Fatalf("failed merge changed the accumulator")
				}
				continue
			}
			checkExplicitInvariants(t, &h)
		}
	})
}

func checkExplicitInvariants(t *testing.T, h *Explicit) {
	t.Helper()
	if len(h.Counts) != len(h.Bounds)+1 {
		t.Fatalf("layout %d counts for %d bounds", len(h.Counts), len(h.Bounds))
	}
	var total uint64
	for _, c := range h.Counts {
		total += c
	}
	if total != h.Count {
		t.Fatalf("counts sum to %d, count %d", total, h.Count)
	}
	prev := math.Inf(-1)
	for _, q := range []float64{0, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 1} {
		v := h.Quantile(q)
		if math.IsNaN(v) {
			if h.Count > 0 && (len(h.Bounds) > 0 || h.HasMinMax) {
				t.Fatalf("Quantile(%v) is NaN for a non-empty histogram %+v", q, h)
			}
			continue
		}
		if v < prev {
			t.Fatalf("Quantile(%v) = %v below the previous quantile %v: %+v", q, v, prev, h)
		}
		if h.HasMinMax && (v < h.Min || v > h.Max) {
			t.Fatalf("Quantile(%v) = %v outside [%v, %v]", q, v, h.Min, h.Max)
		}
		prev = v
	}
}

func FuzzExponentialMerge(f *testing.F) {
	f.Add([]byte{0, 2, 3, 1, 2, 3, 0, 0, 0, 5, 1, 9})
	f.Add([]byte{7, 30, 200, 1, 1, 4, 4, 4, 4, 2, 1, 3, 0xff})
	f.Add([]byte{1, 10, 5, 3, 3, 3, 2, 8, 1, 100, 2, 2})
	f.Fuzz(func(t *testing.T, data []byte) {
		r := fuzzReader{data}
		h := Exponential{MaxBuckets: []int{0, 4, 9}[r.byte()%3]}
		limit, _ := h.bucketLimit()
		for p := 0; p < 4 && r.more(); p++ {
			o := Exponential{Scale: int32(int8(r.byte())) % 24}
			if r.byte()%4 == 0 {
				o.ZeroThreshold = math.Abs(r.float())
			}
			o.ZeroCount = uint64(r.byte() % 4)
			o.Count = o.ZeroCount
			for _, b := range []*Buckets{&o.Positive, &o.Negative} {
				b.Offset = int32(int16(uint16(r.byte())<<8 | uint16(r.byte())))
				b.Counts = make([]uint64, r.byte()%12)
				for i := range b.Counts {
					b.Counts[i] = uint64(r.byte() % 5)
					o.Count += b.Counts[i]
				}
			}
			if r.byte()%9 == 0 {
				o.Count++
			}
			o.Sum = r.float()
			if o.HasMinMax = r.byte()%2 == 0; o.HasMinMax {
				o.Min, o.Max = r.float(), r.float()
			}
			before := cloneExp(&h)
			if err := h.Merge(&o); err != nil {
				if !errors.Is(err, ErrInvalid) {
					t.Fatalf("unexpected error type: %v", err)
				}
				if !expEqual(&before, &h) {
					t.Fatalf("failed merge changed the accumulator")
				}
				continue
			}
			checkExpInvariants(t, &h, limit)
			folded := cloneExp(&h)
			folded.Fold()
			checkExpInvariants(t, &folded, limit)
			for _, q := range []float64{0, 0.3, 0.7, 1} {
				if a, b := h.Quantile(q), folded.Quantile(q); !sameFloat(a, b, 0) {
					t.Fatalf("Fold changed Quantile(%v): %v vs %v", q, a, b)
				}
			}
		}
	})
}

func checkExpInvariants(t *testing.T, h *Exponential, limit int) {
	t.Helper()
	if err := h.Validate(); err != nil {
		t.Fatalf("accumulator is not a valid point: %v (%s)", err, expString(h))
	}
	for _, b := range []*Buckets{&h.Positive, &h.Negative} {
		if len(b.Counts) > limit {
			t.Fatalf("%d buckets exceed the limit %d", len(b.Counts), limit)
		}
		if n := len(b.Counts); n > 0 && (b.Counts[0] == 0 || b.Counts[n-1] == 0) {
			t.Fatalf("bucket range not trimmed: %s", expString(h))
		}
	}
	prev := math.Inf(-1)
	for _, q := range []float64{0, 0.1, 0.5, 0.9, 1} {
		v := h.Quantile(q)
		if h.Count == 0 {
			if !math.IsNaN(v) {
				t.Fatalf("empty histogram quantile %v", v)
			}
			continue
		}
		if math.IsNaN(v) || v < prev {
			t.Fatalf("Quantile(%v) = %v after %v (%s)", q, v, prev, expString(h))
		}
		if h.HasMinMax && (v < h.Min || v > h.Max) {
			t.Fatalf("Quantile(%v) = %v outside [%v, %v]", q, v, h.Min, h.Max)
		}
		prev = v
	}
}

func FuzzDecodeSketch(f *testing.F) {
	s, _ := NewSketch(0.01)
	f.Add(s.Encode())
	for _, v := range []float64{-3, 0, 0, 1.5, 1e6, 1e-6} {
		_ = s.Add(v)
	}
	f.Add(s.Encode())
	small, _ := NewSketchBins(0.05, 16)
	for v := 1.0; v < 1e12; v *= 3 {
		_ = small.Add(v)
	}
	f.Add(small.Encode())
	f.Add([]byte{0x0a, 0x09, 0x09, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f})
	f.Add([]byte{0xff, 0x01})
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := DecodeSketch(b)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("unexpected error type: %v", err)
			}
			return
		}
		enc := s.Encode()
		again, err := DecodeSketch(enc)
		if err != nil {
			t.Fatalf("re-decoding our own encoding failed: %v", err)
		}
		if string(again.Encode()) != string(enc) {
			t.Fatalf("encoding is not canonical")
		}
		if c := s.Count(); math.IsNaN(c) || math.IsInf(c, 0) || c < 0 {
			t.Fatalf("count %v", c)
		}
		prev := math.Inf(-1)
		for _, q := range []float64{0, 0.25, 0.5, 0.75, 1} {
			v := s.Quantile(q)
			if s.Count() == 0 {
				continue
			}
			if math.IsNaN(v) || v < prev {
				t.Fatalf("Quantile(%v) = %v after %v", q, v, prev)
			}
			prev = v
		}
		if err := again.Merge(s); err != nil {
			t.Fatalf("merging two decodings of the same bytes: %v", err)
		}
	})
}
