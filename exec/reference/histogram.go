package reference

import (
	"fmt"
	"math"
	"math/bits"
	"slices"
	"time"

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

// checkPoint validates a histogram point: one more bucket count than bounds,
// bounds finite and strictly increasing, bucket counts summing to count, and min ≤
// max, both finite, when present. An invalid point fails the run: the contract
// has no rule to repair one.
func checkPoint(p *Point) error {
	at := time.Unix(0, p.Time).UTC().Format(time.RFC3339Nano)
	if len(p.BucketCounts) != len(p.Bounds)+1 {
		return fmt.Errorf("histogram point at %s has %d bucket counts for %d bounds %v; it needs one more count than bounds",
			at, len(p.BucketCounts), len(p.Bounds), p.Bounds)
	}
	for i, b := range p.Bounds {
		if math.IsNaN(b) || math.IsInf(b, 0) || (i > 0 && b <= p.Bounds[i-1]) {
			return fmt.Errorf("histogram point at %s has bounds %v that are not finite and strictly increasing", at, p.Bounds)
		}
	}
	var total uint64
	for _, c := range p.BucketCounts {
		var carry uint64
		if total, carry = bits.Add64(total, c, 0); carry != 0 {
			return fmt.Errorf("histogram point at %s has bucket counts %v that overflow uint64", at, p.BucketCounts)
		}
	}
	if total != p.Count {
		return fmt.Errorf("histogram point at %s has count %d but its bucket counts %v sum to %d", at, p.Count, p.BucketCounts, total)
	}
	if p.HasMinMax && !(p.Min <= p.Max && !math.IsInf(p.Min, 0) && !math.IsInf(p.Max, 0)) {
		return fmt.Errorf("histogram point at %s has min %v and max %v; want finite min <= max", at, p.Min, p.Max)
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
	if err := checkPoint(p); err != nil {
		return histDelta{}, err
	}
	if agg.Temporality == specs.TemporalityDelta {
		return whole(p), nil
	}
	switch {
	case p.HasStart && p.Time == p.StartTime:
		return empty(p), nil
	case prev != nil && sameStart(p, prev):
		if err := checkPoint(prev); err != nil {
			return histDelta{}, fmt.Errorf("predecessor: %w", err)
		}
		if !slices.Equal(p.Bounds, prev.Bounds) {
			return histDelta{}, fmt.Errorf("cumulative histogram point at %d has bounds %v but its predecessor at %d, with the same start_time, has bounds %v; tally never re-buckets",
				p.Time, p.Bounds, prev.Time, prev.Bounds)
		}
		if p.Count < prev.Count {
			return whole(p), nil // reset (valid points: some bucket decreased too)
		}
		if prev.Count == 0 {
			return whole(p), nil // the difference is the point itself, min and max included
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
	c.addObservations(d.count, d.sum, d.min, d.max, d.hasMinMax)
	return nil
}

// addObservations adds a histogram delta's count, sum, min and max to the cell.
// A delta without observations cannot lack min and max (package documentation,
// item 7).
func (c *cell) addObservations(count uint64, sum, mn, mx float64, hasMinMax bool) {
	c.count += int64(count)
	c.sum += sum
	if count == 0 {
		return
	}
	if !hasMinMax {
		c.minMaxMissed = true
		return
	}
	if !c.hasMin || mn < c.min {
		c.min = mn
	}
	if !c.hasMin || mx > c.max {
		c.max = mx
	}
	c.hasMin = true
}
