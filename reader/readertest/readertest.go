// Package readertest writes small raw-segment Parquet files in the many shapes real
// lakes use (renamed columns, TIMESTAMP millis/micros/nanos, INT96, plain INT64 times,
// narrow value types, missing optional columns, no statistics), for tests of the
// reader and the planner. Files are tiny: tests build them in memory.
package readertest

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"gocloud.dev/blob"
)

// Time encodings of the time columns (time, start_time, ingest_time).
const (
	TimestampMillis = "ts-ms"    // TIMESTAMP(MILLIS, UTC)
	TimestampMicros = "ts-us"    // TIMESTAMP(MICROS, UTC)
	TimestampNanos  = "ts-ns"    // TIMESTAMP(NANOS, UTC)
	LocalMicros     = "local-us" // TIMESTAMP(MICROS) not adjusted to UTC
	Int96           = "int96"    // Spark's legacy INT96
	Int64Seconds    = "int64-s"  // plain INT64 epoch seconds
	Int64Millis     = "int64-ms" // plain INT64 epoch milliseconds
	Int64Micros     = "int64-us" // plain INT64 epoch microseconds
	Int64Nanos      = "int64-ns" // plain INT64 epoch nanoseconds
)

// Dimensions are the dimension columns every file has.
var Dimensions = []string{"tenant", "cluster"}

// Row is one raw point.
type Row struct {
	Time      time.Time
	StartTime time.Time // zero → null
	Ingest    time.Time // zero → null
	Metric    string
	Value     float64
	Tenant    string
	Cluster   string
	// Histogram columns (written when Options.Histograms).
	Count        int64
	Sum          float64
	Bounds       []float64
	BucketCounts []int64
}

// Options choose the file's physical shape. The zero value writes the default
// contract: TIMESTAMP(NANOS) times, float64 values, plain strings, statistics on,
// one row group.
type Options struct {
	// TimeEncoding is one of the encodings above; default TimestampNanos.
	TimeEncoding string
	// Rename maps contract or dimension names to physical names.
	Rename map[string]string
	// ValueType is the stored type of value: float64 (default), float32, int64, int32.
	ValueType arrow.DataType
	// RowGroupRows cuts row groups of this many rows (default: one row group).
	RowGroupRows int64
	// NoStats turns column statistics off.
	NoStats bool
	// NoStartTime, NoIngestTime leave the optional columns out.
	NoStartTime, NoIngestTime bool
	// Histograms adds count, sum, bounds (list<double>) and bucket_counts (list<uint64>).
	Histograms bool
	// LargeStrings stores dimensions and metric as large_string; DictStrings as dictionary.
	LargeStrings, DictStrings bool
	// Extra adds this many unprojected float64 columns (pad_0, pad_1, …).
	Extra int
}

func (o *Options) name(c string) string {
	if n, ok := o.Rename[c]; ok {
		return n
	}
	return c
}

func timeType(enc string) arrow.DataType {
	switch enc {
	case TimestampMillis:
		return &arrow.TimestampType{Unit: arrow.Millisecond, TimeZone: "UTC"}
	case TimestampMicros:
		return &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}
	case LocalMicros:
		return &arrow.TimestampType{Unit: arrow.Microsecond}
	case Int96, TimestampNanos, "":
		return &arrow.TimestampType{Unit: arrow.Nanosecond, TimeZone: "UTC"}
	default:
		return arrow.PrimitiveTypes.Int64
	}
}

func timeValue(enc string, t time.Time) int64 {
	switch enc {
	case TimestampMillis, Int64Millis:
		return t.UnixMilli()
	case TimestampMicros, LocalMicros, Int64Micros:
		return t.UnixMicro()
	case Int64Seconds:
		return t.Unix()
	default:
		return t.UnixNano()
	}
}

// Write encodes rows as one Parquet file.
func Write(rows []Row, o Options) ([]byte, error) {
	mem := memory.NewGoAllocator()
	strType := arrow.DataType(arrow.BinaryTypes.String)
	if o.LargeStrings {
		strType = arrow.BinaryTypes.LargeString
	}
	if o.DictStrings {
		strType = &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int16, ValueType: arrow.BinaryTypes.String}
	}
	valueType := o.ValueType
	if valueType == nil {
		valueType = arrow.PrimitiveTypes.Float64
	}
	tt := timeType(o.TimeEncoding)
	fields := []arrow.Field{{Name: o.name("time"), Type: tt}}
	if !o.NoStartTime {
		fields = append(fields, arrow.Field{Name: o.name("start_time"), Type: tt, Nullable: true})
	}
	fields = append(fields,
		arrow.Field{Name: o.name("metric"), Type: strType},
		arrow.Field{Name: o.name("value"), Type: valueType, Nullable: true})
	for _, d := range Dimensions {
		fields = append(fields, arrow.Field{Name: o.name(d), Type: strType, Nullable: true})
	}
	if o.Histograms {
		fields = append(fields,
			arrow.Field{Name: o.name("count"), Type: arrow.PrimitiveTypes.Int64, Nullable: true},
			arrow.Field{Name: o.name("sum"), Type: arrow.PrimitiveTypes.Float64, Nullable: true},
			arrow.Field{Name: o.name("bounds"), Type: arrow.ListOf(arrow.PrimitiveTypes.Float64), Nullable: true},
			arrow.Field{Name: o.name("bucket_counts"), Type: arrow.ListOf(arrow.PrimitiveTypes.Uint64), Nullable: true})
	}
	if !o.NoIngestTime {
		fields = append(fields, arrow.Field{Name: o.name("ingest_time"), Type: tt, Nullable: true})
	}
	for i := 0; i < o.Extra; i++ {
		fields = append(fields, arrow.Field{Name: fmt.Sprintf("pad_%d", i), Type: arrow.PrimitiveTypes.Float64})
	}
	sc := arrow.NewSchema(fields, nil)
	rb := array.NewRecordBuilder(mem, sc)
	defer rb.Release()
	appendTime := func(b array.Builder, t time.Time) {
		if t.IsZero() {
			b.AppendNull()
			return
		}
		v := timeValue(o.TimeEncoding, t)
		switch tb := b.(type) {
		case *array.TimestampBuilder:
			tb.Append(arrow.Timestamp(v))
		case *array.Int64Builder:
			tb.Append(v)
		}
	}
	appendStr := func(b array.Builder, s string) {
		switch sb := b.(type) {
		case *array.StringBuilder:
			sb.Append(s)
		case *array.LargeStringBuilder:
			sb.Append(s)
		case *array.BinaryDictionaryBuilder:
			_ = sb.AppendString(s)
		}
	}
	for _, r := range rows {
		i := 0
		next := func() array.Builder { b := rb.Field(i); i++; return b }
		appendTime(next(), r.Time)
		if !o.NoStartTime {
			appendTime(next(), r.StartTime)
		}
		appendStr(next(), r.Metric)
		switch vb := next().(type) {
		case *array.Float64Builder:
			vb.Append(r.Value)
		case *array.Float32Builder:
			vb.Append(float32(r.Value))
		case *array.Int64Builder:
			vb.Append(int64(r.Value))
		case *array.Int32Builder:
			vb.Append(int32(r.Value))
		}
		appendStr(next(), r.Tenant)
		appendStr(next(), r.Cluster)
		if o.Histograms {
			next().(*array.Int64Builder).Append(r.Count)
			next().(*array.Float64Builder).Append(r.Sum)
			lb := next().(*array.ListBuilder)
			lb.Append(true)
			lb.ValueBuilder().(*array.Float64Builder).AppendValues(r.Bounds, nil)
			cb := next().(*array.ListBuilder)
			cb.Append(true)
			for _, c := range r.BucketCounts {
				cb.ValueBuilder().(*array.Uint64Builder).Append(uint64(c))
			}
		}
		if !o.NoIngestTime {
			appendTime(next(), r.Ingest)
		}
		for j := 0; j < o.Extra; j++ {
			next().(*array.Float64Builder).Append(float64(j) + r.Value)
		}
	}
	rec := rb.NewRecordBatch()
	defer rec.Release()

	wopts := []parquet.WriterProperty{
		parquet.WithCompression(compress.Codecs.Zstd),
		parquet.WithStats(!o.NoStats),
		parquet.WithVersion(parquet.V2_6),
	}
	if o.RowGroupRows > 0 {
		wopts = append(wopts, parquet.WithMaxRowGroupLength(o.RowGroupRows))
	}
	var aopts []pqarrow.WriterOption
	if o.TimeEncoding == Int96 {
		aopts = append(aopts, pqarrow.WithDeprecatedInt96Timestamps(true))
	}
	if o.LargeStrings || o.DictStrings {
		aopts = append(aopts, pqarrow.WithStoreSchema())
	}
	var buf bytes.Buffer
	w, err := pqarrow.NewFileWriter(sc, &buf, parquet.NewWriterProperties(wopts...), pqarrow.NewArrowWriterProperties(aopts...))
	if err != nil {
		return nil, err
	}
	if err := w.Write(rec); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// MustWrite is Write for tests.
func MustWrite(t testing.TB, rows []Row, o Options) []byte {
	t.Helper()
	b, err := Write(rows, o)
	if err != nil {
		t.Fatalf("write test parquet: %v", err)
	}
	return b
}

// Put writes rows as one Parquet object at key.
func Put(t testing.TB, b *blob.Bucket, key string, rows []Row, o Options) {
	t.Helper()
	if err := b.WriteAll(context.Background(), key, MustWrite(t, rows, o), nil); err != nil {
		t.Fatalf("put %s: %v", key, err)
	}
}

// Series returns n rows of metric m for one tenant/cluster, one every step from start.
func Series(m, tenant, cluster string, start time.Time, step time.Duration, n int) []Row {
	rows := make([]Row, n)
	for i := range rows {
		t := start.Add(time.Duration(i) * step)
		rows[i] = Row{Time: t, StartTime: start, Ingest: t.Add(2 * time.Second), Metric: m,
			Value: float64(i) + 0.5, Tenant: tenant, Cluster: cluster}
	}
	return rows
}
