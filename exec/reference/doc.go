// Package reference is a plain, deliberately slow aggregator that computes every
// rollup straight from docs/semantics.md: points are grouped by series in a map,
// each series is sorted by time, cleaned, deduplicated and walked once. It exists
// so that the fast executor in package exec can be checked against an
// implementation whose correctness is obvious from reading it.
//
// Where docs/semantics.md leaves a choice open, this package takes the reading
// written below; each is also noted at the code that applies it.
//
//  1. Run summary counters (AggStats) count only points that the run itself counts:
//     from ≤ time < to, metric read by the aggregation, filters passed. Points before
//     from are cleaned the same way (junk dropped, duplicates collapsed) so that a
//     predecessor is always a clean point, but they are not counted.
//  2. A null value is not a non-finite value: a gauge or sum point with a null value
//     is counted in dropped_null whatever its placeholder value is. A histogram point
//     is non-finite only when its sum is NaN (as the contract says; an infinite sum
//     is kept), and null when its count is null.
//  3. duplicates counts every point dropped as a duplicate; conflicting_duplicates
//     counts the subset whose value differed from the kept point's value. For a
//     histogram, "value" is its whole payload (count, sum, min, max, bounds, bucket
//     counts). A duplicate that differs only in start_time is not conflicting.
//  4. Duplicate choice for histograms: the kept point is the first in the order
//     (count, sum, start_time, min, max, bounds, bucket counts) ascending. For
//     every kind an unknown start_time sorts before any known one.
//  5. A cumulative point's start_time is "the same" as its predecessor's only
//     when both are known and equal or both are unknown; one known and one unknown
//     is a new start_time, hence a reset.
//  6. A cumulative histogram whose predecessor has the same start_time but
//     different bounds fails the run with an error naming the aggregation and the
//     series (the bounds rule: layouts are never mixed). A decrease of count, as
//     well as of any bucket, is a reset. A histogram point that is malformed (not
//     one more bucket count than bounds, bounds not finite and strictly
//     increasing, bucket counts not summing to count, min > max) fails the run
//     too: the contract has no rule that would repair it.
//  7. The increase of a cumulative histogram point that carries nothing (opening
//     point, or baseline after a gap) is an empty histogram with the point's
//     bounds. It counts in samples, and, having no observations, it cannot lack
//     min and max: only points with observations make a row's min and max
//     unknown. When the predecessor is empty (count 0), the bucket-wise difference
//     is the point itself, so its min and max are kept.
//  8. Floating-point sums are added in series key order and, within a series, in
//     time order for every kind (gauges, delta sums, counter increases,
//     histogram sums), not only for gauges.
//  9. Exponential histograms are merged and subtracted by exec/hist. Where the
//     contract says "downscaling every point to the smallest scale among them",
//     only points that have buckets count: a point with nothing but a zero count
//     does not lower the scale, and a row without any bucket reports
//     hist.MaxScale. Validation of exponential points is hist's (Validate).
//  10. An aggregation with a zero Staleness or SketchAlpha (a registry built in code
//     rather than parsed) uses specs.DefaultStaleness and specs.DefaultSketchAlpha.
package reference
