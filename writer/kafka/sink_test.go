package kafka

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tallyhq/tally/exec"
	"github.com/tallyhq/tally/internal/kafkatest"
	"github.com/tallyhq/tally/specs"
)

// The TestKafka* tests run against kfake by default and against the real cluster of
// TALLY_KAFKA_BROKERS when it is set (CI: .ci/kafka.sh start). Topic names and
// transactional IDs are unique per test run, so reruns on one cluster do not mix.

const testPartitions = 3

type kafkaFixture struct {
	t       *testing.T
	broker  *kafkatest.Broker
	reg     *specs.Registry
	rollups []exec.Rollup
	topics  []string
	prefix  string
	rows    int
}

// newKafkaFixture routes two aggregations (OTLP string keys, JSON windowed keys) to
// fresh topics and builds rows rows of each.
func newKafkaFixture(t *testing.T, rows int) *kafkaFixture {
	t.Helper()
	f := &kafkaFixture{t: t, broker: kafkatest.Start(t), reg: testRegistry(t)}
	uniq := fmt.Sprintf("%s-%d", t.Name(), time.Now().UnixNano())
	f.prefix = "tally-test-" + uniq + "-"
	for _, name := range []string{"broker_cpu_5m", "broker_cpu_5m_json"} {
		agg := *mustAgg(t, f.reg, name)
		k := *agg.Output.Kafka
		k.Topic = "t." + uniq + ".{aggregation}"
		agg.Output.Kafka = &k
		r := exec.Rollup{Agg: &agg}
		for i := 0; i < rows; i++ {
			r.Rows = append(r.Rows, testRow(t, &agg, i))
		}
		f.rollups = append(f.rollups, r)
		f.topics = append(f.topics, "t."+uniq+"."+agg.Name)
		f.rows += rows
	}
	return f
}

func (f *kafkaFixture) sink(mod func(*Config)) *Sink {
	f.t.Helper()
	cfg := DefaultConfig()
	cfg.Brokers = f.broker.Brokers()
	cfg.CreateTopics = true
	cfg.TopicPartitions = testPartitions
	cfg.TopicReplication = 1
	cfg.MaxBytesPerSec = 0
	cfg.TransactionTimeout = time.Minute
	cfg.TransactionalIDPrefix = f.prefix
	if mod != nil {
		mod(&cfg)
	}
	s, err := NewSink(cfg, f.reg, nil)
	if err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(s.Close)
	return s
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// settle waits until no transaction is open on topic (the last stable offset reached
// the high watermark): a committed transaction's markers are written after EndTxn
// returns, so read_committed readers see its records a moment later.
func (f *kafkaFixture) settle(ctx context.Context, topic string) {
	f.t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(f.broker.Brokers()...))
	if err != nil {
		f.t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	for {
		hwm, err := adm.ListEndOffsets(ctx, topic)
		if err != nil {
			f.t.Fatal(err)
		}
		lso, err := adm.ListCommittedOffsets(ctx, topic)
		if err != nil {
			f.t.Fatal(err)
		}
		settled := true
		hwm.Each(func(o kadm.ListedOffset) {
			if l, ok := lso.Lookup(o.Topic, o.Partition); !ok || l.Offset != o.Offset {
				settled = false
			}
		})
		if settled {
			return
		}
		if err := sleepCtx(ctx, 50*time.Millisecond); err != nil {
			f.t.Fatalf("topic %s: a transaction stays open: %v", topic, err)
		}
	}
}

// committed reads every topic of the fixture read_committed and checks that each row
// is there exactly once, published by runID, in the partition Partition(key) names.
func (f *kafkaFixture) checkExactlyOnce(ctx context.Context, taskID, runID string) {
	f.t.Helper()
	seen := map[string]int{}
	total := 0
	for _, topic := range f.topics {
		f.settle(ctx, topic)
		recs, err := Consume(ctx, f.broker.Brokers(), topic, true)
		if err != nil {
			f.t.Fatal(err)
		}
		for _, r := range recs {
			if got := Partition(r.Key, testPartitions); got != r.Partition {
				f.t.Errorf("record %x in partition %d; the Java partitioner picks %d", r.Key, r.Partition, got)
			}
			d, err := Decode(r)
			if err != nil {
				f.t.Fatal(err)
			}
			if d.TaskID != taskID || d.RunID != runID {
				f.t.Errorf("record of task %s run %s visible; want only task %s run %s", d.TaskID, d.RunID, taskID, runID)
			}
			seen[topic+"|"+string(r.Key)]++
			total++
		}
	}
	for k, n := range seen {
		if n != 1 {
			f.t.Errorf("key %q seen %d times", k, n)
		}
	}
	if total != f.rows {
		f.t.Errorf("read_committed consumers see %d records, want %d (one per row)", total, f.rows)
	}
}

// visible counts the records a read_committed consumer sees across the fixture's topics.
func (f *kafkaFixture) visible(ctx context.Context) int {
	f.t.Helper()
	n := 0
	for _, topic := range f.topics {
		recs, err := Consume(ctx, f.broker.Brokers(), topic, true)
		if err != nil {
			f.t.Fatal(err)
		}
		n += len(recs)
	}
	return n
}

func TestKafkaPublishTask(t *testing.T) {
	f := newKafkaFixture(t, 25)
	ctx := testCtx(t)
	s := f.sink(nil)
	j := newJournal()
	task := TaskRef{RunID: "run-1", TaskID: "task-a"}
	out, err := s.PublishTask(ctx, task, f.rollups, j)
	if err != nil {
		t.Fatal(err)
	}
	if out.Records != f.rows {
		t.Errorf("TaskOffsets.Records = %d, want %d rows", out.Records, f.rows)
	}
	sum := 0
	for _, p := range out.Partitions {
		sum += p.Records
		if p.Last-p.First+1 < int64(p.Records) {
			t.Errorf("%s/%d: %d records between offsets %d and %d", p.Topic, p.Partition, p.Records, p.First, p.Last)
		}
	}
	if sum != out.Records || out.Bytes <= 0 || out.TransactionalID != f.prefix+"task-a" {
		t.Errorf("offsets %+v", out)
	}
	if p := j.get(t, "task-a"); p.RunID != "run-1" || p.Offsets.Records != out.Records || len(p.Offsets.Partitions) != len(out.Partitions) {
		t.Errorf("pending marker %+v does not match the offsets %+v", p, out)
	}
	f.checkExactlyOnce(ctx, "task-a", "run-1")
}

// TestKafkaCrashBeforeCommitRerun: the pending marker is written, then the process
// dies before committing. On resume Recover says aborted, the task is republished and
// read_committed consumers see each record once.
func TestKafkaCrashBeforeCommitRerun(t *testing.T) {
	f := newKafkaFixture(t, 20)
	ctx := testCtx(t)
	j := newJournal()
	crashing := f.sink(nil)
	crashing.hooks.crashBeforeCommit = func(string) bool { return true }
	if _, err := crashing.PublishTask(ctx, TaskRef{RunID: "run-1", TaskID: "task-b"}, f.rollups, j); !errors.Is(err, errCrashed) {
		t.Fatalf("PublishTask = %v, want the simulated crash", err)
	}
	pending := j.get(t, "task-b")
	if pending.Offsets.Records != f.rows {
		t.Fatalf("pending marker lists %d records, want %d", pending.Offsets.Records, f.rows)
	}
	resumed := f.sink(nil)
	committed, err := resumed.Recover(ctx, "task-b", pending)
	if err != nil {
		t.Fatal(err)
	}
	if committed {
		t.Fatal("Recover says committed; the process died before committing")
	}
	if n := f.visible(ctx); n != 0 {
		t.Fatalf("%d records of the dead transaction are visible", n)
	}
	if _, err := resumed.PublishTask(ctx, TaskRef{RunID: "run-2", TaskID: "task-b"}, f.rollups, j); err != nil {
		t.Fatal(err)
	}
	f.checkExactlyOnce(ctx, "task-b", "run-2")
}

// TestKafkaInterruptedBeforeMarkerRerun: the process dies after producing, before the
// pending marker; a rerun publishes again and fences the dead transaction.
func TestKafkaInterruptedBeforeMarkerRerun(t *testing.T) {
	f := newKafkaFixture(t, 20)
	ctx := testCtx(t)
	j := newJournal()
	crashing := f.sink(nil)
	crashing.hooks.crashBeforePending = func(string) bool { return true }
	if _, err := crashing.PublishTask(ctx, TaskRef{RunID: "run-1", TaskID: "task-c"}, f.rollups, j); !errors.Is(err, errCrashed) {
		t.Fatalf("PublishTask = %v, want the simulated crash", err)
	}
	if len(j.pending) != 0 {
		t.Fatalf("a pending marker was written: %+v", j.pending)
	}
	if _, err := f.sink(nil).PublishTask(ctx, TaskRef{RunID: "run-2", TaskID: "task-c"}, f.rollups, j); err != nil {
		t.Fatal(err)
	}
	f.checkExactlyOnce(ctx, "task-c", "run-2")
}

// TestKafkaCommittedManifestMissing: the transaction committed but the manifest was
// never written; Recover says committed and nothing is republished.
func TestKafkaCommittedManifestMissing(t *testing.T) {
	f := newKafkaFixture(t, 20)
	ctx := testCtx(t)
	j := newJournal()
	if _, err := f.sink(nil).PublishTask(ctx, TaskRef{RunID: "run-1", TaskID: "task-d"}, f.rollups, j); err != nil {
		t.Fatal(err)
	}
	committed, err := f.sink(nil).Recover(ctx, "task-d", j.get(t, "task-d"))
	if err != nil {
		t.Fatal(err)
	}
	if !committed {
		t.Fatal("Recover says not committed; the transaction committed")
	}
	// A marker of another run of the task does not match the records' headers.
	other := j.get(t, "task-d")
	other.RunID = "run-0"
	if committed, err := f.sink(nil).Recover(ctx, "task-d", other); err != nil || committed {
		t.Errorf("Recover of a marker from another run = %v, %v; want not committed", committed, err)
	}
	f.checkExactlyOnce(ctx, "task-d", "run-1")
}

// TestKafkaZombieFenced: a producer stalls before committing while a rerun of its task
// publishes; when it wakes, its commit is refused and the rerun's records stand alone.
func TestKafkaZombieFenced(t *testing.T) {
	f := newKafkaFixture(t, 15)
	ctx := testCtx(t)
	stalled, release := make(chan struct{}), make(chan struct{})
	zombie := f.sink(nil)
	zombie.hooks.crashBeforeCommit = func(string) bool {
		close(stalled)
		<-release
		return false // go on and try to commit
	}
	zj := newJournal()
	zerr := make(chan error, 1)
	go func() {
		_, err := zombie.PublishTask(ctx, TaskRef{RunID: "run-1", TaskID: "task-e"}, f.rollups, zj)
		zerr <- err
	}()
	select {
	case <-stalled:
	case <-ctx.Done():
		t.Fatal("the zombie never reached its commit")
	}
	if _, err := f.sink(nil).PublishTask(ctx, TaskRef{RunID: "run-2", TaskID: "task-e"}, f.rollups, newJournal()); err != nil {
		t.Fatal(err)
	}
	close(release)
	if err := <-zerr; err == nil {
		t.Fatal("the fenced zombie committed")
	}
	f.checkExactlyOnce(ctx, "task-e", "run-2")
}

// TestKafkaJournalFailureAborts: when the pending marker cannot be written the
// transaction is aborted; a rerun publishes each record once.
func TestKafkaJournalFailureAborts(t *testing.T) {
	f := newKafkaFixture(t, 10)
	ctx := testCtx(t)
	j := newJournal()
	j.fail = errJournalDown
	s := f.sink(nil)
	if _, err := s.PublishTask(ctx, TaskRef{RunID: "run-1", TaskID: "task-f"}, f.rollups, j); !errors.Is(err, errJournalDown) {
		t.Fatalf("PublishTask = %v, want the journal's error", err)
	}
	if n := f.visible(ctx); n != 0 {
		t.Fatalf("%d records of the aborted transaction are visible", n)
	}
	j.fail = nil
	if _, err := s.PublishTask(ctx, TaskRef{RunID: "run-2", TaskID: "task-f"}, f.rollups, j); err != nil {
		t.Fatal(err)
	}
	f.checkExactlyOnce(ctx, "task-f", "run-2")
}

// TestKafkaMissingTopic: without CreateTopics a missing topic is a clear error.
func TestKafkaMissingTopic(t *testing.T) {
	f := newKafkaFixture(t, 2)
	s := f.sink(func(c *Config) { c.CreateTopics = false })
	_, err := s.PublishTask(testCtx(t), TaskRef{RunID: "run-1", TaskID: "task-g"}, f.rollups, newJournal())
	if err == nil || !errContains(err, "do not exist") || !errContains(err, f.topics[0]) {
		t.Fatalf("PublishTask = %v, want an error naming the missing topic", err)
	}
}

func errContains(err error, s string) bool {
	return err != nil && len(s) > 0 && contains(err.Error(), s)
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

// TestKafkaBrokerRestart restarts the broker between producing a task's records and
// committing them, then publishes a second task: the first commits after the restart
// and every record is seen once.
func TestKafkaBrokerRestart(t *testing.T) {
	f := newKafkaFixture(t, 15)
	ctx := testCtx(t)
	var restarts atomic.Int32
	s := f.sink(nil)
	s.hooks.crashBeforeCommit = func(string) bool {
		if restarts.Add(1) == 1 {
			f.broker.Restart()
		}
		return false
	}
	j := newJournal()
	if _, err := s.PublishTask(ctx, TaskRef{RunID: "run-1", TaskID: "task-h"}, f.rollups, j); err != nil {
		t.Fatalf("publish across a broker restart: %v", err)
	}
	if restarts.Load() != 1 {
		t.Fatalf("%d restarts", restarts.Load())
	}
	f.checkExactlyOnce(ctx, "task-h", "run-1")
}

// TestKafkaRateLimit publishes about 2 MiB at 400 KiB/s: the measured rate must stay
// stay within 10% above the limit. It may be lower on a loaded machine; only a rate
// under a quarter of the limit (a limiter that over-throttles) fails.
func TestKafkaRateLimit(t *testing.T) {
	const rate = 400 << 10
	f := newKafkaFixture(t, 1000)
	ctx := testCtx(t)
	s := f.sink(func(c *Config) { c.MaxBytesPerSec = rate })
	start := time.Now()
	out, err := s.PublishTask(ctx, TaskRef{RunID: "run-1", TaskID: "task-i"}, f.rollups, newJournal())
	if err != nil {
		t.Fatal(err)
	}
	elapsed := time.Since(start)
	got := float64(out.Bytes) / elapsed.Seconds()
	t.Logf("published %d records, %d bytes in %s: %.0f B/s (limit %d B/s)", out.Records, out.Bytes, elapsed.Round(time.Millisecond), got, rate)
	if out.Bytes < 3*rate {
		t.Fatalf("only %d bytes; the test needs several seconds of traffic", out.Bytes)
	}
	if got > 1.1*rate {
		t.Errorf("sent %.0f B/s, more than 10%% over the %d B/s limit", got, rate)
	}
	if got < 0.25*rate {
		t.Errorf("sent %.0f B/s, less than a quarter of the %d B/s limit: the limiter throttles too hard", got, rate)
	}
}
