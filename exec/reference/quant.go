package reference

import (
	"fmt"

	"github.com/tallyhq/tally/exec"
	"github.com/tallyhq/tally/exec/hist"
)

// sketchAcc is the DDSketch of a gauge window's values (docs/quantiles.md).
type sketchAcc struct {
	s *hist.Sketch
}

func newSketchAcc(alpha float64) (*sketchAcc, error) {
	s, err := hist.NewSketch(alpha)
	if err != nil {
		return nil, fmt.Errorf("sketch of relative accuracy %v: %w", alpha, err)
	}
	return &sketchAcc{s: s}, nil
}

// add adds one finite value (junk was dropped before).
func (a *sketchAcc) add(v float64) error {
	if err := a.s.Add(v); err != nil {
		return fmt.Errorf("add %v to the sketch: %w", v, err)
	}
	return nil
}

func (a *sketchAcc) quantile(q float64) (float64, error) { return a.s.Quantile(q), nil }

func (a *sketchAcc) encode() ([]byte, error) { return a.s.Encode(), nil }

// histAcc holds the merged explicit buckets of one row; the row's count, sum, min
// and max are kept by the cell itself, in the contract's order.
type histAcc struct {
	bounds []float64
	h      hist.Explicit
}

func newHistAcc(bounds []float64) (*histAcc, error) {
	return &histAcc{bounds: append([]float64(nil), bounds...)}, nil
}

func (a *histAcc) merge(d histDelta) error {
	return a.h.Merge(d.bounds, d.counts, d.count, d.sum, d.min, d.max, d.hasMinMax)
}

func (a *histAcc) quantile(q float64) (float64, error) { return a.h.Quantile(q), nil }

func (a *histAcc) histogram() *exec.Histogram {
	counts := append([]uint64(nil), a.h.Counts...)
	if len(counts) == 0 {
		counts = make([]uint64, len(a.bounds)+1)
	}
	return &exec.Histogram{Bounds: append([]float64(nil), a.bounds...), Counts: counts}
}
