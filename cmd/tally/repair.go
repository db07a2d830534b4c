package main

import (
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/tallyhq/tally/audit"
)

func newRepairCmd() *cobra.Command {
	var (
		af       auditFlags
		kf       kafkaFlags
		out      string
		rewrite  bool
		id       string
		dryRun   bool
		asJSON   bool
		reportTo string
	)
	cmd := &cobra.Command{
		Use:   "repair",
		Short: "Publish corrections for exactly the keys the stream got wrong",
		Long: `repair runs the audit of the range, then publishes the batch value of every key
whose stream value is wrong or missing (value mismatches, missing keys, conflicting
duplicates; explained or not) as a Kafka record with the stream's key, encoding and
partitioning and the header tally.origin=repair, in one transaction. Later audits
take a tally record as superseding the stream's earlier records of the same key.
With --rewrite-rollups the backfill tasks holding those keys are rerun (forced) and
their rollup files under --out rewritten. What was repaired is recorded in
OUT/_tally/repairs/<id>.json. Keys only the stream has cannot be retracted and are
reported, not repaired. A second repair of the same range finds nothing to do.

Kafka brokers default to the --stream URL's brokers.`,
		Example: `  tally repair --spec registry.yaml --from 2026-11-01 --to 2026-11-02 --stream kafka://broker:9092/tally.rollups --out s3://rollups
  tally repair --spec registry.yaml --from 2026-11-01 --to 2026-11-02 --stream s3://rollups --rewrite-rollups --out s3://rollups`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			cfg, err := af.config()
			if err != nil {
				return err
			}
			s, _ := audit.ParseStreamURL(af.stream)
			if len(kf.cfg.Brokers) == 0 && s.IsKafka() {
				kf.cfg.Brokers = s.Brokers
			}
			rc := audit.RepairConfig{Audit: cfg, Out: out, RewriteRollups: rewrite, ID: id, DryRun: dryRun}
			if !dryRun {
				pub, closePub, err := kf.publisher(ctx, cfg.Registry)
				if err != nil {
					return err
				}
				defer closePub()
				if pub != nil {
					rc.Publisher = pub
				}
			} else if len(kf.cfg.Brokers) > 0 {
				rc.Publisher = dryRunPublisher{}
			}
			m, rep, err := audit.Repair(ctx, rc)
			if err != nil {
				return err
			}
			if err := writeReports(cmd.OutOrStdout(), rep, asJSON, reportTo); err != nil {
				return err
			}
			if !asJSON {
				printRepair(cmd.OutOrStdout(), m, dryRun, out)
			}
			return nil
		},
	}
	af.add(cmd)
	kf.add(cmd)
	cmd.Flags().StringVar(&out, "out", "", "output URL: the repair manifest goes to OUT/_tally/repairs/<id>.json, rewritten rollups under it (required)")
	cmd.Flags().BoolVar(&rewrite, "rewrite-rollups", false, "also rerun the backfill (forced) for the tasks holding repaired keys, rewriting their rollups under --out")
	cmd.Flags().StringVar(&id, "id", "", "name of this repair (default: time and random suffix)")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "audit and list what would be repaired, changing nothing")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the audit report as JSON instead of the summary")
	cmd.Flags().StringVar(&reportTo, "report", "", "also write the audit's HTML report to this file")
	_ = cmd.MarkFlagRequired("out")
	return cmd
}

// dryRunPublisher stands in for the Kafka sink in a dry run; it is never called.
type dryRunPublisher struct{ audit.Publisher }

func printRepair(w io.Writer, m *audit.RepairManifest, dryRun bool, out string) {
	if m == nil {
		fmt.Fprintln(w, "repair: nothing to repair")
		return
	}
	verb := "repaired"
	if dryRun {
		verb = "would repair"
	}
	fmt.Fprintf(w, "repair %s: %s %d keys (%d findings cannot be repaired)\n", m.ID, verb, len(m.Keys), m.Unrepairable)
	if m.Kafka != nil {
		fmt.Fprintf(w, "  kafka    %d records in %d partitions (transactional id %s)\n", m.Kafka.Records, len(m.Kafka.Partitions), m.Kafka.TransactionalID)
	}
	if len(m.RewrittenTasks) > 0 {
		fmt.Fprintf(w, "  rollups  %d tasks rewritten (run %s)\n", len(m.RewrittenTasks), m.RewriteRunID)
	}
	if !dryRun {
		fmt.Fprintf(w, "  manifest %s/%s (%s)\n", out, audit.RepairKey(m.ID), m.Created.Format(time.RFC3339))
	}
}
