package bench

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/tallyhq/tally/bench/tallyrun"
	"github.com/tallyhq/tally/gen"
)

func TestMain(m *testing.M) {
	MaybeChild()
	os.Exit(m.Run())
}

// testRunner returns a runner over the tiny workloads with lakes in a temporary
// folder and the Polars environment in bench/work (kept between runs).
func testRunner(t *testing.T) *Runner {
	t.Helper()
	py, err := EnsurePolars(context.Background(), "work")
	if err != nil {
		t.Fatalf("the Polars engine is part of this suite and cannot run: %v", err)
	}
	bin, err := BuildTallyRun(context.Background(), "work")
	if err != nil {
		t.Fatal(err)
	}
	return &Runner{Work: t.TempDir(), Threads: 2, Short: true, Python: py, TallyRun: bin}
}

// TestEnginesAgree runs every engine on the tiny version of every workload, each in
// its own process as the benchmark does, and checks that DuckDB and Polars produce
// tally's rollups: the harness and the cross-engine check the benchmark relies on.
func TestEnginesAgree(t *testing.T) {
	r := testRunner(t)
	ctx := context.Background()
	for _, w := range tallyrun.Workloads(true) {
		t.Run(w.Name, func(t *testing.T) {
			st, err := tallyrun.EnsureLake(ctx, &w, r.Work)
			if err != nil {
				t.Fatal(err)
			}
			if st.Rows == 0 {
				t.Fatalf("lake of %s is empty", w.Name)
			}
			rep, err := r.Run(ctx, &w, EngineTally)
			if err != nil {
				t.Fatal(err)
			}
			if w.Gen.From.Equal(w.From) && rep.Rows != st.Rows {
				t.Errorf("tally read %d rows, the lake has %d", rep.Rows, st.Rows)
			}
			if rep.MaxRSSBytes <= 0 {
				t.Errorf("no peak RSS measured for the tally child")
			}
			dec, err := r.Run(ctx, &w, EngineDecode)
			if err != nil {
				t.Fatal(err)
			}
			if dec.Rows != st.Rows {
				t.Errorf("decode-only read %d rows, the lake has %d", dec.Rows, st.Rows)
			}
			for _, engine := range []string{EngineDuckDB, EnginePolars} {
				if _, err := r.Run(ctx, &w, engine); err != nil {
					t.Fatalf("%s: %v", engine, err)
				}
				if err := r.Check(ctx, &w, engine); err != nil {
					t.Errorf("%s: %v", engine, err)
				}
			}
		})
	}
}

// oracleRegistry exercises every kind the peer engines express, with filters, a
// staleness shorter than the reporting interval (no predecessor: the start_time rule)
// and one longer (the predecessor rule), over a lake with every quirk.
const oracleRegistry = `
version: 1
source:
  url: file:///unused
  dimensions: [tenant, cluster, broker, topic, request_type]
  tenant: tenant
aggregations:
  - name: cpu_by_cluster_1m
    metric: kafka.broker.cpu
    type: gauge
    window: 1m
    group_by: [tenant, cluster]
    functions: [count, sum, min, max, avg, first, last]
  - name: memory_by_broker_5m
    metric: kafka.broker.memory
    type: gauge
    window: 5m
    group_by: [tenant, cluster, broker]
    functions: [count, avg, first, last]
  - name: bytes_in_1m
    metric: kafka.server.bytes_in
    type: sum
    temporality: cumulative
    monotonic: true
    window: 1m
    group_by: [tenant, cluster]
    functions: [delta, rate, count, last]
  - name: requests_short_staleness_1m
    metric: kafka.server.requests
    type: sum
    temporality: cumulative
    monotonic: true
    window: 1m
    staleness: 5s
    group_by: [tenant, request_type]
    functions: [delta, count, last]
  - name: requests_5m
    metric: kafka.server.requests
    type: sum
    temporality: cumulative
    monotonic: true
    window: 5m
    staleness: 2m
    group_by: [tenant, cluster, request_type]
    filters:
      - dimension: request_type
        op: ne
        values: [Metadata]
    functions: [delta, rate, count, last]
  - name: errors_5m
    metric: kafka.server.request_errors
    type: sum
    temporality: delta
    window: 5m
    group_by: [tenant, request_type]
    filters:
      - dimension: request_type
        op: in
        values: [Produce, Fetch]
    functions: [sum, count, rate, min, max]
  - name: latency_5m
    metric: kafka.request.latency
    type: histogram
    temporality: delta
    window: 5m
    group_by: [tenant, cluster, request_type]
    functions: [count, sum, avg, min, max, buckets]
`

// TestDuckDBOracle computes a registry of every kind with tally and with DuckDB SQL
// written from docs/semantics.md alone, over a lake with counter resets, duplicates
// (in the same and in other files), NaN and +Inf, out-of-order rows and points before
// the range (predecessors), cut into several tasks, and requires every output row to
// be equal: counts exactly, floating values within RelTolerance.
func TestDuckDBOracle(t *testing.T) {
	ctx := context.Background()
	from := time.Date(2026, 11, 3, 1, 0, 0, 0, time.UTC)
	w := tallyrun.Workload{
		Name: "oracle",
		Gen: gen.Config{
			From: from.Add(-15 * time.Minute), To: from.Add(2 * time.Hour),
			Tenants: 3, ClustersPerTenant: 2, BrokersPerCluster: 2, TopicsPerBroker: 3,
			Interval: 10 * time.Second, Seed: 7, FilesPerPartition: 2, RowGroupRows: 2000,
			DuplicateFraction: 0.02, NaNFraction: 0.02, OutOfOrderFraction: 0.02,
			ResetProbability: 0.3, LateFraction: 0.01,
		},
		Registry: oracleRegistry, From: from, To: from.Add(2 * time.Hour),
	}
	work := t.TempDir()
	st, err := tallyrun.EnsureLake(ctx, &w, work)
	if err != nil {
		t.Fatal(err)
	}
	if st.Resets == 0 || st.Duplicates == 0 || st.NaNs == 0 || st.OutOfOrder == 0 {
		t.Fatalf("the lake lacks a quirk the oracle must cover: %+v", st)
	}
	reg, err := w.ParseRegistry()
	if err != nil {
		t.Fatal(err)
	}
	tallyOut := filepath.Join(work, "out", "tally")
	if _, err := tallyrun.RunTally(ctx, reg, w.LakeDir(work), w.From, w.To, 2, tallyOut); err != nil {
		t.Fatal(err)
	}
	duckOut := filepath.Join(work, "out", "duckdb")
	j, err := NewJob(reg, w.LakeDir(work), w.From.UnixMilli(), w.To.UnixMilli(), 2, duckOut)
	if err != nil {
		t.Fatal(err)
	}
	if err := RunDuckDB(ctx, j); err != nil {
		t.Fatal(err)
	}
	for _, a := range reg.Aggregations {
		t.Run(a.Name, func(t *testing.T) {
			tf, err := tallyrun.TallyOutputs(tallyOut, a.Name)
			if err != nil {
				t.Fatal(err)
			}
			want, err := ReadOutput(ctx, tf, a.GroupBy)
			if err != nil {
				t.Fatal(err)
			}
			got, err := ReadOutput(ctx, []string{filepath.Join(duckOut, a.Name+".parquet")}, a.GroupBy)
			if err != nil {
				t.Fatal(err)
			}
			if len(want.Rows) == 0 {
				t.Fatalf("tally produced no rows for %s", a.Name)
			}
			if err := CompareTables(a.Name, want, got); err != nil {
				t.Error(err)
			}
			t.Logf("%d rows equal", len(want.Rows))
		})
	}
}
