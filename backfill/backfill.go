// Package backfill runs the main job: plan a time range, compute every aggregation of
// the registry task by task, write rollup Parquet (and Kafka records), and commit each
// task with its manifest, so that an interrupted run resumes where it stopped.
//
// It is the one place that wires specs → planner → reader → exec → writer; cmd/tally
// only turns flags into a Config.
package backfill

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sort"
	"sync"
	"time"

	"gocloud.dev/blob"

	"github.com/tallyhq/tally/exec"
	"github.com/tallyhq/tally/planner"
	"github.com/tallyhq/tally/specs"
	"github.com/tallyhq/tally/writer"
)

// Version is the tally build stamped into manifests.
var Version = "dev"

// Config is one backfill run.
type Config struct {
	// Registry is the validated metric registry.
	Registry *specs.Registry
	// Plan, when set, is used as it is (tally backfill --plan); otherwise the range is planned.
	Plan *planner.Plan
	// From and To bound the run, [From, To), aligned to the registry's largest window.
	From, To time.Time
	// SourceURL overrides the registry's source URL when not empty.
	SourceURL string
	// Out is the output URL (rollups, manifests, summaries).
	Out string
	// Parallelism is the number of row groups decoded at once (default: CPUs).
	Parallelism int
	// MaxGroups is the per-task cardinality guard (default exec.DefaultMaxGroups).
	MaxGroups int
	// Force recomputes committed tasks.
	Force bool
	// Shard and Shards select a static share of the tasks (Shards == 0: all).
	Shard, Shards int
	// RunID names the run (default: time and random suffix).
	RunID string
	// Publisher, when set, publishes each task's rollups before its manifest is written.
	Publisher Publisher
	// Progress, when set, is called after every task.
	Progress func(Progress)
	// Logger logs task events (default slog.Default()).
	Logger *slog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Progress is reported after every task.
type Progress struct {
	TasksDone, TasksSkipped, TasksTotal int
	RowsIn, BytesFetched                int64
	Elapsed                             time.Duration
}

// Validate checks the configuration and fills defaults.
func (c *Config) Validate() error {
	var errs []error
	if c.Registry == nil {
		errs = append(errs, errors.New("backfill: a registry is required (--spec)"))
	}
	if c.Out == "" {
		errs = append(errs, errors.New("backfill: an output URL is required (--out)"))
	}
	if c.Plan == nil && !c.To.After(c.From) {
		errs = append(errs, fmt.Errorf("backfill: --from %s must be before --to %s", c.From.Format(time.RFC3339), c.To.Format(time.RFC3339)))
	}
	if c.Shards < 0 || (c.Shards > 0 && (c.Shard < 0 || c.Shard >= c.Shards)) {
		errs = append(errs, fmt.Errorf("backfill: shard %d/%d: want 0 <= i < N", c.Shard, c.Shards))
	}
	if c.Parallelism == 0 {
		c.Parallelism = runtime.GOMAXPROCS(0)
	}
	if c.Parallelism < 0 {
		errs = append(errs, fmt.Errorf("backfill: parallelism %d must be at least 1", c.Parallelism))
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.RunID == "" {
		var b [4]byte
		_, _ = rand.Read(b[:]) // crypto/rand never fails on supported platforms
		c.RunID = c.Now().UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b[:])
	}
	return errors.Join(errs...)
}

// Run executes the backfill and returns its summary (also written to the output).
// Committed tasks are kept when the run fails or is cancelled; rerun to resume.
func Run(ctx context.Context, cfg Config) (*writer.RunSummary, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	r, err := newRunner(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer r.close()
	return r.run(ctx)
}

// runner holds one run's open buckets and counters.
type runner struct {
	cfg     Config
	reg     *specs.Registry
	src     *blob.Bucket
	store   *writer.Store
	engine  *exec.Engine
	plan    *planner.Plan
	tasks   []planner.Task
	summary *writer.RunSummary
	specs   map[string]string
	log     *slog.Logger
	need    []string // contract columns to read (default specs.UnionRawColumns)

	noStatsOnce sync.Once
	noStats     map[string]bool // "key#rgN" of planned row groups without time statistics

	mu          sync.Mutex
	columnBytes int64 // column-chunk bytes fetched by computed tasks
	neededBytes int64 // their planned needed bytes
}

func (r *runner) close() {
	if r.src != nil {
		_ = r.src.Close()
	}
	if r.store != nil {
		_ = r.store.Close()
	}
}

// selectTasks applies the static shard and orders tasks in chains: by shard, then time,
// so each task can hand its counters' state to the next.
func selectTasks(p *planner.Plan, shard, shards int) []planner.Task {
	tasks := p.Tasks
	if shards > 0 {
		tasks = p.Shard(shard, shards)
	}
	out := append([]planner.Task(nil), tasks...)
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Shard != out[j].Shard {
			return out[i].Shard < out[j].Shard
		}
		return out[i].Start.Before(out[j].Start)
	})
	return out
}
