package backfill_test

import (
	"context"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tallyhq/tally/backfill"
	"github.com/tallyhq/tally/exec"
	"github.com/tallyhq/tally/specs"
	"github.com/tallyhq/tally/writer"
)

const coarseAggs = `
  - {name: cpu_1m, metric: kafka.broker.cpu, type: gauge, window: 1m, group_by: [tenant, cluster, broker], functions: [count, sum, min, max, avg, last, sketch, p99]}
  - {name: cpu_1h, metric: kafka.broker.cpu, type: gauge, window: 1h, group_by: [tenant, cluster, broker], functions: [count, sum, min, max, avg, last, p99]}
  - {name: cpu_1d, metric: kafka.broker.cpu, type: gauge, window: 1d, group_by: [tenant, cluster], functions: [count, max, avg, p99]}
`

// readAll reads every committed rollup of agg under out into one sorted rollup.
func readAll(t *testing.T, out string, agg *specs.Aggregation, from, to time.Time) exec.Rollup {
	t.Helper()
	ctx := context.Background()
	st, err := writer.OpenStore(ctx, out)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	r := exec.Rollup{Agg: agg}
	err = st.ReadRollups(ctx, []*specs.Aggregation{agg}, from, to, func(_ writer.RollupInfo, ro exec.Rollup) error {
		r.Rows = append(r.Rows, ro.Rows...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(r.Rows, func(a, b exec.Row) int {
		if c := slices.Compare(a.Dims, b.Dims); c != 0 {
			return c
		}
		return int(a.WindowStart - b.WindowStart)
	})
	return r
}

// TestRollupOfRollups: tally rollup computes the hourly and daily rollups from the
// committed minute rollup, equal to computing them from raw data.
func TestRollupOfRollups(t *testing.T) {
	src := lake(t, 24)
	reg := registry(t, src)
	data := "version: 1\nsource:\n  url: " + src + "\n  dimensions: [tenant, cluster, broker, topic, request_type]\n  tenant: tenant\naggregations:" + coarseAggs
	reg, err := specs.Parse("r.yaml", []byte(data))
	if err != nil {
		t.Fatal(err)
	}
	from, to := day, day.Add(24*time.Hour)
	direct := "file://" + filepath.ToSlash(t.TempDir())
	run(t, backfill.Config{Registry: reg, From: from, To: to, Out: direct})

	coarse := "file://" + filepath.ToSlash(t.TempDir())
	sum, err := backfill.Rollup(context.Background(), backfill.RollupConfig{Registry: reg, Fine: "cpu_1m", Coarse: []string{"cpu_1h", "cpu_1d"}, From: from, To: to, In: direct, Out: coarse})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Tasks.Done != 1 {
		t.Fatalf("rollup tasks: %+v", sum.Tasks)
	}
	for _, name := range []string{"cpu_1h", "cpu_1d"} {
		agg := reg.Aggregation(name)
		want, got := readAll(t, direct, agg, from, to), readAll(t, coarse, agg, from, to)
		if len(want.Rows) == 0 || len(got.Rows) != len(want.Rows) {
			t.Fatalf("%s: %d rows from the rollup, %d from raw data", name, len(got.Rows), len(want.Rows))
		}
		for i := range want.Rows {
			g, w := got.Rows[i], want.Rows[i]
			if !slices.Equal(g.Dims, w.Dims) || g.WindowStart != w.WindowStart || g.Count != w.Count || g.Samples != w.Samples {
				t.Fatalf("%s row %d: %v@%d count %d, want %v@%d count %d", name, i, g.Dims, g.WindowStart, g.Count, w.Dims, w.WindowStart, w.Count)
			}
			for k, fn := range agg.ValueFunctions() {
				if a, b := g.Values[k], w.Values[k]; math.Abs(a-b) > 1e-9*math.Max(1, math.Abs(b)) {
					t.Errorf("%s row %d: %s = %v, want %v", name, i, fn, a, b)
				}
			}
		}
	}
	// A rollup whose finer data is not committed is refused with the reason.
	_, err = backfill.Rollup(context.Background(), backfill.RollupConfig{Registry: reg, Fine: "cpu_1m", Coarse: []string{"cpu_1d"}, From: to, To: to.Add(24 * time.Hour), In: direct, Out: coarse})
	if err == nil || !strings.Contains(err.Error(), "is not committed") {
		t.Fatalf("rollup over an uncommitted range: %v", err)
	}
}
