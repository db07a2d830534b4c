package reference

import (
	"fmt"
	"slices"

	"github.com/tallyhq/tally/specs"
)

// histDelta is what one histogram point adds to its window: the point itself
// (delta temporality, or a reset) or its difference from its predecessor.
type histDelta struct {
	count     uint64
	sum       float64
	min, max  float64
	hasMinMax bool
	bounds    []float64
	counts    []uint64
}

// checkLayout verifies that a histogram point has one more bucket count than bounds.
func checkLayout(p *Point) error {
	if len(p.BucketCounts) != len(p.Bounds)+1 {
		return fmt.Errorf("histogram point at %d has %d bucket counts for %d bounds %v; it needs one more count than bounds",
			p.Time, len(p.BucketCounts), len(p.Bounds), p.Bounds)
	}
	return nil
}

// whole is the point itself as a delta.
func whole(p *Point) histDelta {
	return histDelta{count: p.Count, sum: p.Sum, min: p.Min, max: p.Max, hasMinMax: p.HasMinMax,
		bounds: p.Bounds, counts: p.BucketCounts}
}

// empty is a delta that carries nothing, in the point's layout (package
// documentation, item 7).
func empty(p *Point) histDelta {
	return histDelta{bounds: p.Bounds, counts: make([]uint64, len(p.BucketCounts))}
}

// histIncrease turns a histogram point into what it adds to its window, following
// docs/semantics.md "Explicit-bucket histograms": delta points as they are;
// cumulative points with the counter rules applied to the whole histogram.
func histIncrease(agg *specs.Aggregation, p, prev *Point, staleness int64) (histDelta, error) {
	if err := checkLayout(p); err != nil {
		return histDelta{}, err
	}
	if agg.Temporality == specs.TemporalityDelta {
		return whole(p), nil
	}
	switch {
	case p.HasStart && p.Time == p.StartTime:
		return empty(p), nil
	case prev != nil && sameStart(p, prev):
		if err := checkLayout(prev); err != nil {
			return histDelta{}, fmt.Errorf("predecessor: %w", err)
		}
		if !slices.Equal(p.Bounds, prev.Bounds) {
			return histDelta{}, fmt.Errorf("cumulative histogram point at %d has bounds %v but its predecessor at %d, with the same start_time, has bounds %v; tally never re-buckets",
				p.Time, p.Bounds, prev.Time, prev.Bounds)
		}
		if p.Count < prev.Count {
			return whole(p), nil // reset
		}
		d := histDelta{count: p.Count - prev.Count, sum: p.Sum - prev.Sum, bounds: p.Bounds, counts: make([]uint64, len(p.BucketCounts))}
		for i := range p.BucketCounts {
			if p.BucketCounts[i] < prev.BucketCounts[i] {
				return whole(p), nil // a bucket decreased: reset
			}
			d.counts[i] = p.BucketCounts[i] - prev.BucketCounts[i]
		}
		return d, nil
	case prev != nil:
		return whole(p), nil // new start_time: reset
	case p.HasStart && p.Time-p.StartTime <= staleness:
		return whole(p), nil // started recently
	default:
		return empty(p), nil // baseline after a gap or with an unknown start
	}
}

// addHist merges one histogram delta into the cell. Bounds must equal those of the
// points already merged.
func (c *cell) addHist(d histDelta) error {
	if c.hist == nil {
		h, err := newHistAcc(d.bounds)
		if err != nil {
			return err
		}
		c.hist = h
	} else if !slices.Equal(c.hist.bounds, d.bounds) {
		return fmt.Errorf("histogram bounds %v differ from bounds %v of the other points of its group and window", d.bounds, c.hist.bounds)
	}
	if err := c.hist.merge(d); err != nil {
		return err
	}
	c.count += int64(d.count)
	c.sum += d.sum
	if !d.hasMinMax {
		c.minMaxMissed = true
	} else {
		if !c.hasMin || d.min < c.min {
			c.min = d.min
		}
		if !c.hasMin || d.max > c.max {
			c.max = d.max
		}
		c.hasMin = true
	}
	return nil
}
