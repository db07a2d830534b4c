package exec_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/tallyhq/tally/exec"
	"github.com/tallyhq/tally/gen"
	"github.com/tallyhq/tally/reader"
	"github.com/tallyhq/tally/specs"
)

const benchRegistry = `
version: 1
source:
  url: mem://
  dimensions: [tenant, cluster, broker, topic, request_type]
  tenant: tenant
aggregations:
  - name: broker_cpu_1m
    metric: kafka.broker.cpu
    type: gauge
    window: 1m
    group_by: [tenant, cluster, broker]
    functions: [count, sum, min, max, avg, last]
  - name: cluster_cpu_1m
    metric: kafka.broker.cpu
    type: gauge
    window: 1m
    group_by: [tenant, cluster]
    functions: [avg, max]
`

// benchLake generates (once per machine, cached in the temp dir) a gauge lake of
// `series` brokers reporting every 10s for `minutes`.
func benchLake(b *testing.B, brokers, minutes int) string {
	b.Helper()
	dir := filepath.Join(os.TempDir(), fmt.Sprintf("tally-bench-exec-%d-%d", brokers, minutes))
	if _, err := os.Stat(filepath.Join(dir, ".done")); err == nil {
		return dir
	}
	_ = os.RemoveAll(dir)
	from := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	cfg := gen.DefaultConfig("file://"+dir, from, from.Add(time.Duration(minutes)*time.Minute))
	cfg.Tenants, cfg.ClustersPerTenant, cfg.BrokersPerCluster, cfg.TopicsPerBroker = 10, 10, brokers/100, 1
	cfg.Interval = 10 * time.Second
	cfg.Metrics = []string{gen.MetricCPU}
	cfg.FilesPerPartition = 2
	if _, err := gen.GenerateURL(context.Background(), cfg); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, ".done"), nil, 0o644); err != nil {
		b.Fatal(err)
	}
	return dir
}

// BenchmarkEngineGauges measures one task end to end: ranged reads of the projected
// columns, decoding to Arrow, and every aggregation, on a local lake.
func BenchmarkEngineGauges(b *testing.B) {
	for _, par := range []int{1, 2} {
		b.Run(fmt.Sprintf("parallelism=%d", par), func(b *testing.B) {
			dir := benchLake(b, 20000, 60)
			reg, err := specs.Parse("bench.yaml", []byte(benchRegistry))
			if err != nil {
				b.Fatal(err)
			}
			bkt, err := reader.OpenBucket(context.Background(), "file://"+dir)
			if err != nil {
				b.Fatal(err)
			}
			defer bkt.Close()
			rgs := listRowGroups(b, bkt, reg)
			e, err := exec.New(exec.Config{Registry: reg, Parallelism: par})
			if err != nil {
				b.Fatal(err)
			}
			from := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
			task := exec.Task{ID: "bench", Start: from, End: from.Add(time.Hour), Inputs: inputsOverlapping(rgs, from.UnixNano(), from.Add(time.Hour).UnixNano())}
			var rows int64
			var ms runtime.MemStats
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				res, err := e.Run(context.Background(), task)
				if err != nil {
					b.Fatal(err)
				}
				rows += res.Stats.RowsRead
			}
			b.StopTimer()
			runtime.ReadMemStats(&ms)
			b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
			b.ReportMetric(float64(rows)/float64(b.N), "rows/op")
		})
	}
}
