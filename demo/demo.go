// Package demo runs tally end to end on an embedded default: it generates a small
// synthetic lake on local disk, plans and backfills the example registry into rollup
// Parquet, publishes the same rollups to an in-process Kafka broker, and shows what
// came out. It needs no servers and no configuration.
package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/tallyhq/tally/backfill"
	"github.com/tallyhq/tally/gen"
	"github.com/tallyhq/tally/planner"
	"github.com/tallyhq/tally/reader"
	"github.com/tallyhq/tally/specs"
	"github.com/tallyhq/tally/writer"
	"github.com/tallyhq/tally/writer/kafka"
)

// Config configures the demo.
type Config struct {
	// Dir is where the lake and the rollups are written (created if missing).
	Dir string
	// Hours of synthetic data, starting at From.
	Hours int
	From  time.Time
	// Parallelism of the backfill (0: CPUs).
	Parallelism int
	// Kafka turns on publishing to an in-process broker.
	Kafka bool
	// Logger receives the pipeline's logs (default: discard, the demo prints its own story).
	Logger *slog.Logger
}

// DefaultFrom is the first hour of the demo's data.
var DefaultFrom = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

// Run runs the demo and tells its story on w.
func Run(ctx context.Context, cfg Config, w io.Writer) error {
	if cfg.Dir == "" {
		return errors.New("demo: a directory is required")
	}
	if cfg.Hours <= 0 {
		cfg.Hours = 3
	}
	if cfg.From.IsZero() {
		cfg.From = DefaultFrom
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	dir, err := filepath.Abs(cfg.Dir)
	if err != nil {
		return err
	}
	lakeDir, outDir := filepath.Join(dir, "lake"), filepath.Join(dir, "rollups")
	for _, d := range []string{lakeDir, outDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("demo: %w", err)
		}
	}
	lakeURL, outURL := "file://"+filepath.ToSlash(lakeDir), "file://"+filepath.ToSlash(outDir)
	from, to := cfg.From, cfg.From.Add(time.Duration(cfg.Hours)*time.Hour)

	// 1. A synthetic lake with real-world quirks.
	g := gen.DefaultConfig(lakeURL, from, to)
	g.Tenants, g.ClustersPerTenant, g.BrokersPerCluster, g.TopicsPerBroker = 3, 2, 3, 4
	g.Seed = 1
	g.LateFraction, g.DuplicateFraction, g.NaNFraction, g.OutOfOrderFraction = 0.01, 0.005, 0.002, 0.01
	began := time.Now()
	gs, err := gen.GenerateURL(ctx, g)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "1. generated a raw lake: %d rows of %d series in %d Parquet files (%s), %s\n", gs.Rows, gs.Series, gs.Files, mib(gs.Bytes), time.Since(began).Round(time.Millisecond))
	fmt.Fprintf(w, "   quirks: %d duplicates, %d NaN/Inf, %d late arrivals, %d counter resets\n   at %s\n", gs.Duplicates, gs.NaNs, gs.Late, gs.Resets, lakeURL)

	// 2. The example registry and its plan.
	reg, err := specs.Example(lakeURL)
	if err != nil {
		return err
	}
	src, err := reader.OpenBucket(ctx, lakeURL)
	if err != nil {
		return err
	}
	plan, err := planner.Build(ctx, src, reg, from, to, planner.Options{})
	src.Close()
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "2. planned %d aggregations over [%s, %s): %d tasks, %d of %d row groups, %s to fetch, read amplification %.2f\n",
		len(reg.Aggregations), from.Format(time.RFC3339), to.Format(time.RFC3339), len(plan.Tasks),
		plan.Stats.RowGroupsKept, plan.Stats.RowGroups, mib(plan.Stats.BytesToFetch), plan.Stats.ReadAmplification)

	// 3. Backfill, publishing to an in-process Kafka broker.
	bcfg := backfill.Config{Registry: reg, Plan: plan, Out: outURL, Parallelism: cfg.Parallelism, Logger: cfg.Logger, Force: true}
	var brokers []string
	if cfg.Kafka {
		cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.DefaultNumPartitions(6))
		if err != nil {
			return fmt.Errorf("demo: start the in-process Kafka broker: %w", err)
		}
		defer cluster.Close()
		brokers = cluster.ListenAddrs()
		kc := kafka.DefaultConfig()
		kc.Brokers = brokers
		kc.CreateTopics = true
		kc.TopicPartitions = 6
		kc.TopicReplication = 1
		sink, err := kafka.NewSink(kc, reg, cfg.Logger)
		if err != nil {
			return err
		}
		defer sink.Close()
		bcfg.Publisher = sink
	}
	sum, err := backfill.Run(ctx, bcfg)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "3. backfilled %d tasks: %d rows in → %d rollup rows (%d Kafka records) in %.2fs, %.1fM rows/s\n",
		sum.Tasks.Done, sum.RowsIn, sum.RowsOut, sum.RecordsOut, sum.DurationSeconds, sum.RowsPerSecond/1e6)
	var names []string
	for n := range sum.Aggregations {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		a := sum.Aggregations[n]
		var drops []string
		for _, k := range []string{"duplicates", "dropped_nonfinite", "resets"} {
			if a.Drops[k] > 0 {
				drops = append(drops, fmt.Sprintf("%s %d", k, a.Drops[k]))
			}
		}
		fmt.Fprintf(w, "   %-28s %6d rows  %s\n", n, a.RowsOut, strings.Join(drops, ", "))
	}

	// 4. What came out.
	if err := showRollups(ctx, w, outURL, reg); err != nil {
		return err
	}
	if cfg.Kafka {
		if err := showRecords(ctx, w, brokers, reg); err != nil {
			return err
		}
		if err := auditStream(ctx, w, cfg, dir, lakeURL, brokers, from, to); err != nil {
			return err
		}
	}
	fmt.Fprintf(w, "\nOutputs: %s (rollups per tenant and aggregation, manifests under _tally/)\n", outDir)
	fmt.Fprintf(w, "Try: go run ./cmd/tally status --spec specs/examples/kafka-telemetry.yaml --source %s --from %s --to %s --out %s\n",
		lakeURL, from.Format(time.RFC3339), to.Format(time.RFC3339), outURL)
	return nil
}

// showRollups prints where the rollups are and a few rows of one of them.
func showRollups(ctx context.Context, w io.Writer, outURL string, reg *specs.Registry) error {
	store, err := writer.OpenStore(ctx, outURL)
	if err != nil {
		return err
	}
	defer store.Close()
	ms, err := store.ListManifests(ctx)
	if err != nil {
		return err
	}
	var outs []writer.OutputObject
	for _, m := range ms {
		outs = append(outs, m.Outputs...)
	}
	sort.Slice(outs, func(i, j int) bool { return outs[i].Key < outs[j].Key })
	fmt.Fprintf(w, "4. %d rollup files committed by %d manifests, e.g.\n", len(outs), len(ms))
	shown := 0
	for _, o := range outs {
		if o.Aggregation == "broker_cpu_5m" && shown < 3 {
			fmt.Fprintf(w, "   %s (%d rows)\n", o.Key, o.Rows)
			shown++
		}
	}
	for _, o := range outs {
		if o.Aggregation != "cluster_bytes_in_1m" {
			continue
		}
		return showFile(ctx, w, store, o, reg)
	}
	return nil
}

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }
