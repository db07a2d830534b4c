package main

import (
	"github.com/spf13/cobra"

	"github.com/tallyhq/tally/demo"
)

func newDemoCmd() *cobra.Command {
	var cfg demo.Config
	var noKafka bool
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run gen → plan → backfill → Kafka on local disk, with no servers to install",
		Long: `demo generates a small synthetic Kafka-telemetry lake under --dir, plans and backfills
the example registry (specs/examples/kafka-telemetry.yaml) into rollup Parquet,
publishes the rollups to an in-process Kafka broker, and prints what came out.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg.Kafka = !noKafka
			return demo.Run(cmd.Context(), cfg, cmd.OutOrStdout())
		},
	}
	cmd.Flags().StringVar(&cfg.Dir, "dir", "tally-demo", "directory for the demo lake and rollups")
	cmd.Flags().IntVar(&cfg.Hours, "hours", 3, "hours of synthetic data")
	cmd.Flags().IntVar(&cfg.Parallelism, "parallelism", 0, "row groups decoded at once (default: number of CPUs)")
	cmd.Flags().BoolVar(&noKafka, "no-kafka", false, "skip publishing to the in-process Kafka broker")
	return cmd
}
