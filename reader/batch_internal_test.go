package reader

import (
	"context"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"gocloud.dev/blob/memblob"

	"github.com/tallyhq/tally/reader/readertest"
	"github.com/tallyhq/tally/specs"
)

// TestReadRowGroupInBatches proves a row group decoded in several batches (as row
// groups above maxBatchRows are) gives the same record as one batch: dictionaries of
// the batches are unified and numbers concatenated.
func TestReadRowGroupInBatches(t *testing.T) {
	var rows []readertest.Row
	for i, tenant := range []string{"acme", "globex", "initech", "acme"} {
		rows = append(rows, readertest.Series("m", tenant, "c1", time.Date(2026, 11, 1, i, 0, 0, 0, time.UTC), time.Second, 25)...)
	}
	data := readertest.MustWrite(t, rows, readertest.Options{TimeEncoding: readertest.TimestampMillis})
	ctx := context.Background()
	b := memblob.OpenBucket(nil)
	defer b.Close()
	if err := b.WriteAll(ctx, "k.parquet", data, nil); err != nil {
		t.Fatal(err)
	}
	f, err := OpenFile(ctx, b, Object{Key: "k.parquet", Size: int64(len(data))})
	if err != nil {
		t.Fatal(err)
	}
	src := &specs.Source{TimeUnit: specs.UnitAuto, Dimensions: readertest.Dimensions, Tenant: "tenant"}
	cols, err := f.Resolve(src, []string{"time", "metric", "value", "tenant", "ingest_time"})
	if err != nil {
		t.Fatal(err)
	}
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	whole, err := f.ReadRowGroup(ctx, cols, 0, mem)
	if err != nil {
		t.Fatal(err)
	}
	defer whole.Release()
	defer func(old int64) { maxBatchRows = old }(maxBatchRows)
	maxBatchRows = 7
	batched, err := f.ReadRowGroup(ctx, cols, 0, mem)
	if err != nil {
		t.Fatal(err)
	}
	defer batched.Release()
	if !array.RecordEqual(whole, batched) {
		t.Fatalf("batched read differs:\n%v\nvs\n%v", batched, whole)
	}
	if batched.NumRows() != 100 {
		t.Fatalf("rows %d", batched.NumRows())
	}
}
