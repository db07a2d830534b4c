// Package coarsen computes a coarser rollup (1h, 1d) from a finer rollup of the same
// metric instead of from raw data — a rollup of rollups. Only functions that compose
// exactly are computed: count, sum, min, max, delta, rate, avg (from sum and count),
// first and last (from the finer first and last, same group_by only), histogram buckets
// and the quantiles read from them, and DDSketches and their quantiles. Anything else is
// refused by Check with a message naming the function and what the finer rollup lacks.
package coarsen

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/tallyhq/tally/exec"
	"github.com/tallyhq/tally/exec/hist"
	"github.com/tallyhq/tally/specs"
)

// Check reports why coarse cannot be computed from fine's rollup (nil when it can).
func Check(fine, coarse *specs.Aggregation) error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("aggregation %q from rollup %q: "+format, append([]any{coarse.Name, fine.Name}, args...)...))
	}
	if !slices.Equal(sorted(fine.Metrics), sorted(coarse.Metrics)) {
		bad("metrics %v differ from %v", coarse.Metrics, fine.Metrics)
	}
	if fine.Kind() != coarse.Kind() {
		bad("kind %s differs from %s", coarse.Kind(), fine.Kind())
	}
	if fine.Window <= 0 || coarse.Window%fine.Window != 0 || coarse.Window == fine.Window {
		bad("window %s is not a multiple of %s", specs.FormatWindow(coarse.Window), specs.FormatWindow(fine.Window))
	}
	if !filtersEqual(fine.Filters, coarse.Filters) {
		bad("filters differ; a rollup cannot be re-filtered")
	}
	for _, g := range coarse.GroupBy {
		if !slices.Contains(fine.GroupBy, g) {
			bad("group_by %q is not in the finer rollup's group_by %v", g, fine.GroupBy)
		}
	}
	sameGroups := len(coarse.GroupBy) == len(fine.GroupBy)
	if coarse.Kind() == "sum/cumulative/monotonic" && coarse.Staleness != fine.Staleness {
		bad("staleness %s differs from %s", coarse.Staleness, fine.Staleness)
	}
	need := func(fn, what string) {
		if !fine.Has(what) {
			bad("function %s needs %s in the finer rollup, which emits %v", fn, what, fine.Functions)
		}
	}
	for _, fn := range coarse.Functions {
		switch {
		case fn == specs.FnCount, fn == specs.FnSum, fn == specs.FnMin, fn == specs.FnMax, fn == specs.FnDelta:
			need(fn, fn)
		case fn == specs.FnAvg:
			need(fn, specs.FnSum)
			need(fn, specs.FnCount)
		case fn == specs.FnRate:
			if coarse.Kind() == "sum/cumulative/monotonic" {
				need(fn, specs.FnDelta)
			} else {
				need(fn, specs.FnSum)
			}
		case fn == specs.FnFirst, fn == specs.FnLast:
			need(fn, fn)
			if !sameGroups {
				bad("function %s is exact only with the same group_by: ties between the merged groups are decided by series the rollup no longer has", fn)
			}
		case fn == specs.FnBuckets:
			need(fn, specs.FnBuckets)
		case fn == specs.FnSketch:
			need(fn, specs.FnSketch)
			if coarse.SketchAlpha != fine.SketchAlpha {
				bad("sketch_alpha %v differs from %v", coarse.SketchAlpha, fine.SketchAlpha)
			}
		case specs.IsQuantile(fn):
			if coarse.Type == specs.TypeGauge {
				need(fn, specs.FnSketch)
				if coarse.SketchAlpha != fine.SketchAlpha {
					bad("sketch_alpha %v differs from %v", coarse.SketchAlpha, fine.SketchAlpha)
				}
			} else {
				need(fn, specs.FnBuckets)
			}
		default:
			bad("function %s does not compose", fn)
		}
	}
	return errors.Join(errs...)
}

func sorted(s []string) []string {
	c := slices.Clone(s)
	slices.Sort(c)
	return c
}

func filtersEqual(a, b []specs.Filter) bool {
	norm := func(fs []specs.Filter) []string {
		var out []string
		for _, f := range fs {
			op := f.Op
			if op == specs.OpEq {
				op = specs.OpIn
			}
			if op == specs.OpNe {
				op = specs.OpNotIn
			}
			out = append(out, f.Dimension+" "+op+" "+strings.Join(sorted(f.Values), "\x00"))
		}
		slices.Sort(out)
		return out
	}
	return slices.Equal(norm(a), norm(b))
}

// acc accumulates the finer rows of one coarse row.
type acc struct {
	row              exec.Row
	count            int64
	sum, delta       float64
	min, max         float64
	firstW, lastW    int64
	first, last      float64
	h                *hist.Explicit
	e                *hist.Exponential
	sk               *hist.Sketch
	minMaxKnown      bool
	minMaxSeen       bool
	histMinMaxMissed bool
}

// Rollup computes coarse's rows from fine's rows (from any number of finer tasks, in
// any order). Check must have passed. Rows are returned sorted by dims, then window.
func Rollup(fine exec.Rollup, coarse *specs.Aggregation) (exec.Rollup, error) {
	if err := Check(fine.Agg, coarse); err != nil {
		return exec.Rollup{}, err
	}
	f := fine.Agg
	pos := make([]int, len(coarse.GroupBy))
	for i, g := range coarse.GroupBy {
		pos[i] = slices.Index(f.GroupBy, g)
	}
	fineIdx := map[string]int{}
	for i, fn := range f.ValueFunctions() {
		fineIdx[fn] = i
	}
	val := func(r *exec.Row, fn string) float64 { return r.Values[fineIdx[fn]] }
	w := coarse.Window.Milliseconds()
	rows := slices.Clone(fine.Rows)
	// Order finer rows by window so that sums add up in time order, whatever order the
	// finer tasks came in.
	slices.SortStableFunc(rows, func(a, b exec.Row) int {
		if c := slices.Compare(project(a.Dims, pos), project(b.Dims, pos)); c != 0 {
			return c
		}
		if a.WindowStart != b.WindowStart {
			return int(a.WindowStart - b.WindowStart)
		}
		return slices.Compare(a.Dims, b.Dims)
	})
	index := map[string]*acc{}
	var order []*acc
	for i := range rows {
		r := &rows[i]
		dims := project(r.Dims, pos)
		ws := floorDiv(r.WindowStart, w) * w
		key := strings.Join(dims, "\x00") + "\x00" + fmt.Sprint(ws)
		a, ok := index[key]
		if !ok {
			a = &acc{row: exec.Row{WindowStart: ws, WindowEnd: ws + w, Dims: dims}, min: math.Inf(1), max: math.Inf(-1), firstW: math.MaxInt64, lastW: math.MinInt64, minMaxKnown: true}
			index[key] = a
			order = append(order, a)
		}
		a.row.Samples += r.Samples
		a.count += r.Count
		if f.Has(specs.FnSum) {
			a.sum += val(r, specs.FnSum)
		}
		if f.Has(specs.FnDelta) {
			a.delta += val(r, specs.FnDelta)
		}
		if f.Has(specs.FnMin) {
			if v := val(r, specs.FnMin); math.IsNaN(v) {
				a.minMaxKnown = false
			} else {
				a.min = math.Min(a.min, v)
			}
		}
		if f.Has(specs.FnMax) {
			if v := val(r, specs.FnMax); math.IsNaN(v) {
				a.minMaxKnown = false
			} else {
				a.max = math.Max(a.max, v)
			}
		}
		if f.Has(specs.FnFirst) && r.WindowStart < a.firstW {
			a.firstW, a.first = r.WindowStart, val(r, specs.FnFirst)
		}
		if f.Has(specs.FnLast) && r.WindowStart >= a.lastW {
			a.lastW, a.last = r.WindowStart, val(r, specs.FnLast)
		}
		if r.Hist != nil {
			if a.h == nil {
				a.h = &hist.Explicit{}
			}
			var cnt uint64
			for _, c := range r.Hist.Counts {
				cnt += c
			}
			mn, mx := math.NaN(), math.NaN()
			has := false
			if f.Has(specs.FnMin) && f.Has(specs.FnMax) && !math.IsNaN(val(r, specs.FnMin)) && !math.IsNaN(val(r, specs.FnMax)) {
				mn, mx, has = val(r, specs.FnMin), val(r, specs.FnMax), true
			}
			sum := 0.0
			if f.Has(specs.FnSum) {
				sum = val(r, specs.FnSum)
			}
			if cnt > 0 {
				if err := a.h.Merge(r.Hist.Bounds, r.Hist.Counts, cnt, sum, mn, mx, has); err != nil {
					return exec.Rollup{}, fmt.Errorf("aggregation %q from rollup %q, group %v: %w", coarse.Name, f.Name, dims, err)
				}
			}
		}
		if r.Exp != nil {
			if a.e == nil {
				a.e = &hist.Exponential{}
			}
			pt := &hist.Exponential{Scale: r.Exp.Scale, ZeroCount: r.Exp.ZeroCount, ZeroThreshold: r.Exp.ZeroThreshold,
				Positive: hist.Buckets{Offset: r.Exp.PositiveOffset, Counts: r.Exp.PositiveCounts},
				Negative: hist.Buckets{Offset: r.Exp.NegativeOffset, Counts: r.Exp.NegativeCounts}, Count: uint64(r.Count)}
			if f.Has(specs.FnSum) {
				pt.Sum = val(r, specs.FnSum)
			}
			if err := a.e.Merge(pt); err != nil {
				return exec.Rollup{}, fmt.Errorf("aggregation %q from rollup %q, group %v: %w", coarse.Name, f.Name, dims, err)
			}
		}
		if len(r.Sketch) > 0 {
			sk, err := hist.DecodeSketch(r.Sketch)
			if err != nil {
				return exec.Rollup{}, fmt.Errorf("aggregation %q from rollup %q, group %v: sketch: %w", coarse.Name, f.Name, dims, err)
			}
			if a.sk == nil {
				a.sk = sk
			} else if err := a.sk.Merge(sk); err != nil {
				return exec.Rollup{}, err
			}
		}
	}
	secs := coarse.Window.Seconds()
	out := exec.Rollup{Agg: coarse}
	for _, a := range order {
		r := a.row
		r.Count = a.count
		for _, fn := range coarse.ValueFunctions() {
			r.Values = append(r.Values, a.value(coarse, fn, secs))
		}
		if coarse.Has(specs.FnBuckets) {
			if a.h != nil {
				r.Hist = &exec.Histogram{Bounds: slices.Clone(a.h.Bounds), Counts: slices.Clone(a.h.Counts)}
			}
			if a.e != nil {
				a.e.Fold()
				r.Exp = &exec.ExpHistogram{Scale: a.e.Scale, ZeroCount: a.e.ZeroCount, ZeroThreshold: a.e.ZeroThreshold,
					PositiveOffset: a.e.Positive.Offset, PositiveCounts: slices.Clone(a.e.Positive.Counts),
					NegativeOffset: a.e.Negative.Offset, NegativeCounts: slices.Clone(a.e.Negative.Counts)}
			}
		}
		if coarse.Has(specs.FnSketch) && a.sk != nil {
			r.Sketch = a.sk.Encode()
		}
		out.Rows = append(out.Rows, r)
	}
	slices.SortFunc(out.Rows, func(x, y exec.Row) int {
		if c := slices.Compare(x.Dims, y.Dims); c != 0 {
			return c
		}
		return int(x.WindowStart - y.WindowStart)
	})
	return out, nil
}

func (a *acc) value(coarse *specs.Aggregation, fn string, secs float64) float64 {
	switch fn {
	case specs.FnSum:
		return a.sum
	case specs.FnDelta:
		return a.delta
	case specs.FnMin:
		if !a.minMaxKnown {
			return math.NaN()
		}
		return a.min
	case specs.FnMax:
		if !a.minMaxKnown {
			return math.NaN()
		}
		return a.max
	case specs.FnAvg:
		if a.count == 0 {
			return math.NaN()
		}
		return a.sum / float64(a.count)
	case specs.FnRate:
		if coarse.Kind() == "sum/cumulative/monotonic" {
			return a.delta / secs
		}
		return a.sum / secs
	case specs.FnFirst:
		return a.first
	case specs.FnLast:
		return a.last
	}
	if q, ok := specs.ParseQuantile(fn); ok {
		switch {
		case coarse.Type == specs.TypeGauge && a.sk != nil:
			return a.sk.Quantile(q)
		case a.h != nil:
			return a.h.Quantile(q)
		case a.e != nil && a.e.Count > 0:
			return a.e.Quantile(q)
		}
	}
	return math.NaN()
}

func project(dims []string, pos []int) []string {
	out := make([]string, len(pos))
	for i, p := range pos {
		out[i] = dims[p]
	}
	return out
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}
