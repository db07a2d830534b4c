package writer

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// SummaryFormat is the format version of run summaries.
const SummaryFormat = 1

// RunSummary is what one run did, written to _tally/runs/<run>.json and
// _tally/runs/latest.json when the run ends (whatever its outcome).
type RunSummary struct {
	// Format is SummaryFormat when written.
	Format int `json:"format"`
	// RunID names the run; manifests of the tasks it committed carry it.
	RunID        string `json:"run_id"`
	TallyVersion string `json:"tally_version"`
	// Command is what ran (backfill, repair, worker…).
	Command string `json:"command,omitempty"`
	// From and To are the run's time range [From, To).
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
	// Shard is the static shard of the run ("" when not sharded), e.g. "3/8".
	Shard    string    `json:"shard,omitempty"`
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
	// Outcome is "ok", "failed" or "interrupted".
	Outcome string `json:"outcome"`
	// Error is the run's error when it did not succeed.
	Error string     `json:"error,omitempty"`
	Tasks TaskCounts `json:"tasks"`
	// Failed lists the tasks that failed, with their errors.
	Failed []TaskFailure `json:"failed,omitempty"`
	// RowsIn are the raw rows read; PointsIn the points that passed filters.
	RowsIn   int64 `json:"rows_in"`
	PointsIn int64 `json:"points_in"`
	// RowsOut are the rollup rows written; RecordsOut the Kafka records published.
	RowsOut      int64 `json:"rows_out"`
	RecordsOut   int64 `json:"records_out"`
	BytesFetched int64 `json:"bytes_fetched"`
	BytesWritten int64 `json:"bytes_written"`
	// ColumnBytesFetched are the column-chunk bytes fetched (BytesFetched less footers);
	// ColumnBytesNeeded the distinct projected column chunks the computed tasks needed;
	// ReadAmplification their ratio (1 when every needed chunk was fetched once).
	ColumnBytesFetched int64   `json:"column_bytes_fetched,omitempty"`
	ColumnBytesNeeded  int64   `json:"column_bytes_needed,omitempty"`
	ReadAmplification  float64 `json:"read_amplification,omitempty"`
	// DurationSeconds is Finished − Started; RowsPerSecond is RowsIn per second of it.
	DurationSeconds float64 `json:"duration_seconds"`
	RowsPerSecond   float64 `json:"rows_per_second"`
	// Aggregations holds per-aggregation figures, by aggregation name.
	Aggregations map[string]AggregationSummary `json:"aggregations,omitempty"`
}

// TaskCounts counts a run's tasks by outcome.
type TaskCounts struct {
	Planned int `json:"planned"`
	Done    int `json:"done"`
	Skipped int `json:"skipped"`
	Failed  int `json:"failed"`
}

// TaskFailure is one failed task.
type TaskFailure struct {
	TaskID string `json:"task_id"`
	Error  string `json:"error"`
}

// AggregationSummary is one aggregation's share of a run.
type AggregationSummary struct {
	RowsOut int64 `json:"rows_out"`
	Samples int64 `json:"samples"`
	// Drops counts dropped points by reason: dropped_nonfinite, dropped_null,
	// duplicates, conflicting_duplicates, … (docs/semantics.md).
	Drops map[string]int64 `json:"drops,omitempty"`
}

// Finish stamps the end of the run and computes the derived figures.
func (r *RunSummary) Finish(finished time.Time) {
	r.Finished = finished.UTC()
	d := r.Finished.Sub(r.Started)
	r.DurationSeconds = d.Seconds()
	r.RowsPerSecond = 0
	if d > 0 {
		r.RowsPerSecond = float64(r.RowsIn) / d.Seconds()
	}
}

// WriteRunSummary writes the run's summary, then latest.json. The run ID must not be
// LatestRun.
func (s *Store) WriteRunSummary(ctx context.Context, r *RunSummary) error {
	if err := CheckID("run", r.RunID); err != nil {
		return fmt.Errorf("write run summary: %w", err)
	}
	if r.RunID == LatestRun {
		return fmt.Errorf("write run summary: run ID %q is reserved", LatestRun)
	}
	r.Format = SummaryFormat
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("write run summary %s: %w", r.RunID, err)
	}
	data = append(data, '\n')
	for _, key := range []string{RunSummaryKey(r.RunID), RunSummaryKey(LatestRun)} {
		if err := s.put(ctx, key, "application/json", data); err != nil {
			return fmt.Errorf("write run summary %s to %s: %w", r.RunID, s.url, err)
		}
	}
	return nil
}

// ReadRunSummary reads a run's summary; runID LatestRun reads the latest one. A
// missing summary gives an error wrapping ErrNotFound.
func (s *Store) ReadRunSummary(ctx context.Context, runID string) (*RunSummary, error) {
	if err := CheckID("run", runID); err != nil {
		return nil, fmt.Errorf("read run summary: %w", err)
	}
	data, err := s.get(ctx, RunSummaryKey(runID))
	if err != nil {
		return nil, fmt.Errorf("run summary %s in %s: %w", runID, s.url, err)
	}
	var r RunSummary
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("run summary %s in %s: not a tally run summary: %w", RunSummaryKey(runID), s.url, err)
	}
	if r.Format < 1 || r.Format > SummaryFormat {
		return nil, fmt.Errorf("run summary %s in %s: format %d; this tally reads formats 1 to %d", RunSummaryKey(runID), s.url, r.Format, SummaryFormat)
	}
	return &r, nil
}
