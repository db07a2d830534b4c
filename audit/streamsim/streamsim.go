// Package streamsim publishes what a Kafka Streams job with a given grace period
// would have emitted for a raw lake, with faults injected on purpose, and returns the
// exact set of keys each fault changed. Tests of the audit compare its findings with
// that set; tally demo uses it to have a stream to audit.
//
// The simulated job computes every aggregation with a Kafka output (and, for the
// archive, every aggregation with Parquet output) exactly as tally does, except that
// points arriving after window end + grace are dropped (backfill.Compute with
// Lateness). Its records follow docs/kafka-records.md without tally's provenance
// headers, as the streaming job's own records do.
package streamsim

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tallyhq/tally/audit"
	"github.com/tallyhq/tally/backfill"
	"github.com/tallyhq/tally/exec"
	"github.com/tallyhq/tally/planner"
	"github.com/tallyhq/tally/specs"
	"github.com/tallyhq/tally/writer"
	"github.com/tallyhq/tally/writer/kafka"
)

// Defaults of Config.
const (
	// DefaultGrace is the simulated job's grace period.
	DefaultGrace = 5 * time.Minute
	// DefaultPartitions is the partition count of topics the simulator creates.
	DefaultPartitions = 3
)

// Config is one simulated stream.
type Config struct {
	// Registry holds the aggregations; those with a Kafka output are published.
	Registry *specs.Registry
	// From and To bound the windows published: [From, To).
	From, To time.Time
	// SourceURL overrides the registry's raw lake URL.
	SourceURL string
	// Grace is the job's grace period: points arriving at or after window end + Grace
	// are dropped (default DefaultGrace).
	Grace time.Duration
	// Brokers are where records are published; empty publishes nothing to Kafka.
	Brokers []string
	// KafkaOpts are extra connection options (TLS, SASL).
	KafkaOpts []kgo.Opt
	// Partitions is the partition count of topics the simulator has to create
	// (default DefaultPartitions); existing topics keep theirs.
	Partitions int32
	// Archive, when set, is a blob URL where the job's output is also written as
	// rollup Parquet (late drops and the value bug apply there; Kafka faults do not).
	Archive string

	// Duplicates re-sends some records (nil: none).
	Duplicates *DuplicateFault
	// MissingPartition drops one partition's records for a time slice (nil: none).
	MissingPartition *PartitionFault
	// ValueBug multiplies one function of one aggregation (nil: none).
	ValueBug *ValueBugFault

	// Tolerance decides whether a fault changed a key, as the audit will (default
	// audit.DefaultTolerance()).
	Tolerance audit.Tolerance
	// Parallelism is passed to the engine (default: CPUs).
	Parallelism int
	// Logger logs progress (default: discard).
	Logger *slog.Logger
}

// DuplicateFault re-sends every Every-th record right after the original, with the
// same value, or with one function changed when Different.
type DuplicateFault struct {
	Every     int
	Different bool
}

// PartitionFault drops the records of one Kafka partition whose timestamp (the
// window end) lies in [From, To), as a lost partition leader would.
type PartitionFault struct {
	Partition int32
	From, To  time.Time
}

// ValueBugFault multiplies the value function Function of Aggregation by Factor in
// every row, as a bug in the job would.
type ValueBugFault struct {
	Aggregation string
	Function    string
	Factor      float64
}

// FaultKind names why a key differs between the simulated stream and the truth.
type FaultKind string

// Fault kinds.
const (
	// LateValue: late drops changed the key's value.
	LateValue FaultKind = "late_value"
	// LateMissing: every point of the key arrived late; the job emitted nothing.
	LateMissing FaultKind = "late_missing"
	// DuplicateIdentical: the key's record was sent twice with the same value.
	DuplicateIdentical FaultKind = "duplicate_identical"
	// DuplicateConflicting: the key's record was sent again with another value.
	DuplicateConflicting FaultKind = "duplicate_conflicting"
	// MissingPartition: the key's record was dropped with its partition.
	MissingPartition FaultKind = "missing_partition"
	// ValueBug: the value bug changed the key's value.
	ValueBug FaultKind = "value_bug"
)

// Fault is one key a fault changed.
type Fault struct {
	Kind FaultKind
	Key  audit.Key
}

// Injected is what Publish did: the records sent and every key a fault changed.
type Injected struct {
	// Records is the number of records produced (duplicates included); Topics the
	// topics they went to.
	Records int
	Topics  []string
	// Faults are the keys the Kafka stream differs on, sorted by kind then key.
	Faults []Fault
	// ArchiveFaults are the keys the Parquet archive differs on (late drops and the
	// value bug only).
	ArchiveFaults []Fault
	// LatePoints counts the points the grace dropped.
	LatePoints int64
}

// Keys returns the keys of faults of the given kinds, sorted.
func Keys(faults []Fault, kinds ...FaultKind) []audit.Key {
	var out []audit.Key
	for _, f := range faults {
		for _, k := range kinds {
			if f.Kind == k {
				out = append(out, f.Key)
				break
			}
		}
	}
	return out
}

func (c *Config) validate() error {
	var errs []error
	if c.Registry == nil {
		errs = append(errs, errors.New("streamsim: a registry is required"))
	}
	if !c.To.After(c.From) {
		errs = append(errs, fmt.Errorf("streamsim: From %s must be before To %s", c.From, c.To))
	}
	if c.Grace == 0 {
		c.Grace = DefaultGrace
	}
	if c.Grace < 0 {
		errs = append(errs, fmt.Errorf("streamsim: grace %s must not be negative", c.Grace))
	}
	if c.Partitions == 0 {
		c.Partitions = DefaultPartitions
	}
	if c.Partitions < 0 {
		errs = append(errs, fmt.Errorf("streamsim: partitions %d must be positive", c.Partitions))
	}
	if c.Tolerance == (audit.Tolerance{}) {
		c.Tolerance = audit.DefaultTolerance()
	}
	if c.Duplicates != nil && c.Duplicates.Every < 1 {
		errs = append(errs, fmt.Errorf("streamsim: duplicates every %d records: must be at least 1", c.Duplicates.Every))
	}
	if c.MissingPartition != nil && (c.MissingPartition.Partition < 0 || !c.MissingPartition.To.After(c.MissingPartition.From)) {
		errs = append(errs, fmt.Errorf("streamsim: missing partition %d over [%s, %s): want a partition >= 0 and a non-empty slice",
			c.MissingPartition.Partition, c.MissingPartition.From, c.MissingPartition.To))
	}
	if b := c.ValueBug; b != nil && c.Registry != nil {
		a := c.Registry.Aggregation(b.Aggregation)
		switch {
		case a == nil:
			errs = append(errs, fmt.Errorf("streamsim: value bug: no aggregation %q", b.Aggregation))
		case valueIndex(a, b.Function) < 0:
			errs = append(errs, fmt.Errorf("streamsim: value bug: %s has no scalar function %q (want one of %s)", b.Aggregation, b.Function, strings.Join(a.ValueFunctions(), ", ")))
		case b.Factor == 1 || math.IsNaN(b.Factor) || math.IsInf(b.Factor, 0):
			errs = append(errs, fmt.Errorf("streamsim: value bug factor %v must be finite and not 1", b.Factor))
		}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return errors.Join(errs...)
}

func valueIndex(a *specs.Aggregation, fn string) int {
	for i, f := range a.ValueFunctions() {
		if f == fn {
			return i
		}
	}
	return -1
}

// taskRows are the simulated job's rows of one task.
type taskRows struct {
	task    planner.Task
	rollups []exec.Rollup
}

// Publish simulates the job over [From, To), publishes its records (and archive) with
// the configured faults, and returns what it injected.
func Publish(ctx context.Context, cfg Config) (Injected, error) {
	var inj Injected
	if err := cfg.validate(); err != nil {
		return inj, err
	}
	var aggs []*specs.Aggregation
	for _, a := range cfg.Registry.Aggregations {
		if (len(cfg.Brokers) > 0 && a.Output.Kafka != nil) || (cfg.Archive != "" && a.Output.Parquet) {
			aggs = append(aggs, a)
		}
	}
	if len(aggs) == 0 {
		return inj, errors.New("streamsim: nothing to publish: no brokers with a Kafka output, and no archive with a Parquet output")
	}
	sub := *cfg.Registry
	sub.Aggregations = aggs
	base := backfill.ComputeConfig{Registry: &sub, From: cfg.From, To: cfg.To, SourceURL: cfg.SourceURL, Parallelism: cfg.Parallelism, Logger: cfg.Logger}

	truth := map[audit.Key]exec.Row{}
	err := backfill.Compute(ctx, base, func(_ planner.Task, res *exec.Result) error {
		for _, ro := range res.Rollups {
			for i := range ro.Rows {
				truth[audit.KeyOf(ro.Agg, &ro.Rows[i])] = cloneRow(&ro.Rows[i])
			}
		}
		return nil
	})
	if err != nil {
		return inj, fmt.Errorf("streamsim: batch truth: %w", err)
	}
	lateCfg := base
	lateCfg.Lateness = &exec.Lateness{Grace: cfg.Grace}
	var tasks []taskRows
	err = backfill.Compute(ctx, lateCfg, func(t planner.Task, res *exec.Result) error {
		tr := taskRows{task: t}
		for _, st := range res.Stats.PerAggregation {
			inj.LatePoints += st.Late
		}
		for _, ro := range res.Rollups {
			c := exec.Rollup{Agg: ro.Agg, Rows: make([]exec.Row, len(ro.Rows))}
			for i := range ro.Rows {
				c.Rows[i] = cloneRow(&ro.Rows[i])
			}
			tr.rollups = append(tr.rollups, c)
		}
		tasks = append(tasks, tr)
		return nil
	})
	if err != nil {
		return inj, fmt.Errorf("streamsim: stream with grace %s: %w", cfg.Grace, err)
	}

	// Late drops and the value bug: what the job computed.
	emitted := map[audit.Key]bool{}
	var common []Fault
	bugged := map[audit.Key]bool{}
	for _, tr := range tasks {
		for _, ro := range tr.rollups {
			vi := -1
			if b := cfg.ValueBug; b != nil && b.Aggregation == ro.Agg.Name {
				vi = valueIndex(ro.Agg, b.Function)
			}
			for i := range ro.Rows {
				r := &ro.Rows[i]
				k := audit.KeyOf(ro.Agg, r)
				emitted[k] = true
				if t, ok := truth[k]; ok && len(audit.CompareRows(ro.Agg, &t, r, cfg.Tolerance)) > 0 {
					common = append(common, Fault{Kind: LateValue, Key: k})
				}
				if vi >= 0 {
					before := cloneRow(r)
					r.Values[vi] *= cfg.ValueBug.Factor
					if len(audit.CompareRows(ro.Agg, &before, r, cfg.Tolerance)) > 0 {
						common = append(common, Fault{Kind: ValueBug, Key: k})
						bugged[k] = true
					}
				}
			}
		}
	}
	for k := range truth {
		if !emitted[k] {
			common = append(common, Fault{Kind: LateMissing, Key: k})
		}
	}

	if cfg.Archive != "" {
		if err := writeArchive(ctx, &cfg, tasks); err != nil {
			return inj, err
		}
		for _, f := range common {
			if a := cfg.Registry.Aggregation(f.Key.Aggregation); a != nil && a.Output.Parquet {
				inj.ArchiveFaults = append(inj.ArchiveFaults, f)
			}
		}
		sortFaults(inj.ArchiveFaults)
	}
	if len(cfg.Brokers) > 0 {
		for _, f := range common {
			if a := cfg.Registry.Aggregation(f.Key.Aggregation); a != nil && a.Output.Kafka != nil {
				inj.Faults = append(inj.Faults, f)
			}
		}
		if err := publishKafka(ctx, &cfg, tasks, &inj); err != nil {
			return inj, err
		}
		sortFaults(inj.Faults)
	}
	cfg.Logger.Info("streamsim: published", "records", inj.Records, "faults", len(inj.Faults), "late_points", inj.LatePoints)
	return inj, nil
}

func writeArchive(ctx context.Context, cfg *Config, tasks []taskRows) error {
	store, err := writer.OpenStore(ctx, cfg.Archive)
	if err != nil {
		return fmt.Errorf("streamsim: archive: %w", err)
	}
	defer store.Close()
	for _, tr := range tasks {
		meta := writer.FileMeta{TaskID: tr.task.ID, TaskStart: tr.task.Start, TenantDimension: cfg.Registry.Source.Tenant,
			InputFingerprint: writer.Fingerprint(backfill.WriterTask(tr.task).Inputs)}
		if _, err := store.WriteRollups(ctx, tr.rollups, meta); err != nil {
			return fmt.Errorf("streamsim: archive: %w", err)
		}
	}
	return nil
}

// streamHeaders are the headers the streaming job's records carry: the content type
// only, none of tally's provenance headers.
func streamHeaders(r *kgo.Record) {
	var keep []kgo.RecordHeader
	for _, h := range r.Headers {
		if !strings.HasPrefix(h.Key, "tally.") {
			keep = append(keep, h)
		}
	}
	r.Headers = keep
}

func publishKafka(ctx context.Context, cfg *Config, tasks []taskRows, inj *Injected) error {
	enc := kafka.NewEncoder(cfg.Registry.Source.Tenant)
	type pending struct {
		rec *kgo.Record
		agg *specs.Aggregation
		row *exec.Row
	}
	var recs []pending
	topics := map[string]bool{}
	for _, tr := range tasks {
		for _, ro := range tr.rollups {
			if ro.Agg.Output.Kafka == nil {
				continue
			}
			for i := range ro.Rows {
				rec, err := enc.Record(ro.Agg, &ro.Rows[i], kafka.TaskRef{})
				if err != nil {
					return fmt.Errorf("streamsim: %w", err)
				}
				streamHeaders(rec)
				topics[rec.Topic] = true
				recs = append(recs, pending{rec, ro.Agg, &ro.Rows[i]})
			}
		}
	}
	for t := range topics {
		inj.Topics = append(inj.Topics, t)
	}
	sort.Strings(inj.Topics)
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(cfg.Brokers...), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerLinger(5 * time.Millisecond)}, cfg.KafkaOpts...)...)
	if err != nil {
		return fmt.Errorf("streamsim: kafka client: %w", err)
	}
	defer cl.Close()
	parts, err := ensureTopics(ctx, kadm.NewClient(cl), inj.Topics, cfg.Partitions)
	if err != nil {
		return err
	}
	var out []*kgo.Record
	n := 0
	for _, p := range recs {
		p.rec.Partition = kafka.Partition(p.rec.Key, parts[p.rec.Topic])
		k := audit.KeyOf(p.agg, p.row)
		if mp := cfg.MissingPartition; mp != nil && p.rec.Partition == mp.Partition &&
			!p.rec.Timestamp.Before(mp.From) && p.rec.Timestamp.Before(mp.To) {
			inj.Faults = append(inj.Faults, Fault{Kind: MissingPartition, Key: k})
			continue
		}
		out = append(out, p.rec)
		n++
		if d := cfg.Duplicates; d != nil && n%d.Every == 0 {
			dup := *p.rec
			dup.Headers = append([]kgo.RecordHeader(nil), p.rec.Headers...)
			kind := DuplicateIdentical
			if d.Different {
				row := cloneRow(p.row)
				if !perturb(p.agg, &row) {
					continue
				}
				if dup.Value, err = enc.Value(p.agg, &row); err != nil {
					return fmt.Errorf("streamsim: %w", err)
				}
				kind = DuplicateConflicting
			}
			out = append(out, &dup)
			inj.Faults = append(inj.Faults, Fault{Kind: kind, Key: k})
		}
	}
	for start := 0; start < len(out); start += 5000 {
		batch := out[start:min(len(out), start+5000)]
		if err := cl.ProduceSync(ctx, batch...).FirstErr(); err != nil {
			return fmt.Errorf("streamsim: produce to %v: %w", inj.Topics, err)
		}
	}
	inj.Records = len(out)
	return nil
}

// perturb changes one emitted value of a row so that it differs from the original:
// the first scalar function (+1, or 1 for NaN), else the count. It reports false when
// the aggregation has neither.
func perturb(agg *specs.Aggregation, r *exec.Row) bool {
	if len(r.Values) > 0 {
		if math.IsNaN(r.Values[0]) || math.IsInf(r.Values[0], 0) {
			r.Values[0] = 1
		} else {
			r.Values[0] += 1 + math.Abs(r.Values[0])
		}
		return true
	}
	if agg.Has(specs.FnCount) {
		r.Count++
		return true
	}
	return false
}

// ensureTopics creates missing topics and returns every topic's partition count.
func ensureTopics(ctx context.Context, adm *kadm.Client, topics []string, partitions int32) (map[string]int32, error) {
	out := map[string]int32{}
	md, err := adm.ListTopics(ctx, topics...)
	if err != nil {
		return nil, fmt.Errorf("streamsim: list topics %v: %w", topics, err)
	}
	var missing []string
	for _, t := range topics {
		d, ok := md[t]
		if !ok || d.Err != nil || len(d.Partitions) == 0 {
			missing = append(missing, t)
			continue
		}
		out[t] = int32(len(d.Partitions))
	}
	if len(missing) > 0 {
		resp, err := adm.CreateTopics(ctx, partitions, 1, nil, missing...)
		if err != nil {
			return nil, fmt.Errorf("streamsim: create topics %v: %w", missing, err)
		}
		for _, t := range missing {
			r, ok := resp[t]
			if !ok || (r.Err != nil && !strings.Contains(r.Err.Error(), "TOPIC_ALREADY_EXISTS")) {
				return nil, fmt.Errorf("streamsim: create topic %s: %v", t, r.Err)
			}
			out[t] = partitions
		}
	}
	return out, nil
}

func sortFaults(fs []Fault) {
	sort.Slice(fs, func(i, j int) bool {
		if fs[i].Kind != fs[j].Kind {
			return fs[i].Kind < fs[j].Kind
		}
		a, b := fs[i].Key, fs[j].Key
		if a.Aggregation != b.Aggregation {
			return a.Aggregation < b.Aggregation
		}
		if a.Dims != b.Dims {
			return a.Dims < b.Dims
		}
		return a.WindowStart < b.WindowStart
	})
}

func cloneRow(r *exec.Row) exec.Row {
	c := *r
	c.Dims = append([]string(nil), r.Dims...)
	c.Values = append([]float64(nil), r.Values...)
	if r.Hist != nil {
		c.Hist = &exec.Histogram{Bounds: append([]float64(nil), r.Hist.Bounds...), Counts: append([]uint64(nil), r.Hist.Counts...)}
	}
	if r.Exp != nil {
		e := *r.Exp
		e.PositiveCounts = append([]uint64(nil), r.Exp.PositiveCounts...)
		e.NegativeCounts = append([]uint64(nil), r.Exp.NegativeCounts...)
		c.Exp = &e
	}
	if r.Sketch != nil {
		c.Sketch = append([]byte(nil), r.Sketch...)
	}
	return c
}
