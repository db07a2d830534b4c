package backfill_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tallyhq/tally/backfill"
	"github.com/tallyhq/tally/specs"
)

// TestPointsOutsideUnstatisticedPartitionFail: a Spark-style file without time
// statistics stored under the wrong hour must fail its task with the reason, never
// yield silently incomplete rollups.
func TestPointsOutsideUnstatisticedPartitionFail(t *testing.T) {
	src := filepath.Join("..", "testdata", "interop", "spark")
	reg, err := specs.Load(filepath.Join(src, "registry.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	lake := t.TempDir()
	// Copy hours 08 and 09, then move hour 09's files under hour=08.
	for _, h := range []string{"08", "09"} {
		files, _ := filepath.Glob(filepath.Join(src, "lake", "dt=2026-11-01", "hour="+h, "part-*.parquet"))
		if len(files) == 0 {
			t.Fatalf("no files for hour %s", h)
		}
		dst := filepath.Join(lake, "dt=2026-11-01", "hour=08")
		if err := os.MkdirAll(dst, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dst, filepath.Base(f)), data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	reg.Source.URL = "file://" + filepath.ToSlash(lake)
	from := time.Date(2026, 11, 1, 8, 0, 0, 0, time.UTC)
	sum, err := backfill.Run(context.Background(), backfill.Config{Registry: reg, From: from, To: from.Add(2 * time.Hour), Out: "file://" + filepath.ToSlash(t.TempDir())})
	if err == nil || !strings.Contains(err.Error(), "without time statistics hold points outside") {
		t.Fatalf("err = %v, want a task failure naming the row groups without statistics", err)
	}
	if sum == nil || sum.Tasks.Failed == 0 || sum.Outcome != "failed" {
		t.Fatalf("summary %+v: want a failed task", sum)
	}
}
