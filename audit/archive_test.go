package audit_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/tallyhq/tally/audit"
	"github.com/tallyhq/tally/audit/streamsim"
	"github.com/tallyhq/tally/internal/s3test"
)

// archiveStream writes a simulated stream's Parquet archive to url with a value bug
// in one aggregation and returns what was injected.
func archiveStream(t *testing.T, url string) streamsim.Injected {
	t.Helper()
	reg := registry(t, "unused")
	inj, err := streamsim.Publish(context.Background(), streamsim.Config{
		Registry: reg, From: day, To: day.Add(lakeHours * time.Hour), Grace: grace, Archive: url,
		ValueBug: &streamsim.ValueBugFault{Aggregation: "cluster_request_errors_5m", Function: "sum", Factor: 0.5},
	})
	if err != nil {
		t.Fatal(err)
	}
	kinds := countKinds(inj.ArchiveFaults)
	if kinds[streamsim.ValueBug] == 0 || kinds[streamsim.LateValue] == 0 {
		t.Fatalf("the archive has no value-bug or late faults (%v): the test tests nothing", kinds)
	}
	return inj
}

// TestArchiveStreamOnS3 audits a stream archived as rollup Parquet in an S3 bucket
// (an in-process S3 server): the findings are exactly the injected faults.
func TestArchiveStreamOnS3(t *testing.T) {
	url := s3test.Start(t, "stream-archive")
	inj := archiveStream(t, url)
	rep, err := audit.Run(context.Background(), auditConfig(registry(t, "unused"), url))
	if err != nil {
		t.Fatal(err)
	}
	sameVerdicts(t, expected(inj.ArchiveFaults), found(t, rep))
	// Every aggregation with Parquet output is audited, the Parquet-only one included.
	if len(rep.Aggregations) != 5 {
		t.Errorf("audited %d aggregations, want the 5 with Parquet output", len(rep.Aggregations))
	}
	if rep.OK() {
		t.Error("a value bug passed as OK")
	}
}

// TestBatchFromRollups reads the batch side from existing rollups: the archive audited
// against itself matches everywhere.
func TestBatchFromRollups(t *testing.T) {
	url := "file://" + filepath.ToSlash(t.TempDir())
	archiveStream(t, url)
	cfg := auditConfig(registry(t, "unused"), url)
	cfg.Batch = url
	rep, err := audit.Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Keys == 0 || rep.Counts[audit.Match] != rep.Keys || !rep.OK() {
		t.Fatalf("want 100%% match of an archive with itself: keys %d, counts %v", rep.Keys, rep.Counts)
	}
}
