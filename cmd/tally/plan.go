package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/tallyhq/tally/planner"
)

func newPlanCmd() *cobra.Command {
	var rf rangeFlags
	var (
		asJSON      bool
		out         string
		verbose     bool
		concurrency int
	)
	cmd := &cobra.Command{
		Use:   "plan",
		Short: "Dry run: show which raw segments and row groups a backfill reads, and its tasks",
		Long: `plan lists the raw lake's partitions that overlap the range (never the whole bucket
for partitioned layouts), reads every footer, prunes row groups by their time
statistics and cuts the work into tasks: one per time slice (aligned to the
registry's largest window, at least one partition long) and shard (a tenant when
every row group holds one tenant, else all). Nothing but footers is read.

The human output lists files, row groups kept and pruned, the bytes a backfill will
fetch, the tasks and the read amplification (1.000 when every needed column chunk is
fetched once). --json prints the plan (docs/plan-format.md) that
'tally backfill --plan' runs unchanged.`,
		Example: `  tally plan --spec specs/examples/kafka-telemetry.yaml --from 2026-11-01T00:00:00Z --to 2026-11-01T06:00:00Z
  tally plan --spec registry.yaml --from 2026-11-01 --to 2026-11-02 --json --out plan.json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			reg, from, to, err := rf.load(true)
			if err != nil {
				return err
			}
			src, err := openSource(ctx, reg)
			if err != nil {
				return err
			}
			defer src.Close()
			p, err := planner.Build(ctx, src, reg, from, to, planner.Options{Concurrency: concurrency, SourceURL: reg.Source.URL})
			if err != nil {
				return err
			}
			if out != "" {
				if err := writePlanFile(out, p); err != nil {
					return err
				}
			}
			switch {
			case asJSON && out == "":
				return p.WriteJSON(cmd.OutOrStdout())
			case asJSON:
				fmt.Fprintf(cmd.OutOrStdout(), "plan written to %s: %d tasks, %s to fetch\n", out, len(p.Tasks), planner.Bytes(p.Stats.BytesToFetch))
				return nil
			}
			return p.WriteText(cmd.OutOrStdout(), verbose)
		},
	}
	rf.add(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the machine-readable plan (with --out: only write it)")
	cmd.Flags().StringVar(&out, "out", "", "also write the JSON plan to this file (for tally backfill --plan)")
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "list every row group with its time range")
	cmd.Flags().IntVar(&concurrency, "concurrency", planner.DefaultConcurrency, "listings and footer reads at once")
	return cmd
}

// writePlanFile writes the JSON plan to path, reporting a failed close.
func writePlanFile(path string, p *planner.Plan) (err error) {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("write plan: %w", err)
	}
	defer func() {
		if cerr := f.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("write plan %s: %w", path, cerr)
		}
	}()
	return p.WriteJSON(f)
}
