package backfill_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tallyhq/tally/backfill"
	"github.com/tallyhq/tally/exec"
	"github.com/tallyhq/tally/specs"
)

const interopDir = "../testdata/interop"

// interopExpected is testdata/interop/<lake>/expected.json, computed by DuckDB SQL from
// the lake's files (bench/interop/make_lakes.py).
type interopExpected struct {
	From         time.Time                       `json:"from"`
	To           time.Time                       `json:"to"`
	RawRows      int                             `json:"raw_rows"`
	Aggregations map[string][]interopExpectedRow `json:"aggregations"`
	// Drops are, per aggregation, the points of the range dropped as junk (null or
	// non-finite) and as extra copies of a series' point at one time.
	Drops map[string]struct {
		Junk       int64 `json:"junk"`
		Duplicates int64 `json:"duplicates"`
	} `json:"drops"`
}

type interopExpectedRow struct {
	WindowStart  time.Time           `json:"window_start"`
	Dims         []string            `json:"dims"`
	Samples      int64               `json:"samples"`
	Count        int64               `json:"count"`
	Values       map[string]*float64 `json:"values"` // null: the function has no value (NaN)
	BucketBounds []float64           `json:"bucket_bounds"`
	BucketCounts []uint64            `json:"bucket_counts"`
}

// TestInterop backfills every lake under testdata/interop — the same kind of telemetry
// written by pyarrow, pandas, a Spark-like writer (INT96, two-level lists), DuckDB,
// Polars and a sparse pyarrow lake (docs/interop.md) — and compares every output row
// with the rows DuckDB SQL computed from the same files.
func TestInterop(t *testing.T) {
	dirs, err := filepath.Glob(filepath.Join(interopDir, "*", "registry.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(dirs) < 6 {
		t.Fatalf("found %d interop lakes under %s, want at least 6 (regenerate with python bench/interop/make_lakes.py)", len(dirs), interopDir)
	}
	for _, regPath := range dirs {
		dir := filepath.Dir(regPath)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			t.Parallel()
			checkInteropLake(t, dir)
		})
	}
}

func checkInteropLake(t *testing.T, dir string) {
	reg, err := specs.Load(filepath.Join(dir, "registry.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, "expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	var want interopExpected
	if err := json.Unmarshal(data, &want); err != nil {
		t.Fatalf("%s/expected.json: %v", dir, err)
	}
	lakeDir, err := filepath.Abs(filepath.Join(dir, "lake"))
	if err != nil {
		t.Fatal(err)
	}
	reg.Source.URL = "file://" + filepath.ToSlash(lakeDir)

	// One run over the range, and two runs split at the middle hour (counters then find
	// their predecessors in the other run's partition): both equal the SQL results.
	whole := "file://" + filepath.ToSlash(t.TempDir())
	sum, err := backfill.Run(context.Background(), backfill.Config{Registry: reg, From: want.From, To: want.To, Out: whole, Parallelism: 2})
	if err != nil || sum.Outcome != "ok" {
		t.Fatalf("backfill: %v (summary %+v)", err, sum)
	}
	for _, a := range reg.Aggregations {
		d, ok := want.Drops[a.Name]
		got := sum.Aggregations[a.Name].Drops
		junk := got["dropped_nonfinite"] + got["dropped_null"]
		if !ok || junk != d.Junk || got["duplicates"] != d.Duplicates {
			t.Errorf("%s: dropped %d non-finite or null and %d duplicates (%d conflicting), want %d and %d",
				a.Name, junk, got["duplicates"], got["conflicting_duplicates"], d.Junk, d.Duplicates)
		}
	}
	split := "file://" + filepath.ToSlash(t.TempDir())
	mid := want.From.Add(want.To.Sub(want.From) / 2).Truncate(time.Hour)
	if !mid.After(want.From) {
		t.Fatalf("range [%s, %s) is too short to split at an hour", want.From, want.To)
	}
	run(t, backfill.Config{Registry: reg, From: mid, To: want.To, Out: split, Parallelism: 1})
	run(t, backfill.Config{Registry: reg, From: want.From, To: mid, Out: split, Parallelism: 1})

	for _, out := range []struct{ name, url string }{{"whole range", whole}, {"split at " + mid.Format("15:04"), split}} {
		for _, a := range reg.Aggregations {
			exp, ok := want.Aggregations[a.Name]
			if !ok {
				t.Errorf("%s: expected.json has no rows for aggregation %s", dir, a.Name)
				continue
			}
			got := readAll(t, out.url, a, want.From, want.To)
			compareInterop(t, out.name, a, got, exp)
		}
	}
}

// compareInterop matches rows by window and group and compares every field: counts
// exactly, floats to 1e-9 relative.
func compareInterop(t *testing.T, run string, a *specs.Aggregation, got exec.Rollup, want []interopExpectedRow) {
	t.Helper()
	key := func(ws int64, dims []string) string {
		return time.UnixMilli(ws).UTC().Format("15:04") + " " + strings.Join(dims, "/")
	}
	gotBy := map[string]exec.Row{}
	for _, r := range got.Rows {
		gotBy[key(r.WindowStart, r.Dims)] = r
	}
	var missing, extra []string
	wantKeys := map[string]bool{}
	for _, w := range want {
		k := key(w.WindowStart.UnixMilli(), w.Dims)
		wantKeys[k] = true
		r, ok := gotBy[k]
		if !ok {
			missing = append(missing, k)
			continue
		}
		label := run + ": " + a.Name + " " + k
		if r.Samples != w.Samples {
			t.Errorf("%s: samples %d, want %d", label, r.Samples, w.Samples)
		}
		if a.Has(specs.FnCount) && r.Count != w.Count {
			t.Errorf("%s: count %d, want %d", label, r.Count, w.Count)
		}
		for fn, wv := range w.Values {
			gv, ok := r.Value(a, fn)
			if !ok {
				t.Errorf("%s: tally does not emit %s", label, fn)
				continue
			}
			if !closeTo(gv, wv) {
				t.Errorf("%s: %s = %v, want %s", label, fn, gv, fmtExpected(wv))
			}
		}
		if w.BucketBounds != nil {
			if r.Hist == nil {
				t.Errorf("%s: no buckets, want %v:%v", label, w.BucketBounds, w.BucketCounts)
			} else if !slices.Equal(r.Hist.Bounds, w.BucketBounds) || !slices.Equal(r.Hist.Counts, w.BucketCounts) {
				t.Errorf("%s: buckets %v:%v, want %v:%v", label, r.Hist.Bounds, r.Hist.Counts, w.BucketBounds, w.BucketCounts)
			}
		}
	}
	for _, r := range got.Rows {
		if k := key(r.WindowStart, r.Dims); !wantKeys[k] {
			extra = append(extra, k)
		}
	}
	if len(missing) > 0 {
		t.Errorf("%s: %s: %d of %d expected rows missing, e.g. %s", run, a.Name, len(missing), len(want), strings.Join(missing[:min(5, len(missing))], "; "))
	}
	if len(extra) > 0 {
		t.Errorf("%s: %s: %d unexpected rows, e.g. %s", run, a.Name, len(extra), strings.Join(extra[:min(5, len(extra))], "; "))
	}
}

// closeTo compares to 1e-9 relative; a nil expectation means no value (NaN).
func closeTo(got float64, want *float64) bool {
	if want == nil {
		return math.IsNaN(got)
	}
	return math.Abs(got-*want) <= 1e-9*math.Max(1, math.Abs(*want))
}

func fmtExpected(v *float64) string {
	if v == nil {
		return "no value (NaN)"
	}
	return fmt.Sprint(*v)
}
