package reference

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"time"

	"github.com/tallyhq/tally/exec"
	"github.com/tallyhq/tally/exec/hist"
	"github.com/tallyhq/tally/specs"
)

// cell accumulates one group in one window.
type cell struct {
	group  []string
	window int64 // window start, ns

	samples int64
	count   int64   // points, or observations for histograms
	sum     float64 // values (gauges, delta sums), increases (counters), observations' sum (histograms)

	// min and max of values; for histograms of the merged points, unknown once a
	// merged point lacks them.
	min, max     float64
	hasMin       bool
	minMaxMissed bool

	firstTime, lastTime int64
	first, last         float64
	hasFirst            bool

	sketch *sketchAcc        // gauge values, when quantiles or sketch are emitted
	hist   *histAcc          // merged explicit buckets (histograms)
	exp    *hist.Exponential // merged exponential buckets (exponential histograms)
}

// staleness returns the aggregation's staleness, or the default for a registry built in code.
func staleness(agg *specs.Aggregation) int64 {
	if agg.Staleness > 0 {
		return int64(agg.Staleness)
	}
	return int64(specs.DefaultStaleness)
}

// sketchAlpha returns the aggregation's sketch accuracy, or the default.
func sketchAlpha(agg *specs.Aggregation) float64 {
	if agg.SketchAlpha > 0 {
		return agg.SketchAlpha
	}
	return specs.DefaultSketchAlpha
}

// needsSketch reports whether a gauge aggregation emits quantiles or its sketch.
func needsSketch(agg *specs.Aggregation) bool {
	return agg.Type == specs.TypeGauge && (agg.Has(specs.FnSketch) || len(agg.Quantiles()) > 0)
}

func computeAggregation(reg *specs.Registry, agg *specs.Aggregation, fromNS, toNS int64, byMetric map[string][]*Point) (exec.Rollup, AggStats, error) {
	var st AggStats
	rollup := exec.Rollup{Agg: agg}
	if agg.Window <= 0 {
		return rollup, st, fmt.Errorf("aggregation %s: window %s is not positive", agg.Name, agg.Window)
	}
	switch agg.Type {
	case specs.TypeGauge, specs.TypeSum, specs.TypeHistogram, specs.TypeExponentialHistogram:
	default:
		return rollup, st, fmt.Errorf("aggregation %s: unknown type %q", agg.Name, agg.Type)
	}
	all, err := collectSeries(&reg.Source, agg, fromNS, toNS, byMetric)
	if err != nil {
		return rollup, st, err
	}
	w := int64(agg.Window)
	cells := map[string]*cell{}
	kind := agg.Kind()
	// Series in key order, each in time order: every float sum below is added in
	// exactly this order, and first/last ties resolve by series key.
	for _, s := range all {
		groupKey := tupleKey(s.group)
		pts := cleanSeries(agg, s.points, fromNS, &st)
		for i, p := range pts {
			if p.Time < fromNS {
				continue // a predecessor only
			}
			win := floorDiv(p.Time, w) * w
			k := groupKey + "@" + strconv.FormatInt(win, 10)
			c := cells[k]
			if c == nil {
				c = &cell{group: s.group, window: win}
				if needsSketch(agg) {
					c.sketch, err = newSketchAcc(sketchAlpha(agg))
					if err != nil {
						return rollup, st, fmt.Errorf("aggregation %s: %w", agg.Name, err)
					}
				}
				cells[k] = c
			}
			var prev *Point
			if i > 0 && p.Time-staleness(agg) <= pts[i-1].Time {
				prev = pts[i-1]
			}
			c.samples++
			switch kind {
			case "gauge", "sum/delta", "sum/cumulative":
				c.addValue(p.Time, p.Value)
				if c.sketch != nil {
					if err := c.sketch.add(p.Value); err != nil {
						return rollup, st, fmt.Errorf("aggregation %s, series %s: %w", agg.Name, seriesName(&reg.Source, s), err)
					}
				}
			case "sum/cumulative/monotonic":
				c.count++
				c.sum += counterIncrease(p, prev, staleness(agg))
				c.setFirstLast(p.Time, p.Value)
			case "histogram":
				d, err := histIncrease(agg, p, prev, staleness(agg))
				if err != nil {
					return rollup, st, fmt.Errorf("aggregation %s, metric %s, series %s: %w", agg.Name, s.key[0], seriesName(&reg.Source, s), err)
				}
				if err := c.addHist(d); err != nil {
					return rollup, st, fmt.Errorf("aggregation %s, metric %s, series %s, window %s: %w (fix the source, or filter the series out)",
						agg.Name, s.key[0], seriesName(&reg.Source, s), time.Unix(0, win).UTC().Format(time.RFC3339), err)
				}
			case "exponential_histogram":
				d, err := expIncrease(agg, p, prev, staleness(agg))
				if err != nil {
					return rollup, st, fmt.Errorf("aggregation %s, metric %s, series %s: %w", agg.Name, s.key[0], seriesName(&reg.Source, s), err)
				}
				if err := c.addExp(&d); err != nil {
					return rollup, st, fmt.Errorf("aggregation %s, metric %s, series %s, window %s: %w",
						agg.Name, s.key[0], seriesName(&reg.Source, s), time.Unix(0, win).UTC().Format(time.RFC3339), err)
				}
			default:
				return rollup, st, fmt.Errorf("aggregation %s: kind %s is not computed by the reference aggregator", agg.Name, kind)
			}
		}
	}
	ordered := make([]*cell, 0, len(cells))
	for _, c := range cells {
		ordered = append(ordered, c)
	}
	sort.Slice(ordered, func(i, j int) bool {
		if c := compareTuples(ordered[i].group, ordered[j].group); c != 0 {
			return c < 0
		}
		return ordered[i].window < ordered[j].window
	})
	for _, c := range ordered {
		row, err := c.row(agg)
		if err != nil {
			return rollup, st, fmt.Errorf("aggregation %s, group %v, window %s: %w", agg.Name, c.group, time.Unix(0, c.window).UTC().Format(time.RFC3339), err)
		}
		rollup.Rows = append(rollup.Rows, row)
		st.Samples += c.samples
		st.Rows++
	}
	return rollup, st, nil
}

// addValue adds one value of a gauge, delta sum or up-down counter.
func (c *cell) addValue(t int64, v float64) {
	c.count++
	c.sum += v
	if !c.hasMin || v < c.min {
		c.min = v
	}
	if !c.hasMin || v > c.max {
		c.max = v
	}
	c.hasMin = true
	c.setFirstLast(t, v)
}

// setFirstLast keeps the earliest and latest values. Callers visit series in
// ascending key order, each in time order: a strictly earlier time replaces first
// (ties keep the smallest series key) and a later or equal time replaces last
// (ties go to the largest series key).
func (c *cell) setFirstLast(t int64, v float64) {
	if !c.hasFirst || t < c.firstTime {
		c.firstTime, c.first = t, v
	}
	if !c.hasFirst || t >= c.lastTime {
		c.lastTime, c.last = t, v
	}
	c.hasFirst = true
}

// counterIncrease is increase(p) of docs/semantics.md, "Cumulative monotonic sums".
// prev is p's predecessor (the latest point of the series at most staleness
// before p), or nil.
func counterIncrease(p, prev *Point, staleness int64) float64 {
	switch {
	case p.HasStart && p.Time == p.StartTime:
		return 0 // the point that opens a series carries nothing
	case prev != nil && sameStart(p, prev) && p.Value >= prev.Value:
		return p.Value - prev.Value
	case prev != nil:
		return p.Value // a reset: new start_time or a value drop
	case p.HasStart && p.Time-p.StartTime <= staleness:
		return p.Value // the series started recently
	default:
		return 0 // unknown start or a gap: the point is the baseline
	}
}

// sameStart reports whether two points have the same start_time: both known and
// equal, or both unknown (package documentation, item 5).
func sameStart(a, b *Point) bool {
	if a.HasStart != b.HasStart {
		return false
	}
	return !a.HasStart || a.StartTime == b.StartTime
}

// row renders the cell as an output row.
func (c *cell) row(agg *specs.Aggregation) (exec.Row, error) {
	row := exec.Row{
		WindowStart: c.window / int64(time.Millisecond),
		WindowEnd:   (c.window + int64(agg.Window)) / int64(time.Millisecond),
		Dims:        append([]string(nil), c.group...),
		Samples:     c.samples,
		Count:       c.count,
	}
	isHist := isHistogram(agg)
	for _, fn := range agg.ValueFunctions() {
		v := math.NaN()
		switch fn {
		case specs.FnSum, specs.FnDelta:
			v = c.sum
		case specs.FnMin:
			if c.hasMin && !(isHist && c.minMaxMissed) {
				v = c.min
			}
		case specs.FnMax:
			if c.hasMin && !(isHist && c.minMaxMissed) {
				v = c.max
			}
		case specs.FnAvg:
			v = c.sum / float64(c.count)
		case specs.FnFirst:
			v = c.first
		case specs.FnLast:
			v = c.last
		case specs.FnRate:
			v = c.sum / agg.Window.Seconds()
		default:
			q, ok := specs.ParseQuantile(fn)
			if !ok {
				return row, fmt.Errorf("function %q is not computed by the reference aggregator", fn)
			}
			var err error
			switch {
			case c.sketch != nil:
				v, err = c.sketch.quantile(q)
			case c.hist != nil:
				v, err = c.hist.quantile(q)
			case c.exp != nil:
				v = c.exp.Quantile(q)
			default:
				err = fmt.Errorf("quantile %s has no sketch or histogram to read", fn)
			}
			if err != nil {
				return row, fmt.Errorf("%s: %w", fn, err)
			}
		}
		row.Values = append(row.Values, v)
	}
	if agg.Has(specs.FnSketch) && c.sketch != nil {
		b, err := c.sketch.encode()
		if err != nil {
			return row, fmt.Errorf("encode sketch: %w", err)
		}
		row.Sketch = b
	}
	if agg.Has(specs.FnBuckets) && c.hist != nil {
		row.Hist = c.hist.histogram()
	}
	if agg.Has(specs.FnBuckets) && c.exp != nil {
		row.Exp = expHistogram(c.exp)
	}
	return row, nil
}
