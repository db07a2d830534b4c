package backfill

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/tallyhq/tally/exec"
	"github.com/tallyhq/tally/writer"
	"github.com/tallyhq/tally/writer/kafka"
)

// Publisher publishes a task's rollups to Kafka exactly once (kafka.Sink implements it).
type Publisher interface {
	// PublishTask produces the task's records in one transaction, writing the pending
	// marker with j before committing.
	PublishTask(ctx context.Context, task kafka.TaskRef, rollups []exec.Rollup, j kafka.Journal) (kafka.TaskOffsets, error)
	// Recover reports whether the transaction behind a pending marker committed.
	Recover(ctx context.Context, taskID string, p kafka.Pending) (bool, error)
}

var _ Publisher = (*kafka.Sink)(nil)

// journal stores the Kafka writer's pending markers beside the manifests.
type journal struct{ j *writer.Journal }

func (j journal) WritePending(ctx context.Context, taskID string, p kafka.Pending) error {
	data, err := json.Marshal(p)
	if err != nil {
		return err
	}
	return j.j.WritePending(ctx, taskID, data)
}

// publish publishes the task's rollups once: when an earlier attempt left a pending
// marker whose transaction committed, its offsets are reused and nothing is produced.
func (r *runner) publish(ctx context.Context, taskID string, rollups []exec.Rollup) ([]writer.KafkaRange, error) {
	pub := r.cfg.Publisher
	jr := r.store.Journal()
	raw, ok, err := jr.ReadPending(ctx, taskID)
	if err != nil {
		return nil, fmt.Errorf("read pending marker of task %s: %w", taskID, err)
	}
	if ok {
		var p kafka.Pending
		if err := json.Unmarshal(raw, &p); err != nil {
			return nil, fmt.Errorf("pending marker of task %s is not valid JSON (%v): delete %s to republish", taskID, err, writer.PendingKey(taskID))
		}
		committed, err := pub.Recover(ctx, taskID, p)
		if err != nil {
			return nil, fmt.Errorf("recover the Kafka transaction of task %s: %w", taskID, err)
		}
		if committed && !r.cfg.Force {
			r.log.Info("kafka records of an earlier attempt were committed; not republishing", "task", taskID, "run", p.RunID)
			return kafkaRanges(p.Offsets), nil
		}
	}
	off, err := pub.PublishTask(ctx, kafka.TaskRef{RunID: r.cfg.RunID, TaskID: taskID}, rollups, journal{jr})
	if err != nil {
		return nil, err
	}
	return kafkaRanges(off), nil
}

func kafkaRanges(o kafka.TaskOffsets) []writer.KafkaRange {
	var out []writer.KafkaRange
	for _, p := range o.Partitions {
		out = append(out, writer.KafkaRange{Topic: p.Topic, Partition: p.Partition, FirstOffset: p.First, LastOffset: p.Last, Records: int64(p.Records)})
	}
	return out
}
