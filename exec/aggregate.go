package exec

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/tallyhq/tally/exec/hist"
	"github.com/tallyhq/tally/specs"
)

// aggregator computes one aggregation of one task from the sorted series.
type aggregator struct {
	st    *taskState
	ss    *sortedSeries
	agg   *specs.Aggregation
	ai    int
	stats *AggStats

	window   int64
	nWindows int
	accs     []acc
	valueFns []string
	quant    []float64 // rank per value function that is a quantile, NaN otherwise
	kind     string
	sketch   bool // gauge values feed a DDSketch
	slab     []float64
	rows     []Row // the result, once run returns
}

// acc accumulates one group in one window.
type acc struct {
	samples       int64
	count         int64
	sum           float64
	min, max      float64
	firstT, lastT int64
	first, last   float64
	firstS, lastS int // series of first/last (tie rules)
	delta         float64
	sketch        *hist.Sketch
	h             *hist.Explicit
	e             *hist.Exponential
	minMaxUnknown bool
}

func (a *acc) reset() {
	*a = acc{min: math.Inf(1), max: math.Inf(-1), firstT: math.MaxInt64, lastT: math.MinInt64}
}

// binding is one series that feeds one group of the aggregation.
type binding struct {
	group  int
	series int
}

func (ag *aggregator) run() ([]Row, error) {
	a, ss, in := ag.agg, ag.ss, ag.st.in
	ag.window = int64(a.Window)
	ag.nWindows = int((ag.st.end - ag.st.start) / ag.window)
	ag.valueFns = a.ValueFunctions()
	ag.kind = a.Kind()
	ag.sketch = a.Type == specs.TypeGauge && (a.Has(specs.FnSketch) || len(a.Quantiles()) > 0)
	ag.quant = make([]float64, len(ag.valueFns))
	for i, f := range ag.valueFns {
		ag.quant[i] = math.NaN()
		if q, ok := specs.ParseQuantile(f); ok {
			ag.quant[i] = q
		}
	}
	src := &ag.st.e.reg.Source
	dimPos := map[string]int{}
	for i, d := range src.Dimensions {
		dimPos[d] = i + 1
	}
	wantMetric := map[string]bool{}
	for _, m := range a.Metrics {
		wantMetric[m] = true
	}
	type filt struct {
		pos    int
		negate bool
		values map[string]bool
	}
	var filters []filt
	for _, f := range a.Filters {
		vals := map[string]bool{}
		for _, v := range f.Values {
			vals[v] = true
		}
		filters = append(filters, filt{pos: dimPos[f.Dimension], negate: f.Op == specs.OpNe || f.Op == specs.OpNotIn, values: vals})
	}
	groupPos := make([]int, len(a.GroupBy))
	for i, g := range a.GroupBy {
		groupPos[i] = dimPos[g]
	}

	// Bind series to groups.
	groupIdx := map[string]int{}
	var groupKeys [][]string
	var groupIDs [][]uint32 // interned ids of groupKeys, compared by string rank
	var binds []binding
	buf := make([]byte, 0, 64)
	for s, key := range ss.keys {
		if !wantMetric[in.str(key[0])] {
			continue
		}
		ok := true
		for _, f := range filters {
			if f.values[in.str(key[f.pos])] == f.negate {
				ok = false
				break
			}
		}
		if !ok {
			continue
		}
		buf = buf[:0]
		for _, p := range groupPos {
			buf = binary.LittleEndian.AppendUint32(buf, key[p])
		}
		g, seen := groupIdx[string(buf)]
		if !seen {
			g = len(groupKeys)
			groupIdx[string(buf)] = g
			vals := make([]string, len(groupPos))
			ids := make([]uint32, len(groupPos))
			for i, p := range groupPos {
				vals[i], ids[i] = in.str(key[p]), key[p]
			}
			groupKeys = append(groupKeys, vals)
			groupIDs = append(groupIDs, ids)
			if len(groupKeys) > ag.st.e.cfg.MaxGroups {
				return nil, fmt.Errorf("aggregation %q has more than %d groups in this task (--max-groups); its group_by %v is too fine for one task: raise --max-groups if memory allows, or group by fewer dimensions",
					a.Name, ag.st.e.cfg.MaxGroups, a.GroupBy)
			}
		}
		binds = append(binds, binding{group: g, series: s})
		d := ss.drops[s]
		ag.stats.DroppedNonFinite += d.nonFinite
		ag.stats.DroppedNull += d.null
		ag.stats.Duplicates += d.dup
		ag.stats.ConflictingDuplicates += d.conflict
	}
	// Groups in dimension order; series within a group in key order.
	order := make([]int, len(groupKeys))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(x, y int) int {
		a, b := groupIDs[x], groupIDs[y]
		for i := range a {
			if a[i] != b[i] {
				return cmp.Compare(ss.rank[a[i]], ss.rank[b[i]])
			}
		}
		return 0
	})
	rank := make([]int, len(groupKeys))
	for r, g := range order {
		rank[g] = r
	}
	slices.SortFunc(binds, func(x, y binding) int {
		if rank[x.group] != rank[y.group] {
			return rank[x.group] - rank[y.group]
		}
		return x.series - y.series
	})
	ag.stats.Groups = int64(len(groupKeys))

	ag.accs = make([]acc, ag.nWindows)
	var rows []Row
	groupsDone := 0
	for i := 0; i < len(binds); {
		if groupsDone == 16 && len(rows) > 0 {
			// Every group tends to have data in as many windows as the first ones.
			rows = slices.Grow(rows, len(rows)*len(groupKeys)/groupsDone+ag.nWindows)
		}
		groupsDone++
		j := i
		for j < len(binds) && binds[j].group == binds[i].group {
			j++
		}
		for w := range ag.accs {
			ag.accs[w].reset()
		}
		for _, b := range binds[i:j] {
			if err := ag.addSeries(b.series); err != nil {
				return nil, err
			}
		}
		var err error
		rows, err = ag.emit(rows, groupKeys[binds[i].group])
		if err != nil {
			return nil, err
		}
		i = j
	}
	ag.stats.Rows = int64(len(rows))
	return rows, nil
}

// windowOf returns the window index of t in the task.
func (ag *aggregator) windowOf(t int64) int { return int((t - ag.st.start) / ag.window) }

// late reports whether the point missed its window under the lateness rule.
func (ag *aggregator) late(p *point) bool {
	l := ag.st.e.cfg.Lateness
	if l == nil || p.ingest == noTime {
		return false
	}
	w := ag.windowOf(p.time)
	windowEnd := ag.st.start + int64(w+1)*ag.window
	return p.ingest >= windowEnd+int64(l.Grace)
}

func (ag *aggregator) addSeries(s int) error {
	pts := ag.ss.pts[ag.ss.offs[s]:ag.ss.offs[s+1]]
	a := ag.agg
	switch ag.kind {
	case "sum/cumulative/monotonic":
		return ag.addCounter(s, pts)
	case specs.TypeHistogram:
		return ag.addHistogram(s, pts)
	case specs.TypeExponentialHistogram:
		return ag.addExponential(s, pts)
	}
	for i := range pts {
		p := &pts[i]
		if p.flags&flagCandidate != 0 {
			continue
		}
		if ag.late(p) {
			ag.stats.Late++
			continue
		}
		ac := &ag.accs[ag.windowOf(p.time)]
		ac.samples++
		ac.count++
		v := p.value
		ac.sum += v
		ac.min = math.Min(ac.min, v)
		ac.max = math.Max(ac.max, v)
		if p.time < ac.firstT {
			ac.firstT, ac.first, ac.firstS = p.time, v, s
		}
		if p.time >= ac.lastT {
			ac.lastT, ac.last, ac.lastS = p.time, v, s
		}
		if ag.sketch {
			if ac.sketch == nil {
				sk, err := hist.NewSketch(a.SketchAlpha)
				if err != nil {
					return fmt.Errorf("aggregation %q: %w", a.Name, err)
				}
				ac.sketch = sk
			}
			if err := ac.sketch.Add(v); err != nil {
				return fmt.Errorf("aggregation %q: %w", a.Name, err)
			}
		}
	}
	return nil
}

// increase applies the counter rules of docs/semantics.md to p given its predecessor.
// predecessor classifies a cumulative point against its predecessor with the counter
// rules of docs/semantics.md; every cumulative kind (sums, histograms) uses it.
type predecessor int

const (
	predNone      predecessor = iota // contributes nothing: a start point or a baseline
	predContinues                    // same start: the increase is the difference
	predReset                        // new start or a drop within staleness: the point itself
	predFresh                        // no predecessor, started within staleness: the point itself
)

func classify(p, prev *point, staleness int64) predecessor {
	if p.start != noTime && p.time == p.start {
		return predNone
	}
	if prev != nil && p.time-prev.time <= staleness {
		if p.start == prev.start {
			return predContinues
		}
		return predReset
	}
	if p.start != noTime && p.time-p.start <= staleness && p.start <= p.time {
		return predFresh
	}
	return predNone
}

// increase applies the counter rules to p given its predecessor.
func increase(p, prev *point, staleness int64) (float64, bool) {
	switch classify(p, prev, staleness) {
	case predContinues:
		if p.value >= prev.value {
			return p.value - prev.value, false
		}
		return p.value, true // a drop is a reset
	case predReset:
		return p.value, true
	case predFresh:
		return p.value, false
	}
	return 0, false
}

func (ag *aggregator) addCounter(s int, pts []point) error {
	staleness := int64(ag.agg.Staleness)
	var prev *point
	for i := range pts {
		p := &pts[i]
		if p.flags&flagCandidate != 0 {
			prev = p
			continue
		}
		if ag.late(p) {
			ag.stats.Late++
			continue
		}
		inc, reset := increase(p, prev, staleness)
		if reset {
			ag.stats.Resets++
		}
		prev = p
		ac := &ag.accs[ag.windowOf(p.time)]
		ac.samples++
		ac.count++
		ac.delta += inc
		if p.time >= ac.lastT {
			ac.lastT, ac.last, ac.lastS = p.time, p.value, s
		}
	}
	return nil
}

func (ag *aggregator) addHistogram(s int, pts []point) error {
	hists := ag.ss.hists
	staleness := int64(ag.agg.Staleness)
	return ag.forEachDistribution(s, pts, func(p, prev *point, ac *acc, cumulative bool) (bool, error) {
		hp, reset := hists[p.hist], false
		if cumulative {
			var err error
			if hp, reset, err = cumulativeDelta(p, prev, hists, staleness); err != nil {
				return false, err
			}
		}
		if ac.h == nil {
			ac.h = &hist.Explicit{}
		}
		if hp.count == 0 && len(hp.counts) == 0 {
			return reset, nil // a baseline or start point: counts, contributes nothing
		}
		return reset, ac.h.Merge(hp.bounds, hp.counts, hp.count, hp.sum, hp.min, hp.max, hp.hasMinMax)
	})
}

// addExponential merges exponential histogram points (deltas of cumulative ones).
func (ag *aggregator) addExponential(s int, pts []point) error {
	hists := ag.ss.hists
	staleness := int64(ag.agg.Staleness)
	return ag.forEachDistribution(s, pts, func(p, prev *point, ac *acc, cumulative bool) (bool, error) {
		delta, reset := hists[p.hist].exp, false
		if cumulative {
			delta, reset = expDelta(p, prev, hists, staleness)
		}
		if ac.e == nil {
			ac.e = &hist.Exponential{}
		}
		if delta == nil {
			return reset, nil // a baseline or start point: counts, contributes nothing
		}
		return reset, ac.e.Merge(delta)
	})
}

// forEachDistribution walks one series' histogram points: predecessors are remembered,
// late points dropped, and add merges each counted point (the delta since prev for
// cumulative histograms) into its window's accumulator.
func (ag *aggregator) forEachDistribution(s int, pts []point, add func(p, prev *point, ac *acc, cumulative bool) (reset bool, err error)) error {
	a := ag.agg
	cumulative := a.Temporality == specs.TemporalityCumulative
	var prev *point
	for i := range pts {
		p := &pts[i]
		if p.flags&flagCandidate != 0 {
			prev = p
			continue
		}
		if ag.late(p) {
			ag.stats.Late++
			continue
		}
		w := ag.windowOf(p.time)
		ac := &ag.accs[w]
		ac.samples++
		reset, err := add(p, prev, ac, cumulative)
		if err != nil {
			return fmt.Errorf("aggregation %q, metric %q, series %s, window starting %s: %w",
				a.Name, ag.st.in.str(ag.ss.keys[s][0]), ag.seriesName(s), fmtTime(ag.st.start+int64(w)*ag.window), err)
		}
		if reset {
			ag.stats.Resets++
		}
		if cumulative {
			prev = p
		}
	}
	return nil
}

// expDelta turns a cumulative exponential point into the delta since its predecessor
// (nil: contributes nothing) following the counter rules.
func expDelta(p, prev *point, hists []histPoint, staleness int64) (*hist.Exponential, bool) {
	cur := hists[p.hist].exp
	switch classify(p, prev, staleness) {
	case predContinues:
		d := &hist.Exponential{}
		if err := d.Sub(cur, hists[prev.hist].exp); err == nil {
			return d, false
		}
		return cur, true // a bucket dropped: a reset
	case predReset:
		return cur, true
	case predFresh:
		return cur, false
	}
	return nil, false
}

func expValue(e *hist.Exponential, fn string, q float64) float64 {
	return distValue(e.Count, e.Sum, e.Min, e.Max, e.HasMinMax, fn, q, e.Quantile)
}

// distValue is a scalar function of a merged histogram; unknown values are NaN.
func distValue(count uint64, sum, min, max float64, hasMinMax bool, fn string, q float64, quantile func(float64) float64) float64 {
	switch fn {
	case specs.FnSum:
		return sum
	case specs.FnMin:
		if hasMinMax {
			return min
		}
		return math.NaN()
	case specs.FnMax:
		if hasMinMax {
			return max
		}
		return math.NaN()
	case specs.FnAvg:
		if count == 0 {
			return math.NaN()
		}
		return sum / float64(count)
	}
	if !math.IsNaN(q) && count > 0 {
		return quantile(q)
	}
	return math.NaN()
}

// cumulativeDelta turns a cumulative histogram point into the delta since its predecessor.
func cumulativeDelta(p, prev *point, hists []histPoint, staleness int64) (histPoint, bool, error) {
	cur := hists[p.hist]
	switch classify(p, prev, staleness) {
	case predContinues:
		ph := hists[prev.hist]
		if cur.count < ph.count {
			return cur, true, nil // the count dropped: a reset
		}
		if !slices.Equal(cur.bounds, ph.bounds) {
			return histPoint{}, false, fmt.Errorf("cumulative histogram changed bounds from %v to %v without a new start_time", ph.bounds, cur.bounds)
		}
		d := histPoint{bounds: cur.bounds, counts: make([]uint64, len(cur.counts)), count: cur.count - ph.count, sum: cur.sum - ph.sum, min: math.NaN(), max: math.NaN()}
		for i := range cur.counts {
			if cur.counts[i] < ph.counts[i] {
				return cur, true, nil // a bucket dropped: a reset
			}
			d.counts[i] = cur.counts[i] - ph.counts[i]
		}
		return d, false, nil
	case predReset:
		return cur, true, nil
	case predFresh:
		return cur, false, nil
	}
	return histPoint{bounds: cur.bounds, counts: make([]uint64, len(cur.counts)), min: math.NaN(), max: math.NaN()}, false, nil
}

func (ag *aggregator) seriesName(s int) string {
	key := ag.ss.keys[s]
	src := &ag.st.e.reg.Source
	parts := []string{ag.st.in.str(key[0])}
	for i, d := range src.Dimensions {
		parts = append(parts, d+"="+ag.st.in.str(key[i+1]))
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

// emit appends the rows of one group.
func (ag *aggregator) emit(rows []Row, dims []string) ([]Row, error) {
	a := ag.agg
	secs := float64(ag.window) / 1e9
	for w := range ag.accs {
		ac := &ag.accs[w]
		if ac.samples == 0 {
			continue
		}
		start := ag.st.start + int64(w)*ag.window
		r := Row{
			WindowStart: start / 1e6,
			WindowEnd:   (start + ag.window) / 1e6,
			Dims:        dims,
			Samples:     ac.samples,
			Count:       ac.count,
			Values:      ag.values(),
		}
		h := ac.h
		if a.Type == specs.TypeHistogram {
			if h == nil {
				h = &hist.Explicit{}
			}
			r.Count = int64(h.Count)
		}
		if a.Type == specs.TypeExponentialHistogram {
			e := ac.e
			if e == nil {
				e = &hist.Exponential{}
			}
			e.Fold()
			r.Count = int64(e.Count)
			for i, fn := range ag.valueFns {
				r.Values[i] = expValue(e, fn, ag.quant[i])
			}
			if a.Has(specs.FnBuckets) {
				r.Exp = &ExpHistogram{Scale: e.Scale, ZeroCount: e.ZeroCount, ZeroThreshold: e.ZeroThreshold,
					PositiveOffset: e.Positive.Offset, PositiveCounts: slices.Clone(e.Positive.Counts),
					NegativeOffset: e.Negative.Offset, NegativeCounts: slices.Clone(e.Negative.Counts)}
			}
			rows = append(rows, r)
			continue
		}
		for i, fn := range ag.valueFns {
			r.Values[i] = ag.value(ac, h, fn, ag.quant[i], secs)
		}
		if a.Has(specs.FnBuckets) && h != nil {
			r.Hist = &Histogram{Bounds: slices.Clone(h.Bounds), Counts: slices.Clone(h.Counts)}
		}
		if a.Has(specs.FnSketch) {
			if ac.sketch != nil {
				r.Sketch = ac.sketch.Encode()
			}
		}
		rows = append(rows, r)
	}
	return rows, nil
}

// values hands out the Values slice of one row from a shared slab.
func (ag *aggregator) values() []float64 {
	n := len(ag.valueFns)
	if len(ag.slab) < n {
		ag.slab = make([]float64, n*4096)
	}
	v := ag.slab[:n:n]
	ag.slab = ag.slab[n:]
	return v
}

func (ag *aggregator) value(ac *acc, h *hist.Explicit, fn string, q float64, secs float64) float64 {
	a := ag.agg
	if a.Type == specs.TypeHistogram {
		return distValue(h.Count, h.Sum, h.Min, h.Max, h.HasMinMax, fn, q, h.Quantile)
	}
	switch fn {
	case specs.FnSum:
		return ac.sum
	case specs.FnMin:
		return ac.min
	case specs.FnMax:
		return ac.max
	case specs.FnAvg:
		return ac.sum / float64(ac.count)
	case specs.FnFirst:
		return ac.first
	case specs.FnLast:
		return ac.last
	case specs.FnDelta:
		return ac.delta
	case specs.FnRate:
		if ag.kind == "sum/delta" {
			return ac.sum / secs
		}
		return ac.delta / secs
	}
	if !math.IsNaN(q) && ac.sketch != nil {
		return ac.sketch.Quantile(q)
	}
	return math.NaN()
}
