package specs

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Emitted function names. Quantiles are written pNN (p50, p90, p99, p99.9).
const (
	FnCount   = "count"   // number of points (gauges, delta sums) or observations (histograms)
	FnSum     = "sum"     // sum of values (gauges, delta sums) or of observations (histograms)
	FnMin     = "min"     // smallest value / observation
	FnMax     = "max"     // largest value / observation
	FnAvg     = "avg"     // sum / count
	FnFirst   = "first"   // value of the earliest point in the window
	FnLast    = "last"    // value of the latest point in the window
	FnDelta   = "delta"   // increase of a cumulative monotonic sum within the window
	FnRate    = "rate"    // delta (or sum of a delta sum) per second of window
	FnBuckets = "buckets" // merged histogram buckets (bounds and counts, or exponential buckets)
	FnSketch  = "sketch"  // serialized DDSketch of gauge values (mergeable)
)

// functionsByKind lists the functions each kind of aggregation may emit, besides quantiles.
var functionsByKind = map[string][]string{
	"gauge":                    {FnCount, FnSum, FnMin, FnMax, FnAvg, FnFirst, FnLast, FnSketch},
	"sum/delta":                {FnSum, FnCount, FnRate, FnMin, FnMax},
	"sum/cumulative/monotonic": {FnDelta, FnRate, FnCount, FnLast},
	"sum/cumulative":           {FnLast, FnFirst, FnMin, FnMax, FnCount},
	"histogram":                {FnCount, FnSum, FnMin, FnMax, FnAvg, FnBuckets},
	"exponential_histogram":    {FnCount, FnSum, FnMin, FnMax, FnAvg, FnBuckets},
}

// quantileKinds are the kinds that may emit pNN functions.
var quantileKinds = map[string]bool{"gauge": true, "histogram": true, "exponential_histogram": true}

// Kind is the aggregation's kind: its type refined by temporality and monotonicity
// ("gauge", "sum/delta", "sum/cumulative/monotonic", "sum/cumulative", "histogram",
// "exponential_histogram"). Histograms of either temporality share a kind.
func (a *Aggregation) Kind() string {
	switch a.Type {
	case TypeSum:
		if a.Temporality == TemporalityDelta {
			return "sum/delta"
		}
		if a.Monotonic {
			return "sum/cumulative/monotonic"
		}
		return "sum/cumulative"
	default:
		return a.Type
	}
}

// AllowedFunctions lists the functions a kind may emit, quantiles written as pNN.
func AllowedFunctions(kind string) []string {
	fns := append([]string(nil), functionsByKind[kind]...)
	if quantileKinds[kind] {
		fns = append(fns, "pNN")
	}
	return fns
}

// ParseQuantile reports whether fn is a quantile function (p50, p99.9) and its rank in (0,1).
func ParseQuantile(fn string) (float64, bool) {
	if len(fn) < 2 || fn[0] != 'p' {
		return 0, false
	}
	num := fn[1:]
	if strings.HasPrefix(num, "0") || strings.HasPrefix(num, "+") || strings.HasPrefix(num, "-") {
		return 0, false
	}
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || v <= 0 || v >= 100 {
		return 0, false
	}
	return v / 100, true
}

// IsQuantile reports whether fn is a pNN quantile.
func IsQuantile(fn string) bool {
	_, ok := ParseQuantile(fn)
	return ok
}

func checkFunction(kind, fn string) error {
	if _, ok := ParseQuantile(fn); ok {
		if quantileKinds[kind] {
			return nil
		}
		return fmt.Errorf("quantile %q is not defined for %s aggregations; allowed: %s", fn, kind, strings.Join(AllowedFunctions(kind), ", "))
	}
	for _, f := range functionsByKind[kind] {
		if f == fn {
			return nil
		}
	}
	return fmt.Errorf("function %q is not defined for %s aggregations; allowed: %s", fn, kind, strings.Join(AllowedFunctions(kind), ", "))
}

// Quantiles returns the quantile functions of the aggregation, in function order.
func (a *Aggregation) Quantiles() []string {
	var q []string
	for _, f := range a.Functions {
		if IsQuantile(f) {
			q = append(q, f)
		}
	}
	return q
}

// Has reports whether the aggregation emits fn.
func (a *Aggregation) Has(fn string) bool {
	for _, f := range a.Functions {
		if f == fn {
			return true
		}
	}
	return false
}

// ValueFunctions are the functions emitted as one float64 column each: every function
// except buckets and sketch (which have structured outputs) and count (an integer column).
func (a *Aggregation) ValueFunctions() []string {
	var out []string
	for _, f := range a.Functions {
		switch f {
		case FnBuckets, FnSketch, FnCount:
			continue
		}
		out = append(out, f)
	}
	return out
}

// sortedCopy returns a sorted copy of s.
func sortedCopy(s []string) []string {
	c := append([]string(nil), s...)
	sort.Strings(c)
	return c
}
