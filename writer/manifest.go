package writer

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"
)

// ManifestFormat is the format version of task manifests this package writes and the
// newest it reads (docs/manifests.md).
const ManifestFormat = 1

// Manifest is a task's commit record, written last to _tally/tasks/<task>.json: while
// it is absent the task is not done, whatever data objects exist.
type Manifest struct {
	// Format is ManifestFormat when written.
	Format int `json:"format"`
	// TaskID is the planner's task ID; it names the manifest.
	TaskID string `json:"task_id"`
	// From and To are the task's time slice [From, To).
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
	// Shard is the task's share of the tenants/clusters, as the planner names it (e.g. "all", "3/8").
	Shard string `json:"shard"`
	// RunID is the run that committed the task (not in the data files, which must not
	// depend on the run).
	RunID string `json:"run_id"`
	// TallyVersion is the build that committed the task.
	TallyVersion string `json:"tally_version"`
	// Inputs are the raw segments the task read. Committed compares them with a new plan.
	Inputs []Input `json:"inputs"`
	// InputFingerprint is Fingerprint(Inputs), also stamped into every rollup file.
	InputFingerprint string `json:"input_fingerprint"`
	// Specs are the aggregations the task computed, with their spec versions.
	Specs []SpecRef `json:"specs"`
	// Outputs are the rollup files of the task, sorted by key.
	Outputs []OutputObject `json:"outputs"`
	// Sinks are the outputs the task produced: SinkParquet, SinkKafka. A rerun that
	// wants a sink the commit lacks (Kafka added to a run) does not skip the task.
	Sinks []string `json:"sinks,omitempty"`
	// Kafka lists the records the task published, per topic partition.
	Kafka []KafkaRange `json:"kafka,omitempty"`
	// Stats are the task's counters (rows_in, points, dropped_nonfinite, …).
	Stats map[string]int64 `json:"stats,omitempty"`
	// Created is when the manifest was written (the store's clock), UTC.
	Created time.Time `json:"created"`
}

// Input is one raw segment a task reads: its identity for the skip decision.
type Input struct {
	// Key is the object key (or URL) of the segment.
	Key string `json:"key"`
	// Size is the object size in bytes.
	Size int64 `json:"size"`
	// ETag is the store's entity tag ("" when the store has none).
	ETag string `json:"etag,omitempty"`
	// RowGroups are the indexes of the row groups the task reads, ascending.
	RowGroups []int `json:"row_groups,omitempty"`
}

// SpecRef is one aggregation computed by a task.
type SpecRef struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// KafkaRange is the records a task published to one topic partition.
type KafkaRange struct {
	Topic       string `json:"topic"`
	Partition   int32  `json:"partition"`
	FirstOffset int64  `json:"first_offset"`
	LastOffset  int64  `json:"last_offset"`
	Records     int64  `json:"records"`
}

// Sink names recorded in Manifest.Sinks and asked for by Task.Sinks.
const (
	SinkParquet = "parquet"
	SinkKafka   = "kafka"
)

// Task is what the skip decision needs of a planned task.
type Task struct {
	ID     string
	From   time.Time
	To     time.Time
	Shard  string
	Inputs []Input
	// Sinks are the outputs this run produces for the task; a commit that lacks one of
	// them is not skipped. Empty means no check.
	Sinks []string
}

// Fingerprint is a hex SHA-256 of inputs that does not depend on their order: each
// input's key, size, ETag and row groups, sorted by key.
func Fingerprint(inputs []Input) string {
	sorted := append([]Input(nil), inputs...)
	sort.Slice(sorted, func(a, b int) bool { return sorted[a].Key < sorted[b].Key })
	h := sha256.New()
	var line []byte
	for _, in := range sorted {
		line = line[:0]
		line = strconv.AppendQuote(line, in.Key)
		line = append(line, ' ')
		line = strconv.AppendInt(line, in.Size, 10)
		line = append(line, ' ')
		line = strconv.AppendQuote(line, in.ETag)
		for i, rg := range in.RowGroups {
			if i == 0 {
				line = append(line, ' ')
			} else {
				line = append(line, ',')
			}
			line = strconv.AppendInt(line, int64(rg), 10)
		}
		line = append(line, '\n')
		h.Write(line)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Validate reports what makes m unusable as a commit record.
func (m *Manifest) Validate() error {
	var errs []error
	if m.Format < 1 || m.Format > ManifestFormat {
		errs = append(errs, fmt.Errorf("format %d: this tally reads manifest formats 1 to %d; a newer tally wrote it", m.Format, ManifestFormat))
	}
	if err := CheckID("task", m.TaskID); err != nil {
		errs = append(errs, fmt.Errorf("task_id: %w", err))
	}
	if !m.From.Before(m.To) {
		errs = append(errs, fmt.Errorf("from %s is not before to %s", m.From.Format(time.RFC3339), m.To.Format(time.RFC3339)))
	}
	seen := map[string]bool{}
	for i, s := range m.Specs {
		if s.Name == "" || s.Version == "" {
			errs = append(errs, fmt.Errorf("specs[%d]: name and version are required", i))
		}
		if seen[s.Name] {
			errs = append(errs, fmt.Errorf("specs[%d]: aggregation %s appears twice", i, s.Name))
		}
		seen[s.Name] = true
	}
	for i, o := range m.Outputs {
		ref, ok := ParseRollupKey(o.Key)
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("outputs[%d]: key %q is not a rollup key", i, o.Key))
		case ref.TaskID != m.TaskID:
			errs = append(errs, fmt.Errorf("outputs[%d]: key %q belongs to task %s", i, o.Key, ref.TaskID))
		}
	}
	return errors.Join(errs...)
}

// Commit writes m as the task's manifest, after stamping its format, input
// fingerprint and creation time (the store's clock) and sorting its outputs and specs. Call it only after every data object of the task is
// written: its presence is the task's commit. The write is atomic; a cancelled ctx
// leaves the previous manifest (or none).
func (s *Store) Commit(ctx context.Context, m *Manifest) error {
	m.Format = ManifestFormat
	m.Created = s.now().UTC()
	m.InputFingerprint = Fingerprint(m.Inputs)
	sort.Slice(m.Outputs, func(a, b int) bool { return m.Outputs[a].Key < m.Outputs[b].Key })
	sort.Slice(m.Specs, func(a, b int) bool { return m.Specs[a].Name < m.Specs[b].Name })
	slices.Sort(m.Sinks)
	if err := m.Validate(); err != nil {
		return fmt.Errorf("commit task %s: invalid manifest: %w", m.TaskID, err)
	}
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("commit task %s: encode manifest: %w", m.TaskID, err)
	}
	if err := s.put(ctx, ManifestKey(m.TaskID), "application/json", append(data, '\n')); err != nil {
		return fmt.Errorf("commit task %s to %s: %w", m.TaskID, s.url, err)
	}
	return nil
}

// ReadManifest reads a task's manifest. A task without one gives an error wrapping
// ErrNotFound.
func (s *Store) ReadManifest(ctx context.Context, taskID string) (*Manifest, error) {
	if err := CheckID("task", taskID); err != nil {
		return nil, fmt.Errorf("read manifest: %w", err)
	}
	key := ManifestKey(taskID)
	data, err := s.get(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("manifest of task %s in %s: %w", taskID, s.url, err)
	}
	m, err := DecodeManifest(data)
	if err != nil {
		return nil, fmt.Errorf("manifest %s in %s: %w", key, s.url, err)
	}
	if m.TaskID != taskID {
		return nil, fmt.Errorf("manifest %s in %s names task %q; it was copied or renamed, delete it and rerun the task", key, s.url, m.TaskID)
	}
	return m, nil
}

// DecodeManifest parses and validates a manifest.
func DecodeManifest(data []byte) (*Manifest, error) {
	var m Manifest
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("not a tally manifest: %w", err)
	}
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("invalid manifest: %w", err)
	}
	return &m, nil
}

// ManifestIDs lists the task IDs that have a manifest, sorted.
func (s *Store) ManifestIDs(ctx context.Context) ([]string, error) {
	objs, err := s.listKeys(ctx, TasksPrefix)
	if err != nil {
		return nil, fmt.Errorf("list manifests: %w", err)
	}
	var ids []string
	for _, o := range objs {
		if id, ok := taskIDFromManifestKey(o.Key); ok {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids, nil
}

// ListManifests reads every manifest of the store, sorted by task ID.
func (s *Store) ListManifests(ctx context.Context) ([]*Manifest, error) {
	ids, err := s.ManifestIDs(ctx)
	if err != nil {
		return nil, err
	}
	return s.readManifests(ctx, ids)
}

// readManifests reads the manifests of ids concurrently, in the order of ids.
func (s *Store) readManifests(ctx context.Context, ids []string) ([]*Manifest, error) {
	out := make([]*Manifest, len(ids))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(s.concurrency)
	for i, id := range ids {
		g.Go(func() error {
			m, err := s.ReadManifest(gctx, id)
			out[i] = m
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return out, nil
}

// Committed decides whether a rerun may skip task: true when m is the manifest of
// the task and records the same inputs (key, size, ETag, row groups) and, for every
// aggregation in specVersions (name → spec version), the same version. Otherwise why
// says what changed, in a sentence an operator can act on. A nil m means the task was
// never committed.
func Committed(m *Manifest, task Task, specVersions map[string]string) (skip bool, why string) {
	if m == nil {
		return false, "not committed: no manifest"
	}
	if m.TaskID != task.ID {
		return false, fmt.Sprintf("manifest is of task %s, not %s", m.TaskID, task.ID)
	}
	if m.Format > ManifestFormat {
		return false, fmt.Sprintf("manifest format %d is newer than this tally's %d", m.Format, ManifestFormat)
	}
	if !m.From.Equal(task.From) || !m.To.Equal(task.To) {
		return false, fmt.Sprintf("time slice changed: committed [%s, %s), planned [%s, %s)",
			m.From.UTC().Format(time.RFC3339), m.To.UTC().Format(time.RFC3339), task.From.UTC().Format(time.RFC3339), task.To.UTC().Format(time.RFC3339))
	}
	if m.Shard != task.Shard {
		return false, fmt.Sprintf("shard changed: committed %q, planned %q", m.Shard, task.Shard)
	}
	for _, want := range task.Sinks {
		if !slices.Contains(m.Sinks, want) {
			return false, fmt.Sprintf("the committed run did not produce %s output (it produced %s)", want, formatSinks(m.Sinks))
		}
	}
	if why := specChanges(m.Specs, specVersions); why != "" {
		return false, why
	}
	if why := inputChanges(m.Inputs, task.Inputs); why != "" {
		return false, why
	}
	return true, "committed with the same inputs and spec versions"
}

// maxReasons bounds how many changes a reason lists.
const maxReasons = 3

func specChanges(committed []SpecRef, want map[string]string) string {
	have := map[string]string{}
	for _, s := range committed {
		have[s.Name] = s.Version
	}
	names := make([]string, 0, len(want))
	for n := range want {
		names = append(names, n)
	}
	sort.Strings(names)
	var changes []string
	for _, n := range names {
		v, ok := have[n]
		switch {
		case !ok:
			changes = append(changes, fmt.Sprintf("aggregation %s is new (version %s)", n, want[n]))
		case v != want[n]:
			changes = append(changes, fmt.Sprintf("aggregation %s spec version changed %s → %s", n, v, want[n]))
		}
	}
	return summarize(changes)
}

func inputChanges(committed, planned []Input) string {
	have := map[string]Input{}
	for _, in := range committed {
		have[in.Key] = in
	}
	want := map[string]bool{}
	var changes []string
	for _, in := range sortedInputs(planned) {
		want[in.Key] = true
		old, ok := have[in.Key]
		switch {
		case !ok:
			changes = append(changes, fmt.Sprintf("input %s is new", in.Key))
		case old.Size != in.Size:
			changes = append(changes, fmt.Sprintf("input %s size changed %d → %d bytes", in.Key, old.Size, in.Size))
		case old.ETag != in.ETag:
			changes = append(changes, fmt.Sprintf("input %s etag changed %s → %s", in.Key, old.ETag, in.ETag))
		case !equalInts(old.RowGroups, in.RowGroups):
			changes = append(changes, fmt.Sprintf("input %s row groups changed %s → %s", in.Key, formatInts(old.RowGroups), formatInts(in.RowGroups)))
		}
	}
	for _, in := range sortedInputs(committed) {
		if !want[in.Key] {
			changes = append(changes, fmt.Sprintf("input %s is gone", in.Key))
		}
	}
	return summarize(changes)
}

func formatSinks(s []string) string {
	if len(s) == 0 {
		return "none recorded"
	}
	return strings.Join(s, ", ")
}

func summarize(changes []string) string {
	if len(changes) == 0 {
		return ""
	}
	if len(changes) <= maxReasons {
		return strings.Join(changes, "; ")
	}
	return strings.Join(changes[:maxReasons], "; ") + fmt.Sprintf("; and %d more changes", len(changes)-maxReasons)
}

func sortedInputs(in []Input) []Input {
	s := append([]Input(nil), in...)
	sort.Slice(s, func(a, b int) bool { return s[a].Key < s[b].Key })
	return s
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func formatInts(v []int) string {
	if len(v) == 0 {
		return "[all]"
	}
	s := make([]string, len(v))
	for i, n := range v {
		s[i] = strconv.Itoa(n)
	}
	return "[" + strings.Join(s, ",") + "]"
}
