package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/tallyhq/tally/audit"
	"github.com/tallyhq/tally/writer/kafka"
)

// findingsError is returned by audit when unexplained mismatches exceed the limit.
type findingsError struct{ unexplained, max int }

func (e *findingsError) Error() string {
	return fmt.Sprintf("%d unexplained mismatches, more than --max-mismatches %d", e.unexplained, e.max)
}

func (e *findingsError) ExitCode() int { return exitFindings }

// auditFlags are the selection flags shared by audit and repair.
type auditFlags struct {
	rf           rangeFlags
	stream       string
	batch        string
	grace        time.Duration
	relTol       float64
	absTol       float64
	aggregations []string
}

func (f *auditFlags) add(cmd *cobra.Command) {
	f.rf.add(cmd)
	cmd.Flags().StringVar(&f.stream, "stream", "", "the stream's output: kafka://host:port[,host:port]/topic (read_committed) or the URL of its rollup Parquet archive (required)")
	cmd.Flags().StringVar(&f.batch, "batch", "", "read the batch truth from these existing rollups instead of computing it from the lake")
	cmd.Flags().DurationVar(&f.grace, "grace", audit.DefaultGrace, "the streaming job's grace period: points arriving after window end + grace are dropped by it")
	cmd.Flags().Float64Var(&f.relTol, "rel-tol", audit.DefaultRelTolerance, "relative tolerance of float functions")
	cmd.Flags().Float64Var(&f.absTol, "abs-tol", audit.DefaultAbsTolerance, "absolute tolerance of float functions")
	cmd.Flags().StringSliceVar(&f.aggregations, "aggregation", nil, "audit only these aggregations (repeatable; default: every aggregation routed to the stream)")
	_ = cmd.MarkFlagRequired("stream")
}

// config builds the audit configuration; TLS and SASL for the stream's brokers come
// from the TALLY_KAFKA_* environment.
func (f *auditFlags) config() (audit.Config, error) {
	reg, from, to, err := f.rf.load(true)
	if err != nil {
		return audit.Config{}, err
	}
	cfg := audit.Config{Registry: reg, From: from, To: to, SourceURL: f.rf.source, Stream: f.stream, Batch: f.batch,
		Grace: f.grace, Tolerance: audit.Tolerance{Rel: f.relTol, Abs: f.absTol}, Aggregations: f.aggregations, Logger: slog.Default()}
	s, err := audit.ParseStreamURL(f.stream)
	if err != nil {
		return cfg, fmt.Errorf("--stream: %w", err)
	}
	if s.IsKafka() {
		kc := kafka.DefaultConfig()
		if err := kc.LoadEnv(os.LookupEnv); err != nil {
			return cfg, err
		}
		kc.Brokers = s.Brokers
		if cfg.KafkaOpts, err = kc.ClientOpts(); err != nil {
			return cfg, err
		}
	}
	return cfg, nil
}

func newAuditCmd() *cobra.Command {
	var (
		af            auditFlags
		maxMismatches int
		asJSON        bool
		reportFile    string
	)
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Compare the stream's output with the batch truth and explain every difference",
		Long: `audit reads what the streaming job published for a range (a Kafka topic, read
committed and bounded by the record timestamps, or its rollup Parquet archive),
computes the same aggregations from the raw lake (or reads --batch rollups), and
matches them by aggregation, dimensions and window. Every key is a match, a value
mismatch, missing in the stream, extra in the stream, or a duplicate publish
(conflicting or identical). Differences are explained where they can be: the
stream's lateness rule (window end + --grace) is re-simulated, and a stream key
without any data in the lake points at a missing input segment.

Exit code 0 when everything matches or is explained, 1 when unexplained
mismatches exceed --max-mismatches, 2 on errors. See docs/audit.md.`,
		Example: `  tally audit --spec registry.yaml --from 2026-11-01 --to 2026-11-02 --stream kafka://broker:9092/tally.rollups
  tally audit --spec registry.yaml --from 2026-11-01 --to 2026-11-02 --stream s3://stream-archive/rollups --report audit.html --json > audit.json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if maxMismatches < 0 {
				return fmt.Errorf("--max-mismatches %d must not be negative", maxMismatches)
			}
			cfg, err := af.config()
			if err != nil {
				return err
			}
			rep, err := audit.Run(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			if err := writeReports(cmd.OutOrStdout(), rep, asJSON, reportFile); err != nil {
				return err
			}
			if rep.Unexplained > maxMismatches {
				return &findingsError{unexplained: rep.Unexplained, max: maxMismatches}
			}
			return nil
		},
	}
	af.add(cmd)
	cmd.Flags().IntVar(&maxMismatches, "max-mismatches", 0, "exit 1 only when unexplained mismatches exceed this")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON instead of the summary")
	cmd.Flags().StringVar(&reportFile, "report", "", "also write a self-contained HTML report to this file (heat map, worst series)")
	return cmd
}

// writeReports prints the summary (or JSON) and writes the HTML report when asked.
func writeReports(w io.Writer, rep *audit.Report, asJSON bool, reportFile string) error {
	if asJSON {
		if err := rep.WriteJSON(w); err != nil {
			return err
		}
	} else if err := rep.WriteText(w); err != nil {
		return err
	}
	if reportFile == "" {
		return nil
	}
	f, err := os.Create(reportFile)
	if err != nil {
		return fmt.Errorf("--report: %w", err)
	}
	if err := rep.WriteHTML(f); err != nil {
		_ = f.Close()
		return fmt.Errorf("--report %s: %w", reportFile, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("--report %s: %w", reportFile, err)
	}
	if !asJSON {
		fmt.Fprintf(w, "  report   %s\n", reportFile)
	}
	return nil
}
