package writer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"gocloud.dev/gcerrors"
)

// Journal keeps the Kafka writer's pending-transaction markers in the output store:
// _tally/pending/<task>.json is written before a task's Kafka transaction commits
// and deleted after the task's manifest is written, so a restarted run knows which
// tasks may have published records without committing (docs/manifests.md). The
// payload belongs to the Kafka writer; the journal only requires it to be JSON.
type Journal struct {
	s *Store
}

// Journal returns the store's pending-marker journal.
func (s *Store) Journal() *Journal { return &Journal{s: s} }

// WritePending atomically writes (or replaces) the task's pending marker.
func (j *Journal) WritePending(ctx context.Context, taskID string, payload json.RawMessage) error {
	if err := CheckID("task", taskID); err != nil {
		return fmt.Errorf("write pending marker: %w", err)
	}
	if !json.Valid(payload) {
		return fmt.Errorf("write pending marker of task %s: payload is not valid JSON", taskID)
	}
	if err := j.s.put(ctx, PendingKey(taskID), "application/json", payload); err != nil {
		return fmt.Errorf("write pending marker of task %s to %s: %w", taskID, j.s.url, err)
	}
	return nil
}

// ReadPending returns the task's pending marker, and false when there is none.
func (j *Journal) ReadPending(ctx context.Context, taskID string) (json.RawMessage, bool, error) {
	if err := CheckID("task", taskID); err != nil {
		return nil, false, fmt.Errorf("read pending marker: %w", err)
	}
	data, err := j.s.get(ctx, PendingKey(taskID))
	if errors.Is(err, ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("pending marker of task %s in %s: %w", taskID, j.s.url, err)
	}
	if !json.Valid(data) {
		return nil, false, fmt.Errorf("pending marker %s in %s is not valid JSON; it was not written by tally", PendingKey(taskID), j.s.url)
	}
	return data, true, nil
}

// DeletePending deletes the task's pending marker; a missing marker is not an error.
func (j *Journal) DeletePending(ctx context.Context, taskID string) error {
	if err := CheckID("task", taskID); err != nil {
		return fmt.Errorf("delete pending marker: %w", err)
	}
	if err := j.s.bucket.Delete(ctx, PendingKey(taskID)); err != nil && gcerrors.Code(err) != gcerrors.NotFound {
		return fmt.Errorf("delete pending marker of task %s in %s: %w", taskID, j.s.url, err)
	}
	return nil
}

// ListPending lists the task IDs with a pending marker, sorted.
func (j *Journal) ListPending(ctx context.Context) ([]string, error) {
	objs, err := j.s.listKeys(ctx, PendingPrefix)
	if err != nil {
		return nil, fmt.Errorf("list pending markers: %w", err)
	}
	var ids []string
	for _, o := range objs {
		rest := strings.TrimPrefix(o.Key, PendingPrefix)
		id, ok := strings.CutSuffix(rest, ".json")
		if ok && CheckID("task", id) == nil {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids, nil
}
