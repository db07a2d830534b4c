package planner

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"time"

	"github.com/tallyhq/tally/specs"
)

// FormatVersion is the version of the plan's JSON format (docs/plan-format.md).
// ReadPlan refuses other versions.
const FormatVersion = 1

// ShardAll is the shard of a task that holds every tenant of its slice.
const ShardAll = "all"

// maxPlanBytes bounds what ReadPlan accepts.
const maxPlanBytes = 1 << 30

// Plan is what a backfill reads and how it is cut into tasks.
type Plan struct {
	// Format is FormatVersion.
	Format int `json:"format"`
	// Registry is the registry file the plan was built from.
	Registry string `json:"registry"`
	// RegistryVersions maps every aggregation to its spec version; a backfill refuses
	// a plan whose versions differ from its registry's.
	RegistryVersions map[string]string `json:"registry_versions"`
	// Source is the lake's URL; Layout its layout.
	Source string `json:"source"`
	Layout string `json:"layout"`
	// From and To bound the event times computed: [From, To), aligned to the largest window.
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
	// Slice is the length of a task's time slice (e.g. "1h"); Lookback how far before a
	// slice predecessors of cumulative points are looked for ("0s" when no aggregation
	// is cumulative).
	Slice    string `json:"slice"`
	Lookback string `json:"lookback"`
	// Columns are the contract columns read (the projection).
	Columns []string `json:"columns"`
	// Files are every object whose footer was read, with each row group's fate.
	Files []PlannedFile `json:"files"`
	// Tasks are sorted by ID.
	Tasks []Task `json:"tasks"`
	// Stats summarize the plan.
	Stats Stats `json:"stats"`
	// Notes say what a reader of the plan should know (no data, missing statistics, …).
	Notes []string `json:"notes,omitempty"`
}

// PlannedFile is one object whose footer was read.
type PlannedFile struct {
	Key       string            `json:"key"`
	Size      int64             `json:"size"`
	ETag      string            `json:"etag,omitempty"`
	ModTime   time.Time         `json:"mod_time,omitzero"`
	Rows      int64             `json:"rows"`
	RowGroups []PlannedRowGroup `json:"row_groups"`
}

// PlannedRowGroup is one row group and why it is read or not.
type PlannedRowGroup struct {
	Index int   `json:"index"`
	Rows  int64 `json:"rows"`
	// Min and Max are the event-time statistics; absent when the file has none.
	Min *time.Time `json:"min,omitempty"`
	Max *time.Time `json:"max,omitempty"`
	// Kept is true when some task (or lookback) reads the row group.
	Kept bool `json:"kept"`
	// NeededBytes is the compressed size of its projected column chunks.
	NeededBytes int64 `json:"needed_bytes"`
	// Tenant is set when every row holds this one tenant.
	Tenant string `json:"tenant,omitempty"`
	// Tasks are the IDs of the tasks that read it as input.
	Tasks []string `json:"tasks,omitempty"`
}

// Task is one independent unit of work: one time slice of one shard.
type Task struct {
	// ID is a pure function of slice and shard, e.g. 20261101T0000Z-20261101T0100Z-all.
	ID string `json:"id"`
	// Start and End bound the event times the task computes: [Start, End).
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	// Shard is "all" or the tenant the task is restricted to.
	Shard string `json:"shard"`
	// Tenant is the tenant of a tenant shard ("" for shard all); every input row group
	// holds only this tenant.
	Tenant string `json:"tenant,omitempty"`
	// Inputs are the row groups that hold the task's points (plus, when their data
	// spills over the slice, points of other slices that exec filters out by time).
	Inputs []TaskInput `json:"inputs"`
	// Lookback are row groups before Start (within the plan's lookback) that hold
	// predecessors of cumulative points; their own points are never counted.
	Lookback []TaskInput `json:"lookback,omitempty"`
	// Bytes is the compressed size of the inputs' projected column chunks; Rows their rows.
	Bytes int64 `json:"bytes"`
	Rows  int64 `json:"rows"`
	// LookbackBytes is the size of the lookback row groups' projected column chunks.
	LookbackBytes int64 `json:"lookback_bytes,omitempty"`
}

// TaskInput is the row groups a task reads from one object.
type TaskInput struct {
	Key       string `json:"key"`
	Size      int64  `json:"size"`
	ETag      string `json:"etag,omitempty"`
	RowGroups []int  `json:"row_groups"`
}

// Stats summarize a plan.
type Stats struct {
	// PrefixesListed is the number of list calls' prefixes (partitions) listed.
	PrefixesListed int `json:"prefixes_listed"`
	// ObjectsListed is every object the listings returned; ObjectsSkipped those that
	// are not raw segments (hidden files, markers, no .parquet suffix).
	ObjectsListed  int `json:"objects_listed"`
	ObjectsSkipped int `json:"objects_skipped"`
	// FilesRead is the number of footers read; FooterBytes their bytes.
	FilesRead   int   `json:"files_read"`
	FooterBytes int64 `json:"footer_bytes"`
	// Row groups of the files read: all, kept (read by a task or a lookback), pruned
	// by statistics, and without usable time statistics.
	RowGroups             int `json:"row_groups"`
	RowGroupsKept         int `json:"row_groups_kept"`
	RowGroupsPruned       int `json:"row_groups_pruned"`
	RowGroupsWithoutStats int `json:"row_groups_without_stats"`
	// Rows is the number of rows in the distinct row groups the tasks read.
	Rows int64 `json:"rows"`
	// NeededBytes is the compressed size of the distinct projected column chunks the
	// tasks read; BytesToFetch what the tasks fetch in total (a row group read by two
	// tasks counts twice); ReadAmplification = BytesToFetch / NeededBytes (1 when every
	// chunk is read once; 0 for an empty plan).
	NeededBytes       int64   `json:"needed_bytes"`
	BytesToFetch      int64   `json:"bytes_to_fetch"`
	ReadAmplification float64 `json:"read_amplification"`
	// LookbackBytes is what lookbacks add at most (exec hands predecessors from one
	// task to the next within a run, so usually far less is fetched).
	LookbackBytes int64 `json:"lookback_bytes"`
	// Tasks is len(Plan.Tasks).
	Tasks int `json:"tasks"`
}

// SliceDuration parses Plan.Slice.
func (p *Plan) SliceDuration() (time.Duration, error) { return specs.ParseWindow(p.Slice) }

// LookbackDuration parses Plan.Lookback ("0s" → 0).
func (p *Plan) LookbackDuration() (time.Duration, error) {
	if p.Lookback == "" || p.Lookback == "0s" {
		return 0, nil
	}
	return specs.ParseWindow(p.Lookback)
}

// WriteJSON writes the plan as indented JSON.
func (p *Plan) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(p); err != nil {
		return fmt.Errorf("write plan: %w", err)
	}
	return nil
}

// ReadPlan reads and checks a plan written by WriteJSON.
func ReadPlan(r io.Reader) (*Plan, error) {
	dec := json.NewDecoder(io.LimitReader(r, maxPlanBytes))
	var p Plan
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("read plan: not a tally plan (%v)", err)
	}
	if p.Format != FormatVersion {
		return nil, fmt.Errorf("read plan: format %d; this tally reads plan format %d — rebuild the plan with this tally's `tally plan`", p.Format, FormatVersion)
	}
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("read plan: %w", err)
	}
	return &p, nil
}

// Validate checks a plan's internal consistency: aligned, ordered, unique tasks
// inside [From, To) that only reference listed files.
func (p *Plan) Validate() error {
	var errs []error
	if !p.From.Before(p.To) {
		errs = append(errs, fmt.Errorf("from %s is not before to %s", p.From.Format(time.RFC3339), p.To.Format(time.RFC3339)))
	}
	if _, err := p.SliceDuration(); err != nil {
		errs = append(errs, fmt.Errorf("slice: %w", err))
	}
	if _, err := p.LookbackDuration(); err != nil {
		errs = append(errs, fmt.Errorf("lookback: %w", err))
	}
	files := map[string]bool{}
	for _, f := range p.Files {
		files[f.Key] = true
	}
	seen := map[string]bool{}
	for i, t := range p.Tasks {
		switch {
		case seen[t.ID]:
			errs = append(errs, fmt.Errorf("tasks[%d]: duplicate id %s", i, t.ID))
		case t.ID != TaskID(t.Start, t.End, t.Shard, t.Tenant):
			errs = append(errs, fmt.Errorf("tasks[%d]: id %s does not match its slice and shard (want %s)", i, t.ID, TaskID(t.Start, t.End, t.Shard, t.Tenant)))
		case !t.Start.Before(t.End) || t.Start.Before(p.From) || t.End.After(p.To):
			errs = append(errs, fmt.Errorf("tasks[%d] %s: slice is outside [from, to)", i, t.ID))
		case i > 0 && p.Tasks[i-1].ID >= t.ID:
			errs = append(errs, fmt.Errorf("tasks[%d] %s: tasks are not sorted by id", i, t.ID))
		}
		seen[t.ID] = true
		for _, in := range append(append([]TaskInput(nil), t.Inputs...), t.Lookback...) {
			if !files[in.Key] {
				errs = append(errs, fmt.Errorf("tasks[%d] %s: input %s is not among the plan's files", i, t.ID, in.Key))
			}
		}
	}
	return errors.Join(errs...)
}

// TaskID names the task of a slice and shard: START-END-all, or START-END-tenant=ID
// for a tenant shard, with times written 20261101T0000Z and the tenant escaped so the
// ID is safe in object names.
func TaskID(start, end time.Time, shard, tenant string) string {
	const layout = "20060102T1504Z"
	id := start.UTC().Format(layout) + "-" + end.UTC().Format(layout) + "-"
	if tenant == "" && shard == ShardAll {
		return id + ShardAll
	}
	return id + "tenant=" + escape(tenant)
}

// escape keeps [A-Za-z0-9._-] and writes every other byte as %XX.
func escape(s string) string {
	const hex = "0123456789ABCDEF"
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-' {
			out = append(out, c)
			continue
		}
		out = append(out, '%', hex[c>>4], hex[c&15])
	}
	return string(out)
}

// Shard returns the tasks of static shard i of n (0 ≤ i < n): tasks are dealt
// largest first (by bytes, then ID) to the shard with the fewest bytes so far (lowest
// index on ties), so shards are balanced and the assignment depends only on the
// plan. The result is sorted by ID. Out-of-range arguments give no tasks.
func (p *Plan) Shard(i, n int) []Task {
	if n <= 0 || i < 0 || i >= n {
		return nil
	}
	order := make([]int, len(p.Tasks))
	for k := range order {
		order[k] = k
	}
	sort.SliceStable(order, func(a, b int) bool {
		ta, tb := &p.Tasks[order[a]], &p.Tasks[order[b]]
		if ta.Bytes != tb.Bytes {
			return ta.Bytes > tb.Bytes
		}
		return ta.ID < tb.ID
	})
	load := make([]int64, n)
	var out []Task
	for _, k := range order {
		best := 0
		for s := 1; s < n; s++ {
			if load[s] < load[best] {
				best = s
			}
		}
		// An empty task still costs a little; count it so empty tasks spread out too.
		load[best] += p.Tasks[k].Bytes + 1
		if best == i {
			out = append(out, p.Tasks[k])
		}
	}
	sort.Slice(out, func(a, b int) bool { return out[a].ID < out[b].ID })
	return out
}
