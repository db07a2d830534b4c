package backfill_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/tallyhq/tally/backfill"
	"github.com/tallyhq/tally/gen"
	"github.com/tallyhq/tally/reader"
	"github.com/tallyhq/tally/specs"
)

var day = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

// lake generates a small quirky lake under a temp dir and returns its URL.
func lake(t testing.TB, hours int) string {
	t.Helper()
	url := "file://" + filepath.ToSlash(t.TempDir())
	cfg := gen.DefaultConfig(url, day, day.Add(time.Duration(hours)*time.Hour))
	cfg.Tenants, cfg.ClustersPerTenant, cfg.BrokersPerCluster, cfg.TopicsPerBroker = 2, 2, 2, 2
	cfg.Interval = 20 * time.Second
	cfg.RowGroupRows = 4000
	cfg.Seed = 11
	cfg.DuplicateFraction, cfg.NaNFraction, cfg.OutOfOrderFraction, cfg.LateFraction = 0.02, 0.01, 0.02, 0.01
	cfg.ResetProbability = 0.3
	if _, err := gen.GenerateURL(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	return url
}

func registry(t testing.TB, lakeURL string) *specs.Registry {
	t.Helper()
	data, err := os.ReadFile("../specs/examples/kafka-telemetry.yaml")
	if err != nil {
		t.Fatal(err)
	}
	reg, err := specs.Parse("kafka-telemetry.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	reg.Source.URL = lakeURL
	return reg
}

// tree returns every object under url with the SHA-256 of its bytes, skipping run
// summaries (they carry the run id and clock).
func tree(t testing.TB, url string, withManifests bool) map[string]string {
	t.Helper()
	ctx := context.Background()
	b, err := reader.OpenBucket(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	out := map[string]string{}
	it := b.List(nil)
	for {
		obj, err := it.Next(ctx)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(obj.Key, "_tally/runs/") || (!withManifests && strings.HasPrefix(obj.Key, "_tally/")) {
			continue
		}
		data, err := b.ReadAll(ctx, obj.Key)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(data)
		out[obj.Key] = hex.EncodeToString(sum[:])
	}
	return out
}

func run(t testing.TB, cfg backfill.Config) {
	t.Helper()
	sum, err := backfill.Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Outcome != "ok" {
		t.Fatalf("outcome %s: %s", sum.Outcome, sum.Error)
	}
}

func sameTree(t *testing.T, label string, got, want map[string]string) {
	t.Helper()
	var keys []string
	for k := range want {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if got[k] != want[k] {
			t.Errorf("%s: %s differs or is missing", label, k)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("%s: unexpected object %s", label, k)
		}
	}
	if len(want) == 0 {
		t.Fatalf("%s: no outputs at all", label)
	}
}

// TestDeterminismAndSplitInvariance: the rollup files of parallelism 1 and 4, of a
// rerun with --force, and of [a,b)+[b,c) against [a,c) are byte-identical.
func TestDeterminismAndSplitInvariance(t *testing.T) {
	src := lake(t, 4)
	reg := registry(t, src)
	a, b, c := day.Add(time.Hour), day.Add(2*time.Hour), day.Add(4*time.Hour)

	out1 := "file://" + filepath.ToSlash(t.TempDir())
	run(t, backfill.Config{Registry: reg, From: a, To: c, Out: out1, Parallelism: 1})
	want := tree(t, out1, false)

	out4 := "file://" + filepath.ToSlash(t.TempDir())
	run(t, backfill.Config{Registry: reg, From: a, To: c, Out: out4, Parallelism: 4})
	sameTree(t, "parallelism 4", tree(t, out4, false), want)

	run(t, backfill.Config{Registry: reg, From: a, To: c, Out: out4, Parallelism: 2, Force: true})
	sameTree(t, "forced rerun", tree(t, out4, false), want)

	split := "file://" + filepath.ToSlash(t.TempDir())
	run(t, backfill.Config{Registry: reg, From: b, To: c, Out: split, Parallelism: 2})
	run(t, backfill.Config{Registry: reg, From: a, To: b, Out: split, Parallelism: 2})
	sameTree(t, "split at b", tree(t, split, false), want)
}

// TestRerunSkipsCommittedTasks: a second run commits nothing new and rewrites nothing.
func TestRerunSkipsCommittedTasks(t *testing.T) {
	src := lake(t, 2)
	reg := registry(t, src)
	out := "file://" + filepath.ToSlash(t.TempDir())
	first, err := backfill.Run(context.Background(), backfill.Config{Registry: reg, From: day, To: day.Add(2 * time.Hour), Out: out})
	if err != nil {
		t.Fatal(err)
	}
	// Read once: every needed column chunk fetched exactly once (the second task gets
	// its counters' predecessors from the first, not from a re-read).
	if first.ReadAmplification != 1 || first.ColumnBytesNeeded == 0 {
		t.Fatalf("read amplification %v (%d of %d bytes), want exactly 1", first.ReadAmplification, first.ColumnBytesFetched, first.ColumnBytesNeeded)
	}
	before := tree(t, out, true)
	sum, err := backfill.Run(context.Background(), backfill.Config{Registry: reg, From: day, To: day.Add(2 * time.Hour), Out: out})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Tasks.Done != 0 || sum.Tasks.Skipped != sum.Tasks.Planned || sum.Tasks.Planned == 0 {
		t.Fatalf("rerun: %+v, want every task skipped", sum.Tasks)
	}
	sameTree(t, "rerun", tree(t, out, true), before)
}
