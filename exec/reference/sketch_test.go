package reference

import (
	"math"
	"slices"
	"testing"

	"github.com/tallyhq/tally/exec/hist"
)

// TestGaugeQuantilesAndSketch checks that gauge quantiles and the emitted sketch
// come from a DDSketch of exactly the window's clean values, at the aggregation's
// relative accuracy, and that the quantiles are within α of the true ones.
func TestGaugeQuantilesAndSketch(t *testing.T) {
	cases := []struct {
		name  string
		agg   string
		alpha float64
	}{
		{"default alpha", `{name: a, metric: m, type: gauge, window: 1m, group_by: [tenant], functions: [p50, p99, sketch, count]}`, 0.01},
		{"alpha from the spec", `{name: a, metric: m, type: gauge, window: 1m, group_by: [tenant], sketch_alpha: 0.05, functions: [p50, p99, sketch, count]}`, 0.05},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			reg := testRegistry(t, tc.agg)
			var pts []Point
			var clean []float64
			for i := 0; i < 100; i++ {
				v := float64(i*i) + 0.5
				broker := []string{"b1", "b2", "b3"}[i%3]
				p := gp(t, "m", "12:00:00", broker, v)
				p.Time += int64(i) * 1e8
				pts = append(pts, p)
				clean = append(clean, v)
				if i%10 == 0 { // junk and duplicates must stay out of the sketch
					dup := p
					dup.Value += 1e6
					nan := p
					nan.Time++
					nan.Value = math.NaN()
					pts = append(pts, dup, nan)
				}
			}
			rollups, _, err := Compute(reg, at(t, "12:00:00"), at(t, "12:01:00"), pts)
			if err != nil {
				t.Fatal(err)
			}
			if len(rollups[0].Rows) != 1 {
				t.Fatalf("got %d rows, want 1", len(rollups[0].Rows))
			}
			r := rollups[0].Rows[0]
			want, err := hist.NewSketch(tc.alpha)
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range clean {
				if err := want.Add(v); err != nil {
					t.Fatal(err)
				}
			}
			if !slices.Equal(r.Sketch, want.Encode()) {
				t.Errorf("sketch differs from a sketch of the %d clean values", len(clean))
			}
			if r.Count != 100 || r.Samples != 100 {
				t.Errorf("count %d samples %d, want 100", r.Count, r.Samples)
			}
			slices.Sort(clean)
			for i, q := range []float64{0.5, 0.99} {
				exact := clean[int(q*float64(len(clean)-1))]
				if got := r.Values[i]; got != want.Quantile(q) || math.Abs(got-exact) > tc.alpha*exact {
					t.Errorf("p%v = %v, want %v (sketch) within %v of %v", q*100, got, want.Quantile(q), tc.alpha, exact)
				}
			}
		})
	}
}
