package main

import (
	"strings"

	"github.com/spf13/cobra"

	"github.com/tallyhq/tally/backfill"
)

func newRollupCmd() *cobra.Command {
	var rf rangeFlags
	var cfg backfill.RollupConfig
	var coarse string
	cmd := &cobra.Command{
		Use:   "rollup",
		Short: "Compute coarser aggregations from a committed finer rollup instead of raw data",
		Long: `rollup reads the committed rollup files of the --fine aggregation (only files named by
task manifests) and computes the --coarse aggregations from them: count, sum, min, max,
delta, rate, avg (from sum and count), first and last (same group_by only), histogram
buckets and sketches, and quantiles from those. A coarse aggregation that needs anything
the finer rollup lacks is refused with the reason. Results are committed like a backfill.`,
		Example: `  tally rollup --spec registry.yaml --fine broker_cpu_5m --coarse broker_cpu_1h,broker_cpu_1d \
    --from 2026-11-01 --to 2026-12-01 --in s3://rollups --out s3://rollups`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			reg, from, to, err := rf.load(true)
			if err != nil {
				return err
			}
			cfg.Registry, cfg.From, cfg.To = reg, from, to
			cfg.Coarse = strings.Split(coarse, ",")
			if cfg.Out == "" {
				cfg.Out = cfg.In
			}
			sum, err := backfill.Rollup(cmd.Context(), cfg)
			if sum != nil {
				printSummary(cmd.OutOrStdout(), sum, cfg.Out)
			}
			return err
		},
	}
	rf.add(cmd)
	cmd.Flags().StringVar(&cfg.Fine, "fine", "", "the finer aggregation whose committed rollup is read (required)")
	cmd.Flags().StringVar(&coarse, "coarse", "", "comma-separated coarser aggregations to compute (required)")
	cmd.Flags().StringVar(&cfg.In, "in", "", "output URL of the backfill that wrote the finer rollup (required)")
	cmd.Flags().StringVar(&cfg.Out, "out", "", "where the coarse rollups go (default: --in)")
	cmd.Flags().StringVar(&cfg.RunID, "run-id", "", "name of this run")
	for _, f := range []string{"fine", "coarse", "in"} {
		_ = cmd.MarkFlagRequired(f)
	}
	return cmd
}
