// Package hist holds the mergeable distribution math of the executor: explicit-bucket
// histograms, OpenTelemetry base-2 exponential histograms and DDSketch quantile sketches.
//
// Everything here is pure computation: no I/O, no goroutines, no map iteration, and no
// allocation per observation or per merged point once an accumulator has reached its
// size. Merging the same multiset of inputs in any order yields identical counts, buckets,
// scales, thresholds and sketch bytes; only floating-point sums depend on the order of
// addition, which is why the executor merges in a fixed order.
//
// The methods, their error bounds and worked examples are described in docs/quantiles.md.
package hist
