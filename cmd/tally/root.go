package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/spf13/cobra"
	"golang.org/x/term"
)

// globalFlags are the flags every command has.
type globalFlags struct {
	logFormat string
	logLevel  string
}

var global globalFlags

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "tally",
		Short: "Batch recompute, publish and audit predefined telemetry aggregations",
		Long: `tally is the batch side of a streaming telemetry pipeline. It recomputes the
registry's predefined aggregations from raw Parquet segments in object storage for
any time range (backfills), writes them as rollup Parquet and as Kafka records
interchangeable with the stream's, and audits the stream's output against them.

Exit codes: 0 success; 1 findings (audit: unexplained mismatches above
--max-mismatches; status: tasks missing or stale); 2 error; 130 interrupted
(committed tasks are kept; rerun to resume).`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			return setupLogging(cmd.ErrOrStderr())
		},
	}
	root.PersistentFlags().StringVar(&global.logFormat, "log-format", "auto", "log format: text, json, or auto (text on a terminal, json otherwise)")
	root.PersistentFlags().StringVar(&global.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	root.AddCommand(subcommands()...)
	return root
}

// subcommands lists every command; each lives in its own file.
func subcommands() []*cobra.Command {
	return []*cobra.Command{
		newSpecCmd(),
		newPlanCmd(),
		newGenCmd(),
		newBackfillCmd(),
		newStatusCmd(),
		newDemoCmd(),
		newRollupCmd(),
		newAuditCmd(),
		newRepairCmd(),
	}
}

func setupLogging(w io.Writer) error {
	var level slog.Level
	if err := level.UnmarshalText([]byte(global.logLevel)); err != nil {
		return fmt.Errorf("--log-level %q: want debug, info, warn or error", global.logLevel)
	}
	opts := &slog.HandlerOptions{Level: level}
	format := global.logFormat
	if format == "auto" {
		format = "json"
		if isTerminal(w) {
			format = "text"
		}
	}
	switch format {
	case "text":
		slog.SetDefault(slog.New(slog.NewTextHandler(w, opts)))
	case "json":
		slog.SetDefault(slog.New(slog.NewJSONHandler(w, opts)))
	default:
		return fmt.Errorf("--log-format %q: want text, json or auto", global.logFormat)
	}
	return nil
}

// isTerminal reports whether w is an interactive terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
