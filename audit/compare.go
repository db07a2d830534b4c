package audit

import (
	"fmt"
	"math"
	"slices"
	"strconv"

	"github.com/tallyhq/tally/exec"
	"github.com/tallyhq/tally/exec/hist"
	"github.com/tallyhq/tally/specs"
)

// Default tolerances of float functions.
const (
	DefaultRelTolerance = 1e-9
	DefaultAbsTolerance = 1e-12
)

// sketchQuantiles are the ranks at which two sketches are compared.
var sketchQuantiles = []float64{0, 0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 1}

// Tolerance says when two float values are equal: |a−b| <= Abs + Rel·max(|a|,|b|).
// Counts and bucket counts are always compared exactly; quantiles of sketches (gauge
// pNN and the sketch function) within the aggregation's sketch alpha.
type Tolerance struct {
	Rel float64 `json:"relative"`
	Abs float64 `json:"absolute"`
}

// DefaultTolerance returns the default float tolerance.
func DefaultTolerance() Tolerance {
	return Tolerance{Rel: DefaultRelTolerance, Abs: DefaultAbsTolerance}
}

// Validate checks that both bounds are finite and not negative.
func (t Tolerance) Validate() error {
	if !(t.Rel >= 0) || math.IsInf(t.Rel, 0) {
		return fmt.Errorf("relative tolerance %v must be a finite number >= 0", t.Rel)
	}
	if !(t.Abs >= 0) || math.IsInf(t.Abs, 0) {
		return fmt.Errorf("absolute tolerance %v must be a finite number >= 0", t.Abs)
	}
	return nil
}

// within reports whether a and b are equal within rel and abs; NaN equals NaN and an
// infinity equals only itself.
func within(a, b, rel, abs float64) bool {
	if a == b || (math.IsNaN(a) && math.IsNaN(b)) {
		return true
	}
	if math.IsNaN(a) || math.IsNaN(b) || math.IsInf(a, 0) || math.IsInf(b, 0) {
		return false
	}
	return math.Abs(a-b) <= abs+rel*math.Max(math.Abs(a), math.Abs(b))
}

// Diff is one function whose batch and stream values differ.
type Diff struct {
	Function string `json:"function"`
	Batch    string `json:"batch"`
	Stream   string `json:"stream"`
	// Relative is |batch−stream| / max(|batch|,|stream|) for scalar functions (1 for
	// structural differences such as buckets), used to rank the worst offenders.
	Relative float64 `json:"relative"`
}

func formatFloat(v float64) string {
	return strconv.FormatFloat(v, 'g', 12, 64)
}

func relative(a, b float64) float64 {
	if math.IsNaN(a) != math.IsNaN(b) || math.IsInf(a, 0) || math.IsInf(b, 0) {
		return 1
	}
	d := math.Abs(a - b)
	m := math.Max(math.Abs(a), math.Abs(b))
	if m == 0 || math.IsNaN(d) {
		return 0
	}
	return math.Min(d/m, 1)
}

// CompareRows compares every function agg emits between a batch row and a stream row
// and returns the functions that differ beyond the tolerances: count exactly, floats
// within tol, gauge quantiles and sketches within the aggregation's sketch alpha,
// explicit and exponential buckets exactly. The sample count is not a function and is
// not compared (a stream need not publish it). Nil means the rows agree.
func CompareRows(agg *specs.Aggregation, batch, stream *exec.Row, tol Tolerance) []Diff {
	var diffs []Diff
	if agg.Has(specs.FnCount) && batch.Count != stream.Count {
		diffs = append(diffs, Diff{Function: specs.FnCount, Batch: strconv.FormatInt(batch.Count, 10),
			Stream: strconv.FormatInt(stream.Count, 10), Relative: relative(float64(batch.Count), float64(stream.Count))})
	}
	alpha := agg.SketchAlpha
	if alpha == 0 {
		alpha = specs.DefaultSketchAlpha
	}
	for i, fn := range agg.ValueFunctions() {
		var a, b float64 = math.NaN(), math.NaN()
		if i < len(batch.Values) {
			a = batch.Values[i]
		}
		if i < len(stream.Values) {
			b = stream.Values[i]
		}
		rel := tol.Rel
		if agg.Type == specs.TypeGauge && specs.IsQuantile(fn) {
			rel = math.Max(rel, alpha)
		}
		if !within(a, b, rel, tol.Abs) {
			diffs = append(diffs, Diff{Function: fn, Batch: formatFloat(a), Stream: formatFloat(b), Relative: relative(a, b)})
		}
	}
	if agg.Has(specs.FnBuckets) {
		if d, ok := compareBuckets(agg, batch, stream); !ok {
			diffs = append(diffs, d)
		}
	}
	if agg.Has(specs.FnSketch) {
		if d, ok := compareSketches(batch.Sketch, stream.Sketch, alpha, tol.Abs); !ok {
			diffs = append(diffs, d)
		}
	}
	return diffs
}

func compareBuckets(agg *specs.Aggregation, a, b *exec.Row) (Diff, bool) {
	d := Diff{Function: specs.FnBuckets, Relative: 1}
	if agg.Type == specs.TypeExponentialHistogram {
		x, y := a.Exp, b.Exp
		d.Batch, d.Stream = describeExp(x), describeExp(y)
		if x == nil || y == nil {
			return d, x == nil && y == nil
		}
		same := x.Scale == y.Scale && x.ZeroCount == y.ZeroCount && x.PositiveOffset == y.PositiveOffset &&
			x.NegativeOffset == y.NegativeOffset && slices.Equal(x.PositiveCounts, y.PositiveCounts) &&
			slices.Equal(x.NegativeCounts, y.NegativeCounts)
		return d, same
	}
	x, y := a.Hist, b.Hist
	d.Batch, d.Stream = describeHist(x), describeHist(y)
	if x == nil || y == nil {
		return d, x == nil && y == nil
	}
	return d, slices.Equal(x.Bounds, y.Bounds) && slices.Equal(x.Counts, y.Counts)
}

func describeHist(h *exec.Histogram) string {
	if h == nil {
		return "none"
	}
	return fmt.Sprintf("bounds %v counts %v", h.Bounds, h.Counts)
}

func describeExp(e *exec.ExpHistogram) string {
	if e == nil {
		return "none"
	}
	return fmt.Sprintf("scale %d zero %d +%d%v -%d%v", e.Scale, e.ZeroCount, e.PositiveOffset, e.PositiveCounts, e.NegativeOffset, e.NegativeCounts)
}

// compareSketches compares two serialized DDSketches by count and by quantile.
func compareSketches(a, b []byte, alpha, abs float64) (Diff, bool) {
	d := Diff{Function: specs.FnSketch, Relative: 1}
	if len(a) == 0 || len(b) == 0 {
		d.Batch, d.Stream = fmt.Sprintf("%d bytes", len(a)), fmt.Sprintf("%d bytes", len(b))
		return d, len(a) == 0 && len(b) == 0
	}
	sa, errA := hist.DecodeSketch(a)
	sb, errB := hist.DecodeSketch(b)
	if errA != nil || errB != nil {
		d.Batch, d.Stream = describeSketch(sa, errA), describeSketch(sb, errB)
		return d, false
	}
	d.Batch, d.Stream = describeSketch(sa, nil), describeSketch(sb, nil)
	if sa.Count() != sb.Count() {
		d.Relative = relative(sa.Count(), sb.Count())
		return d, false
	}
	if sa.Count() == 0 {
		return d, true
	}
	for _, q := range sketchQuantiles {
		x, y := sa.Quantile(q), sb.Quantile(q)
		if !within(x, y, alpha, abs) {
			d.Relative = relative(x, y)
			d.Batch += fmt.Sprintf(" p%g=%s", q*100, formatFloat(x))
			d.Stream += fmt.Sprintf(" p%g=%s", q*100, formatFloat(y))
			return d, false
		}
	}
	return d, true
}

func describeSketch(s *hist.Sketch, err error) string {
	if err != nil {
		return "undecodable: " + err.Error()
	}
	return fmt.Sprintf("count %s p50 %s", formatFloat(s.Count()), formatFloat(s.Quantile(0.5)))
}

// identical reports whether two rows carry exactly the same emitted values (no
// tolerance): a re-sent record versus a record with other values.
func identical(agg *specs.Aggregation, a, b *exec.Row) bool {
	return len(CompareRows(agg, a, b, Tolerance{})) == 0
}
