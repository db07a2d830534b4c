package reader_test

import (
	"bytes"
	"context"
	"math"
	"math/big"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/decimal256"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/tallyhq/tally/specs"
)

// writeRecord writes one record as a Parquet file with arrow-go's defaults
// (dictionary pages, statistics).
func writeRecord(t *testing.T, rec arrow.RecordBatch) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := pqarrow.NewFileWriter(rec.Schema(), &buf, parquet.NewWriterProperties(), pqarrow.DefaultWriterProps())
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(rec); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestReadIntegerDimensionsAndDecimals proves integer dimension columns (broker ids
// as int32, uint64 above MaxInt64) read as their decimal strings, and DECIMAL value
// columns (DuckDB, Spark) read as float64.
func TestReadIntegerDimensionsAndDecimals(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.DefaultAllocator)
	defer mem.AssertSize(t, 0)
	sc := arrow.NewSchema([]arrow.Field{
		{Name: "time", Type: arrow.FixedWidthTypes.Timestamp_ms, Nullable: true},
		{Name: "metric", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "value", Type: &arrow.Decimal128Type{Precision: 18, Scale: 4}, Nullable: true},
		{Name: "sum", Type: &arrow.Decimal256Type{Precision: 40, Scale: 2}, Nullable: true},
		{Name: "tenant", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
		{Name: "cluster", Type: arrow.PrimitiveTypes.Uint64, Nullable: true},
	}, nil)
	b := array.NewRecordBuilder(mem, sc)
	defer b.Release()
	ms := t0.UnixMilli()
	b.Field(0).(*array.TimestampBuilder).AppendValues([]arrow.Timestamp{arrow.Timestamp(ms), arrow.Timestamp(ms + 1000), arrow.Timestamp(ms + 2000)}, nil)
	b.Field(1).(*array.StringBuilder).AppendValues([]string{"m", "m", "m"}, nil)
	vb := b.Field(2).(*array.Decimal128Builder)
	vb.Append(decimal128.FromI64(123456)) // 12.3456
	vb.Append(decimal128.FromI64(-5))     // -0.0005
	vb.AppendNull()
	sb := b.Field(3).(*array.Decimal256Builder)
	big1, _ := new(big.Int).SetString("1000000000000000000000000000005", 10) // 1e28 + 0.05
	sb.Append(decimal256.FromBigInt(big1))
	sb.Append(decimal256.FromI64(-250)) // -2.5
	sb.Append(decimal256.FromI64(0))
	b.Field(4).(*array.Int32Builder).AppendValues([]int32{7, -3, 0}, []bool{true, true, false})
	b.Field(5).(*array.Uint64Builder).AppendValues([]uint64{math.MaxUint64, 42, 0}, nil)
	rec := b.NewRecordBatch()
	defer rec.Release()

	_, f := open(t, writeRecord(t, rec))
	src := &specs.Source{URL: "mem://", Layout: specs.LayoutHive, TimeUnit: specs.UnitAuto, Dimensions: []string{"tenant", "cluster"}, Tenant: "tenant"}
	cols, err := f.Resolve(src, []string{"time", "metric", "value", "sum", "tenant", "cluster"})
	if err != nil {
		t.Fatalf("Resolve: %v", err)
	}
	got, err := f.ReadRowGroup(context.Background(), cols, 0, mem)
	if err != nil {
		t.Fatalf("ReadRowGroup: %v", err)
	}
	defer got.Release()

	value := got.Column(2).(*array.Float64)
	if value.Value(0) != 12.3456 || value.Value(1) != -0.0005 || !value.IsNull(2) {
		t.Errorf("value = %v, want [12.3456 -0.0005 null]", value)
	}
	sum := got.Column(3).(*array.Float64)
	if math.Abs(sum.Value(0)-1e28) > 1e13 || sum.Value(1) != -2.5 || sum.Value(2) != 0 {
		t.Errorf("sum = %v, want [1e28 -2.5 0]", sum)
	}
	str := func(col, i int) string {
		d := got.Column(col).(*array.Dictionary)
		if d.IsNull(i) {
			return "<null>"
		}
		return d.Dictionary().(*array.String).Value(d.GetValueIndex(i))
	}
	for i, want := range []string{"7", "-3", "<null>"} {
		if s := str(4, i); s != want {
			t.Errorf("tenant[%d] = %q, want %q", i, s, want)
		}
	}
	for i, want := range []string{"18446744073709551615", "42", "0"} {
		if s := str(5, i); s != want {
			t.Errorf("cluster[%d] = %q, want %q", i, s, want)
		}
	}
}

// TestEmptyRowGroup proves a file with one empty row group — what pyarrow, pandas and
// arrow-go write for an empty table: a dictionary page at offset 4 and a data page
// offset of 0 — opens, resolves and reads as zero rows without fetching anything.
func TestEmptyRowGroup(t *testing.T) {
	sc := arrow.NewSchema([]arrow.Field{
		{Name: "time", Type: arrow.FixedWidthTypes.Timestamp_ns, Nullable: true},
		{Name: "metric", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "value", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "tenant", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "cluster", Type: arrow.BinaryTypes.String, Nullable: true},
	}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, sc)
	defer b.Release()
	rec := b.NewRecordBatch()
	defer rec.Release()
	_, f := open(t, writeRecord(t, rec))
	if f.NumRowGroups() != 1 || f.RowGroupRows(0) != 0 {
		t.Fatalf("%d row groups, first of %d rows; want one empty row group", f.NumRowGroups(), f.RowGroupRows(0))
	}
	cols, err := f.Resolve(source(nil, ""), []string{"time", "metric", "value", "tenant", "cluster"})
	if err != nil {
		t.Fatalf("Resolve: %v", err)
	}
	if n := f.NeededBytes(cols, 0); n != 0 {
		t.Errorf("NeededBytes = %d, want 0 for an empty row group", n)
	}
	before := f.BytesFetched()
	got, err := f.ReadRowGroup(context.Background(), cols, 0, nil)
	if err != nil {
		t.Fatalf("ReadRowGroup: %v", err)
	}
	defer got.Release()
	if got.NumRows() != 0 || got.NumCols() != 5 || !got.Schema().Equal(cols.Schema()) {
		t.Errorf("record %v, want 0 rows in the resolved schema", got)
	}
	if f.BytesFetched() != before {
		t.Errorf("fetched %d bytes for an empty row group", f.BytesFetched()-before)
	}
}
