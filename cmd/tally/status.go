package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"
	"gocloud.dev/blob"

	"github.com/tallyhq/tally/backfill"
	"github.com/tallyhq/tally/planner"
	"github.com/tallyhq/tally/reader"
	"github.com/tallyhq/tally/specs"
	"github.com/tallyhq/tally/writer"
)

// exitStatusIncomplete is returned by status when tasks are missing or stale.
type incompleteError struct{ missing, stale int }

func (e *incompleteError) Error() string {
	return fmt.Sprintf("%d tasks missing, %d stale: run tally backfill for the range", e.missing, e.stale)
}
func (e *incompleteError) ExitCode() int { return exitFindings }

func openSource(ctx context.Context, reg *specs.Registry) (*blob.Bucket, error) {
	return reader.OpenBucket(ctx, reg.Source.URL)
}

func newStatusCmd() *cobra.Command {
	var rf rangeFlags
	var out string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Report which tasks of a range are committed, missing or stale",
		Long: `status plans the range as backfill would and reads the manifests under --out: every
task is committed (its inputs and spec versions are unchanged), missing (never
committed) or stale (committed for other inputs or another spec version).
Exit code 0 when everything is committed, 1 when anything is missing or stale.`,
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
			p, err := planner.Build(ctx, src, reg, from, to, planner.Options{})
			if err != nil {
				return err
			}
			store, err := writer.OpenStore(ctx, out)
			if err != nil {
				return err
			}
			defer store.Close()
			versions := map[string]string{}
			for _, a := range reg.Aggregations {
				versions[a.Name] = a.Version
			}
			var tasks []writer.Task
			for _, t := range p.Tasks {
				tasks = append(tasks, backfill.WriterTask(t))
			}
			st, err := store.Status(ctx, tasks, versions)
			if err != nil {
				return err
			}
			var missing, stale int
			for _, s := range st {
				switch s.State {
				case "missing":
					missing++
				case "stale":
					stale++
				}
			}
			w := cmd.OutOrStdout()
			if asJSON {
				if err := writeJSON(w, st); err != nil {
					return err
				}
			} else {
				for _, s := range st {
					fmt.Fprintf(w, "%-10s %s %s\n", s.State, s.TaskID, s.Why)
				}
				fmt.Fprintf(w, "%d tasks: %d committed, %d missing, %d stale\n", len(st), len(st)-missing-stale, missing, stale)
			}
			if missing+stale > 0 {
				return &incompleteError{missing, stale}
			}
			return nil
		},
	}
	rf.add(cmd)
	cmd.Flags().StringVar(&out, "out", "", "output URL of the backfill (required)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	_ = cmd.MarkFlagRequired("out")
	return cmd
}
