package reader_test

import (
	"context"
	"encoding/binary"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"gocloud.dev/blob/memblob"

	"github.com/tallyhq/tally/reader"
	"github.com/tallyhq/tally/reader/readertest"
)

// FuzzOpenFooter feeds arbitrary objects to OpenFile (and, when a footer survives
// validation, to Resolve and ReadRowGroup): none may panic, and a failure must be an
// error. Seeds: a valid small file, its truncations and forged metadata lengths.
func FuzzOpenFooter(f *testing.F) {
	valid, err := readertest.Write(readertest.Series("kafka.broker.cpu", "acme", "c1",
		time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), time.Second, 20), readertest.Options{RowGroupRows: 10})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(valid)
	for _, cut := range []int{1, 4, 8, 9, 100, len(valid) / 2} {
		if cut < len(valid) {
			f.Add(valid[:len(valid)-cut])
		}
	}
	metaLen := binary.LittleEndian.Uint32(valid[len(valid)-8:])
	for _, n := range []uint32{0, 1, metaLen - 1, metaLen + 1, metaLen + 64, uint32(len(valid)), 1 << 31, 1<<32 - 1} {
		b := append([]byte(nil), valid...)
		binary.LittleEndian.PutUint32(b[len(b)-8:], n)
		f.Add(b)
	}
	f.Add([]byte("PAR1\x05\x00\x00\x00PAR1"))
	f.Fuzz(func(t *testing.T, data []byte) {
		ctx := context.Background()
		b := memblob.OpenBucket(nil)
		defer b.Close()
		if err := b.WriteAll(ctx, "fuzz.parquet", data, nil); err != nil {
			t.Fatal(err)
		}
		file, err := reader.OpenFile(ctx, b, reader.Object{Key: "fuzz.parquet", Size: int64(len(data))})
		if err != nil {
			return
		}
		cols, err := file.Resolve(source(nil, ""), []string{"time", "metric", "value", "tenant"})
		if err != nil {
			return
		}
		for rg := 0; rg < file.NumRowGroups() && rg < 4; rg++ {
			file.RowGroupTimeRange(cols, rg)
			file.RowGroupSingleValue(cols, "tenant", rg)
			file.NeededBytes(cols, rg)
			if rec, err := file.ReadRowGroup(ctx, cols, rg, memory.NewGoAllocator()); err == nil {
				rec.Release()
			}
		}
	})
}
