package writer

import (
	"math"
	"os"
	"testing"
	"time"

	"github.com/tallyhq/tally/exec"
	"github.com/tallyhq/tally/specs"
)

// testRegistry parses testdata/registry.yaml.
func testRegistry(t testing.TB) *specs.Registry {
	t.Helper()
	data, err := os.ReadFile("testdata/registry.yaml")
	if err != nil {
		t.Fatal(err)
	}
	reg, err := specs.Parse("testdata/registry.yaml", data)
	if err != nil {
		t.Fatalf("parse test registry: %v", err)
	}
	return reg
}

func testAgg(t testing.TB, name string) *specs.Aggregation {
	t.Helper()
	a := testRegistry(t).Aggregation(name)
	if a == nil {
		t.Fatalf("test registry has no aggregation %s", name)
	}
	return a
}

// taskStart is the start of the test task, 2026-11-01T00:00Z.
var taskStart = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

const testTaskID = "20261101T0000Z-20261101T0100Z-all"

func ms(t time.Time) int64 { return t.UnixMilli() }

// gaugeRows are broker_cpu_1m rows (group_by cluster, tenant, broker), sorted, for
// two tenants interleaved by cluster. The min of the second row is unknown (NaN).
func gaugeRows(agg *specs.Aggregation) []exec.Row {
	w := agg.Window
	row := func(cluster, tenant, broker string, k int, v float64) exec.Row {
		start := taskStart.Add(time.Duration(k) * w)
		// count, then Values in ValueFunctions order: avg, min, max, last, p99
		return exec.Row{
			WindowStart: ms(start), WindowEnd: ms(start.Add(w)),
			Dims: []string{cluster, tenant, broker}, Samples: 3, Count: 3,
			Values: []float64{v, v - 1, v + 1, v, v + 0.5},
			Sketch: []byte{0x01, byte(k)},
		}
	}
	rows := []exec.Row{
		row("c1", "acme", "b1", 0, 10),
		row("c1", "acme", "b1", 1, 11),
		row("c1", "globex", "b7", 0, 20),
		row("c2", "acme", "b2", 0, 30),
		row("c2", "acme", "b2", 2, 31),
	}
	rows[1].Values[1] = math.NaN()
	rows[4].Sketch = nil
	return rows
}

func histRows(agg *specs.Aggregation) []exec.Row {
	w := agg.Window
	start := taskStart
	return []exec.Row{
		{WindowStart: ms(start), WindowEnd: ms(start.Add(w)), Dims: []string{"acme", "c1"}, Samples: 2, Count: 7,
			Values: []float64{70, 1, 30, 9}, Hist: &exec.Histogram{Bounds: []float64{5, 10}, Counts: []uint64{3, 2, 2}}},
		{WindowStart: ms(start), WindowEnd: ms(start.Add(w)), Dims: []string{"acme", "c2"}, Samples: 1, Count: 0,
			Values: []float64{0, math.NaN(), math.NaN(), math.NaN()}, Hist: nil},
	}
}

func expRows(agg *specs.Aggregation) []exec.Row {
	w := agg.Window
	return []exec.Row{{
		WindowStart: ms(taskStart), WindowEnd: ms(taskStart.Add(w)), Dims: []string{"acme"}, Samples: 4, Count: 9,
		Values: []float64{},
		Exp: &exec.ExpHistogram{Scale: 3, ZeroCount: 1, PositiveOffset: -2, PositiveCounts: []uint64{1, 2, 3},
			NegativeOffset: 4, NegativeCounts: []uint64{2}},
	}}
}

// testRollups are the rollups of one task over the test registry.
func testRollups(t testing.TB) []exec.Rollup {
	reg := testRegistry(t)
	var out []exec.Rollup
	for _, a := range reg.Aggregations {
		var rows []exec.Row
		switch a.Name {
		case "broker_cpu_1m":
			rows = gaugeRows(a)
		case "latency_1h":
			rows = histRows(a)
		case "latency_exp_1h":
			rows = expRows(a)
		case "bytes_in_5m":
			rows = []exec.Row{{WindowStart: ms(taskStart), WindowEnd: ms(taskStart.Add(a.Window)), Dims: []string{"acme", "c1"},
				Samples: 1, Count: 1, Values: []float64{5, 5.0 / 300}}}
		}
		out = append(out, exec.Rollup{Agg: a, Rows: rows})
	}
	return out
}

func testMeta() FileMeta {
	return FileMeta{TaskID: testTaskID, TaskStart: taskStart, TenantDimension: "tenant",
		InputFingerprint: Fingerprint([]Input{{Key: "dt=2026-11-01/hour=00/a.parquet", Size: 100, ETag: `"e1"`, RowGroups: []int{0, 1}}})}
}
