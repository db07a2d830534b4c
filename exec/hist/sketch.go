package hist

import (
	"fmt"
	"math"
	"slices"

	"github.com/DataDog/sketches-go/ddsketch"
	"github.com/DataDog/sketches-go/ddsketch/mapping"
	"github.com/DataDog/sketches-go/ddsketch/pb/sketchpb"
	"github.com/DataDog/sketches-go/ddsketch/store"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

const kindSketch = "sketch"

// Sketch parameters. The stream must build its sketches with the same mapping
// (logarithmic, gamma = (1+α)/(1−α), index offset 0) and the same bin limit, or merged
// and re-encoded results will differ from its own.
const (
	// DefaultAlpha is the default relative accuracy α of gauge quantiles.
	DefaultAlpha = 0.01
	// MinAlpha and MaxAlpha bound the accepted relative accuracy.
	MinAlpha = 1e-6
	MaxAlpha = 0.5
	// DefaultSketchBins is the default number of bins of each store (positive and
	// negative values): at most 2 × 2048 × 8 bytes = 32 KiB of counts per sketch. With
	// α = 0.01 it covers values spanning a factor of about 6·10^17 before the lowest
	// bins are collapsed.
	DefaultSketchBins = 2048
	// MinSketchBins and MaxSketchBins bound the accepted bin limit.
	MinSketchBins = 16
	MaxSketchBins = 1 << 16
)

// Sketch is a DDSketch (github.com/DataDog/sketches-go) with a logarithmic index mapping
// of relative accuracy α and two collapsing-lowest dense stores of at most maxBins bins:
// a quantile estimate v of a true value x satisfies |v − x| <= α·|x| as long as no bins
// were collapsed; when more than maxBins bins would be needed, the bins closest to zero
// are merged, which loses accuracy only for the values of smallest magnitude. Zero (and
// values closer to zero than about 2.2e-308) is counted separately; negative values have
// their own store.
//
// The content of a Sketch, and therefore its encoding, depends only on the multiset of
// added values: insertion and merge order do not matter. Use NewSketch or DecodeSketch;
// the zero value is not usable.
type Sketch struct {
	dd       *ddsketch.DDSketch
	mapping  *mapping.LogarithmicMapping
	pos, neg *store.CollapsingLowestDenseStore
	maxBins  int
	// minValue and maxValue are the smallest and largest magnitudes the mapping indexes.
	minValue, maxValue float64
}

// NewSketch returns an empty sketch of relative accuracy alpha (MinAlpha <= alpha <=
// MaxAlpha) and DefaultSketchBins bins per store.
func NewSketch(alpha float64) (*Sketch, error) {
	return NewSketchBins(alpha, DefaultSketchBins)
}

// NewSketchBins is NewSketch with an explicit bin limit per store, in [MinSketchBins,
// MaxSketchBins].
func NewSketchBins(alpha float64, maxBins int) (*Sketch, error) {
	if !(alpha >= MinAlpha && alpha <= MaxAlpha) {
		return nil, fmt.Errorf("sketch relative accuracy %v is outside [%v, %v]", alpha, MinAlpha, MaxAlpha)
	}
	if maxBins < MinSketchBins || maxBins > MaxSketchBins {
		return nil, fmt.Errorf("sketch bin limit %d is outside [%d, %d]", maxBins, MinSketchBins, MaxSketchBins)
	}
	m, err := mapping.NewLogarithmicMapping(alpha)
	if err != nil {
		return nil, fmt.Errorf("sketch relative accuracy %v: %w", alpha, err)
	}
	return newSketch(m, maxBins), nil
}

func newSketch(m *mapping.LogarithmicMapping, maxBins int) *Sketch {
	pos, neg := store.NewCollapsingLowestDenseStore(maxBins), store.NewCollapsingLowestDenseStore(maxBins)
	return &Sketch{
		dd:       ddsketch.NewDDSketch(m, pos, neg),
		mapping:  m,
		pos:      pos,
		neg:      neg,
		maxBins:  maxBins,
		minValue: m.MinIndexableValue(),
		maxValue: m.MaxIndexableValue(),
	}
}

// Alpha returns the relative accuracy of s.
func (s *Sketch) Alpha() float64 { return s.mapping.RelativeAccuracy() }

// MaxBins returns the bin limit of each of the two stores of s.
func (s *Sketch) MaxBins() int { return s.maxBins }

// Add adds one value. NaN and values whose magnitude exceeds about 1.7e308 (±Inf
// included) cannot be tracked and return an error; s is then unchanged. Add does not
// allocate except when a store grows.
func (s *Sketch) Add(v float64) error {
	switch {
	case v > s.minValue:
		if v > s.maxValue {
			return fmt.Errorf("add %v to sketch: %w", v, ddsketch.ErrUntrackableTooHigh)
		}
		s.pos.Add(s.mapping.Index(v))
	case v < -s.minValue:
		if v < -s.maxValue {
			return fmt.Errorf("add %v to sketch: %w", v, ddsketch.ErrUntrackableTooLow)
		}
		s.neg.Add(s.mapping.Index(-v))
	case math.IsNaN(v):
		return fmt.Errorf("add to sketch: %w", ddsketch.ErrUntrackableNaN)
	default:
		return s.dd.Add(0)
	}
	return nil
}

// Merge adds the content of o to s. Both must have the same mapping (relative accuracy)
// and bin limit, else the error wraps ErrSketchMismatch and s is unchanged.
func (s *Sketch) Merge(o *Sketch) error {
	if !s.mapping.Equals(o.mapping) {
		return fmt.Errorf("merge sketch of relative accuracy %.6g into one of %.6g: %w", o.Alpha(), s.Alpha(), ErrSketchMismatch)
	}
	if s.maxBins != o.maxBins {
		return fmt.Errorf("merge sketch of %d bins into one of %d bins: %w", o.maxBins, s.maxBins, ErrSketchMismatch)
	}
	if o == s {
		o = s.Clone()
	}
	return s.dd.MergeWith(o.dd)
}

// Clone returns an independent copy of s.
func (s *Sketch) Clone() *Sketch {
	c := newSketch(s.mapping, s.maxBins)
	c.pos.MergeWith(s.pos)
	c.neg.MergeWith(s.neg)
	if z := s.dd.GetZeroCount(); z > 0 {
		_ = c.dd.AddWithCount(0, z) // cannot fail: 0 is tracked and z is positive
	}
	return c
}

// Reset empties s, keeping its parameters and memory.
func (s *Sketch) Reset() { s.dd.Clear() }

// Count returns the number of values in s (a float: decoded sketches may carry
// fractional weights).
func (s *Sketch) Count() float64 { return s.dd.GetCount() }

// Quantile returns the DDSketch estimate of the q-quantile: with r = q·(Count−1), the
// representative value of the bin that holds the value of 0-based rank ⌊r⌋ in sorted
// order (⌈r⌉ when that value is negative, as sketches-go walks the negative store from
// the largest magnitude), within relative accuracy α of that value. It returns NaN for an
// empty sketch and for q outside [0, 1] or NaN.
func (s *Sketch) Quantile(q float64) float64 {
	if !(q >= 0 && q <= 1) {
		return math.NaN()
	}
	v, err := s.dd.GetValueAtQuantile(q)
	if err != nil {
		return math.NaN()
	}
	return v
}

// Encode returns the protobuf encoding of s (the sketches-go DDSketch message, bins
// stored contiguously). It equals proto.Marshal of the library's ToProto with
// Deterministic set, and depends only on the multiset of values added to s.
func (s *Sketch) Encode() []byte { return s.AppendEncode(nil) }

// AppendEncode appends the encoding of s (see Encode) to b.
func (s *Sketch) AppendEncode(b []byte) []byte {
	pb := s.dd.ToProto()
	m := pb.Mapping
	msize := 0
	if math.Float64bits(m.Gamma) != 0 {
		msize += protowire.SizeTag(1) + protowire.SizeFixed64()
	}
	if math.Float64bits(m.IndexOffset) != 0 {
		msize += protowire.SizeTag(2) + protowire.SizeFixed64()
	}
	if m.Interpolation != 0 {
		msize += protowire.SizeTag(3) + protowire.SizeVarint(uint64(m.Interpolation))
	}
	b = protowire.AppendTag(b, 1, protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(msize))
	if math.Float64bits(m.Gamma) != 0 {
		b = protowire.AppendTag(b, 1, protowire.Fixed64Type)
		b = protowire.AppendFixed64(b, math.Float64bits(m.Gamma))
	}
	if math.Float64bits(m.IndexOffset) != 0 {
		b = protowire.AppendTag(b, 2, protowire.Fixed64Type)
		b = protowire.AppendFixed64(b, math.Float64bits(m.IndexOffset))
	}
	if m.Interpolation != 0 {
		b = protowire.AppendTag(b, 3, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(m.Interpolation))
	}
	b = appendStore(b, 2, pb.PositiveValues)
	b = appendStore(b, 3, pb.NegativeValues)
	if math.Float64bits(pb.ZeroCount) != 0 {
		b = protowire.AppendTag(b, 4, protowire.Fixed64Type)
		b = protowire.AppendFixed64(b, math.Float64bits(pb.ZeroCount))
	}
	return b
}

// appendStore encodes a dense store (contiguous bins only; the stores of a Sketch never
// produce the sparse map form).
func appendStore(b []byte, num protowire.Number, st *sketchpb.Store) []byte {
	bins, off := st.ContiguousBinCounts, st.ContiguousBinIndexOffset
	size := 0
	if len(bins) > 0 {
		size += protowire.SizeTag(2) + protowire.SizeBytes(8*len(bins))
	}
	if off != 0 {
		size += protowire.SizeTag(3) + protowire.SizeVarint(protowire.EncodeZigZag(int64(off)))
	}
	b = protowire.AppendTag(b, num, protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(size))
	if len(bins) > 0 {
		b = protowire.AppendTag(b, 2, protowire.BytesType)
		b = protowire.AppendVarint(b, uint64(8*len(bins)))
		for _, c := range bins {
			b = protowire.AppendFixed64(b, math.Float64bits(c))
		}
	}
	if off != 0 {
		b = protowire.AppendTag(b, 3, protowire.VarintType)
		b = protowire.AppendVarint(b, protowire.EncodeZigZag(int64(off)))
	}
	return b
}

// DecodeSketch decodes a sketches-go DDSketch protobuf message (as written by Encode, by
// sketches-go or by sketches-java) into a Sketch with DefaultSketchBins bins per store.
// See DecodeSketchBins.
func DecodeSketch(b []byte) (*Sketch, error) {
	return DecodeSketchBins(b, DefaultSketchBins)
}

// maxSketchCount is the largest total count of a decoded sketch: counts are float64 and
// stay exact (and insertion-order independent) only up to 2^53.
const maxSketchCount = 1 << 53

// DecodeSketchBins decodes a DDSketch message into a Sketch with maxBins bins per store.
// It accepts only the logarithmic mapping (interpolation NONE) with a relative accuracy
// in [MinAlpha, MaxAlpha], bins whose counts are whole numbers >= 0 (values are added
// with weight 1) and whose indices are inside the mapping's range, and a total count of
// at most 2^53; the error is an *InvalidError otherwise. Memory is
// bounded by maxBins whatever the bins' indices; a sketch with more bins than maxBins is
// collapsed as if its values had been added here.
func DecodeSketchBins(b []byte, maxBins int) (*Sketch, error) {
	if maxBins < MinSketchBins || maxBins > MaxSketchBins {
		return nil, fmt.Errorf("sketch bin limit %d is outside [%d, %d]", maxBins, MinSketchBins, MaxSketchBins)
	}
	var pb sketchpb.DDSketch
	if err := proto.Unmarshal(b, &pb); err != nil {
		return nil, &InvalidError{Kind: kindSketch, Field: "message", Reason: "is not a DDSketch protobuf: " + err.Error()}
	}
	m := pb.Mapping
	switch {
	case m == nil:
		return nil, invalid(kindSketch, "mapping", "is missing")
	case m.Interpolation != sketchpb.IndexMapping_NONE:
		return nil, invalid(kindSketch, "mapping.interpolation", "is %v; only the logarithmic mapping (NONE) is supported, the stream must use the same mapping", m.Interpolation)
	case !(m.Gamma > 1) || math.IsInf(m.Gamma, 0):
		return nil, invalid(kindSketch, "mapping.gamma", "is %v, want a finite value > 1", m.Gamma)
	case math.IsNaN(m.IndexOffset) || math.Abs(m.IndexOffset) > 1<<30:
		return nil, invalid(kindSketch, "mapping.indexOffset", "is %v, want a finite value within ±2^30", m.IndexOffset)
	}
	if alpha := 1 - 2/(1+m.Gamma); !(alpha >= MinAlpha && alpha <= MaxAlpha) {
		return nil, invalid(kindSketch, "mapping.gamma", "%v means relative accuracy %v, outside [%v, %v]", m.Gamma, alpha, MinAlpha, MaxAlpha)
	}
	lm, err := mapping.NewLogarithmicMappingWithGamma(m.Gamma, m.IndexOffset)
	if err != nil {
		return nil, invalid(kindSketch, "mapping", "%v", err)
	}
	s := newSketch(lm, maxBins)
	lo, hi := int64(lm.Index(s.minValue)), int64(lm.Index(s.maxValue))
	if err := decodeStore(s.pos, pb.PositiveValues, "positiveValues", lo, hi); err != nil {
		return nil, err
	}
	if err := decodeStore(s.neg, pb.NegativeValues, "negativeValues", lo, hi); err != nil {
		return nil, err
	}
	if z := pb.ZeroCount; !(z >= 0) || math.IsInf(z, 0) || z != math.Trunc(z) {
		return nil, invalid(kindSketch, "zeroCount", "is %v, want a whole number >= 0", z)
	} else if z > 0 {
		_ = s.dd.AddWithCount(0, z) // cannot fail: 0 is tracked and z is positive
	}
	if c := s.Count(); c > maxSketchCount {
		return nil, invalid(kindSketch, "message", "total count %v exceeds 2^53, beyond exact float64 counting", c)
	}
	return s, nil
}

// decodeStore adds the bins of st to dst in increasing index order (the sparse map form
// is sorted first, so the result does not depend on map iteration order).
func decodeStore(dst *store.CollapsingLowestDenseStore, st *sketchpb.Store, name string, lo, hi int64) error {
	if st == nil {
		return nil
	}
	// field names the offending bin; it is built only on error.
	add := func(field func() string, idx int64, c float64) error {
		if !(c >= 0) || math.IsInf(c, 0) || c != math.Trunc(c) {
			return invalid(kindSketch, field(), "count %v at bin index %d, want a whole number >= 0", c, idx)
		}
		if c == 0 {
			return nil
		}
		if idx < lo || idx > hi {
			return invalid(kindSketch, field(), "bin index %d is outside [%d, %d], the indices of this mapping", idx, lo, hi)
		}
		dst.AddWithCount(int(idx), c)
		return nil
	}
	if len(st.BinCounts) > 0 {
		keys := make([]int32, 0, len(st.BinCounts))
		for k := range st.BinCounts {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		field := func() string { return name + ".binCounts" }
		for _, k := range keys {
			if err := add(field, int64(k), st.BinCounts[k]); err != nil {
				return err
			}
		}
	}
	for i, c := range st.ContiguousBinCounts {
		field := func() string { return fieldIndex(name+".contiguousBinCounts", i) }
		if err := add(field, int64(st.ContiguousBinIndexOffset)+int64(i), c); err != nil {
			return err
		}
	}
	return nil
}
