package exec_test

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"gocloud.dev/blob"

	"github.com/tallyhq/tally/exec"
	"github.com/tallyhq/tally/exec/reference"
	"github.com/tallyhq/tally/gen"
	"github.com/tallyhq/tally/reader"
	"github.com/tallyhq/tally/specs"
)

// quirkyLake generates a small lake with every quirk switched on and returns its bucket.
func quirkyLake(t *testing.T, from, to time.Time, seed int64) *blob.Bucket {
	t.Helper()
	dir := t.TempDir()
	url := "file://" + filepath.ToSlash(dir)
	cfg := gen.DefaultConfig(url, from, to)
	cfg.Tenants, cfg.ClustersPerTenant, cfg.BrokersPerCluster, cfg.TopicsPerBroker = 2, 2, 2, 2
	cfg.Interval = 15 * time.Second
	cfg.Seed = seed
	cfg.RowGroupRows = 3000
	cfg.LateFraction, cfg.DuplicateFraction, cfg.NaNFraction, cfg.OutOfOrderFraction = 0.02, 0.03, 0.02, 0.05
	cfg.ResetProbability = 0.5
	if _, err := gen.GenerateURL(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	b, err := reader.OpenBucket(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// rowGroup is one row group of the lake with its time range.
type rowGroup struct {
	name     string
	min, max int64
	read     func(ctx context.Context) (arrow.RecordBatch, error)
}

func listRowGroups(t testing.TB, b *blob.Bucket, reg *specs.Registry) []rowGroup {
	t.Helper()
	ctx := context.Background()
	var out []rowGroup
	it := b.List(nil)
	for {
		obj, err := it.Next(ctx)
		if err != nil {
			break
		}
		if !strings.HasSuffix(obj.Key, ".parquet") {
			continue
		}
		f, err := reader.OpenFile(ctx, b, reader.Object{Key: obj.Key, Size: obj.Size})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		cols, err := f.Resolve(&reg.Source, specs.UnionRawColumns(reg))
		if err != nil {
			t.Fatal(err)
		}
		for rg := 0; rg < f.NumRowGroups(); rg++ {
			lo, hi, ok := f.RowGroupTimeRange(cols, rg)
			if !ok {
				t.Fatalf("%s: no time statistics", obj.Key)
			}
			out = append(out, rowGroup{name: fmt.Sprintf("%s#%d", obj.Key, rg), min: lo, max: hi,
				read: func(ctx context.Context) (arrow.RecordBatch, error) {
					return f.ReadRowGroup(ctx, cols, rg, memory.DefaultAllocator)
				}})
		}
	}
	if len(out) == 0 {
		t.Fatal("lake has no row groups")
	}
	return out
}

func inputsOverlapping(rgs []rowGroup, from, to int64) []exec.Input {
	var in []exec.Input
	for _, rg := range rgs {
		if rg.max >= from && rg.min < to {
			in = append(in, exec.Input{Name: rg.name, Read: rg.read})
		}
	}
	return in
}

func loadExample(t *testing.T) *specs.Registry {
	t.Helper()
	data, err := os.ReadFile("../specs/examples/kafka-telemetry.yaml")
	if err != nil {
		t.Fatal(err)
	}
	reg, err := specs.Parse("kafka-telemetry.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	return reg
}

// runChain runs [from,to) as consecutive tasks of length step, handing the carry on
// when carry is true (and reading the lookback otherwise), and concatenates the rollups.
func runChain(t *testing.T, e *exec.Engine, rgs []rowGroup, from, to time.Time, step time.Duration, carry bool) []exec.Rollup {
	t.Helper()
	var out []exec.Rollup
	var c *exec.Carry
	for s := from; s.Before(to); s = s.Add(step) {
		end := s.Add(step)
		task := exec.Task{ID: s.Format("150405"), Start: s, End: end,
			Inputs:   inputsOverlapping(rgs, s.UnixNano(), end.UnixNano()),
			Lookback: inputsOverlapping(rgs, s.Add(-e.Lookback()).UnixNano(), s.UnixNano()),
		}
		if carry {
			task.Carry = c
		}
		res, err := e.Run(context.Background(), task)
		if err != nil {
			t.Fatal(err)
		}
		c = res.Carry
		out = mergeRollups(out, res.Rollups)
	}
	return out
}

// mergeRollups appends b's rows to a's, keeping rows sorted by dims then window.
func mergeRollups(a, b []exec.Rollup) []exec.Rollup {
	if a == nil {
		return b
	}
	for i := range a {
		a[i].Rows = append(a[i].Rows, b[i].Rows...)
		slices.SortStableFunc(a[i].Rows, func(x, y exec.Row) int {
			if c := slices.Compare(x.Dims, y.Dims); c != 0 {
				return c
			}
			return int(x.WindowStart - y.WindowStart)
		})
	}
	return a
}

func referencePoints(t *testing.T, reg *specs.Registry, rgs []rowGroup) []reference.Point {
	t.Helper()
	var pts []reference.Point
	for _, rg := range rgs {
		rec, err := rg.read(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		pts, err = reference.AppendRecord(pts, &reg.Source, rec)
		rec.Release()
		if err != nil {
			t.Fatal(err)
		}
	}
	return pts
}

// diffRollups reports the first differences between two results.
func diffRollups(t *testing.T, label string, got, want []exec.Rollup) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d rollups, want %d", label, len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		name := w.Agg.Name
		if len(g.Rows) != len(w.Rows) {
			t.Errorf("%s: %s: %d rows, want %d", label, name, len(g.Rows), len(w.Rows))
			continue
		}
		bad := 0
		for j := range w.Rows {
			if msg := diffRow(w.Agg, g.Rows[j], w.Rows[j]); msg != "" {
				if bad < 3 {
					t.Errorf("%s: %s row %d (%v @%d): %s", label, name, j, w.Rows[j].Dims, w.Rows[j].WindowStart, msg)
				}
				bad++
			}
		}
		if bad > 0 {
			t.Errorf("%s: %s: %d of %d rows differ", label, name, bad, len(w.Rows))
		}
	}
}

func diffRow(agg *specs.Aggregation, g, w exec.Row) string {
	if !slices.Equal(g.Dims, w.Dims) || g.WindowStart != w.WindowStart || g.WindowEnd != w.WindowEnd {
		return fmt.Sprintf("key %v@%d, want %v@%d", g.Dims, g.WindowStart, w.Dims, w.WindowStart)
	}
	if g.Samples != w.Samples || g.Count != w.Count {
		return fmt.Sprintf("samples/count %d/%d, want %d/%d", g.Samples, g.Count, w.Samples, w.Count)
	}
	for k, fn := range agg.ValueFunctions() {
		a, b := g.Values[k], w.Values[k]
		if math.IsNaN(a) && math.IsNaN(b) {
			continue
		}
		if math.Abs(a-b) > 1e-9*math.Max(1, math.Abs(b)) {
			return fmt.Sprintf("%s = %v, want %v", fn, a, b)
		}
	}
	if (g.Hist == nil) != (w.Hist == nil) || (g.Hist != nil && (!slices.Equal(g.Hist.Counts, w.Hist.Counts) || !slices.Equal(g.Hist.Bounds, w.Hist.Bounds))) {
		return fmt.Sprintf("buckets %+v, want %+v", g.Hist, w.Hist)
	}
	if !slices.Equal(g.Sketch, w.Sketch) {
		return "sketch bytes differ"
	}
	return ""
}

// TestEngineMatchesReference runs the fast engine and the plain reference aggregator on
// the same generated lake with every quirk on, for several ways of cutting the range.
func TestEngineMatchesReference(t *testing.T) {
	day := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	from, to := day.Add(time.Hour), day.Add(4*time.Hour)
	b := quirkyLake(t, day, day.Add(5*time.Hour), 7)
	reg := loadExample(t)
	rgs := listRowGroups(t, b, reg)

	want, _, err := reference.Compute(reg, from, to, referencePoints(t, reg, rgs))
	if err != nil {
		t.Fatal(err)
	}
	rows := 0
	for _, r := range want {
		rows += len(r.Rows)
		if len(r.Rows) == 0 {
			t.Fatalf("reference has no rows for %s: the lake does not exercise it", r.Agg.Name)
		}
	}
	for _, tc := range []struct {
		name        string
		parallelism int
		step        time.Duration
		carry       bool
	}{
		{"one task, 1 worker", 1, 3 * time.Hour, false},
		{"one task, 4 workers", 4, 3 * time.Hour, false},
		{"hourly tasks with carried state", 2, time.Hour, true},
		{"hourly tasks with lookback reads", 3, time.Hour, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, err := exec.New(exec.Config{Registry: reg, Parallelism: tc.parallelism})
			if err != nil {
				t.Fatal(err)
			}
			got := runChain(t, e, rgs, from, to, tc.step, tc.carry)
			diffRollups(t, tc.name, got, want)
		})
	}
	t.Logf("compared %d rows of %d aggregations", rows, len(want))
}
