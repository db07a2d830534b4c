package backfill

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/tallyhq/tally/exec"
	"github.com/tallyhq/tally/planner"
	"github.com/tallyhq/tally/reader"
	"github.com/tallyhq/tally/specs"
)

// ComputeConfig computes the registry's aggregations over a range without writing
// anything: the batch side of an audit, or a stream simulation (with Lateness).
type ComputeConfig struct {
	Registry    *specs.Registry
	From, To    time.Time
	SourceURL   string // overrides the registry's source URL when not empty
	Parallelism int
	MaxGroups   int
	// Lateness, when set, drops points that arrived after window end + grace, as a
	// streaming job would (the registry's source must then map ingest_time).
	Lateness *exec.Lateness
	Logger   *slog.Logger
}

// Compute plans [From, To) and calls fn with each task's result, tasks in chain order
// (by shard, then time). fn must not keep the result's rows beyond the call unless it
// copies them; it may return an error to stop.
func Compute(ctx context.Context, cfg ComputeConfig, fn func(t planner.Task, res *exec.Result) error) error {
	if cfg.Registry == nil {
		return errors.New("compute: a registry is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	url := cfg.Registry.Source.URL
	if cfg.SourceURL != "" {
		url = cfg.SourceURL
	}
	src, err := reader.OpenBucket(ctx, url)
	if err != nil {
		return err
	}
	defer src.Close()
	eng, err := exec.New(exec.Config{Registry: cfg.Registry, Parallelism: cfg.Parallelism, MaxGroups: cfg.MaxGroups, Lateness: cfg.Lateness})
	if err != nil {
		return err
	}
	p, err := planner.Build(ctx, src, cfg.Registry, cfg.From, cfg.To, planner.Options{})
	if err != nil {
		return err
	}
	r := &runner{reg: cfg.Registry, src: src, engine: eng, plan: p, log: cfg.Logger}
	if cfg.Lateness != nil {
		r.need = append(specs.UnionRawColumns(cfg.Registry), "ingest_time")
	}
	var carry *exec.Carry
	prevShard := ""
	for _, t := range selectTasks(p, 0, 0) {
		if t.Shard != prevShard || (carry != nil && carry.End != t.Start.UnixNano()) {
			carry = nil
		}
		prevShard = t.Shard
		res, _, err := r.computeTask(ctx, t, carry)
		if err != nil {
			return fmt.Errorf("task %s: %w", t.ID, err)
		}
		carry = res.Carry
		if err := fn(t, res); err != nil {
			return err
		}
	}
	return nil
}
