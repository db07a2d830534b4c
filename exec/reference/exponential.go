package reference

import (
	"errors"
	"fmt"

	"github.com/tallyhq/tally/exec"
	"github.com/tallyhq/tally/exec/hist"
	"github.com/tallyhq/tally/specs"
)

// expPoint views a point as an exponential histogram (sharing its bucket slices,
// which hist only reads).
func expPoint(p *Point) hist.Exponential {
	return hist.Exponential{
		Scale: p.Scale, ZeroCount: p.ZeroCount, ZeroThreshold: p.ZeroThreshold,
		Positive: hist.Buckets{Offset: p.PositiveOffset, Counts: p.PositiveCounts},
		Negative: hist.Buckets{Offset: p.NegativeOffset, Counts: p.NegativeCounts},
		Count:    p.Count, Sum: p.Sum, Min: p.Min, Max: p.Max, HasMinMax: p.HasMinMax,
	}
}

// expIncrease turns an exponential histogram point into what it adds to its
// window: delta points as they are; cumulative points with the counter rules
// applied to the whole histogram, as for explicit histograms (docs/semantics.md,
// "Exponential histograms").
func expIncrease(agg *specs.Aggregation, p, prev *Point, staleness int64) (hist.Exponential, error) {
	cur := expPoint(p)
	if err := cur.Validate(); err != nil {
		return cur, fmt.Errorf("exponential histogram point at %d: %w", p.Time, err)
	}
	empty := hist.Exponential{Scale: p.Scale}
	if agg.Temporality == specs.TemporalityDelta {
		return cur, nil
	}
	switch {
	case p.HasStart && p.Time == p.StartTime:
		return empty, nil
	case prev != nil && sameStart(p, prev):
		before := expPoint(prev)
		if err := before.Validate(); err != nil {
			return cur, fmt.Errorf("predecessor at %d: %w", prev.Time, err)
		}
		if p.Count < prev.Count || prev.Count == 0 {
			return cur, nil // a reset, or an empty predecessor: the point itself
		}
		var d hist.Exponential
		err := d.Sub(&cur, &before)
		switch {
		case errors.Is(err, hist.ErrReset):
			return cur, nil // some bucket decreased: a reset
		case err != nil:
			return cur, fmt.Errorf("exponential histogram point at %d minus its predecessor at %d: %w", p.Time, prev.Time, err)
		}
		return d, nil
	case prev != nil:
		return cur, nil // new start_time: reset
	case p.HasStart && p.Time-p.StartTime <= staleness:
		return cur, nil // started recently
	default:
		return empty, nil // baseline after a gap or with an unknown start
	}
}

// addExp merges one exponential histogram delta into the cell.
func (c *cell) addExp(d *hist.Exponential) error {
	if c.exp == nil {
		c.exp = &hist.Exponential{MaxBuckets: hist.DefaultMaxBuckets}
	}
	if err := c.exp.Merge(d); err != nil {
		return err
	}
	c.addObservations(d.Count, d.Sum, d.Min, d.Max, d.HasMinMax)
	return nil
}

// expHistogram renders the merged exponential buckets of a row, folded as the
// last step before emitting (buckets below the zero threshold move into the zero
// count).
func expHistogram(h *hist.Exponential) *exec.ExpHistogram {
	h.Fold()
	return &exec.ExpHistogram{
		Scale: h.Scale, ZeroCount: h.ZeroCount, ZeroThreshold: h.ZeroThreshold,
		PositiveOffset: h.Positive.Offset, PositiveCounts: append([]uint64(nil), h.Positive.Counts...),
		NegativeOffset: h.Negative.Offset, NegativeCounts: append([]uint64(nil), h.Negative.Counts...),
	}
}
