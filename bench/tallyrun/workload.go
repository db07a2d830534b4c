// Package tallyrun is tally's side of the benchmark: the workloads and their lakes,
// tally's whole backfill job and its decode-only floor, and the child-process protocol
// that measures one run's wall time and peak RSS. It links no peer engine, so a tally
// run's resident set is tally's own.
package tallyrun

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/tallyhq/tally/gen"
	"github.com/tallyhq/tally/specs"
)

// Workload is one benchmark job: a generated lake and a registry to run over it.
type Workload struct {
	// Name is the short name (W1…W4, or the test's name).
	Name string
	// Title says what the workload stresses, for the report.
	Title string
	// Gen shapes the lake; its URL is set by Lake.
	Gen gen.Config
	// Registry is the registry YAML; its source.url is ignored (the lake is passed explicitly).
	Registry string
	// From and To bound the run, aligned to the registry's largest window.
	From, To time.Time
}

// LakeDir is the folder of the workload's lake under work.
func (w *Workload) LakeDir(work string) string { return filepath.Join(work, "lake-"+w.Name) }

// ParseRegistry parses the workload's registry.
func (w *Workload) ParseRegistry() (*specs.Registry, error) {
	reg, err := specs.Parse(w.Name+".yaml", []byte(w.Registry))
	if err != nil {
		return nil, fmt.Errorf("workload %s: %w", w.Name, err)
	}
	return reg, nil
}

// base is the first hour of every workload.
var base = time.Date(2026, 11, 3, 0, 0, 0, 0, time.UTC)

const gaugeRegistry = `
version: 1
source:
  url: file:///unused
  dimensions: [tenant, cluster, broker, topic, request_type]
  tenant: tenant
aggregations:
  - name: broker_cpu_1m
    metric: kafka.broker.cpu
    type: gauge
    window: 1m
    group_by: [tenant, cluster, broker]
    functions: [count, sum, min, max, avg, first, last]
`

const counterHistRegistry = `
version: 1
source:
  url: file:///unused
  dimensions: [tenant, cluster, broker, topic, request_type]
  tenant: tenant
aggregations:
  - name: cluster_bytes_in_1m
    metric: kafka.server.bytes_in
    type: sum
    temporality: cumulative
    monotonic: true
    window: 1m
    group_by: [tenant, cluster]
    functions: [delta, rate, count, last]
  - name: cluster_requests_5m
    metric: kafka.server.requests
    type: sum
    temporality: cumulative
    monotonic: true
    window: 5m
    group_by: [tenant, cluster, request_type]
    functions: [delta, rate, count, last]
  - name: request_latency_5m
    metric: kafka.request.latency
    type: histogram
    temporality: delta
    window: 5m
    group_by: [tenant, cluster, request_type]
    functions: [count, sum, avg, min, max, buckets]
`

const reductionRegistry = `
version: 1
source:
  url: file:///unused
  dimensions: [tenant, cluster, broker, topic, request_type]
  tenant: tenant
aggregations:
  - name: cluster_bytes_in_1m
    metric: kafka.server.bytes_in
    type: sum
    temporality: cumulative
    monotonic: true
    window: 1m
    group_by: [tenant, cluster]
    functions: [delta, rate, count, last]
  - name: cluster_bytes_out_1m
    metric: kafka.server.bytes_out
    type: sum
    temporality: cumulative
    monotonic: true
    window: 1m
    group_by: [tenant, cluster]
    functions: [delta, rate, count, last]
`

// Workloads returns the benchmark workloads. short gives tiny versions of the same
// shapes (every quirk kept) for the test suite.
func Workloads(short bool) []Workload {
	w1 := Workload{
		Name:  "W1",
		Title: "gauges: 20M rows, 1.2M groups per 1m window, one task",
		Gen: gen.Config{
			From: base, To: base.Add(3 * time.Minute),
			Tenants: 100, ClustersPerTenant: 100, BrokersPerCluster: 120, TopicsPerBroker: 1,
			Interval: 10800 * time.Millisecond, Seed: 1, FilesPerPartition: 4,
			Metrics:           []string{gen.MetricCPU},
			DuplicateFraction: 0.001, NaNFraction: 0.001, OutOfOrderFraction: 0.001,
		},
		Registry: gaugeRegistry, From: base, To: base.Add(3 * time.Minute),
	}
	w2 := Workload{
		Name:  "W2",
		Title: "cumulative counters with resets and explicit histograms, 10m lookback before the range",
		Gen: gen.Config{
			From: base.Add(-10 * time.Minute), To: base.Add(time.Hour),
			Tenants: 20, ClustersPerTenant: 10, BrokersPerCluster: 14, TopicsPerBroker: 4,
			Interval: 10 * time.Second, Seed: 2, FilesPerPartition: 4,
			Metrics:           []string{gen.MetricBytesIn, gen.MetricRequests, gen.MetricLatency},
			DuplicateFraction: 0.001, OutOfOrderFraction: 0.001, ResetProbability: 0.05,
		},
		Registry: counterHistRegistry, From: base, To: base.Add(time.Hour),
	}
	w3 := Workload{
		Name:  "W3",
		Title: "dimension reduction: counters of 200K series (five dimensions) to 100 groups (two)",
		Gen: gen.Config{
			From: base, To: base.Add(25 * time.Minute),
			Tenants: 10, ClustersPerTenant: 10, BrokersPerCluster: 20, TopicsPerBroker: 50,
			Interval: 10 * time.Second, Seed: 3, FilesPerPartition: 4,
			Metrics:           []string{gen.MetricBytesIn, gen.MetricBytesOut},
			DuplicateFraction: 0.001, OutOfOrderFraction: 0.001, ResetProbability: 0.05,
		},
		Registry: reductionRegistry, From: base, To: base.Add(25 * time.Minute),
	}
	w4 := w1
	w4.Name = "W4"
	w4.Title = "scale: W1's fleet and groups, 10x the rows (200M) over 100 single-tenant files"
	w4.Gen.Seed = 4
	w4.Gen.To = base.Add(30 * time.Minute)
	w4.Gen.FilesPerPartition = 100
	w4.To = w4.Gen.To
	all := []Workload{w1, w2, w3, w4}
	if short {
		shrink := func(w *Workload, tenants, clusters, brokers, topics int) {
			w.Gen.Tenants, w.Gen.ClustersPerTenant, w.Gen.BrokersPerCluster, w.Gen.TopicsPerBroker = tenants, clusters, brokers, topics
			w.Gen.RowGroupRows = 4096
		}
		shrink(&all[0], 4, 3, 5, 1)
		shrink(&all[1], 3, 2, 3, 3)
		shrink(&all[2], 2, 2, 4, 20)
		shrink(&all[3], 4, 3, 5, 1)
		all[3].Gen.FilesPerPartition = 4
	}
	return all
}

// EnsureLake generates the workload's lake under work unless a lake of the same
// configuration is already there (a marker file holds the configuration).
func EnsureLake(ctx context.Context, w *Workload, work string) (gen.Stats, error) {
	dir := w.LakeDir(work)
	cfg := w.Gen
	url, err := fileURL(dir)
	if err != nil {
		return gen.Stats{}, err
	}
	cfg.URL = url
	cfg.Progress = nil
	fingerprint := fmt.Sprintf("%+v", cfg)
	marker := filepath.Join(dir, ".generated.json")
	if old, err := os.ReadFile(marker); err == nil {
		var m lakeMarker
		if json.Unmarshal(old, &m) == nil && m.Config == fingerprint {
			return m.Stats, nil
		}
	}
	if err := os.RemoveAll(dir); err != nil {
		return gen.Stats{}, err
	}
	st, err := gen.GenerateURL(ctx, cfg)
	if err != nil {
		return gen.Stats{}, fmt.Errorf("generate lake of %s: %w", w.Name, err)
	}
	data, _ := json.Marshal(lakeMarker{Config: fingerprint, Stats: st})
	if err := os.WriteFile(marker, data, 0o644); err != nil {
		return gen.Stats{}, err
	}
	return st, nil
}

type lakeMarker struct {
	Config string    `json:"config"`
	Stats  gen.Stats `json:"stats"`
}
