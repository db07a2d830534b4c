package audit

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"time"

	"gocloud.dev/blob"

	"github.com/tallyhq/tally/backfill"
	"github.com/tallyhq/tally/exec"
	"github.com/tallyhq/tally/planner"
	"github.com/tallyhq/tally/reader"
	"github.com/tallyhq/tally/writer"
	"github.com/tallyhq/tally/writer/kafka"
)

// RepairsPrefix holds one manifest per repair under the output root.
const RepairsPrefix = writer.MetaPrefix + "repairs/"

// maxManifestBytes bounds the repair manifest ReadRepairManifest reads.
const maxManifestBytes = 256 << 20

// RepairManifestFormat is the format version of repair manifests.
const RepairManifestFormat = 1

// RepairKey returns the key of a repair's manifest.
func RepairKey(id string) string { return RepairsPrefix + id + ".json" }

// Publisher publishes a repair's records in one transaction (kafka.Sink implements it).
type Publisher interface {
	PublishTask(ctx context.Context, task kafka.TaskRef, rollups []exec.Rollup, j kafka.Journal) (kafka.TaskOffsets, error)
}

var _ Publisher = (*kafka.Sink)(nil)

// RepairConfig is one repair.
type RepairConfig struct {
	// Audit selects what is compared; Repair runs it first.
	Audit Config
	// Out is the output URL: the repair manifest goes to Out/_tally/repairs/<id>.json,
	// pending Kafka markers beside it, and rewritten rollups under it.
	Out string
	// Publisher, when set, publishes corrected records for the repaired keys (same
	// key, encoding and partitioning as the stream; origin repair).
	Publisher Publisher
	// RewriteRollups reruns the backfill (forced) for the tasks holding repaired keys,
	// rewriting their rollup files under Out.
	RewriteRollups bool
	// ID names the repair (default: time and random suffix).
	ID string
	// DryRun audits and returns the manifest that would be written, changing nothing.
	DryRun bool
}

// RepairedKey is one key a repair corrected.
type RepairedKey struct {
	Aggregation string    `json:"aggregation"`
	Dims        []DimVal  `json:"dims"`
	WindowStart time.Time `json:"window_start"`
	// Class and Explanation are what the audit found before the repair.
	Class       Class  `json:"class"`
	Explanation string `json:"explanation,omitempty"`
}

// RepairManifest records what a repair did.
type RepairManifest struct {
	Format  int       `json:"format"`
	ID      string    `json:"id"`
	Created time.Time `json:"created"`
	From    time.Time `json:"from"`
	To      time.Time `json:"to"`
	Stream  string    `json:"stream"`
	Batch   string    `json:"batch"`
	Grace   string    `json:"grace"`
	// Keys are the repaired keys, sorted.
	Keys []RepairedKey `json:"keys"`
	// Kafka is where the corrected records landed (absent without a publisher).
	Kafka *kafka.TaskOffsets `json:"kafka,omitempty"`
	// RewrittenTasks are the backfill tasks rerun to rewrite rollups.
	RewrittenTasks []string `json:"rewritten_tasks,omitempty"`
	RewriteRunID   string   `json:"rewrite_run_id,omitempty"`
	// Unrepairable counts findings a repair cannot fix: keys only the stream has
	// (records cannot be retracted) and conflicting duplicates without a batch row.
	Unrepairable int `json:"unrepairable"`
}

// Repair audits, then publishes corrected records for exactly the keys whose stream
// value is wrong or missing (and rewrites their rollups when asked), and records it in
// a manifest. It returns the audit report from before the repair and the manifest,
// which is nil when there was nothing to repair: a second repair of the same range
// finds nothing and changes nothing.
func Repair(ctx context.Context, cfg RepairConfig) (*RepairManifest, *Report, error) {
	if cfg.Out == "" {
		return nil, nil, errors.New("repair: an output URL is required (--out): the repair manifest is written there")
	}
	if cfg.Publisher == nil && !cfg.RewriteRollups {
		return nil, nil, errors.New("repair: nothing would be repaired: configure Kafka brokers (--kafka-brokers) or --rewrite-rollups")
	}
	o, err := run(ctx, cfg.Audit)
	if err != nil {
		return nil, nil, err
	}
	rep := o.report
	acfg := cfg.Audit // validated copy inside run; re-fill defaults for our use
	_ = acfg.Validate()
	unrepairable := 0
	for i := range rep.Findings {
		if !rep.Findings[i].Repairable && !(rep.Findings[i].Explained && rep.Findings[i].Explanation == ExplainedHarmlessDuplicate) {
			unrepairable++
		}
	}
	if len(o.repair) == 0 {
		return nil, rep, nil
	}
	if cfg.ID == "" {
		var b [4]byte
		_, _ = rand.Read(b[:])
		cfg.ID = acfg.Now().UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b[:])
	}
	if err := writer.CheckID("repair", cfg.ID); err != nil {
		return nil, rep, err
	}
	m := &RepairManifest{Format: RepairManifestFormat, ID: cfg.ID, Created: acfg.Now().UTC(), From: rep.From, To: rep.To,
		Stream: rep.Stream, Batch: rep.Batch, Grace: rep.Grace, Unrepairable: unrepairable}
	byKey := map[Key]*Finding{}
	for i := range rep.Findings {
		byKey[rep.Findings[i].key] = &rep.Findings[i]
	}
	for _, k := range o.repair {
		f := byKey[k]
		m.Keys = append(m.Keys, RepairedKey{Aggregation: k.Aggregation, Dims: f.Dims, WindowStart: f.WindowStart, Class: f.Class, Explanation: f.Explanation})
	}
	if cfg.DryRun {
		return m, rep, nil
	}
	store, err := writer.OpenStore(ctx, cfg.Out)
	if err != nil {
		return nil, rep, err
	}
	defer store.Close()
	if cfg.Publisher != nil {
		off, err := publishRepair(ctx, cfg, o, store)
		if err != nil {
			return nil, rep, err
		}
		m.Kafka = off
	}
	if cfg.RewriteRollups {
		tasks, runID, err := rewriteRollups(ctx, &acfg, cfg, o)
		if err != nil {
			return nil, rep, err
		}
		m.RewrittenTasks, m.RewriteRunID = tasks, runID
	}
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, rep, fmt.Errorf("repair %s: encode manifest: %w", cfg.ID, err)
	}
	if err := store.Bucket().WriteAll(ctx, RepairKey(cfg.ID), data, &blob.WriterOptions{ContentType: "application/json"}); err != nil {
		return nil, rep, fmt.Errorf("repair %s: write manifest %s under %s: %w", cfg.ID, RepairKey(cfg.ID), cfg.Out, err)
	}
	return m, rep, nil
}

// repairJournal stores the Kafka writer's pending marker of the repair.
type repairJournal struct{ j *writer.Journal }

func (j repairJournal) WritePending(ctx context.Context, taskID string, p kafka.Pending) error {
	data, err := json.Marshal(p)
	if err != nil {
		return err
	}
	return j.j.WritePending(ctx, taskID, data)
}

// publishRepair publishes the batch rows of the repaired keys whose aggregation has a
// Kafka output, in one transaction with origin repair.
func publishRepair(ctx context.Context, cfg RepairConfig, o *outcome, store *writer.Store) (*kafka.TaskOffsets, error) {
	rows := map[string][]exec.Row{}
	for _, k := range o.repair {
		e := o.batch[k]
		if e == nil || e.agg.Output.Kafka == nil {
			continue
		}
		rows[e.agg.Name] = append(rows[e.agg.Name], e.row)
	}
	var rollups []exec.Rollup
	for _, a := range o.aggs {
		if rs := rows[a.Name]; len(rs) > 0 {
			rollups = append(rollups, exec.Rollup{Agg: a, Rows: rs})
		}
	}
	if len(rollups) == 0 {
		return nil, nil
	}
	taskID := "repair-" + cfg.ID
	ref := kafka.TaskRef{RunID: cfg.ID, TaskID: taskID, Origin: kafka.OriginRepair}
	off, err := cfg.Publisher.PublishTask(ctx, ref, rollups, repairJournal{store.Journal()})
	if err != nil {
		return nil, fmt.Errorf("repair %s: publish corrected records: %w", cfg.ID, err)
	}
	if err := store.Journal().DeletePending(ctx, taskID); err != nil {
		return nil, fmt.Errorf("repair %s: %w", cfg.ID, err)
	}
	return &off, nil
}

// rewriteRollups reruns the backfill, forced, for the planned tasks that hold a
// repaired key, and returns their IDs and the run ID.
func rewriteRollups(ctx context.Context, acfg *Config, cfg RepairConfig, o *outcome) ([]string, string, error) {
	src, err := reader.OpenBucket(ctx, lakeURL(acfg))
	if err != nil {
		return nil, "", err
	}
	p, err := planner.Build(ctx, src, acfg.Registry, acfg.From, acfg.To, planner.Options{})
	_ = src.Close()
	if err != nil {
		return nil, "", fmt.Errorf("repair %s: plan the rewrite: %w", cfg.ID, err)
	}
	tenantDim := acfg.Registry.Source.Tenant
	var keep []planner.Task
	for _, t := range p.Tasks {
		for _, k := range o.repair {
			e := o.batch[k]
			if e == nil {
				continue
			}
			ws := time.UnixMilli(e.row.WindowStart)
			inTime := !ws.Before(t.Start) && ws.Before(t.End)
			inShard := t.Tenant == "" || tenantOf(e.agg, e.row.Dims, tenantDim) == t.Tenant
			if inTime && inShard {
				keep = append(keep, t)
				break
			}
		}
	}
	if len(keep) == 0 {
		return nil, "", nil
	}
	sub := *p
	sub.Tasks = keep
	runID := "repair-" + cfg.ID
	sum, err := backfill.Run(ctx, backfill.Config{Registry: acfg.Registry, Plan: &sub, SourceURL: acfg.SourceURL, Out: cfg.Out,
		Force: true, RunID: runID, Parallelism: acfg.Parallelism, Logger: acfg.Logger, Now: acfg.Now})
	if err != nil {
		return nil, "", fmt.Errorf("repair %s: rewrite rollups: %w", cfg.ID, err)
	}
	ids := make([]string, 0, len(keep))
	for _, t := range keep {
		ids = append(ids, t.ID)
	}
	sort.Strings(ids)
	acfg.Logger.Info("repair: rollups rewritten", "tasks", len(ids), "run", sum.RunID, "out", cfg.Out)
	return ids, runID, nil
}

// ReadRepairManifest reads a repair manifest written by Repair.
func ReadRepairManifest(ctx context.Context, out, id string) (*RepairManifest, error) {
	store, err := writer.OpenStore(ctx, out)
	if err != nil {
		return nil, err
	}
	defer store.Close()
	r, err := store.Bucket().NewReader(ctx, RepairKey(id), nil)
	if err != nil {
		return nil, fmt.Errorf("read repair manifest %s under %s: %w", RepairKey(id), out, err)
	}
	defer r.Close()
	var m RepairManifest
	if err := json.NewDecoder(io.LimitReader(r, maxManifestBytes)).Decode(&m); err != nil {
		return nil, fmt.Errorf("read repair manifest %s under %s: %w", RepairKey(id), out, err)
	}
	if m.Format != RepairManifestFormat {
		return nil, fmt.Errorf("repair manifest %s under %s has format %d; this tally reads %d", RepairKey(id), out, m.Format, RepairManifestFormat)
	}
	return &m, nil
}
