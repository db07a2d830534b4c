package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/tallyhq/tally/backfill"
	"github.com/tallyhq/tally/planner"
	"github.com/tallyhq/tally/specs"
	"github.com/tallyhq/tally/writer"
)

// rangeFlags are the flags that select a registry and a time range.
type rangeFlags struct {
	spec     string
	from, to string
	source   string
}

func (f *rangeFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.spec, "spec", "", "metric registry YAML (required)")
	cmd.Flags().StringVar(&f.from, "from", "", "start of the range, RFC 3339 or YYYY-MM-DD (inclusive, aligned to the largest window)")
	cmd.Flags().StringVar(&f.to, "to", "", "end of the range, RFC 3339 or YYYY-MM-DD (exclusive)")
	cmd.Flags().StringVar(&f.source, "source", "", "raw lake URL, overriding the registry's source.url")
}

func (f *rangeFlags) load(needRange bool) (*specs.Registry, time.Time, time.Time, error) {
	if f.spec == "" {
		return nil, time.Time{}, time.Time{}, fmt.Errorf("--spec is required: the metric registry YAML")
	}
	reg, err := specs.Load(f.spec)
	if err != nil {
		return nil, time.Time{}, time.Time{}, err
	}
	if f.source != "" {
		reg.Source.URL = f.source
	}
	if !needRange && f.from == "" && f.to == "" {
		return reg, time.Time{}, time.Time{}, nil
	}
	from, err := parseTime("--from", f.from)
	if err != nil {
		return nil, time.Time{}, time.Time{}, err
	}
	to, err := parseTime("--to", f.to)
	if err != nil {
		return nil, time.Time{}, time.Time{}, err
	}
	return reg, from, to, nil
}

func parseTime(flag, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, fmt.Errorf("%s is required (RFC 3339, e.g. 2026-11-01T00:00:00Z, or a date 2026-11-01)", flag)
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%s %q is not a time; use RFC 3339 (2026-11-01T00:00:00Z) or a date (2026-11-01)", flag, s)
}

// parseShard parses "i/N".
func parseShard(s string) (int, int, error) {
	if s == "" {
		return 0, 0, nil
	}
	a, b, ok := strings.Cut(s, "/")
	i, err1 := strconv.Atoi(a)
	n, err2 := strconv.Atoi(b)
	if !ok || err1 != nil || err2 != nil || n <= 0 || i < 0 || i >= n {
		return 0, 0, fmt.Errorf("--shard %q: want i/N with 0 <= i < N, e.g. 0/3", s)
	}
	return i, n, nil
}

func newBackfillCmd() *cobra.Command {
	var rf rangeFlags
	var (
		planFile    string
		out         string
		parallelism int
		maxGroups   int
		force       bool
		shard       string
		runID       string
		dryRun      bool
		progress    string
		kf          kafkaFlags
	)
	cmd := &cobra.Command{
		Use:   "backfill",
		Short: "Recompute the registry's aggregations over a time range and write rollups",
		Long: `backfill plans the range, computes every aggregation of the registry task by task
(one scan of the raw segments per task computes all of them), writes one rollup
Parquet dataset per aggregation under OUT/tenant=<id>/<aggregation>/dt=<date>/, and
commits each task with a manifest under OUT/_tally/tasks/. A rerun skips committed
tasks whose inputs and spec versions did not change (--force recomputes them); an
interrupted run resumes where it stopped.`,
		Example: `  tally backfill --spec specs/examples/kafka-telemetry.yaml --from 2026-11-01 --to 2026-11-02 --out file:///data/rollups
  tally backfill --plan plan.json --spec registry.yaml --out s3://rollups?region=eu-west-1 --shard $JOB_COMPLETION_INDEX/8`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			reg, from, to, err := rf.load(planFile == "")
			if err != nil {
				return err
			}
			i, n, err := parseShard(shard)
			if err != nil {
				return err
			}
			cfg := backfill.Config{Registry: reg, From: from, To: to, SourceURL: rf.source, Out: out,
				Parallelism: parallelism, MaxGroups: maxGroups, Force: force, Shard: i, Shards: n, RunID: runID}
			if planFile != "" {
				p, err := readPlanFile(planFile)
				if err != nil {
					return err
				}
				cfg.Plan = p
			}
			if dryRun {
				p := cfg.Plan
				if p == nil {
					src, err := openSource(ctx, reg)
					if err != nil {
						return err
					}
					defer src.Close()
					if p, err = planner.Build(ctx, src, reg, from, to, planner.Options{}); err != nil {
						return err
					}
				}
				return p.WriteJSON(cmd.OutOrStdout())
			}
			pub, closePub, err := kf.publisher(ctx, reg)
			if err != nil {
				return err
			}
			defer closePub()
			cfg.Publisher = pub
			bar := newProgress(cmd.ErrOrStderr(), progress)
			if bar != nil {
				cfg.Progress = bar.update
			}
			sum, err := backfill.Run(ctx, cfg)
			if bar != nil {
				bar.finish()
			}
			if sum != nil {
				printSummary(cmd.OutOrStdout(), sum, out)
			}
			return err
		},
	}
	rf.add(cmd)
	cmd.Flags().StringVar(&planFile, "plan", "", "run the tasks of a plan written by 'tally plan --json' instead of planning again")
	cmd.Flags().StringVar(&out, "out", "", "output URL for rollups, manifests and run summaries (required)")
	cmd.Flags().IntVar(&parallelism, "parallelism", 0, "row groups decoded at once (default: number of CPUs)")
	cmd.Flags().IntVar(&maxGroups, "max-groups", 0, fmt.Sprintf("fail a task whose aggregation has more groups than this (default %d)", 5_000_000))
	cmd.Flags().BoolVar(&force, "force", false, "recompute tasks that are already committed")
	cmd.Flags().StringVar(&shard, "shard", "", "run only static shard i of N of the tasks, e.g. 0/3 (balanced by bytes)")
	cmd.Flags().StringVar(&runID, "run-id", "", "name of this run in manifests and summaries (default: time and random suffix)")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "print the plan as JSON and exit (same as 'tally plan --json')")
	cmd.Flags().StringVar(&progress, "progress", "auto", "progress bar: auto (on a terminal), always, never")
	kf.add(cmd)
	_ = cmd.MarkFlagRequired("out")
	return cmd
}

func readPlanFile(path string) (*planner.Plan, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read plan: %w", err)
	}
	defer f.Close()
	p, err := planner.ReadPlan(f)
	if err != nil {
		return nil, fmt.Errorf("read plan %s: %w", path, err)
	}
	return p, nil
}

func printSummary(w io.Writer, s *writer.RunSummary, out string) {
	fmt.Fprintf(w, "run %s: %s\n", s.RunID, s.Outcome)
	fmt.Fprintf(w, "  tasks    %d done, %d skipped (already committed), %d failed, of %d\n", s.Tasks.Done, s.Tasks.Skipped, s.Tasks.Failed, s.Tasks.Planned)
	if s.Tasks.Planned == 0 {
		fmt.Fprintln(w, "  note     nothing to do: no data in the range, or the layout or source URL does not match the lake (check with tally plan)")
	}
	fmt.Fprintf(w, "  rows     %d in, %d points, %d out (%d Kafka records)\n", s.RowsIn, s.PointsIn, s.RowsOut, s.RecordsOut)
	fmt.Fprintf(w, "  bytes    %d fetched (read amplification %.2f), %d written\n", s.BytesFetched, s.ReadAmplification, s.BytesWritten)
	fmt.Fprintf(w, "  speed    %.0f rows/s over %.2fs\n", s.RowsPerSecond, s.DurationSeconds)
	for _, f := range s.Failed {
		fmt.Fprintf(w, "  failed   %s: %s\n", f.TaskID, f.Error)
	}
	fmt.Fprintf(w, "  summary  %s/%s\n", strings.TrimSuffix(out, "/"), writer.RunSummaryKey(s.RunID))
}

// progressBar draws task progress on a terminal.
type progressBar struct {
	bar *progressbar.ProgressBar
}

func newProgress(w io.Writer, mode string) *progressBar {
	on := mode == "always" || (mode == "auto" && isTerminal(w))
	if !on {
		return nil
	}
	return &progressBar{bar: progressbar.NewOptions(-1, progressbar.OptionSetWriter(w), progressbar.OptionSetDescription("tasks"),
		progressbar.OptionShowCount(), progressbar.OptionSetPredictTime(true), progressbar.OptionClearOnFinish())}
}

func (p *progressBar) update(pr backfill.Progress) {
	if p.bar.GetMax() != pr.TasksTotal {
		p.bar.ChangeMax(pr.TasksTotal)
	}
	rate := float64(pr.RowsIn) / pr.Elapsed.Seconds()
	p.bar.Describe(fmt.Sprintf("tasks (%.1fM rows/s, %d MiB fetched)", rate/1e6, pr.BytesFetched>>20))
	_ = p.bar.Set(pr.TasksDone + pr.TasksSkipped)
}

func (p *progressBar) finish() { _ = p.bar.Finish() }

// writeJSON prints v as indented JSON.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
