package audit

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/tallyhq/tally/backfill"
	"github.com/tallyhq/tally/exec"
	"github.com/tallyhq/tally/planner"
	"github.com/tallyhq/tally/specs"
	"github.com/tallyhq/tally/writer/kafka"
)

// entry is a row of one side, with its aggregation.
type entry struct {
	agg *specs.Aggregation
	row exec.Row
}

// keyState is what the stream said about one key.
type keyState struct {
	recs []int // indexes into the stream rows, in publish order
}

// outcome is a finished audit: the report and what repair needs.
type outcome struct {
	report *Report
	aggs   []*specs.Aggregation
	batch  map[Key]*entry
	// repair lists the keys whose stream value is wrong or missing, sorted.
	repair []Key
	stream StreamURL
}

// Run audits the stream against the batch truth and returns the report. An error
// means the audit itself could not be done (unreadable stream, lake or registry);
// findings, however many, are in the report (Report.OK).
func Run(ctx context.Context, cfg Config) (*Report, error) {
	o, err := run(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return o.report, nil
}

func run(ctx context.Context, cfg Config) (*outcome, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	stream, _ := ParseStreamURL(cfg.Stream)
	aggs, err := selectAggregations(&cfg, stream)
	if err != nil {
		return nil, err
	}
	byName := map[string]*specs.Aggregation{}
	for _, a := range aggs {
		byName[a.Name] = a
	}
	rep := &Report{
		Version: ReportVersion, Generated: cfg.Now().UTC(), From: cfg.From.UTC(), To: cfg.To.UTC(),
		Stream: stream.String(), Grace: cfg.Grace.String(), Tolerance: cfg.Tolerance, Counts: ClassCounts{},
	}
	log := cfg.Logger.With("stream", rep.Stream)

	// The stream side.
	log.Info("audit: reading the stream", "aggregations", len(aggs))
	var sr *streamRead
	if stream.IsKafka() {
		sr, err = readKafkaStream(ctx, stream, cfg.KafkaOpts, byName, cfg.From, cfg.To)
	} else {
		sr, err = readArchive(ctx, stream.Archive, aggs, cfg.From, cfg.To)
	}
	if err != nil {
		return nil, err
	}
	rep.StreamRecords = len(sr.rows)
	rep.Notes = append(rep.Notes, sr.notes...)
	rep.UndecodableCount = len(sr.undecodable)
	rep.Undecodable = sr.undecodable[:min(len(sr.undecodable), maxUndecodable)]
	for _, o := range sr.rows {
		if o.SpecVersion != "" && o.SpecVersion != o.Agg.Version && stream.IsKafka() {
			rep.Notes = append(rep.Notes, fmt.Sprintf("stream records of %s carry spec version %s; the registry has %s (e.g. %s)", o.Agg.Name, o.SpecVersion, o.Agg.Version, o.Where))
			break
		}
	}

	// The batch side.
	sums := map[string]*AggregationSummary{}
	for _, a := range aggs {
		sums[a.Name] = &AggregationSummary{Name: a.Name, Counts: ClassCounts{}}
	}
	batch := map[Key]*entry{}
	keep := func(agg *specs.Aggregation, r *exec.Row) {
		if inRange(r, cfg.From, cfg.To) {
			batch[KeyOf(agg, r)] = &entry{agg: agg, row: cloneRow(r)}
		}
	}
	if cfg.Batch != "" {
		rep.Batch = cfg.Batch
		br, err := readArchive(ctx, cfg.Batch, aggs, cfg.From, cfg.To)
		if err != nil {
			return nil, fmt.Errorf("batch side: %w", err)
		}
		rep.Notes = append(rep.Notes, br.notes...)
		for i := range br.rows {
			keep(br.rows[i].Agg, &br.rows[i].Row)
		}
	} else {
		rep.Batch = "lake " + lakeURL(&cfg)
		log.Info("audit: computing the batch truth", "lake", lakeURL(&cfg))
		err := backfill.Compute(ctx, computeConfig(&cfg, aggs, nil), func(t planner.Task, res *exec.Result) error {
			if len(t.Inputs) == 0 {
				rep.InputGaps = append(rep.InputGaps, InputGap{From: t.Start.UTC(), To: t.End.UTC(), Task: t.ID})
			}
			for name, st := range res.Stats.PerAggregation {
				if s := sums[name]; s != nil {
					s.RawDuplicates += st.Duplicates
					s.ConflictingRawDuplicates += st.ConflictingDuplicates
				}
			}
			for _, ro := range res.Rollups {
				if byName[ro.Agg.Name] == nil {
					continue
				}
				for i := range ro.Rows {
					keep(ro.Agg, &ro.Rows[i])
				}
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("batch side: %w", err)
		}
	}

	// Group the stream's records by key.
	states := map[Key]*keyState{}
	for i := range sr.rows {
		k := KeyOf(sr.rows[i].Agg, &sr.rows[i].Row)
		st := states[k]
		if st == nil {
			st = &keyState{}
			states[k] = st
		}
		st.recs = append(st.recs, i)
	}
	keys := make([]Key, 0, len(batch)+len(states))
	for k := range batch {
		keys = append(keys, k)
	}
	for k := range states {
		if batch[k] == nil {
			keys = append(keys, k)
		}
	}
	sortKeys(keys)
	rep.Keys = len(keys)

	// First pass: classify without explanations, and collect what the late
	// simulation must explain.
	effective := map[Key]*Observed{}
	type pending struct {
		f      Finding
		stream *Observed
	}
	var found []pending
	needLate := map[Key]bool{}
	for _, k := range keys {
		b := batch[k]
		st := states[k]
		var eff *Observed
		var considered []int
		if st != nil {
			last := -1
			for j, idx := range st.recs {
				if o := sr.rows[idx].Origin; o == kafka.OriginBackfill || o == kafka.OriginRepair {
					last = j
				}
			}
			considered = st.recs
			if last > 0 {
				rep.Superseded += last
				considered = st.recs[last:]
			}
			eff = &sr.rows[considered[len(considered)-1]]
			effective[k] = eff
		}
		agg := byName[k.Aggregation]
		f := Finding{key: k, Aggregation: k.Aggregation, Dims: dimVals(agg, k),
			WindowStart: time.UnixMilli(k.WindowStart).UTC(), WindowEnd: time.UnixMilli(k.WindowStart + agg.Window.Milliseconds()).UTC()}
		if st != nil {
			for _, idx := range st.recs {
				f.Records = append(f.Records, sr.rows[idx].Where)
			}
		}
		switch {
		case b != nil && eff == nil:
			f.Class, f.Repairable, f.Severity = MissingInStream, true, 1
			needLate[k] = true
		case b == nil:
			f.Class, f.Severity = ExtraInStream, 1
		default:
			f.Diffs = CompareRows(agg, &b.row, &eff.Row, cfg.Tolerance)
			for _, d := range f.Diffs {
				f.Severity = math.Max(f.Severity, d.Relative)
			}
			dup, same := len(considered) > 1, true
			for _, idx := range considered[:len(considered)-1] {
				if !identical(agg, &sr.rows[idx].Row, &eff.Row) {
					same = false
				}
			}
			switch {
			case dup && !same:
				f.Class, f.Repairable = DuplicateConflicting, true
				f.Severity = math.Max(f.Severity, 1)
			case dup:
				f.Class = DuplicateIdentical
				if len(f.Diffs) == 0 {
					f.Explained, f.Explanation = true, ExplainedHarmlessDuplicate
				} else {
					f.Repairable = true
					needLate[k] = true
				}
			case len(f.Diffs) == 0:
				f.Class = Match
			default:
				f.Class, f.Repairable = ValueMismatch, true
				needLate[k] = true
			}
		}
		found = append(found, pending{f, eff})
	}

	// Explanations: the stream's lateness rule, re-simulated.
	late, lateErr := map[Key]*exec.Row{}, error(nil)
	if len(needLate) > 0 {
		log.Info("audit: re-simulating the stream's lateness rule", "grace", cfg.Grace, "keys", len(needLate))
		lateErr = backfill.Compute(ctx, computeConfig(&cfg, aggs, &exec.Lateness{Grace: cfg.Grace}), func(_ planner.Task, res *exec.Result) error {
			for name, st := range res.Stats.PerAggregation {
				if s := sums[name]; s != nil {
					s.LatePoints += st.Late
				}
			}
			for _, ro := range res.Rollups {
				if byName[ro.Agg.Name] == nil {
					continue
				}
				for i := range ro.Rows {
					if k := KeyOf(ro.Agg, &ro.Rows[i]); needLate[k] {
						r := cloneRow(&ro.Rows[i])
						late[k] = &r
					}
				}
			}
			return nil
		})
		if lateErr != nil {
			if ctx.Err() != nil {
				return nil, lateErr
			}
			rep.Notes = append(rep.Notes, fmt.Sprintf("lateness re-simulation failed, nothing is explained by late data: %v", lateErr))
		}
	}
	rep.LateSimulated = lateErr == nil
	coverage := tenantCoverage(batch, cfg.Registry.Source.Tenant)

	findings := make([]Finding, 0, len(found))
	var repair []Key
	for _, p := range found {
		f := p.f
		agg := byName[f.Aggregation]
		switch {
		case f.Class == Match:
		case f.Class == MissingInStream:
			if rep.LateSimulated && late[f.key] == nil {
				f.Explained, f.Explanation = true, ExplainedLate
			}
		case f.Class == ExtraInStream:
			if !coverage.has(agg, cfg.Registry.Source.Tenant, f.key) {
				f.Explained, f.Explanation = true, ExplainedMissingInput
			}
		case needLate[f.key]:
			if lr := late[f.key]; rep.LateSimulated && lr != nil && len(CompareRows(agg, lr, &p.stream.Row, cfg.Tolerance)) == 0 {
				f.Explained, f.Explanation = true, ExplainedLate
			}
		}
		f.HeatRow = rowLabel(f.Dims, cfg.Registry.Source.Tenant)
		if f.Explained {
			f.Severity /= 2 // explained findings rank below every unexplained one of the same size
		}
		s := sums[f.Aggregation]
		s.Counts[f.Class]++
		rep.Counts[f.Class]++
		if f.Class == Match {
			continue
		}
		if f.Explained {
			s.Explained++
			rep.Explained++
		} else {
			s.Unexplained++
			rep.Unexplained++
		}
		if f.Repairable {
			repair = append(repair, f.key)
		}
		findings = append(findings, f)
	}
	rep.Unexplained += rep.UndecodableCount
	sortFindings(findings)
	rep.Findings = findings
	for _, a := range aggs {
		rep.Aggregations = append(rep.Aggregations, *sums[a.Name])
	}
	rep.Series = worstSeries(&cfg, byName, findings, batch, effective)
	rep.Heat = heatMap(&cfg, aggs, findings)
	sortKeys(repair)
	log.Info("audit: done", "keys", rep.Keys, "explained", rep.Explained, "unexplained", rep.Unexplained)
	return &outcome{report: rep, aggs: aggs, batch: batch, repair: repair, stream: stream}, nil
}

func lakeURL(cfg *Config) string {
	if cfg.SourceURL != "" {
		return cfg.SourceURL
	}
	return cfg.Registry.Source.URL
}

// computeConfig is the backfill.Compute configuration over the audited aggregations.
func computeConfig(cfg *Config, aggs []*specs.Aggregation, late *exec.Lateness) backfill.ComputeConfig {
	sub := *cfg.Registry
	sub.Aggregations = aggs
	return backfill.ComputeConfig{Registry: &sub, From: cfg.From, To: cfg.To, SourceURL: cfg.SourceURL,
		Parallelism: cfg.Parallelism, Lateness: late, Logger: cfg.Logger}
}

// selectAggregations returns the aggregations the audit covers, in registry order.
func selectAggregations(cfg *Config, stream StreamURL) ([]*specs.Aggregation, error) {
	want := map[string]bool{}
	for _, n := range cfg.Aggregations {
		want[n] = true
	}
	var out []*specs.Aggregation
	for _, a := range cfg.Registry.Aggregations {
		if len(want) > 0 && !want[a.Name] {
			continue
		}
		switch {
		case len(want) > 0:
		case stream.IsKafka():
			if !routesTo(a, stream.Topic) {
				continue
			}
		default:
			if !a.Output.Parquet {
				continue
			}
		}
		out = append(out, a)
	}
	if len(out) == 0 {
		if stream.IsKafka() {
			return nil, fmt.Errorf("audit: no aggregation of the registry publishes to topic %s (check output.kafka.topic, or name them with --aggregation)", stream.Topic)
		}
		return nil, fmt.Errorf("audit: no aggregation of the registry writes Parquet output; name the ones to audit with --aggregation")
	}
	return out, nil
}

// routesTo reports whether agg's Kafka topic template renders to topic. A {tenant}
// in the template matches any non-empty tenant.
func routesTo(agg *specs.Aggregation, topic string) bool {
	if agg.Output.Kafka == nil {
		return false
	}
	t := strings.NewReplacer("{aggregation}", agg.Name, "{window}", specs.FormatWindow(agg.Window)).Replace(agg.Output.Kafka.Topic)
	pre, post, ok := strings.Cut(t, "{tenant}")
	if !ok {
		return t == topic
	}
	return len(topic) > len(pre)+len(post) && strings.HasPrefix(topic, pre) && strings.HasSuffix(topic, post)
}

func dimVals(agg *specs.Aggregation, k Key) []DimVal {
	vals := k.DimValues()
	out := make([]DimVal, len(agg.GroupBy))
	for i, g := range agg.GroupBy {
		out[i].Name = g
		if i < len(vals) {
			out[i].Value = vals[i]
		}
	}
	return out
}

func sortKeys(keys []Key) {
	sort.Slice(keys, func(i, j int) bool {
		a, b := keys[i], keys[j]
		if a.Aggregation != b.Aggregation {
			return a.Aggregation < b.Aggregation
		}
		if a.Dims != b.Dims {
			return a.Dims < b.Dims
		}
		return a.WindowStart < b.WindowStart
	})
}

// coverage records, per tenant, which slots of the smallest window hold batch data.
type coverage struct {
	slot  int64
	slots map[string]map[int64]bool
}

func tenantCoverage(batch map[Key]*entry, tenantDim string) *coverage {
	c := &coverage{slots: map[string]map[int64]bool{}}
	for _, e := range batch {
		w := e.agg.Window.Milliseconds()
		if c.slot == 0 || w < c.slot {
			c.slot = w
		}
	}
	for _, e := range batch {
		t := tenantOf(e.agg, e.row.Dims, tenantDim)
		m := c.slots[t]
		if m == nil {
			m = map[int64]bool{}
			c.slots[t] = m
		}
		for s := e.row.WindowStart; s < e.row.WindowEnd; s += c.slot {
			m[s-s%c.slot] = true
		}
	}
	return c
}

// has reports whether the batch has any data of the key's tenant in its window.
func (c *coverage) has(agg *specs.Aggregation, tenantDim string, k Key) bool {
	if c.slot == 0 {
		return false
	}
	m := c.slots[tenantOf(agg, k.DimValues(), tenantDim)]
	end := k.WindowStart + agg.Window.Milliseconds()
	for s := k.WindowStart - k.WindowStart%c.slot; s < end; s += c.slot {
		if m[s] {
			return true
		}
	}
	return false
}

func tenantOf(agg *specs.Aggregation, dims []string, tenantDim string) string {
	for i, g := range agg.GroupBy {
		if g == tenantDim && i < len(dims) {
			return dims[i]
		}
	}
	return ""
}
