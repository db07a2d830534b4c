package reference

import (
	"fmt"

	"github.com/tallyhq/tally/exec"
)

// sketchAcc is the DDSketch of a gauge window's values.
type sketchAcc struct{}

func newSketchAcc(alpha float64) (*sketchAcc, error) { return &sketchAcc{}, nil }
func (s *sketchAcc) add(v float64)                   {}
func (s *sketchAcc) quantile(q float64) (float64, error) {
	return 0, fmt.Errorf("quantiles and sketches are not computed yet")
}
func (s *sketchAcc) encode() ([]byte, error) {
	return nil, fmt.Errorf("quantiles and sketches are not computed yet")
}

// histAcc holds merged explicit buckets.
type histAcc struct {
	bounds []float64
	counts []uint64
}

func newHistAcc(bounds []float64) (*histAcc, error) {
	return &histAcc{bounds: bounds}, nil
}

func (h *histAcc) merge(d histDelta) error {
	if h.counts == nil {
		h.counts = make([]uint64, len(d.counts))
	}
	for i, c := range d.counts {
		h.counts[i] += c
	}
	return nil
}
func (h *histAcc) quantile(q float64) (float64, error) {
	return 0, fmt.Errorf("quantiles and sketches are not computed yet")
}
func (h *histAcc) histogram() *exec.Histogram {
	return &exec.Histogram{Bounds: append([]float64(nil), h.bounds...), Counts: append([]uint64(nil), h.counts...)}
}
