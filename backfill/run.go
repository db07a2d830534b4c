package backfill

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"gocloud.dev/blob"

	"github.com/tallyhq/tally/exec"
	"github.com/tallyhq/tally/planner"
	"github.com/tallyhq/tally/reader"
	"github.com/tallyhq/tally/specs"
	"github.com/tallyhq/tally/writer"
)

func newRunner(ctx context.Context, cfg Config) (*runner, error) {
	r := &runner{cfg: cfg, reg: cfg.Registry, log: cfg.Logger, specs: map[string]string{}}
	for _, a := range r.reg.Aggregations {
		r.specs[a.Name] = a.Version
	}
	srcURL := r.reg.Source.URL
	if cfg.SourceURL != "" {
		srcURL = cfg.SourceURL
	}
	if cfg.Plan != nil && cfg.Plan.Source != "" && cfg.SourceURL == "" {
		srcURL = cfg.Plan.Source
	}
	var err error
	if r.src, err = reader.OpenBucket(ctx, srcURL); err != nil {
		return nil, err
	}
	if r.store, err = writer.OpenStore(ctx, cfg.Out, writer.WithClock(cfg.Now)); err != nil {
		r.close()
		return nil, err
	}
	if r.engine, err = exec.New(exec.Config{Registry: r.reg, Parallelism: cfg.Parallelism, MaxGroups: cfg.MaxGroups}); err != nil {
		r.close()
		return nil, err
	}
	r.plan = cfg.Plan
	if r.plan == nil {
		if r.plan, err = planner.Build(ctx, r.src, r.reg, cfg.From, cfg.To, planner.Options{}); err != nil {
			r.close()
			return nil, err
		}
	} else if err := checkPlan(r.plan, r.specs); err != nil {
		r.close()
		return nil, err
	}
	r.tasks = selectTasks(r.plan, cfg.Shard, cfg.Shards)
	return r, nil
}

// checkPlan refuses a plan made for other spec versions: its tasks would be skipped or
// computed against a definition the plan did not project for.
func checkPlan(p *planner.Plan, specs map[string]string) error {
	for name, v := range specs {
		if pv, ok := p.RegistryVersions[name]; ok && pv != v {
			return fmt.Errorf("plan was made for aggregation %q version %s, the registry now has version %s: plan again", name, pv, v)
		}
	}
	return nil
}

func (r *runner) run(ctx context.Context) (*writer.RunSummary, error) {
	cfg := r.cfg
	started := cfg.Now()
	sum := &writer.RunSummary{
		RunID: cfg.RunID, TallyVersion: Version, Command: "backfill",
		From: r.plan.From, To: r.plan.To, Started: started.UTC(),
		Aggregations: map[string]writer.AggregationSummary{},
	}
	if cfg.Shards > 0 {
		sum.Shard = fmt.Sprintf("%d/%d", cfg.Shard, cfg.Shards)
	}
	r.summary = sum
	sum.Tasks.Planned = len(r.tasks)
	if len(r.tasks) == 0 {
		r.log.Warn("nothing to do: the plan has no tasks; the lake has no data in the range, or the layout or source URL does not match it (check with tally plan)",
			"from", r.plan.From, "to", r.plan.To, "source", r.plan.Source, "notes", strings.Join(r.plan.Notes, "; "))
	}
	r.log.Info("backfill started", "run", cfg.RunID, "from", r.plan.From, "to", r.plan.To, "tasks", len(r.tasks), "out", cfg.Out)

	var runErr error
	var carry *exec.Carry
	prevShard := ""
	for _, t := range r.tasks {
		if err := ctx.Err(); err != nil {
			runErr = err
			break
		}
		if t.Shard != prevShard {
			carry = nil
		}
		prevShard = t.Shard
		if carry != nil && carry.End != t.Start.UnixNano() {
			carry = nil // a gap in the chain: fall back to the lookback read
		}
		next, skipped, err := r.runTask(ctx, t, carry)
		if err != nil {
			if ctx.Err() != nil {
				runErr = ctx.Err()
				break
			}
			r.log.Error("task failed", "task", t.ID, "err", err)
			sum.Tasks.Failed++
			sum.Failed = append(sum.Failed, writer.TaskFailure{TaskID: t.ID, Error: err.Error()})
			carry = nil
			continue
		}
		if skipped {
			sum.Tasks.Skipped++
		} else {
			sum.Tasks.Done++
		}
		carry = next
		if cfg.Progress != nil {
			cfg.Progress(Progress{TasksDone: sum.Tasks.Done, TasksSkipped: sum.Tasks.Skipped, TasksTotal: len(r.tasks),
				RowsIn: sum.RowsIn, BytesFetched: sum.BytesFetched, Elapsed: cfg.Now().Sub(started)})
		}
	}
	sum.ColumnBytesFetched, sum.ColumnBytesNeeded = r.columnBytes, r.neededBytes
	if r.neededBytes > 0 {
		sum.ReadAmplification = float64(r.columnBytes) / float64(r.neededBytes)
	}
	fin := cfg.Now()
	sum.Finished = fin.UTC()
	sum.DurationSeconds = fin.Sub(started).Seconds()
	if sum.DurationSeconds > 0 {
		sum.RowsPerSecond = float64(sum.RowsIn) / sum.DurationSeconds
	}
	switch {
	case runErr != nil:
		sum.Outcome = "interrupted"
		sum.Error = runErr.Error()
	case sum.Tasks.Failed > 0:
		sum.Outcome = "failed"
		sum.Error = fmt.Sprintf("%d of %d tasks failed; first: %s: %s", sum.Tasks.Failed, len(r.tasks), sum.Failed[0].TaskID, sum.Failed[0].Error)
	default:
		sum.Outcome = "ok"
	}
	// The summary is written even when the run was cancelled.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if err := r.store.WriteRunSummary(wctx, sum); err != nil {
		return sum, errors.Join(runErrOrFailure(sum, runErr), fmt.Errorf("write run summary: %w", err))
	}
	r.log.Info("backfill finished", "run", cfg.RunID, "outcome", sum.Outcome, "done", sum.Tasks.Done,
		"skipped", sum.Tasks.Skipped, "failed", sum.Tasks.Failed, "rows_in", sum.RowsIn, "rows_out", sum.RowsOut,
		"seconds", sum.DurationSeconds, "rows_per_s", int64(sum.RowsPerSecond))
	return sum, runErrOrFailure(sum, runErr)
}

func runErrOrFailure(sum *writer.RunSummary, runErr error) error {
	if runErr != nil {
		return fmt.Errorf("backfill interrupted after %d tasks (committed tasks are kept; rerun to resume): %w", sum.Tasks.Done, runErr)
	}
	if sum.Tasks.Failed > 0 {
		return errors.New(sum.Error)
	}
	return nil
}

// WriterTask converts a planned task for the skip decision and status.
func WriterTask(t planner.Task) writer.Task {
	wt := writer.Task{ID: t.ID, From: t.Start, To: t.End, Shard: t.Shard}
	for _, in := range t.Inputs {
		wt.Inputs = append(wt.Inputs, writer.Input{Key: in.Key, Size: in.Size, ETag: in.ETag, RowGroups: in.RowGroups})
	}
	return wt
}

// runTask computes, writes and commits one task. It returns the carry for the next task
// of the chain (nil when the task was skipped) and whether it was skipped.
func (r *runner) runTask(ctx context.Context, t planner.Task, carry *exec.Carry) (*exec.Carry, bool, error) {
	wt := WriterTask(t)
	wt.Sinks = []string{writer.SinkParquet}
	if r.cfg.Publisher != nil {
		wt.Sinks = append(wt.Sinks, writer.SinkKafka)
	}
	if !r.cfg.Force {
		m, err := r.store.ReadManifest(ctx, t.ID)
		switch {
		case err == nil:
			if skip, why := writer.Committed(m, wt, r.specs); skip {
				r.log.Debug("task committed, skipped", "task", t.ID)
				return nil, true, nil
			} else {
				r.log.Info("task recomputed", "task", t.ID, "why", why)
			}
		case errors.Is(err, writer.ErrNotFound):
		default:
			return nil, false, fmt.Errorf("read manifest of task %s: %w", t.ID, err)
		}
	}
	began := r.cfg.Now()
	res, fetched, err := r.computeTask(ctx, t, carry)
	if err != nil {
		return nil, false, err
	}
	meta := writer.FileMeta{TaskID: t.ID, TaskStart: t.Start, TenantDimension: r.reg.Source.Tenant, InputFingerprint: writer.Fingerprint(wt.Inputs)}
	var parquetRollups []exec.Rollup
	for _, ro := range res.Rollups {
		if ro.Agg.Output.Parquet {
			parquetRollups = append(parquetRollups, ro)
		}
	}
	outs, err := r.store.WriteRollups(ctx, parquetRollups, meta)
	if err != nil {
		return nil, false, err
	}
	var kafka []writer.KafkaRange
	if r.cfg.Publisher != nil {
		if kafka, err = r.publish(ctx, t.ID, res.Rollups); err != nil {
			return nil, false, fmt.Errorf("publish task %s: %w", t.ID, err)
		}
	}
	m := &writer.Manifest{
		TaskID: t.ID, From: t.Start, To: t.End, Shard: t.Shard, RunID: r.cfg.RunID, TallyVersion: Version,
		Inputs: wt.Inputs, InputFingerprint: meta.InputFingerprint, Outputs: outs, Kafka: kafka, Sinks: wt.Sinks,
		Stats: taskStats(res, fetched),
	}
	for _, a := range r.reg.Aggregations {
		m.Specs = append(m.Specs, writer.SpecRef{Name: a.Name, Version: a.Version})
	}
	if err := r.store.Commit(ctx, m); err != nil {
		return nil, false, err
	}
	if r.cfg.Publisher != nil {
		// The manifest now records the offsets; the marker has served its purpose.
		if err := r.store.Journal().DeletePending(ctx, t.ID); err != nil {
			r.log.Warn("delete pending marker", "task", t.ID, "err", err)
		}
	}
	r.account(res, outs, kafka, fetched)
	r.log.Info("task committed", "task", t.ID, "rows_in", res.Stats.RowsRead, "rows_out", res.Stats.OutputRows,
		"files", len(outs), "seconds", r.cfg.Now().Sub(began).Seconds())
	return res.Carry, false, nil
}

// computeTask reads a task's row groups and runs the engine; it returns the result and
// the bytes fetched from the raw lake.
func (r *runner) computeTask(ctx context.Context, t planner.Task, carry *exec.Carry) (*exec.Result, int64, error) {
	files := newFileCache(r.src)
	defer files.close()
	et := exec.Task{ID: t.ID, Start: t.Start, End: t.End, Carry: carry}
	et.Inputs = files.inputs(t.Inputs, r)
	if carry == nil {
		// The plan lists the row groups holding the predecessors of the slice's first
		// cumulative points; with a carry from the previous task they are not read.
		et.Lookback = files.inputs(t.Lookback, r)
	}
	res, err := r.engine.Run(ctx, et)
	if err != nil {
		return nil, 0, err
	}
	if err := r.checkOutside(t, res); err != nil {
		return nil, 0, err
	}
	r.mu.Lock()
	r.columnBytes += files.columnBytes()
	r.neededBytes += t.Bytes
	r.mu.Unlock()
	return res, files.fetched(), nil
}

// checkOutside fails a task that found points outside its slice in a row group without
// time statistics: the planner assigned such a row group to its partition's slice only,
// so no other task reads those points and the results would silently miss them.
func (r *runner) checkOutside(t planner.Task, res *exec.Result) error {
	if len(res.Stats.OutsideSlice) == 0 {
		return nil
	}
	r.noStatsOnce.Do(func() {
		// Row groups without statistics that only one task reads: the planner trusted
		// their partition's bounds.
		r.noStats = map[string]bool{}
		for _, f := range r.plan.Files {
			for _, rg := range f.RowGroups {
				if (rg.Min == nil || rg.Max == nil) && len(rg.Tasks) <= 1 {
					r.noStats[fmt.Sprintf("%s#rg%d", f.Key, rg.Index)] = true
				}
			}
		}
	})
	var bad []string
	for name, o := range res.Stats.OutsideSlice {
		if !r.noStats[name] {
			continue
		}
		// Points outside the whole run belong to no task of it: not a loss.
		n := int64(0)
		if t.Start.After(r.plan.From) {
			n += o.Before
		}
		if t.End.Before(r.plan.To) {
			n += o.After
		}
		if n > 0 {
			bad = append(bad, fmt.Sprintf("%s (%d points)", name, n))
		}
	}
	if len(bad) == 0 {
		return nil
	}
	sort.Strings(bad)
	return fmt.Errorf("task %s [%s, %s): row groups without time statistics hold points outside the slice their partition names: %s; "+
		"no other task reads them, so the results would miss them. Rewrite those files with statistics (every Parquet writer can), "+
		"move the points to the partition of their event time, or set source.layout: flat so every task reads every row group",
		t.ID, t.Start.Format(time.RFC3339), t.End.Format(time.RFC3339), strings.Join(bad, ", "))
}

func taskStats(res *exec.Result, fetched int64) map[string]int64 {
	s := map[string]int64{
		"inputs": int64(res.Stats.Inputs), "rows_in": res.Stats.RowsRead, "points": res.Stats.Points,
		"lookback_points": res.Stats.Lookback, "series": int64(res.Stats.Series), "rows_out": res.Stats.OutputRows,
		"bytes_fetched": fetched,
	}
	for name, a := range res.Stats.PerAggregation {
		s[name+".dropped_nonfinite"] = a.DroppedNonFinite
		s[name+".dropped_null"] = a.DroppedNull
		s[name+".duplicates"] = a.Duplicates
		s[name+".conflicting_duplicates"] = a.ConflictingDuplicates
		s[name+".resets"] = a.Resets
	}
	return s
}

func (r *runner) account(res *exec.Result, outs []writer.OutputObject, kafka []writer.KafkaRange, fetched int64) {
	sum := r.summary
	sum.RowsIn += res.Stats.RowsRead
	sum.PointsIn += res.Stats.Points
	sum.RowsOut += res.Stats.OutputRows
	sum.BytesFetched += fetched
	for _, o := range outs {
		sum.BytesWritten += o.Bytes
	}
	for _, k := range kafka {
		sum.RecordsOut += k.Records
	}
	for name, a := range res.Stats.PerAggregation {
		s := sum.Aggregations[name]
		s.RowsOut += a.Rows
		s.Samples += a.Samples
		if s.Drops == nil {
			s.Drops = map[string]int64{}
		}
		s.Drops["dropped_nonfinite"] += a.DroppedNonFinite
		s.Drops["dropped_null"] += a.DroppedNull
		s.Drops["duplicates"] += a.Duplicates
		s.Drops["conflicting_duplicates"] += a.ConflictingDuplicates
		s.Drops["late"] += a.Late
		s.Drops["resets"] += a.Resets
		sum.Aggregations[name] = s
	}
}

// fileCache opens each raw object of a task once and shares it between row groups.
type fileCache struct {
	b     *blob.Bucket
	mu    sync.Mutex
	files map[string]*openFile
}

type openFile struct {
	once sync.Once
	f    *reader.File
	cols *reader.Columns
	err  error
}

func newFileCache(b *blob.Bucket) *fileCache {
	return &fileCache{b: b, files: map[string]*openFile{}}
}

func (c *fileCache) get(ctx context.Context, in planner.TaskInput, need []string, r *runner) (*openFile, error) {
	c.mu.Lock()
	of, ok := c.files[in.Key]
	if !ok {
		of = &openFile{}
		c.files[in.Key] = of
	}
	c.mu.Unlock()
	of.once.Do(func() {
		of.f, of.err = reader.OpenFile(ctx, c.b, reader.Object{Key: in.Key, Size: in.Size, ETag: in.ETag})
		if of.err != nil {
			return
		}
		of.cols, of.err = of.f.Resolve(&r.reg.Source, need)
	})
	return of, of.err
}

// inputs turns planned row groups into engine inputs, one per row group, in plan order.
func (c *fileCache) inputs(ins []planner.TaskInput, r *runner) []exec.Input {
	need := r.need
	if need == nil {
		need = specs.UnionRawColumns(r.reg)
	}
	var out []exec.Input
	for _, in := range ins {
		for _, rg := range in.RowGroups {
			out = append(out, exec.Input{
				Name: fmt.Sprintf("%s#rg%d", in.Key, rg),
				Read: func(ctx context.Context) (arrow.RecordBatch, error) {
					of, err := c.get(ctx, in, need, r)
					if err != nil {
						return nil, err
					}
					return of.f.ReadRowGroup(ctx, of.cols, rg, memory.DefaultAllocator)
				},
			})
		}
	}
	return out
}

func (c *fileCache) fetched() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	var n int64
	for _, of := range c.files {
		if of.f != nil {
			n += of.f.BytesFetched()
		}
	}
	return n
}

// columnBytes are the column-chunk bytes fetched: all bytes less the footers.
func (c *fileCache) columnBytes() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	var n int64
	for _, of := range c.files {
		if of.f != nil {
			n += of.f.BytesFetched() - of.f.FooterBytes()
		}
	}
	return n
}

func (c *fileCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, of := range c.files {
		if of.f != nil {
			_ = of.f.Close()
		}
	}
}
