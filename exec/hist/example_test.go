package hist_test

import (
	"fmt"

	"github.com/tallyhq/tally/exec/hist"
)

// Two points of one explicit layout merge; the quantile interpolates inside the bucket
// that holds the rank, between the edges narrowed to [min, max].
func ExampleExplicit_Quantile() {
	var h hist.Explicit
	bounds := []float64{10, 50, 100, 500}
	_ = h.Merge(bounds, []uint64{2, 3, 0, 0, 0}, 5, 90, 3, 40, true)
	_ = h.Merge(bounds, []uint64{0, 2, 2, 1, 0}, 5, 1144, 20, 420, true)
	fmt.Println(h.Counts, h.Count)
	fmt.Printf("p50 %.6g p99 %.6g\n", h.Quantile(0.5), h.Quantile(0.99))
	// Output:
	// [2 5 2 1 0] 10
	// p50 34 p99 388
}

// A point with different bounds is refused, never mixed in.
func ExampleBoundsMismatchError() {
	var h hist.Explicit
	_ = h.Merge([]float64{1, 2}, []uint64{1, 0, 0}, 1, 0.5, 0, 0, false)
	err := h.Merge([]float64{1, 5}, []uint64{1, 0, 0}, 1, 0.5, 0, 0, false)
	fmt.Println(err)
	// Output:
	// explicit bounds [1 5] differ from the bounds [1 2] already merged for this group (first difference at position 1); points with different bucket layouts cannot be merged: fix the producer's bucket configuration or split the aggregation by layout
}

// Points at different scales merge at the coarser one: bucket i at scale 2 is bucket
// i>>1 at scale 1.
func ExampleExponential_Merge() {
	var h hist.Exponential
	_ = h.Merge(&hist.Exponential{Scale: 2, Positive: hist.Buckets{Offset: 4, Counts: []uint64{1, 2, 3}}, Count: 6})
	_ = h.Merge(&hist.Exponential{Scale: 1, Positive: hist.Buckets{Offset: 3, Counts: []uint64{4}}, Count: 4})
	h.Fold()
	fmt.Println(h.Scale, h.Positive.Offset, h.Positive.Counts, h.Count)
	// Output:
	// 1 2 [3 7] 10
}

// A sketch answers quantiles within its relative accuracy; its encoding does not depend
// on the order in which values were added.
func ExampleSketch() {
	a, _ := hist.NewSketch(hist.DefaultAlpha)
	b, _ := hist.NewSketch(hist.DefaultAlpha)
	for _, v := range []float64{1, 2, 3, 4, 100} {
		_ = a.Add(v)
	}
	for _, v := range []float64{100, 4, 3, 2, 1} {
		_ = b.Add(v)
	}
	fmt.Printf("p50 %.4f p100 %.4f\n", a.Quantile(0.5), a.Quantile(1))
	fmt.Println(string(a.Encode()) == string(b.Encode()))
	// Output:
	// p50 2.9742 p100 100.4946
	// true
}
