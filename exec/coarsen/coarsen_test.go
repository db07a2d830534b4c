package coarsen_test

import (
	"context"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/tallyhq/tally/exec"
	"github.com/tallyhq/tally/exec/coarsen"
	"github.com/tallyhq/tally/gen"
	"github.com/tallyhq/tally/reader"
	"github.com/tallyhq/tally/specs"
)

const registry = `
version: 1
source:
  url: mem://
  dimensions: [tenant, cluster, broker, topic, request_type]
  tenant: tenant
aggregations:
  - {name: cpu_1m, metric: kafka.broker.cpu, type: gauge, window: 1m, group_by: [tenant, cluster, broker], functions: [count, sum, min, max, avg, first, last, sketch, p50, p99]}
  - {name: cpu_1h, metric: kafka.broker.cpu, type: gauge, window: 1h, group_by: [tenant, cluster, broker], functions: [count, sum, min, max, avg, first, last, sketch, p50, p99]}
  - {name: cpu_cluster_1h, metric: kafka.broker.cpu, type: gauge, window: 1h, group_by: [cluster, tenant], functions: [count, sum, min, max, avg, p99]}
  - {name: bytes_1m, metric: kafka.server.bytes_in, type: sum, monotonic: true, window: 1m, group_by: [tenant, cluster, broker], functions: [delta, rate, count, last]}
  - {name: bytes_1h, metric: kafka.server.bytes_in, type: sum, monotonic: true, window: 1h, group_by: [tenant, cluster, broker], functions: [delta, rate, count, last]}
  - {name: bytes_tenant_1h, metric: kafka.server.bytes_in, type: sum, monotonic: true, window: 1h, group_by: [tenant], functions: [delta, rate, count]}
  - {name: errors_5m, metric: kafka.server.request_errors, type: sum, temporality: delta, window: 5m, group_by: [tenant, cluster, request_type], functions: [sum, count, rate, min, max]}
  - {name: errors_1h, metric: kafka.server.request_errors, type: sum, temporality: delta, window: 1h, group_by: [tenant, request_type], functions: [sum, count, rate, min, max]}
  - {name: latency_1m, metric: kafka.request.latency, type: histogram, temporality: delta, window: 1m, group_by: [tenant, cluster, request_type], functions: [count, sum, min, max, avg, buckets, p50, p90]}
  - {name: latency_1h, metric: kafka.request.latency, type: histogram, temporality: delta, window: 1h, group_by: [tenant, request_type], functions: [count, sum, min, max, avg, buckets, p50, p90]}
`

func compute(t *testing.T, reg *specs.Registry, from, to time.Time) map[string]exec.Rollup {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	url := "file://" + filepath.ToSlash(dir)
	cfg := gen.DefaultConfig(url, from, to)
	cfg.Tenants, cfg.ClustersPerTenant, cfg.BrokersPerCluster, cfg.TopicsPerBroker = 2, 2, 2, 2
	cfg.Interval = 15 * time.Second
	cfg.Seed = 21
	cfg.DuplicateFraction, cfg.NaNFraction, cfg.ResetProbability = 0.02, 0.02, 0.5
	if _, err := gen.GenerateURL(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	b, err := reader.OpenBucket(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	var inputs []exec.Input
	it := b.List(nil)
	for {
		obj, err := it.Next(ctx)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasSuffix(obj.Key, ".parquet") {
			continue
		}
		f, err := reader.OpenFile(ctx, b, reader.Object{Key: obj.Key, Size: obj.Size})
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		cols, err := f.Resolve(&reg.Source, specs.UnionRawColumns(reg))
		if err != nil {
			t.Fatal(err)
		}
		for rg := 0; rg < f.NumRowGroups(); rg++ {
			inputs = append(inputs, exec.Input{Name: fmt.Sprint(obj.Key, rg), Read: func(ctx context.Context) (arrow.RecordBatch, error) {
				return f.ReadRowGroup(ctx, cols, rg, memory.DefaultAllocator)
			}})
		}
	}
	e, err := exec.New(exec.Config{Registry: reg, Parallelism: 2})
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.Run(ctx, exec.Task{ID: "t", Start: from, End: to, Inputs: inputs})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]exec.Rollup{}
	for _, r := range res.Rollups {
		out[r.Agg.Name] = r
	}
	return out
}

// TestRollupOfRollupEqualsDirect: every composable function of a coarse rollup computed
// from a finer rollup equals the coarse rollup computed from raw data.
func TestRollupOfRollupEqualsDirect(t *testing.T) {
	reg, err := specs.Parse("r.yaml", []byte(registry))
	if err != nil {
		t.Fatal(err)
	}
	day := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	direct := compute(t, reg, day, day.Add(2*time.Hour))
	for _, pair := range [][2]string{
		{"cpu_1m", "cpu_1h"}, {"cpu_1m", "cpu_cluster_1h"},
		{"bytes_1m", "bytes_1h"}, {"bytes_1m", "bytes_tenant_1h"},
		{"errors_5m", "errors_1h"},
		{"latency_1m", "latency_1h"},
	} {
		t.Run(pair[1]+" from "+pair[0], func(t *testing.T) {
			fine, want := direct[pair[0]], direct[pair[1]]
			if len(fine.Rows) == 0 || len(want.Rows) == 0 {
				t.Fatal("no rows to compare")
			}
			// Feed the finer rows in a scrambled order, as several finer tasks would.
			scrambled := fine
			scrambled.Rows = slices.Clone(fine.Rows)
			slices.Reverse(scrambled.Rows)
			got, err := coarsen.Rollup(scrambled, want.Agg)
			if err != nil {
				t.Fatal(err)
			}
			if len(got.Rows) != len(want.Rows) {
				t.Fatalf("%d rows, want %d", len(got.Rows), len(want.Rows))
			}
			for i := range want.Rows {
				g, w := got.Rows[i], want.Rows[i]
				if !slices.Equal(g.Dims, w.Dims) || g.WindowStart != w.WindowStart || g.Samples != w.Samples || g.Count != w.Count {
					t.Fatalf("row %d: %v@%d samples %d count %d, want %v@%d samples %d count %d", i, g.Dims, g.WindowStart, g.Samples, g.Count, w.Dims, w.WindowStart, w.Samples, w.Count)
				}
				for k, fn := range want.Agg.ValueFunctions() {
					a, b := g.Values[k], w.Values[k]
					if !(math.IsNaN(a) && math.IsNaN(b)) && math.Abs(a-b) > 1e-9*math.Max(1, math.Abs(b)) {
						t.Errorf("row %d %v: %s = %v, want %v", i, w.Dims, fn, a, b)
					}
				}
				if w.Hist != nil && (g.Hist == nil || !slices.Equal(g.Hist.Counts, w.Hist.Counts)) {
					t.Errorf("row %d: buckets %+v, want %+v", i, g.Hist, w.Hist)
				}
				if len(w.Sketch) > 0 && string(g.Sketch) != string(w.Sketch) {
					t.Errorf("row %d: sketch bytes differ from the direct sketch", i)
				}
			}
		})
	}
}

func TestCheckRefuses(t *testing.T) {
	reg, err := specs.Parse("r.yaml", []byte(registry+`
  - {name: cpu_7m_bad, metric: kafka.broker.cpu, type: gauge, window: 1h, group_by: [tenant], functions: [last]}
  - {name: cpu_avg_only, metric: kafka.broker.cpu, type: gauge, window: 1m, group_by: [tenant, cluster, broker], functions: [avg]}
  - {name: cpu_from_avg, metric: kafka.broker.cpu, type: gauge, window: 1h, group_by: [tenant, cluster, broker], functions: [avg, p99]}
`))
	if err != nil {
		t.Fatal(err)
	}
	a := reg.Aggregation
	cases := []struct {
		fine, coarse, want string
	}{
		{"cpu_1m", "cpu_7m_bad", "function last is exact only with the same group_by"},
		{"cpu_avg_only", "cpu_from_avg", "function avg needs sum in the finer rollup"},
		{"cpu_avg_only", "cpu_from_avg", "function p99 needs sketch"},
		{"cpu_1h", "cpu_1m", "window 1m is not a multiple of 1h"},
		{"bytes_1m", "cpu_1h", "kind gauge differs"},
		{"cpu_cluster_1h", "cpu_1h", "group_by \"broker\" is not in the finer rollup"},
	}
	for _, tc := range cases {
		err := coarsen.Check(a(tc.fine), a(tc.coarse))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Check(%s, %s) = %v, want %q", tc.fine, tc.coarse, err, tc.want)
		}
	}
	if err := coarsen.Check(a("cpu_1m"), a("cpu_1h")); err != nil {
		t.Errorf("Check(cpu_1m, cpu_1h) = %v", err)
	}
}
