package exec

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"golang.org/x/sync/errgroup"

	"github.com/tallyhq/tally/specs"
)

// Defaults of Config.
const (
	// DefaultMaxGroups is the cardinality guard: groups of one aggregation in one task.
	DefaultMaxGroups = 5_000_000
	// DefaultMaxSeries bounds the distinct series of one task.
	DefaultMaxSeries = 20_000_000
)

// Config configures an Engine.
type Config struct {
	// Registry holds the source and the aggregations; every aggregation is computed.
	Registry *specs.Registry
	// Parallelism is the number of row groups decoded at once (default: number of CPUs).
	Parallelism int
	// MaxGroups fails a task whose aggregation has more groups than this (default DefaultMaxGroups).
	MaxGroups int
	// MaxSeries fails a task with more distinct series than this (default DefaultMaxSeries).
	MaxSeries int
	// Lateness, when set, drops points that arrived after their window closed, as a
	// streaming job with that grace period would: a point counts only when its
	// ingest_time is before window end + Grace. Used to simulate and explain the stream.
	Lateness *Lateness
}

// Lateness is a streaming job's rule for late data.
type Lateness struct {
	Grace time.Duration
}

// Validate checks the configuration and fills defaults.
func (c *Config) Validate() error {
	var errs []error
	if c.Registry == nil || len(c.Registry.Aggregations) == 0 {
		errs = append(errs, errors.New("exec: registry: no aggregations to compute"))
	}
	if c.Parallelism == 0 {
		c.Parallelism = runtime.GOMAXPROCS(0)
	}
	if c.Parallelism < 0 {
		errs = append(errs, fmt.Errorf("exec: parallelism %d: must be at least 1", c.Parallelism))
	}
	if c.MaxGroups == 0 {
		c.MaxGroups = DefaultMaxGroups
	}
	if c.MaxSeries == 0 {
		c.MaxSeries = DefaultMaxSeries
	}
	if c.MaxGroups < 0 || c.MaxSeries < 0 {
		errs = append(errs, errors.New("exec: max groups and max series must be positive"))
	}
	if c.Lateness != nil && c.Lateness.Grace < 0 {
		errs = append(errs, fmt.Errorf("exec: lateness grace %s: must not be negative", c.Lateness.Grace))
	}
	return errors.Join(errs...)
}

// Input is one unit of work: a row group whose columns carry contract names
// (reader.ReadRowGroup). Read is called once, from one worker.
type Input struct {
	// Name identifies the input in errors, e.g. "dt=2026-11-01/hour=00/part-00000.parquet#rg3".
	Name string
	// Read decodes the input. The engine releases the record.
	Read func(ctx context.Context) (arrow.RecordBatch, error)
}

// Task is one slice of work: every point of [Start, End) of the task's shard.
type Task struct {
	ID         string
	Start, End time.Time
	// Inputs hold every row group that may contain points of [Start, End).
	Inputs []Input
	// Lookback inputs hold row groups with points of [Start-Lookback(), Start), read only
	// for the predecessors of cumulative points. Ignored when Carry is set.
	Lookback []Input
	// Carry is the state handed over by the previous task of the same shard in this run
	// (Result.Carry); nil means the predecessors come from Lookback.
	Carry *Carry
}

// Result is what a task produced.
type Result struct {
	// Rollups are one per aggregation, in registry order.
	Rollups []Rollup
	// Stats count points in and out.
	Stats Stats
	// Carry is the state the next task of the same shard needs (cumulative series).
	Carry *Carry
}

// Stats count what a task read and dropped.
type Stats struct {
	Inputs     int   `json:"inputs"`
	RowsRead   int64 `json:"rows_read"`
	Points     int64 `json:"points"`      // rows of needed metrics inside [Start, End)
	Lookback   int64 `json:"lookback"`    // rows read only as predecessors
	Series     int   `json:"series"`      // distinct series
	OutputRows int64 `json:"output_rows"` // rows of all rollups
	// OutsideSlice counts, per task input (Input.Name), the points of needed metrics
	// outside [Start, End) that were not read as predecessors. They belong to other
	// tasks; the planner must have given those tasks the same row group (it does when
	// the row group has time statistics). Lookback inputs are not counted.
	OutsideSlice map[string]Outside `json:"outside_slice,omitempty"`
	// PerAggregation counts drops per aggregation name.
	PerAggregation map[string]*AggStats `json:"per_aggregation"`
}

// Outside counts an input's points before and after the task's slice.
type Outside struct {
	Before int64 `json:"before"`
	After  int64 `json:"after"`
}

// AggStats count one aggregation's points.
type AggStats struct {
	Samples               int64 `json:"samples"`
	DroppedNonFinite      int64 `json:"dropped_nonfinite"`
	DroppedNull           int64 `json:"dropped_null"`
	Duplicates            int64 `json:"duplicates"`
	ConflictingDuplicates int64 `json:"conflicting_duplicates"`
	Late                  int64 `json:"late,omitempty"`
	Resets                int64 `json:"resets"`
	Groups                int64 `json:"groups"`
	Rows                  int64 `json:"rows"`
}

// Add adds o to s.
func (s *AggStats) Add(o *AggStats) {
	s.Samples += o.Samples
	s.DroppedNonFinite += o.DroppedNonFinite
	s.DroppedNull += o.DroppedNull
	s.Duplicates += o.Duplicates
	s.ConflictingDuplicates += o.ConflictingDuplicates
	s.Late += o.Late
	s.Resets += o.Resets
	s.Groups += o.Groups
	s.Rows += o.Rows
}

// Engine computes every aggregation of a registry over tasks. It is safe for
// concurrent use by several tasks.
type Engine struct {
	cfg     Config
	reg     *specs.Registry
	metrics []string              // needed metric names; interned first, so their ids are 1..len
	metIdx  map[string]int        // metric name -> index in metrics
	byMet   [][]int               // metric index -> aggregation indexes
	lookAt  map[int]time.Duration // metric index -> lookback (cumulative metrics only)
	maxLook time.Duration
}

// New validates cfg and returns an Engine.
func New(cfg Config) (*Engine, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	e := &Engine{cfg: cfg, reg: cfg.Registry, metIdx: map[string]int{}, lookAt: map[int]time.Duration{}}
	for ai, a := range e.reg.Aggregations {
		for _, m := range a.Metrics {
			mi, ok := e.metIdx[m]
			if !ok {
				mi = len(e.metrics)
				e.metIdx[m] = mi
				e.metrics = append(e.metrics, m)
				e.byMet = append(e.byMet, nil)
			}
			if len(e.byMet[mi]) > 0 {
				if other := e.reg.Aggregations[e.byMet[mi][0]]; other.Type != a.Type {
					return nil, fmt.Errorf("aggregations %q and %q read metric %q as %s and as %s; a metric has one type", other.Name, a.Name, m, other.Type, a.Type)
				}
			}
			e.byMet[mi] = append(e.byMet[mi], ai)
			if a.Temporality == specs.TemporalityCumulative && (a.Type != specs.TypeSum || a.Monotonic) {
				if a.Staleness > e.lookAt[mi] {
					e.lookAt[mi] = a.Staleness
				}
				if a.Staleness > e.maxLook {
					e.maxLook = a.Staleness
				}
			}
		}
	}
	return e, nil
}

// Lookback is how far before a task's start the predecessors of cumulative points are
// looked for (the largest staleness of a cumulative aggregation; 0 when there is none).
func (e *Engine) Lookback() time.Duration { return e.maxLook }

// Run computes a task. Inputs are decoded by up to Parallelism workers; the result does
// not depend on how they are scheduled.
func (e *Engine) Run(ctx context.Context, t Task) (*Result, error) {
	if !t.End.After(t.Start) {
		return nil, fmt.Errorf("task %s: empty slice [%s, %s)", t.ID, t.Start.Format(time.RFC3339), t.End.Format(time.RFC3339))
	}
	for _, a := range e.reg.Aggregations {
		if t.Start.UnixNano()%int64(a.Window) != 0 || t.End.UnixNano()%int64(a.Window) != 0 {
			return nil, fmt.Errorf("task %s: slice [%s, %s) is not aligned to the %s window of aggregation %q",
				t.ID, t.Start.Format(time.RFC3339), t.End.Format(time.RFC3339), specs.FormatWindow(a.Window), a.Name)
		}
	}
	st := &taskState{
		e:     e,
		task:  t,
		start: t.Start.UnixNano(),
		end:   t.End.UnixNano(),
		in:    newInterner(),
	}
	for _, m := range e.metrics {
		st.in.id(m)
	}
	inputs := t.Inputs
	if t.Carry == nil && e.maxLook > 0 {
		inputs = append(append([]Input(nil), t.Inputs...), t.Lookback...)
	}
	chunks := make([]*chunk, len(inputs))
	tables := make([]*seriesTable, e.cfg.Parallelism)
	free := make(chan int, e.cfg.Parallelism)
	for i := range tables {
		tables[i] = newSeriesTable(len(e.reg.Source.Dimensions))
		free <- i
	}
	var outsideMu sync.Mutex
	outside := map[string]Outside{}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(e.cfg.Parallelism)
	for i, inp := range inputs {
		g.Go(func() error {
			w := <-free
			defer func() { free <- w }()
			rec, err := inp.Read(gctx)
			if err != nil {
				return fmt.Errorf("task %s: read %s: %w", t.ID, inp.Name, err)
			}
			defer rec.Release()
			c, err := st.extract(rec, tables[w], w)
			if err != nil {
				return fmt.Errorf("task %s: %s: %w", t.ID, inp.Name, err)
			}
			chunks[i] = c
			if i < len(t.Inputs) && c.outsideBefore+c.outsideAfter > 0 {
				outsideMu.Lock()
				outside[inp.Name] = Outside{Before: c.outsideBefore, After: c.outsideAfter}
				outsideMu.Unlock()
			}
			if n := tables[w].len(); n > e.cfg.MaxSeries {
				return fmt.Errorf("task %s: more than %d distinct series (--max-series); cut the range into smaller tasks or raise the limit", t.ID, e.cfg.MaxSeries)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	res, err := st.finish(chunks, tables)
	if err != nil {
		return nil, fmt.Errorf("task %s: %w", t.ID, err)
	}
	res.Stats.Inputs = len(inputs)
	if len(outside) > 0 {
		res.Stats.OutsideSlice = outside
	}
	return res, nil
}

// release drops the task's point buffer once the rollups are built.
func (ss *sortedSeries) release() {
	ss.pts = nil
}

// noTime marks an unknown start or ingest time.
const noTime = math.MinInt64
