package planner_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/tallyhq/tally/gen"
	"github.com/tallyhq/tally/internal/s3test"
	"github.com/tallyhq/tally/planner"
	"github.com/tallyhq/tally/reader"
)

// TestWholePathS3 generates a lake into an in-process S3 server under a key prefix,
// plans a range of it through s3blob, and reads every task's inputs back: every point
// of the range is read exactly once, through exactly the bytes the plan announced.
func TestWholePathS3(t *testing.T) {
	ctx := context.Background()
	url := strings.Replace(s3test.Start(t, "lake"), "s3://lake?", "s3://lake/raw/telemetry?", 1)
	cfg := gen.Config{URL: url, From: at(0), To: at(4), Tenants: 3, ClustersPerTenant: 1, BrokersPerCluster: 2,
		TopicsPerBroker: 1, Interval: 30 * time.Second, Metrics: []string{gen.MetricCPU, gen.MetricMemory}, RowGroupRows: 500}
	if _, err := gen.GenerateURL(ctx, cfg); err != nil {
		t.Fatalf("generate into %s: %v", url, err)
	}
	b, err := reader.OpenBucket(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	reg := registry(t, "hive", "", "")
	reg.Source.URL = url
	p, err := planner.Build(ctx, b, reg, at(1), at(3), planner.Options{})
	if err != nil {
		t.Fatalf("Build over S3: %v", err)
	}
	if p.Stats.PrefixesListed != 4 || p.Stats.FilesRead != 4 || len(p.Tasks) != 2 || p.Stats.ReadAmplification != 1 {
		t.Fatalf("prefixes %d files %d tasks %v amplification %v", p.Stats.PrefixesListed, p.Stats.FilesRead, taskIDs(p), p.Stats.ReadAmplification)
	}
	if p.Stats.RowGroups <= p.Stats.FilesRead {
		t.Fatalf("%d row groups in %d files: want several row groups per file", p.Stats.RowGroups, p.Stats.FilesRead)
	}

	var read, fetched int64
	for _, task := range p.Tasks {
		for _, in := range task.Inputs {
			f, err := reader.OpenFile(ctx, b, reader.Object{Key: in.Key, Size: in.Size, ETag: in.ETag})
			if err != nil {
				t.Fatal(err)
			}
			cols, err := f.Resolve(&reg.Source, p.Columns)
			if err != nil {
				t.Fatal(err)
			}
			for _, rg := range in.RowGroups {
				rec, err := f.ReadRowGroup(ctx, cols, rg, memory.DefaultAllocator)
				if err != nil {
					t.Fatalf("read %s row group %d over S3: %v", in.Key, rg, err)
				}
				times := rec.Column(0).(*array.Int64)
				for i := 0; i < times.Len(); i++ {
					if ts := times.Value(i); ts >= task.Start.UnixNano() && ts < task.End.UnixNano() {
						read++
					} else {
						t.Fatalf("task %s reads a point at %s outside its slice", task.ID, time.Unix(0, ts).UTC())
					}
				}
				rec.Release()
			}
			fetched += f.BytesFetched() - f.FooterBytes()
		}
	}
	want, err := gen.ExpectedRows(gen.Config{From: at(1), To: at(3), Tenants: 3, ClustersPerTenant: 1, BrokersPerCluster: 2,
		TopicsPerBroker: 1, Interval: 30 * time.Second, Metrics: []string{gen.MetricCPU, gen.MetricMemory}})
	if err != nil {
		t.Fatal(err)
	}
	if read != want || read != p.Stats.Rows {
		t.Fatalf("read %d points, plan says %d rows, generator wrote %d", read, p.Stats.Rows, want)
	}
	if fetched != p.Stats.BytesToFetch {
		t.Fatalf("fetched %d bytes of column chunks, the plan announced %d", fetched, p.Stats.BytesToFetch)
	}
}
