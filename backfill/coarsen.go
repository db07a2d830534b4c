package backfill

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"time"

	"github.com/tallyhq/tally/exec"
	"github.com/tallyhq/tally/exec/coarsen"
	"github.com/tallyhq/tally/specs"
	"github.com/tallyhq/tally/writer"
)

// RollupConfig computes coarser aggregations from an existing finer rollup (tally rollup).
type RollupConfig struct {
	Registry *specs.Registry
	// Fine is the aggregation whose committed rollup is read; Coarse those computed from it.
	Fine   string
	Coarse []string
	// From and To bound the run, aligned to the largest coarse window (at least 1h).
	From, To time.Time
	// In is the output URL of the backfill that wrote the finer rollup; Out where the
	// coarse rollups and their manifests go (may be the same).
	In, Out string
	RunID   string
	Logger  *slog.Logger
	Now     func() time.Time
}

// Rollup runs a rollup of rollups: for each slice of the range it reads the committed
// finer rollup files (only those named by manifests, never leftovers), computes the
// coarse rollups and commits them like a backfill task.
func Rollup(ctx context.Context, cfg RollupConfig) (*writer.RunSummary, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	reg := cfg.Registry
	fine := reg.Aggregation(cfg.Fine)
	if fine == nil {
		return nil, fmt.Errorf("rollup: aggregation %q is not in the registry", cfg.Fine)
	}
	var coarse []*specs.Aggregation
	slice := time.Hour
	var errs []error
	for _, n := range cfg.Coarse {
		a := reg.Aggregation(n)
		if a == nil {
			errs = append(errs, fmt.Errorf("rollup: aggregation %q is not in the registry", n))
			continue
		}
		if err := coarsen.Check(fine, a); err != nil {
			errs = append(errs, err)
		}
		coarse = append(coarse, a)
		if a.Window > slice {
			slice = a.Window
		}
	}
	if len(coarse) == 0 && len(errs) == 0 {
		errs = append(errs, errors.New("rollup: name at least one coarse aggregation"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if cfg.From.UnixNano()%int64(slice) != 0 || cfg.To.UnixNano()%int64(slice) != 0 || !cfg.To.After(cfg.From) {
		return nil, fmt.Errorf("rollup: [%s, %s) must be a non-empty range aligned to %s", cfg.From.Format(time.RFC3339), cfg.To.Format(time.RFC3339), specs.FormatWindow(slice))
	}
	in, err := writer.OpenStore(ctx, cfg.In)
	if err != nil {
		return nil, err
	}
	defer in.Close()
	out := in
	if cfg.Out != cfg.In {
		if out, err = writer.OpenStore(ctx, cfg.Out, writer.WithClock(cfg.Now)); err != nil {
			return nil, err
		}
		defer out.Close()
	}
	if cfg.RunID == "" {
		cfg.RunID = cfg.Now().UTC().Format("20060102T150405Z") + "-rollup"
	}
	manifests, err := in.ListManifests(ctx)
	if err != nil {
		return nil, err
	}
	started := cfg.Now()
	sum := &writer.RunSummary{RunID: cfg.RunID, TallyVersion: Version, Command: "rollup", From: cfg.From, To: cfg.To, Started: started.UTC(), Aggregations: map[string]writer.AggregationSummary{}}
	for s := cfg.From; s.Before(cfg.To); s = s.Add(slice) {
		e := s.Add(slice)
		sum.Tasks.Planned++
		var objs []writer.OutputObject
		var spans [][2]time.Time
		for _, m := range manifests {
			if !m.To.After(s) || !m.From.Before(e) || !computed(m, fine) {
				continue
			}
			spans = append(spans, [2]time.Time{maxTime(m.From, s), minTime(m.To, e)})
			for _, o := range m.Outputs {
				if o.Aggregation == fine.Name && o.SpecVersion == fine.Version {
					objs = append(objs, o)
				}
			}
		}
		covered := union(spans)
		if covered < slice {
			return sum, fmt.Errorf("rollup: the finer rollup %q is not committed for all of [%s, %s) (%s of %s): backfill it first (tally status)", fine.Name, s.Format(time.RFC3339), e.Format(time.RFC3339), covered, slice)
		}
		sort.Slice(objs, func(i, j int) bool { return objs[i].Key < objs[j].Key })
		fineRollup := exec.Rollup{Agg: fine}
		var inputs []writer.Input
		for _, o := range objs {
			data, err := in.Bucket().ReadAll(ctx, o.Key)
			if err != nil {
				return sum, fmt.Errorf("rollup: read %s: %w", o.Key, err)
			}
			r, _, err := writer.DecodeRollup(data, fine)
			if err != nil {
				return sum, fmt.Errorf("rollup: %s: %w", o.Key, err)
			}
			for _, row := range r.Rows {
				if row.WindowStart >= s.UnixMilli() && row.WindowStart < e.UnixMilli() {
					fineRollup.Rows = append(fineRollup.Rows, row)
				}
			}
			inputs = append(inputs, writer.Input{Key: o.Key, Size: o.Bytes, ETag: o.SHA256})
		}
		taskID := fmt.Sprintf("%s-%s-rollup-%s", s.UTC().Format("20060102T1504Z"), e.UTC().Format("20060102T1504Z"), fine.Name)
		var rollups []exec.Rollup
		for _, c := range coarse {
			r, err := coarsen.Rollup(fineRollup, c)
			if err != nil {
				return sum, err
			}
			rollups = append(rollups, r)
			a := sum.Aggregations[c.Name]
			a.RowsOut += int64(len(r.Rows))
			sum.Aggregations[c.Name] = a
			sum.RowsOut += int64(len(r.Rows))
		}
		sum.RowsIn += int64(len(fineRollup.Rows))
		meta := writer.FileMeta{TaskID: taskID, TaskStart: s, TenantDimension: reg.Source.Tenant, InputFingerprint: writer.Fingerprint(inputs)}
		outs, err := out.WriteRollups(ctx, rollups, meta)
		if err != nil {
			return sum, err
		}
		m := &writer.Manifest{TaskID: taskID, From: s, To: e, Shard: "rollup:" + fine.Name, RunID: cfg.RunID, TallyVersion: Version,
			Inputs: inputs, InputFingerprint: meta.InputFingerprint, Outputs: outs, Stats: map[string]int64{"rows_in": int64(len(fineRollup.Rows))}}
		for _, c := range coarse {
			m.Specs = append(m.Specs, writer.SpecRef{Name: c.Name, Version: c.Version})
		}
		if err := out.Commit(ctx, m); err != nil {
			return sum, err
		}
		sum.Tasks.Done++
		for _, o := range outs {
			sum.BytesWritten += o.Bytes
		}
	}
	fin := cfg.Now()
	sum.Finished, sum.DurationSeconds, sum.Outcome = fin.UTC(), fin.Sub(started).Seconds(), "ok"
	if err := out.WriteRunSummary(ctx, sum); err != nil {
		return sum, err
	}
	return sum, nil
}

// computed reports whether manifest m committed fine at its current version.
func computed(m *writer.Manifest, fine *specs.Aggregation) bool {
	for _, sp := range m.Specs {
		if sp.Name == fine.Name && sp.Version == fine.Version {
			return true
		}
	}
	return false
}

// union is the total length of the union of the spans.
func union(spans [][2]time.Time) time.Duration {
	sort.Slice(spans, func(i, j int) bool { return spans[i][0].Before(spans[j][0]) })
	var total time.Duration
	var end time.Time
	for _, sp := range spans {
		if sp[0].After(end) || end.IsZero() {
			total += sp[1].Sub(sp[0])
			end = sp[1]
		} else if sp[1].After(end) {
			total += sp[1].Sub(end)
			end = sp[1]
		}
	}
	return total
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
