package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"golang.org/x/sync/semaphore"

	"github.com/tallyhq/tally/exec"
	"github.com/tallyhq/tally/specs"
)

// TaskRef identifies the task whose rows a PublishTask call publishes.
type TaskRef struct {
	// RunID names this run of tally; it changes on every run (and rerun).
	RunID string
	// TaskID names the task: a pure function of the plan (aggregations, shard, window),
	// so a rerun of the same work has the same ID. The transactional ID derives from it.
	TaskID string
	// Origin is backfill (the default when empty) or repair.
	Origin string
}

// PartitionOffsets is where a task's records landed in one topic partition.
type PartitionOffsets struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	// First and Last are the offsets of the task's first and last record there.
	// Other producers' records may sit between them.
	First   int64 `json:"first_offset"`
	Last    int64 `json:"last_offset"`
	Records int   `json:"records"`
}

// TaskOffsets is what a task published: one entry per topic partition, sorted by topic
// then partition.
type TaskOffsets struct {
	TransactionalID string             `json:"transactional_id"`
	Records         int                `json:"records"`
	Bytes           int64              `json:"bytes"`
	Partitions      []PartitionOffsets `json:"partitions"`
}

// Pending is the marker a Journal stores between producing a task's records and
// committing its transaction. With it, a resumed run can tell (Sink.Recover) whether
// the transaction committed before the process died.
type Pending struct {
	RunID   string      `json:"run_id"`
	TaskID  string      `json:"task_id"`
	Offsets TaskOffsets `json:"offsets"`
}

// Journal durably records pending markers; it lives beside the task manifests.
type Journal interface {
	// WritePending stores p for taskID and returns only once it is durable.
	WritePending(ctx context.Context, taskID string, p Pending) error
}

// ErrNotCommitted says a task's transaction was aborted: none of its records are
// visible to read_committed consumers and the task may be published again.
var ErrNotCommitted = errors.New("transaction not committed")

// CommitUnknownError says a task's records were produced and its pending marker
// written, but neither the commit nor Recover could establish whether the
// transaction committed. Do not republish before Recover answers.
type CommitUnknownError struct {
	TaskID string
	Err    error
}

// Error names the record (or task) and what is wrong.
func (e *CommitUnknownError) Error() string {
	return fmt.Sprintf("task %s: commit outcome unknown (pending marker written; run Recover before republishing): %v", e.TaskID, e.Err)
}

// Unwrap returns the underlying error.
func (e *CommitUnknownError) Unwrap() error { return e.Err }

// Sink publishes rollups to Kafka, one transaction per task. It is safe for concurrent
// use by different tasks; the byte rate limit and in-flight bound are shared.
type Sink struct {
	cfg   Config
	enc   *Encoder
	base  []kgo.Opt
	codec kgo.CompressionCodec
	admin *kgo.Client
	adm   *kadm.Client
	lim   *limiter
	sem   *semaphore.Weighted
	log   *slog.Logger

	mu     sync.Mutex
	topics map[string]bool // topics known to exist

	hooks hooks
}

// hooks let tests stop PublishTask where a crashed process would stop.
type hooks struct {
	// crashBeforePending and crashBeforeCommit, when they return true, make
	// PublishTask return errCrashed at that point, leaving the transaction open.
	crashBeforePending func(taskID string) bool
	crashBeforeCommit  func(taskID string) bool
}

var errCrashed = errors.New("simulated crash")

var _ interface {
	PublishTask(context.Context, TaskRef, []exec.Rollup, Journal) (TaskOffsets, error)
	Recover(context.Context, string, Pending) (bool, error)
} = (*Sink)(nil)

// NewSink validates cfg and connects an admin client. reg supplies the tenant
// dimension for topic templates and the OTLP resource. logger may be nil.
func NewSink(cfg Config, reg *specs.Registry, logger *slog.Logger) (*Sink, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	base, err := cfg.ClientOpts()
	if err != nil {
		return nil, err
	}
	codec, err := compressionCodec(cfg.Compression)
	if err != nil {
		return nil, err
	}
	admin, err := kgo.NewClient(base...)
	if err != nil {
		return nil, fmt.Errorf("kafka client for %v: %w", cfg.Brokers, err)
	}
	tenant := ""
	if reg != nil {
		tenant = reg.Source.Tenant
	}
	return &Sink{
		cfg: cfg, enc: NewEncoder(tenant), base: base, codec: codec,
		admin: admin, adm: kadm.NewClient(admin),
		lim: newLimiter(cfg.MaxBytesPerSec), sem: semaphore.NewWeighted(cfg.MaxBufferedBytes),
		log: logger, topics: map[string]bool{},
	}, nil
}

// Close releases the sink's admin connections.
func (s *Sink) Close() {
	s.admin.Close()
}

// Encoder returns the sink's record encoder.
func (s *Sink) Encoder() *Encoder { return s.enc }

// TransactionalID is the transactional ID of a task: the configured prefix and the
// task ID. It is stable across runs on purpose: a rerun of the task initializes the
// same ID, which fences any zombie producer still working on the task (its open
// transaction is aborted and it can no longer commit). A run ID in it would let a
// zombie of an earlier run commit after the rerun published, duplicating the task.
func (s *Sink) TransactionalID(taskID string) string {
	return s.cfg.TransactionalIDPrefix + taskID
}

// Records encodes every row of the rollups that route to Kafka, in rollup then row
// order, and returns the records and their total bytes.
func (s *Sink) Records(task TaskRef, rollups []exec.Rollup) ([]*kgo.Record, int64, error) {
	var (
		recs  []*kgo.Record
		total int64
	)
	for _, r := range rollups {
		if r.Agg == nil || r.Agg.Output.Kafka == nil {
			continue
		}
		for i := range r.Rows {
			rec, err := s.enc.Record(r.Agg, &r.Rows[i], task)
			if err != nil {
				return nil, 0, fmt.Errorf("task %s: %w", task.TaskID, err)
			}
			recs = append(recs, rec)
			total += recordBytes(rec)
		}
	}
	return recs, total, nil
}

// PublishTask publishes every row of the task's rollups (those with a kafka output) in
// one transaction under the task's transactional ID: produce all, collect the offsets,
// write the pending marker with j, then commit. The caller writes the task manifest
// after it returns. An error before the marker is written leaves nothing visible to
// read_committed consumers (the transaction is aborted, or fenced by the next
// attempt); after the marker, see CommitUnknownError.
func (s *Sink) PublishTask(ctx context.Context, task TaskRef, rollups []exec.Rollup, j Journal) (TaskOffsets, error) {
	start := time.Now()
	if task.TaskID == "" || task.RunID == "" {
		return TaskOffsets{}, fmt.Errorf("publish task: task ID %q and run ID %q must both be set", task.TaskID, task.RunID)
	}
	if j == nil {
		return TaskOffsets{}, fmt.Errorf("publish task %s: no journal for the pending marker", task.TaskID)
	}
	txnID := s.TransactionalID(task.TaskID)
	out := TaskOffsets{TransactionalID: txnID}
	recs, total, err := s.Records(task, rollups)
	if err != nil {
		return out, err
	}
	if len(recs) == 0 {
		return out, nil
	}
	if s.cfg.MaxBytesPerSec > 0 {
		need := time.Duration(float64(total) / float64(s.cfg.MaxBytesPerSec) * float64(time.Second))
		if need > s.cfg.TransactionTimeout*8/10 {
			return out, fmt.Errorf("task %s has %d records, %d bytes: at %d B/s it needs %s, too close to the %s transaction timeout; raise --kafka-max-bytes-per-sec or --kafka-transaction-timeout, or plan smaller tasks",
				task.TaskID, len(recs), total, s.cfg.MaxBytesPerSec, need.Round(time.Second), s.cfg.TransactionTimeout)
		}
	}
	topics := map[string]bool{}
	for _, r := range recs {
		topics[r.Topic] = true
	}
	if err := s.ensureTopics(ctx, keys(topics)); err != nil {
		return out, fmt.Errorf("task %s: %w", task.TaskID, err)
	}

	opts := append(append([]kgo.Opt(nil), s.base...),
		kgo.TransactionalID(txnID),
		kgo.TransactionTimeout(s.cfg.TransactionTimeout),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.ProducerBatchCompression(s.codec),
		kgo.MaxBufferedBytes(int(s.cfg.MaxBufferedBytes)),
		kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)), // Java-compatible murmur2: Partition(key, n)
		kgo.ProducerLinger(5*time.Millisecond),
	)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return out, fmt.Errorf("task %s: producer: %w", task.TaskID, err)
	}
	defer cl.Close()
	if err := cl.BeginTransaction(); err != nil {
		return out, fmt.Errorf("task %s: begin transaction %s: %w", task.TaskID, txnID, err)
	}
	crashed := false
	abort := func(cause error) (TaskOffsets, error) {
		if crashed {
			return out, cause
		}
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if err := cl.AbortBufferedRecords(actx); err != nil {
			return out, errors.Join(cause, fmt.Errorf("abort buffered records: %w", err))
		}
		if err := cl.EndTransaction(actx, kgo.TryAbort); err != nil {
			// The next attempt's InitProducerID fences and aborts it anyway.
			s.log.Warn("abort transaction", "task", task.TaskID, "transactional_id", txnID, "err", err)
		}
		return out, cause
	}

	// Producing is bounded by the transaction timeout (the broker aborts the
	// transaction after it anyway). kgo.RecordDeliveryTimeout cannot do this: it
	// counts from the record timestamp, which is the window end, often months ago.
	pctx, cancelProduce := context.WithTimeout(ctx, s.cfg.TransactionTimeout)
	defer cancelProduce()
	type tp struct {
		topic string
		part  int32
	}
	var (
		mu       sync.Mutex
		firstErr error
		parts    = map[tp]*PartitionOffsets{}
		wg       sync.WaitGroup
	)
	for _, r := range recs {
		n := recordBytes(r)
		if err := s.lim.wait(pctx, n); err != nil {
			firstErr = err
			break
		}
		w := min(n, s.cfg.MaxBufferedBytes)
		if err := s.sem.Acquire(pctx, w); err != nil {
			firstErr = err
			break
		}
		mu.Lock()
		failed := firstErr != nil
		mu.Unlock()
		if failed {
			s.sem.Release(w)
			break
		}
		wg.Add(1)
		cl.Produce(pctx, r, func(r *kgo.Record, err error) {
			defer wg.Done()
			s.sem.Release(w)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if firstErr == nil {
					firstErr = fmt.Errorf("produce to %s: %w", r.Topic, err)
				}
				return
			}
			k := tp{r.Topic, r.Partition}
			p := parts[k]
			if p == nil {
				p = &PartitionOffsets{Topic: r.Topic, Partition: r.Partition, First: r.Offset, Last: r.Offset}
				parts[k] = p
			}
			p.First = min(p.First, r.Offset)
			p.Last = max(p.Last, r.Offset)
			p.Records++
		})
	}
	mu.Lock()
	failed := firstErr
	mu.Unlock()
	if failed == nil {
		if err := cl.Flush(pctx); err != nil {
			failed = err
		}
	}
	if failed != nil {
		_, err := abort(fmt.Errorf("task %s: %w", task.TaskID, failed))
		wg.Wait()
		return out, err
	}
	wg.Wait()
	if firstErr != nil {
		return abort(fmt.Errorf("task %s: %w", task.TaskID, firstErr))
	}
	for _, p := range parts {
		out.Partitions = append(out.Partitions, *p)
		out.Records += p.Records
	}
	sort.Slice(out.Partitions, func(i, j int) bool {
		a, b := out.Partitions[i], out.Partitions[j]
		if a.Topic != b.Topic {
			return a.Topic < b.Topic
		}
		return a.Partition < b.Partition
	})
	out.Bytes = total
	if out.Records != len(recs) {
		return abort(fmt.Errorf("task %s: %d records acknowledged of %d produced", task.TaskID, out.Records, len(recs)))
	}
	pending := Pending{RunID: task.RunID, TaskID: task.TaskID, Offsets: out}
	if s.hooks.crashBeforePending != nil && s.hooks.crashBeforePending(task.TaskID) {
		crashed = true
		return abort(errCrashed)
	}
	if err := j.WritePending(ctx, task.TaskID, pending); err != nil {
		return abort(fmt.Errorf("task %s: write pending marker: %w", task.TaskID, err))
	}
	if s.hooks.crashBeforeCommit != nil && s.hooks.crashBeforeCommit(task.TaskID) {
		crashed = true
		return abort(errCrashed)
	}
	if err := cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
		// The outcome may be unknown. Abort what can be aborted, then look.
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		_ = cl.EndTransaction(actx, kgo.TryAbort)
		cancel()
		cl.Close()
		committed, rerr := s.Recover(ctx, task.TaskID, pending)
		switch {
		case rerr != nil:
			return out, &CommitUnknownError{TaskID: task.TaskID, Err: errors.Join(err, rerr)}
		case !committed:
			return out, fmt.Errorf("task %s: commit: %w: %w", task.TaskID, ErrNotCommitted, err)
		}
		s.log.Warn("commit reported an error but the transaction committed", "task", task.TaskID, "err", err)
	}
	s.log.Info("published task", "task", task.TaskID, "run", task.RunID, "transactional_id", txnID,
		"records", out.Records, "bytes", out.Bytes, "partitions", len(out.Partitions), "elapsed", time.Since(start).Round(time.Millisecond))
	return out, nil
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// ensureTopics checks that topics exist, creating them when the config says so.
func (s *Sink) ensureTopics(ctx context.Context, topics []string) error {
	s.mu.Lock()
	var unknown []string
	for _, t := range topics {
		if !s.topics[t] {
			unknown = append(unknown, t)
		}
	}
	s.mu.Unlock()
	if len(unknown) == 0 {
		return nil
	}
	var err error
	if s.cfg.CreateTopics {
		err = s.EnsureTopics(ctx, unknown, s.cfg.TopicPartitions, s.cfg.TopicReplication)
	} else {
		var missing []string
		missing, err = s.missingTopics(ctx, unknown)
		if err == nil && len(missing) > 0 {
			err = fmt.Errorf("topics %v do not exist; create them with the streaming job's partition count, or pass --kafka-create-topics for a demo", missing)
		}
	}
	if err != nil {
		return err
	}
	s.mu.Lock()
	for _, t := range unknown {
		s.topics[t] = true
	}
	s.mu.Unlock()
	return nil
}

func (s *Sink) missingTopics(ctx context.Context, topics []string) ([]string, error) {
	details, err := s.adm.ListTopics(ctx, topics...)
	if err != nil {
		return nil, fmt.Errorf("list topics %v: %w", topics, err)
	}
	var missing []string
	for _, t := range topics {
		d, ok := details[t]
		switch {
		case !ok || errors.Is(d.Err, kerr.UnknownTopicOrPartition):
			missing = append(missing, t)
		case d.Err != nil:
			return nil, fmt.Errorf("topic %s: %w", t, d.Err)
		}
	}
	return missing, nil
}

// EnsureTopics creates those of topics that do not exist, with the given partitions
// and replication factor. Existing topics are left as they are, whatever their
// partition count.
func (s *Sink) EnsureTopics(ctx context.Context, topics []string, partitions int32, replication int16) error {
	missing, err := s.missingTopics(ctx, topics)
	if err != nil || len(missing) == 0 {
		return err
	}
	resp, err := s.adm.CreateTopics(ctx, partitions, replication, nil, missing...)
	if err != nil {
		return fmt.Errorf("create topics %v: %w", missing, err)
	}
	var errs []error
	for _, t := range missing {
		r, ok := resp[t]
		if !ok {
			errs = append(errs, fmt.Errorf("create topic %s: no answer from the cluster", t))
			continue
		}
		if r.Err != nil && !errors.Is(r.Err, kerr.TopicAlreadyExists) {
			errs = append(errs, fmt.Errorf("create topic %s (%d partitions, replication %d): %w %s", t, partitions, replication, r.Err, r.ErrMessage))
		}
	}
	if len(errs) == 0 {
		s.log.Info("created topics", "topics", missing, "partitions", partitions, "replication", replication)
	}
	return errors.Join(errs...)
}

// Recover tells whether the transaction of a task whose pending marker exists (but
// whose manifest does not) committed. It first fences the task's transactional ID, so
// no zombie producer can still commit and an open transaction is resolved, then reads
// the marker's offsets with a read_committed consumer: committed means every record
// the marker lists is there with this task's tally.task and tally.run_id headers
// (do not republish; write the manifest); not committed means none is (republish).
func (s *Sink) Recover(ctx context.Context, taskID string, p Pending) (bool, error) {
	if p.TaskID != "" && p.TaskID != taskID {
		return false, fmt.Errorf("recover task %s: the pending marker is for task %s", taskID, p.TaskID)
	}
	if p.Offsets.Records == 0 {
		return true, nil // nothing was to be published
	}
	txnID := p.Offsets.TransactionalID
	if txnID == "" {
		txnID = s.TransactionalID(taskID)
	}
	fence, err := kgo.NewClient(append(append([]kgo.Opt(nil), s.base...),
		kgo.TransactionalID(txnID), kgo.TransactionTimeout(s.cfg.TransactionTimeout))...)
	if err != nil {
		return false, fmt.Errorf("recover task %s: %w", taskID, err)
	}
	_, _, err = fence.ProducerID(ctx)
	fence.Close()
	if err != nil {
		return false, fmt.Errorf("recover task %s: fence transactional ID %s: %w", taskID, txnID, err)
	}

	type tp struct {
		topic string
		part  int32
	}
	want := map[tp]PartitionOffsets{}
	var topics []string
	for _, po := range p.Offsets.Partitions {
		if po.First < 0 || po.Last < po.First {
			return false, fmt.Errorf("recover task %s: pending marker lists %s/%d offsets %d..%d", taskID, po.Topic, po.Partition, po.First, po.Last)
		}
		want[tp{po.Topic, po.Partition}] = po
		topics = append(topics, po.Topic)
	}
	starts, err := s.adm.ListStartOffsets(ctx, topics...)
	if err != nil {
		return false, fmt.Errorf("recover task %s: list start offsets: %w", taskID, err)
	}
	if err := s.waitStable(ctx, taskID, topics, p.Offsets.Partitions); err != nil {
		return false, err
	}
	assign := map[string]map[int32]kgo.Offset{}
	for k, po := range want {
		so, ok := starts.Lookup(k.topic, k.part)
		if !ok || so.Err != nil {
			return false, fmt.Errorf("recover task %s: start offset of %s/%d: %v", taskID, k.topic, k.part, so.Err)
		}
		if so.Offset > po.First {
			return false, fmt.Errorf("recover task %s: %s/%d starts at offset %d, after the task's first record %d (deleted by retention?); cannot tell whether it committed",
				taskID, k.topic, k.part, so.Offset, po.First)
		}
		if assign[k.topic] == nil {
			assign[k.topic] = map[int32]kgo.Offset{}
		}
		assign[k.topic][k.part] = kgo.NewOffset().At(po.First)
	}
	cl, err := kgo.NewClient(append(append([]kgo.Opt(nil), s.base...),
		kgo.ConsumePartitions(assign),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.KeepControlRecords(),
		kgo.FetchMaxWait(500*time.Millisecond),
	)...)
	if err != nil {
		return false, fmt.Errorf("recover task %s: consumer: %w", taskID, err)
	}
	defer cl.Close()
	found := map[tp]int{}
	done := map[tp]bool{}
	for len(done) < len(want) {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return false, fmt.Errorf("recover task %s: read %d of %d partitions before: %w", taskID, len(done), len(want), err)
		}
		var ferr error
		fs.EachError(func(t string, p int32, err error) {
			if ferr == nil {
				ferr = fmt.Errorf("recover task %s: fetch %s/%d: %w", taskID, t, p, err)
			}
		})
		if ferr != nil {
			return false, ferr
		}
		fs.EachRecord(func(r *kgo.Record) {
			k := tp{r.Topic, r.Partition}
			po, ok := want[k]
			if !ok || r.Offset < po.First {
				return
			}
			if r.Offset >= po.Last {
				done[k] = true
			}
			if r.Offset > po.Last || r.Attrs.IsControl() {
				return
			}
			if header(r, HeaderTask) == taskID && header(r, HeaderRunID) == p.RunID {
				found[k]++
			}
		})
	}
	var full, empty int
	for k, po := range want {
		switch found[k] {
		case po.Records:
			full++
		case 0:
			empty++
		default:
			return false, fmt.Errorf("recover task %s: %s/%d holds %d of the task's %d records between offsets %d and %d; a transaction is all or nothing, so the topic was altered (compaction? deletion?)",
				taskID, k.topic, k.part, found[k], po.Records, po.First, po.Last)
		}
	}
	switch {
	case full == len(want):
		s.log.Info("recovered task: transaction committed", "task", taskID, "run", p.RunID, "records", p.Offsets.Records)
		return true, nil
	case empty == len(want):
		s.log.Info("recovered task: transaction aborted; republish", "task", taskID, "run", p.RunID)
		return false, nil
	}
	return false, fmt.Errorf("recover task %s: %d partitions hold the task's records and %d do not; a transaction is all or nothing, so the topics were altered", taskID, full, empty)
}

// waitStable waits until the last stable offset of every partition is past the task's
// last record, so a read_committed consumer can see the whole range.
func (s *Sink) waitStable(ctx context.Context, taskID string, topics []string, parts []PartitionOffsets) error {
	for backoff := 100 * time.Millisecond; ; backoff = min(backoff*2, 2*time.Second) {
		lso, err := s.adm.ListCommittedOffsets(ctx, topics...)
		if err != nil {
			return fmt.Errorf("recover task %s: list last stable offsets: %w", taskID, err)
		}
		stable := true
		for _, po := range parts {
			o, ok := lso.Lookup(po.Topic, po.Partition)
			if !ok || o.Err != nil {
				return fmt.Errorf("recover task %s: last stable offset of %s/%d: %v", taskID, po.Topic, po.Partition, o.Err)
			}
			if o.Offset <= po.Last {
				stable = false
			}
		}
		if stable {
			return nil
		}
		if err := sleepCtx(ctx, backoff); err != nil {
			return fmt.Errorf("recover task %s: an open transaction holds the last stable offset below the task's records: %w", taskID, err)
		}
	}
}

func header(r *kgo.Record, key string) string {
	for _, h := range r.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}
