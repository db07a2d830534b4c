package writer

import (
	"context"
	"fmt"
	"time"
)

// Task states reported by Status.
const (
	StateCommitted = "committed" // a manifest matches the plan: a rerun skips the task
	StateMissing   = "missing"   // no manifest: the task never committed
	StateStale     = "stale"     // a manifest exists but inputs or spec versions changed
)

// TaskStatus is the state of one planned task.
type TaskStatus struct {
	TaskID string `json:"task_id"`
	State  string `json:"state"`
	// Why explains the state (what changed, for a stale task).
	Why string `json:"why"`
	// RunID and Committed are those of the manifest, when there is one.
	RunID     string    `json:"run_id,omitempty"`
	Committed time.Time `json:"committed,omitzero"`
	// Outputs and Rows count the manifest's rollup files and their rows.
	Outputs int   `json:"outputs,omitempty"`
	Rows    int64 `json:"rows,omitempty"`
}

// Status reports every planned task as committed, missing or stale (with what
// changed), in the order of tasks. It lists the manifests once and reads only those
// of planned tasks.
func (s *Store) Status(ctx context.Context, tasks []Task, specVersions map[string]string) ([]TaskStatus, error) {
	ids, err := s.ManifestIDs(ctx)
	if err != nil {
		return nil, fmt.Errorf("status of %s: %w", s.url, err)
	}
	have := make(map[string]bool, len(ids))
	for _, id := range ids {
		have[id] = true
	}
	var toRead []string
	for _, t := range tasks {
		if err := CheckID("task", t.ID); err != nil {
			return nil, fmt.Errorf("status: %w", err)
		}
		if have[t.ID] {
			toRead = append(toRead, t.ID)
		}
	}
	ms, err := s.readManifests(ctx, toRead)
	if err != nil {
		return nil, fmt.Errorf("status of %s: %w", s.url, err)
	}
	byID := make(map[string]*Manifest, len(ms))
	for _, m := range ms {
		byID[m.TaskID] = m
	}
	out := make([]TaskStatus, len(tasks))
	for i, t := range tasks {
		st := TaskStatus{TaskID: t.ID}
		m := byID[t.ID]
		if m == nil {
			st.State, st.Why = StateMissing, "no manifest: the task never committed"
			out[i] = st
			continue
		}
		st.RunID, st.Committed, st.Outputs = m.RunID, m.Created, len(m.Outputs)
		for _, o := range m.Outputs {
			st.Rows += o.Rows
		}
		skip, why := Committed(m, t, specVersions)
		st.State, st.Why = StateStale, why
		if skip {
			st.State = StateCommitted
		}
		out[i] = st
	}
	return out, nil
}
