package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/tallyhq/tally/gen"
)

func newGenCmd() *cobra.Command {
	var (
		cfg      gen.Config
		from, to string
		hours    int
		progress string
		asJSON   bool
	)
	cmd := &cobra.Command{
		Use:   "gen --out URL --from TIME (--to TIME | --hours N)",
		Short: "Write a synthetic Kafka-telemetry raw lake (demo, test and benchmark data)",
		Long: `gen writes a deterministic synthetic raw lake in the raw segment contract
(docs/raw-schema.md): broker gauges, cumulative byte and request counters, delta
error counters and request-latency histograms for a fleet of tenants, clusters,
brokers and topics, partitioned by event time under any blob URL. The same flags
give byte-identical files. Quirks (late, duplicate, NaN, out-of-order rows and
counter resets) are injected on demand. See docs/gen.md.`,
		Example: `  tally gen --out file:///tmp/lake --from 2026-11-01T00:00:00Z --hours 24
  tally gen --out s3://raw/kafka?region=us-east-1 --from 2026-11-01 --to 2026-11-02 \
      --tenants 50 --duplicate-fraction 0.001 --late-fraction 0.01`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var err error
			if cfg.From, err = parseTime("--from", from); err != nil {
				return err
			}
			switch {
			case to != "" && cmd.Flags().Changed("hours"):
				return fmt.Errorf("give either --to or --hours, not both")
			case to != "":
				if cfg.To, err = parseTime("--to", to); err != nil {
					return err
				}
			default:
				cfg.To = cfg.From.Add(time.Duration(hours) * time.Hour)
			}
			if cfg.URL == "" {
				return fmt.Errorf("--out is required: the lake root URL, e.g. file:///data/lake or s3://bucket/raw")
			}
			if bar := newGenProgress(cmd.ErrOrStderr(), progress, cfg); bar != nil {
				cfg.Progress = func(n int64) { _ = bar.Add64(n) }
				defer func() { _ = bar.Finish() }()
			}
			start := time.Now()
			st, err := gen.GenerateURL(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			elapsed := time.Since(start)
			if asJSON {
				return writeJSON(cmd.OutOrStdout(), st)
			}
			printGenSummary(cmd.OutOrStdout(), cfg, st, elapsed)
			return nil
		},
	}
	d := gen.DefaultConfig("", time.Time{}, time.Time{})
	f := cmd.Flags()
	f.StringVar(&cfg.URL, "out", "", "lake root URL: file:///abs/path, s3://bucket/prefix?region=…, gs://…, azblob://…, or a local folder (required)")
	f.StringVar(&from, "from", "", "start of the event-time range, RFC 3339 or YYYY-MM-DD (required)")
	f.StringVar(&to, "to", "", "end of the event-time range (exclusive)")
	f.IntVar(&hours, "hours", 1, "length of the range in hours, when --to is not given")
	f.IntVar(&cfg.Tenants, "tenants", d.Tenants, "number of tenants")
	f.IntVar(&cfg.ClustersPerTenant, "clusters", d.ClustersPerTenant, "Kafka clusters per tenant")
	f.IntVar(&cfg.BrokersPerCluster, "brokers", d.BrokersPerCluster, "brokers per cluster")
	f.IntVar(&cfg.TopicsPerBroker, "topics", d.TopicsPerBroker, "topics per broker")
	f.DurationVar(&cfg.Interval, "interval", d.Interval, "how often every series reports (at most 1h)")
	f.Int64Var(&cfg.Seed, "seed", 0, "seed: another seed gives another, equally reproducible lake")
	f.StringVar(&cfg.Layout, "layout", d.Layout, "partition folders: hive (dt=…/hour=…/) or druid (START_END/)")
	f.IntVar(&cfg.FilesPerPartition, "files-per-partition", d.FilesPerPartition, "files per hour; tenants are split across them")
	f.IntVar(&cfg.RowGroupRows, "row-group-rows", d.RowGroupRows, "rows per Parquet row group")
	f.StringVar(&cfg.Codec, "codec", d.Codec, "compression: zstd, snappy, lz4_raw, gzip or none")
	f.StringVar(&cfg.TimeUnit, "time-unit", d.TimeUnit, "time columns: ms, us, ns, s (TIMESTAMP) or int64-ms, int64-ns (plain INT64)")
	f.StringToStringVar(&cfg.Columns, "column", nil, "rename a contract column, CONTRACT=PHYSICAL (repeatable), e.g. --column time=ts")
	f.StringSliceVar(&cfg.Metrics, "metrics", nil, "only these metrics (comma-separated); default all: "+strings.Join(gen.MetricNames(), ","))
	f.Float64Var(&cfg.LateFraction, "late-fraction", 0, "fraction of points ingested --late-by after their event time")
	f.DurationVar(&cfg.LateBy, "late-by", d.LateBy, "how late a late point arrives")
	f.Float64Var(&cfg.DuplicateFraction, "duplicate-fraction", 0, "fraction of points written twice (same file or another file of the partition)")
	f.Float64Var(&cfg.NaNFraction, "nan-fraction", 0, "fraction of gauge points that are NaN (one in ten +Inf)")
	f.Float64Var(&cfg.OutOfOrderFraction, "out-of-order-fraction", 0, "fraction of rows moved later in their file")
	f.Float64Var(&cfg.ResetProbability, "reset-probability", d.ResetProbability, "chance that a cumulative counter resets in a given hour")
	f.IntVar(&cfg.Concurrency, "concurrency", 0, "files written at once (0: one per CPU)")
	f.StringVar(&progress, "progress", "auto", "progress bar: auto (on a terminal), always, never")
	f.BoolVar(&asJSON, "json", false, "print the summary as JSON")
	return cmd
}

// newGenProgress returns a row progress bar on a terminal (or always), nil otherwise.
func newGenProgress(w io.Writer, mode string, cfg gen.Config) *progressbar.ProgressBar {
	if !(mode == "always" || (mode == "auto" && isTerminal(w))) {
		return nil
	}
	total, err := gen.ExpectedRows(cfg)
	if err != nil {
		return nil // the run reports the configuration error
	}
	return progressbar.NewOptions64(total, progressbar.OptionSetWriter(w), progressbar.OptionSetDescription("rows"),
		progressbar.OptionShowCount(), progressbar.OptionShowIts(), progressbar.OptionSetItsString("rows"),
		progressbar.OptionThrottle(100*time.Millisecond), progressbar.OptionSetPredictTime(true), progressbar.OptionClearOnFinish())
}

func printGenSummary(w io.Writer, cfg gen.Config, st gen.Stats, elapsed time.Duration) {
	fmt.Fprintf(w, "generated %s\n", cfg.URL)
	fmt.Fprintf(w, "  range    %s to %s, every %s\n", cfg.From.Format(time.RFC3339), cfg.To.Format(time.RFC3339), cfg.Interval)
	fmt.Fprintf(w, "  files    %d (%s layout, %s, time unit %s)\n", st.Files, cfg.Layout, cfg.Codec, cfg.TimeUnit)
	fmt.Fprintf(w, "  rows     %d in %d series, %.1f MiB\n", st.Rows, st.Series, float64(st.Bytes)/(1<<20))
	fmt.Fprintf(w, "  quirks   %d duplicates, %d NaN/Inf, %d late, %d counter resets, %d out of order\n",
		st.Duplicates, st.NaNs, st.Late, st.Resets, st.OutOfOrder)
	fmt.Fprintf(w, "  speed    %.0f rows/s over %.2fs\n", float64(st.Rows)/elapsed.Seconds(), elapsed.Seconds())
}
