package reader_test

import (
	"context"
	"encoding/binary"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/metadata"
	"gocloud.dev/blob"
	"gocloud.dev/blob/memblob"

	"github.com/tallyhq/tally/reader"
	"github.com/tallyhq/tally/reader/readertest"
	"github.com/tallyhq/tally/specs"
)

var t0 = time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)

func source(rename map[string]string, unit string) *specs.Source {
	if unit == "" {
		unit = specs.UnitAuto
	}
	return &specs.Source{URL: "mem://", Layout: specs.LayoutHive, TimeUnit: unit, Columns: rename,
		Dimensions: readertest.Dimensions, Tenant: "tenant"}
}

func open(t *testing.T, data []byte) (*blob.Bucket, *reader.File) {
	t.Helper()
	ctx := context.Background()
	b := memblob.OpenBucket(nil)
	t.Cleanup(func() { b.Close() })
	if err := b.WriteAll(ctx, "dt=2026-11-01/hour=10/part-00000.parquet", data, nil); err != nil {
		t.Fatal(err)
	}
	f, err := reader.OpenFile(ctx, b, reader.Object{Key: "dt=2026-11-01/hour=10/part-00000.parquet", Size: int64(len(data))})
	if err != nil {
		t.Fatalf("OpenFile: %v", err)
	}
	return b, f
}

// TestReadRowGroupShapes proves every physical shape the contract accepts comes out
// of ReadRowGroup in the canonical types with the same values, and that row-group
// time statistics are read in the right unit.
func TestReadRowGroupShapes(t *testing.T) {
	rows := readertest.Series("kafka.broker.cpu", "acme", "c1", t0, 10*time.Second, 30)
	rows[3].Ingest = time.Time{} // one null ingest_time
	cases := []struct {
		name      string
		opt       readertest.Options
		unit      string // source.time_unit
		precision time.Duration
		statsOK   bool
	}{
		{"timestamp nanos", readertest.Options{}, "", time.Nanosecond, true},
		{"timestamp millis", readertest.Options{TimeEncoding: readertest.TimestampMillis}, "", time.Millisecond, true},
		{"timestamp micros", readertest.Options{TimeEncoding: readertest.TimestampMicros}, "", time.Microsecond, true},
		{"timestamp micros not adjusted to UTC", readertest.Options{TimeEncoding: readertest.LocalMicros}, "", time.Microsecond, true},
		{"int96", readertest.Options{TimeEncoding: readertest.Int96}, "", time.Nanosecond, false},
		{"int64 seconds auto", readertest.Options{TimeEncoding: readertest.Int64Seconds}, "", time.Second, true},
		{"int64 millis auto", readertest.Options{TimeEncoding: readertest.Int64Millis}, "", time.Millisecond, true},
		{"int64 micros auto", readertest.Options{TimeEncoding: readertest.Int64Micros}, "", time.Microsecond, true},
		{"int64 nanos auto", readertest.Options{TimeEncoding: readertest.Int64Nanos}, "", time.Nanosecond, true},
		{"int64 millis configured", readertest.Options{TimeEncoding: readertest.Int64Millis}, specs.UnitMS, time.Millisecond, true},
		{"int64 millis auto without statistics", readertest.Options{TimeEncoding: readertest.Int64Millis, NoStats: true}, "", time.Millisecond, false},
		{"renamed columns", readertest.Options{Rename: map[string]string{"time": "ts", "value": "val", "tenant": "org_id", "metric": "name"}}, "", time.Nanosecond, true},
		{"int32 values", readertest.Options{ValueType: arrow.PrimitiveTypes.Int32}, "", time.Nanosecond, true},
		{"int64 values", readertest.Options{ValueType: arrow.PrimitiveTypes.Int64}, "", time.Nanosecond, true},
		{"float32 values", readertest.Options{ValueType: arrow.PrimitiveTypes.Float32}, "", time.Nanosecond, true},
		{"large strings", readertest.Options{LargeStrings: true}, "", time.Nanosecond, true},
		{"dictionary strings", readertest.Options{DictStrings: true}, "", time.Nanosecond, true},
		{"no start_time and no ingest_time", readertest.Options{NoStartTime: true, NoIngestTime: true}, "", time.Nanosecond, true},
	}
	need := []string{"time", "start_time", "metric", "value", "ingest_time", "tenant", "cluster"}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			data := readertest.MustWrite(t, rows, tc.opt)
			_, f := open(t, data)
			cols, err := f.Resolve(source(tc.opt.Rename, tc.unit), need)
			if err != nil {
				t.Fatalf("Resolve: %v", err)
			}
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			rec, err := f.ReadRowGroup(context.Background(), cols, 0, mem)
			if err != nil {
				t.Fatalf("ReadRowGroup: %v", err)
			}
			defer rec.Release()
			if got := rec.Schema().String(); got != cols.Schema().String() {
				t.Fatalf("schema = %s, want %s", got, cols.Schema())
			}
			wantTypes := map[string]string{"time": "int64", "start_time": "int64", "ingest_time": "int64", "value": "float64",
				"metric": "dictionary<values=utf8, indices=int32, ordered=false>", "tenant": "dictionary<values=utf8, indices=int32, ordered=false>"}
			for i, fld := range rec.Schema().Fields() {
				if w, ok := wantTypes[fld.Name]; ok && fld.Type.String() != w {
					t.Errorf("field %s type = %s, want %s", fld.Name, fld.Type, w)
				}
				if fld.Name != need[i] {
					t.Errorf("field %d = %s, want contract name %s", i, fld.Name, need[i])
				}
			}
			if rec.NumRows() != int64(len(rows)) {
				t.Fatalf("rows = %d, want %d", rec.NumRows(), len(rows))
			}
			times := rec.Column(0).(*array.Int64)
			starts := rec.Column(1).(*array.Int64)
			metric := rec.Column(2).(*array.Dictionary)
			values := rec.Column(3).(*array.Float64)
			ingest := rec.Column(4).(*array.Int64)
			tenant := rec.Column(5).(*array.Dictionary)
			for i, r := range rows {
				if want := r.Time.Truncate(tc.precision).UnixNano(); times.Value(i) != want {
					t.Fatalf("row %d time = %d, want %d", i, times.Value(i), want)
				}
				if tc.opt.NoStartTime {
					if !starts.IsNull(i) {
						t.Fatalf("row %d start_time is not null in a file without the column", i)
					}
				} else if starts.Value(i) != r.StartTime.UnixNano() {
					t.Fatalf("row %d start_time = %d", i, starts.Value(i))
				}
				if tc.opt.NoIngestTime || r.Ingest.IsZero() {
					if !ingest.IsNull(i) {
						t.Fatalf("row %d ingest_time should be null", i)
					}
				} else if ingest.Value(i) != r.Ingest.Truncate(tc.precision).UnixNano() {
					t.Fatalf("row %d ingest_time = %d", i, ingest.Value(i))
				}
				wantV := r.Value
				if tc.opt.ValueType != nil && tc.opt.ValueType.ID() != arrow.FLOAT32 {
					wantV = math.Trunc(r.Value)
				}
				if values.Value(i) != wantV {
					t.Fatalf("row %d value = %v, want %v", i, values.Value(i), wantV)
				}
				if got := metric.Dictionary().(*array.String).Value(metric.GetValueIndex(i)); got != r.Metric {
					t.Fatalf("row %d metric = %q", i, got)
				}
				if got := tenant.Dictionary().(*array.String).Value(tenant.GetValueIndex(i)); got != r.Tenant {
					t.Fatalf("row %d tenant = %q", i, got)
				}
			}
			lo, hi, ok := f.RowGroupTimeRange(cols, 0)
			if ok != tc.statsOK {
				t.Fatalf("RowGroupTimeRange ok = %v, want %v", ok, tc.statsOK)
			}
			if ok {
				wantLo, wantHi := rows[0].Time.UnixNano(), rows[len(rows)-1].Time.Truncate(tc.precision).UnixNano()
				if lo != wantLo || hi != wantHi {
					t.Fatalf("RowGroupTimeRange = [%d, %d], want [%d, %d]", lo, hi, wantLo, wantHi)
				}
			}
		})
	}
}

// TestReadHistogramColumns proves list columns come out as list<float64> and
// list<int64> (bucket counts stored as uint64).
func TestReadHistogramColumns(t *testing.T) {
	rows := readertest.Series("kafka.request.latency", "acme", "c1", t0, time.Minute, 5)
	for i := range rows {
		rows[i].Count = int64(10 + i)
		rows[i].Sum = float64(100 * i)
		rows[i].Bounds = []float64{1, 5, 10}
		rows[i].BucketCounts = []int64{int64(i), 2, 3, 5}
	}
	_, f := open(t, readertest.MustWrite(t, rows, readertest.Options{Histograms: true}))
	cols, err := f.Resolve(source(nil, ""), []string{"time", "metric", "count", "sum", "min", "bounds", "bucket_counts", "tenant", "cluster"})
	if err != nil {
		t.Fatal(err)
	}
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	rec, err := f.ReadRowGroup(context.Background(), cols, 0, mem)
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Release()
	if got := rec.Column(5).DataType().String(); got != "list<item: float64, nullable>" {
		t.Errorf("bounds type = %s", got)
	}
	counts := rec.Column(6).(*array.List)
	if got := counts.DataType().String(); got != "list<item: int64, nullable>" {
		t.Errorf("bucket_counts type = %s", got)
	}
	if rec.Column(4).NullN() != 5 {
		t.Errorf("min (absent, optional) should be all null, has %d nulls", rec.Column(4).NullN())
	}
	s, e := counts.ValueOffsets(3)
	vals := counts.ListValues().(*array.Int64).Int64Values()[s:e]
	if len(vals) != 4 || vals[0] != 3 || vals[3] != 5 {
		t.Errorf("bucket_counts[3] = %v, want [3 2 3 5]", vals)
	}
	if c := rec.Column(2).(*array.Int64).Value(4); c != 14 {
		t.Errorf("count[4] = %d", c)
	}
}

// TestProjectionFetchesOnlyNeededChunks proves a row group read fetches exactly the
// projected column chunks (one ranged read each) and nothing else: bytes fetched ==
// footer + needed bytes.
func TestProjectionFetchesOnlyNeededChunks(t *testing.T) {
	var rows []readertest.Row
	for _, tenant := range []string{"acme", "globex", "initech"} {
		rows = append(rows, readertest.Series("kafka.broker.cpu", tenant, "c1", t0, time.Second, 400)...)
	}
	data := readertest.MustWrite(t, rows, readertest.Options{RowGroupRows: 400, Extra: 6, Histograms: true})
	_, f := open(t, data)
	if f.NumRowGroups() != 3 {
		t.Fatalf("row groups = %d, want 3", f.NumRowGroups())
	}
	footer := f.BytesFetched()
	if footer != f.FooterBytes() || f.Requests() != 2 {
		t.Fatalf("OpenFile fetched %d bytes in %d requests; want only the footer (%d) in 2", footer, f.Requests(), f.FooterBytes())
	}
	cols, err := f.Resolve(source(nil, ""), []string{"time", "metric", "value", "tenant", "cluster"})
	if err != nil {
		t.Fatal(err)
	}
	need := f.NeededBytes(cols, 1)
	if need <= 0 || need*2 > int64(len(data)) {
		t.Fatalf("needed bytes %d of a %d-byte file: projection not narrower than the file", need, len(data))
	}
	rec, err := f.ReadRowGroup(context.Background(), cols, 1, memory.NewGoAllocator())
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Release()
	if got := f.BytesFetched(); got != footer+need {
		t.Fatalf("bytes fetched = %d, want footer %d + needed %d = %d", got, footer, need, footer+need)
	}
	if got := f.Requests(); got != 2+5 {
		t.Fatalf("ranged reads = %d, want 2 for the footer + 5 column chunks", got)
	}
	tenant := rec.Column(3).(*array.Dictionary)
	if got := tenant.Dictionary().(*array.String).Value(tenant.GetValueIndex(0)); got != "globex" {
		t.Fatalf("row group 1 tenant = %q, want globex", got)
	}
	if v, ok := f.RowGroupSingleValue(cols, "tenant", 1); !ok || v != "globex" {
		t.Fatalf("RowGroupSingleValue(tenant, 1) = %q, %v; want globex, true", v, ok)
	}
}

// TestResolveErrors proves a missing or mistyped required column is an error naming
// the object, the physical column, the contract column and the registry setting.
func TestResolveErrors(t *testing.T) {
	rows := readertest.Series("m", "acme", "c1", t0, time.Second, 10)
	cases := []struct {
		name   string
		opt    readertest.Options
		src    *specs.Source
		need   []string
		expect []string
	}{
		{"missing renamed time column", readertest.Options{}, source(map[string]string{"time": "event_ts"}, ""), []string{"time", "value"},
			[]string{"part-00000.parquet", `"event_ts"`, `contract column "time"`, "source.columns.time"}},
		{"missing value column", readertest.Options{Rename: map[string]string{"value": "v"}}, source(nil, ""), []string{"time", "value"},
			[]string{`no column "value"`, "source.columns.value", "the file's columns are:"}},
		{"missing dimension", readertest.Options{Rename: map[string]string{"cluster": "kafka_cluster"}}, source(nil, ""), []string{"time", "cluster"},
			[]string{`no column "cluster"`, `contract column "cluster"`}},
		{"string time", readertest.Options{Rename: map[string]string{"metric": "ts"}}, source(map[string]string{"time": "ts"}, ""), []string{"time"},
			[]string{`column "ts" (contract column "time") is utf8`, "source.columns.time"}},
		{"unknown column name", readertest.Options{}, source(nil, ""), []string{"time", "colour"},
			[]string{`"colour" is neither a contract column nor one of source.dimensions`}},
		{"required histogram columns absent", readertest.Options{}, source(nil, ""), []string{"time", "bounds", "bucket_counts"},
			[]string{`contract column "bounds"`, `contract column "bucket_counts"`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, f := open(t, readertest.MustWrite(t, rows, tc.opt))
			_, err := f.Resolve(tc.src, tc.need)
			if err == nil {
				t.Fatal("Resolve succeeded, want an error")
			}
			for _, e := range tc.expect {
				if !strings.Contains(err.Error(), e) {
					t.Errorf("error %q does not mention %q", err, e)
				}
			}
		})
	}
}

// TestAutoTimeUnitConflict proves row groups whose statistics disagree on the
// magnitude of an INT64 time column make Resolve ask for source.time_unit.
func TestAutoTimeUnitConflict(t *testing.T) {
	rows := readertest.Series("m", "acme", "c1", t0, time.Second, 20)
	// Row group 0 stores epoch seconds, row group 1 epoch milliseconds.
	for i := 10; i < 20; i++ {
		rows[i].Time = time.Unix(rows[i].Time.UnixMilli(), 0)
	}
	_, f := open(t, readertest.MustWrite(t, rows, readertest.Options{TimeEncoding: readertest.Int64Seconds, RowGroupRows: 10}))
	_, err := f.Resolve(source(nil, ""), []string{"time"})
	if err == nil || !strings.Contains(err.Error(), "set source.time_unit") {
		t.Fatalf("err = %v, want a request to set source.time_unit", err)
	}
	if _, err := f.Resolve(source(nil, specs.UnitS), []string{"time"}); err != nil {
		t.Fatalf("with time_unit s: %v", err)
	}
}

// TestHostileFiles proves truncated, forged and garbage objects fail OpenFile with an
// error that names the key and wraps ErrCorrupt, and never panic.
func TestHostileFiles(t *testing.T) {
	valid := readertest.MustWrite(t, readertest.Series("m", "acme", "c1", t0, time.Second, 50), readertest.Options{})
	metaLen := int(valid[len(valid)-8]) | int(valid[len(valid)-7])<<8 | int(valid[len(valid)-6])<<16 | int(valid[len(valid)-5])<<24
	forge := func(n uint32) []byte {
		b := append([]byte(nil), valid...)
		b[len(b)-8], b[len(b)-7], b[len(b)-6], b[len(b)-5] = byte(n), byte(n>>8), byte(n>>16), byte(n>>24)
		return b
	}
	garbleMeta := func(seed byte) []byte {
		b := append([]byte(nil), valid...)
		for i := len(b) - 8 - metaLen; i < len(b)-8; i++ {
			b[i] ^= seed + byte(i*7)
		}
		return b
	}
	forgeRows := func(rows int64) []byte {
		meta, err := metadata.NewFileMetaData(valid[len(valid)-8-metaLen:len(valid)-8], nil)
		if err != nil {
			t.Fatal(err)
		}
		meta.RowGroups[0].NumRows, meta.NumRows = rows, rows
		raw, err := meta.Serialize(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		b := append(append([]byte(nil), valid[:len(valid)-8-metaLen]...), raw...)
		b = binary.LittleEndian.AppendUint32(b, uint32(len(raw)))
		return append(b, "PAR1"...)
	}
	cases := []struct {
		name string
		data []byte
	}{
		{"row count forged to 2^40", forgeRows(1 << 40)},
		{"row count forged negative", forgeRows(-5)},
		{"empty", []byte{}},
		{"tiny", []byte("PAR1")},
		{"magic only", []byte("PAR1PAR1PAR1")},
		{"not parquet", []byte(strings.Repeat("hello world\n", 20))},
		{"truncated by one byte", valid[:len(valid)-1]},
		{"truncated to half", valid[:len(valid)/2]},
		{"metadata length larger than the object", forge(uint32(len(valid) * 2))},
		{"metadata length 4 GiB", forge(math.MaxUint32)},
		{"metadata length zero", forge(0)},
		{"metadata length short by one", forge(uint32(metaLen - 1))},
		{"metadata length pointing into data", forge(uint32(metaLen + 40))},
		{"garbage metadata", garbleMeta(0x5a)},
		{"other garbage metadata", garbleMeta(0x13)},
		{"encrypted footer magic", append(append([]byte(nil), valid[:len(valid)-4]...), 'P', 'A', 'R', 'E')},
	}
	ctx := context.Background()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := memblob.OpenBucket(nil)
			defer b.Close()
			key := "dt=2026-11-01/hour=10/evil.parquet"
			if err := b.WriteAll(ctx, key, tc.data, nil); err != nil {
				t.Fatal(err)
			}
			f, err := reader.OpenFile(ctx, b, reader.Object{Key: key, Size: int64(len(tc.data))})
			if err == nil {
				// A mangled footer may still parse; then reading must fail cleanly or succeed.
				cols, rerr := f.Resolve(source(nil, ""), []string{"time", "value"})
				if rerr == nil {
					for rg := 0; rg < f.NumRowGroups(); rg++ {
						if rec, err := f.ReadRowGroup(ctx, cols, rg, memory.NewGoAllocator()); err == nil {
							rec.Release()
						}
					}
				}
				return
			}
			if !strings.Contains(err.Error(), key) {
				t.Errorf("error %q does not name the key", err)
			}
			if !errors.Is(err, reader.ErrCorrupt) {
				t.Errorf("error %q does not wrap ErrCorrupt", err)
			}
		})
	}
	// The plain truncations, forged lengths and forged row counts must all be rejected.
	for _, data := range [][]byte{valid[:len(valid)-1], forge(uint32(len(valid) * 2)), forge(math.MaxUint32), forge(0), forgeRows(1 << 40), forgeRows(-5)} {
		b := memblob.OpenBucket(nil)
		_ = b.WriteAll(ctx, "k", data, nil)
		if _, err := reader.OpenFile(ctx, b, reader.Object{Key: "k", Size: int64(len(data))}); err == nil {
			t.Errorf("a %d-byte truncated or forged object opened without error", len(data))
		}
		b.Close()
	}
}

// TestCorruptColumnChunk proves garbage inside a column chunk (valid footer) is an
// error naming the key and row group, not a panic.
func TestCorruptColumnChunk(t *testing.T) {
	valid := readertest.MustWrite(t, readertest.Series("m", "acme", "c1", t0, time.Second, 200), readertest.Options{})
	bad := append([]byte(nil), valid...)
	for i := 4; i < len(bad)/2; i++ {
		bad[i] ^= 0xa5
	}
	_, f := open(t, bad)
	cols, err := f.Resolve(source(nil, ""), []string{"time", "metric", "value"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.ReadRowGroup(context.Background(), cols, 0, memory.NewGoAllocator())
	if err == nil || !strings.Contains(err.Error(), "part-00000.parquet") {
		t.Fatalf("err = %v, want an error naming the object", err)
	}
}

// TestObjectChangedSinceListing proves a size mismatch between the listing and the
// object is reported instead of reading a different file's bytes.
func TestObjectChangedSinceListing(t *testing.T) {
	data := readertest.MustWrite(t, readertest.Series("m", "acme", "c1", t0, time.Second, 10), readertest.Options{})
	b := memblob.OpenBucket(nil)
	defer b.Close()
	ctx := context.Background()
	_ = b.WriteAll(ctx, "k.parquet", data, nil)
	_, err := reader.OpenFile(ctx, b, reader.Object{Key: "k.parquet", Size: int64(len(data)) + 10})
	if err == nil || !strings.Contains(err.Error(), "changed") {
		t.Fatalf("err = %v, want 'changed'", err)
	}
	f, err := reader.OpenFile(ctx, b, reader.Object{Key: "k.parquet"})
	if err != nil || f.Obj.Size != int64(len(data)) {
		t.Fatalf("OpenFile without a size: %v, size %d", err, f.Obj.Size)
	}
}
