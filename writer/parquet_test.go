package writer

import (
	"bytes"
	"context"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/apache/arrow-go/v18/parquet/schema"

	"github.com/tallyhq/tally/exec"
	"github.com/tallyhq/tally/specs"
)

// readBack opens an encoded rollup with the Parquet reader and reads it as an Arrow table.
func readBack(t *testing.T, data []byte) (*file.Reader, arrow.Table) {
	t.Helper()
	pf, err := file.NewParquetReader(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("open encoded rollup: %v", err)
	}
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
	if err != nil {
		t.Fatalf("arrow reader: %v", err)
	}
	tbl, err := fr.ReadTable(context.Background())
	if err != nil {
		t.Fatalf("read table: %v", err)
	}
	t.Cleanup(tbl.Release)
	return pf, tbl
}

func col(t *testing.T, tbl arrow.Table, name string) arrow.Array {
	t.Helper()
	idx := tbl.Schema().FieldIndices(name)
	if len(idx) != 1 {
		t.Fatalf("column %s: found %d times", name, len(idx))
	}
	ch := tbl.Column(idx[0]).Data()
	if len(ch.Chunks()) != 1 {
		t.Fatalf("column %s: %d chunks", name, len(ch.Chunks()))
	}
	return ch.Chunk(0)
}

func TestEncodeRollupGaugeReadsBack(t *testing.T) {
	agg := testAgg(t, "broker_cpu_1m")
	rows := gaugeRows(agg)
	meta := testMeta()
	meta.Tenant = "acme"
	data, err := EncodeRollup(exec.Rollup{Agg: agg, Rows: rows}, meta)
	if err != nil {
		t.Fatal(err)
	}
	pf, tbl := readBack(t, data)

	// Columns and Arrow types, in OutputColumns order.
	wantTypes := map[string]arrow.DataType{
		"window_start": timestampMS, "window_end": timestampMS,
		"cluster": arrow.BinaryTypes.String, "tenant": arrow.BinaryTypes.String, "broker": arrow.BinaryTypes.String,
		"count": arrow.PrimitiveTypes.Int64, "avg": arrow.PrimitiveTypes.Float64, "min": arrow.PrimitiveTypes.Float64,
		"max": arrow.PrimitiveTypes.Float64, "last": arrow.PrimitiveTypes.Float64, "p99": arrow.PrimitiveTypes.Float64,
		"sketch": arrow.BinaryTypes.Binary, "samples": arrow.PrimitiveTypes.Int64, "spec_version": arrow.BinaryTypes.String,
	}
	var names []string
	for _, f := range tbl.Schema().Fields() {
		names = append(names, f.Name)
		if !arrow.TypeEqual(f.Type, wantTypes[f.Name]) {
			t.Errorf("column %s: type %s, want %s", f.Name, f.Type, wantTypes[f.Name])
		}
	}
	if !slices.Equal(names, agg.OutputColumns()) {
		t.Fatalf("columns %v, want %v", names, agg.OutputColumns())
	}
	if tbl.NumRows() != int64(len(rows)) {
		t.Fatalf("%d rows, want %d", tbl.NumRows(), len(rows))
	}

	ws := col(t, tbl, "window_start").(*array.Timestamp)
	we := col(t, tbl, "window_end").(*array.Timestamp)
	tenant := col(t, tbl, "tenant").(*array.String)
	min := col(t, tbl, "min").(*array.Float64)
	p99 := col(t, tbl, "p99").(*array.Float64)
	sketch := col(t, tbl, "sketch").(*array.Binary)
	version := col(t, tbl, "spec_version").(*array.String)
	count := col(t, tbl, "count").(*array.Int64)
	for i, r := range rows {
		if int64(ws.Value(i)) != r.WindowStart || int64(we.Value(i)) != r.WindowEnd {
			t.Errorf("row %d: window [%d, %d), want [%d, %d)", i, ws.Value(i), we.Value(i), r.WindowStart, r.WindowEnd)
		}
		if tenant.Value(i) != r.Dims[1] || count.Value(i) != r.Count || version.Value(i) != agg.Version {
			t.Errorf("row %d: tenant %q count %d version %q", i, tenant.Value(i), count.Value(i), version.Value(i))
		}
		if math.IsNaN(r.Values[1]) != min.IsNull(i) {
			t.Errorf("row %d: min null=%v, want null exactly when NaN (%v)", i, min.IsNull(i), r.Values[1])
		}
		if !min.IsNull(i) && min.Value(i) != r.Values[1] {
			t.Errorf("row %d: min %v, want %v", i, min.Value(i), r.Values[1])
		}
		if p99.Value(i) != r.Values[4] {
			t.Errorf("row %d: p99 %v, want %v", i, p99.Value(i), r.Values[4])
		}
		if (r.Sketch == nil) != sketch.IsNull(i) || !bytes.Equal(sketch.Value(i), r.Sketch) {
			t.Errorf("row %d: sketch %x (null %v), want %x", i, sketch.Value(i), sketch.IsNull(i), r.Sketch)
		}
	}

	// Parquet level: DuckDB-compatible logical types, zstd, statistics, dictionaries
	// for strings, fixed created_by, sorting columns, deterministic key-value metadata.
	md := pf.MetaData()
	if got := md.GetCreatedBy(); got != CreatedBy {
		t.Errorf("created_by %q, want %q", got, CreatedBy)
	}
	for i := 0; i < md.Schema.NumColumns(); i++ {
		col := md.Schema.Column(i)
		switch lt := col.LogicalType().(type) {
		case *schema.TimestampLogicalType:
			if !lt.IsAdjustedToUTC() || lt.TimeUnit() != schema.TimeUnitMillis {
				t.Errorf("column %s: %s, want TIMESTAMP(MILLIS, UTC)", col.Path(), lt)
			}
		case *schema.IntLogicalType:
			if !lt.IsSigned() {
				t.Errorf("column %s: unsigned integers are not portable", col.Path())
			}
		}
		cc, err := md.RowGroup(0).ColumnChunk(i)
		if err != nil {
			t.Fatal(err)
		}
		if cc.Compression() != compress.Codecs.Zstd {
			t.Errorf("column %s: compression %s, want zstd", col.Path(), cc.Compression())
		}
		if ok, _ := cc.StatsSet(); !ok {
			t.Errorf("column %s: no statistics", col.Path())
		}
		wantDict := col.PhysicalType() == parquet.Types.ByteArray && col.Name() != "sketch" || col.Name() == "window_start" || col.Name() == "window_end"
		if cc.HasDictionaryPage() != wantDict {
			t.Errorf("column %s: dictionary page %v, want %v", col.Path(), cc.HasDictionaryPage(), wantDict)
		}
	}
	wantSort := []parquet.SortingColumn{{ColumnIdx: 2}, {ColumnIdx: 3}, {ColumnIdx: 4}, {ColumnIdx: 0}}
	if got := md.RowGroup(0).SortingColumns(); !slices.Equal(got, wantSort) {
		t.Errorf("sorting columns %v, want %v", got, wantSort)
	}
	kv := md.KeyValueMetadata()
	for k, want := range map[string]string{
		MetaFormat: RollupFormat, MetaAggregation: agg.Name, MetaSpecVersion: agg.Version, MetaWindow: "1m",
		MetaTenant: "acme", MetaTaskID: testTaskID, MetaInputFingerprint: meta.InputFingerprint,
	} {
		if got := kv.FindValue(k); got == nil || *got != want {
			t.Errorf("metadata %s = %v, want %q", k, got, want)
		}
	}
	for _, k := range kv.Keys() {
		if !strings.HasPrefix(k, "tally.") {
			t.Errorf("unexpected metadata key %q (the file must hold only deterministic tally.* keys)", k)
		}
	}
}

func TestEncodeRollupHistogramsReadBack(t *testing.T) {
	t.Run("explicit", func(t *testing.T) {
		agg := testAgg(t, "latency_1h")
		data, err := EncodeRollup(exec.Rollup{Agg: agg, Rows: histRows(agg)}, testMeta())
		if err != nil {
			t.Fatal(err)
		}
		_, tbl := readBack(t, data)
		bounds := col(t, tbl, "bucket_bounds").(*array.List)
		counts := col(t, tbl, "bucket_counts").(*array.List)
		if !arrow.TypeEqual(counts.DataType(), arrow.ListOfNonNullable(arrow.PrimitiveTypes.Int64)) {
			t.Errorf("bucket_counts type %s", counts.DataType())
		}
		b := bounds.ListValues().(*array.Float64)
		c := counts.ListValues().(*array.Int64)
		if got := b.Float64Values(); !slices.Equal(got, []float64{5, 10}) {
			t.Errorf("bounds %v", got)
		}
		if got := c.Int64Values(); !slices.Equal(got, []int64{3, 2, 2}) {
			t.Errorf("counts %v", got)
		}
		if bounds.IsNull(0) || !bounds.IsNull(1) || !counts.IsNull(1) {
			t.Errorf("null lists: bounds %v %v counts %v", bounds.IsNull(0), bounds.IsNull(1), counts.IsNull(1))
		}
		if mx := col(t, tbl, "max").(*array.Float64); !mx.IsNull(1) || mx.Value(0) != 30 {
			t.Errorf("max: %v", mx)
		}
	})
	t.Run("exponential", func(t *testing.T) {
		agg := testAgg(t, "latency_exp_1h")
		data, err := EncodeRollup(exec.Rollup{Agg: agg, Rows: expRows(agg)}, testMeta())
		if err != nil {
			t.Fatal(err)
		}
		_, tbl := readBack(t, data)
		if got := col(t, tbl, "exp_scale").(*array.Int32).Value(0); got != 3 {
			t.Errorf("exp_scale %d", got)
		}
		if got := col(t, tbl, "exp_zero_count").(*array.Int64).Value(0); got != 1 {
			t.Errorf("exp_zero_count %d", got)
		}
		if got := col(t, tbl, "exp_positive_offset").(*array.Int32).Value(0); got != -2 {
			t.Errorf("exp_positive_offset %d", got)
		}
		if got := col(t, tbl, "exp_negative_offset").(*array.Int32).Value(0); got != 4 {
			t.Errorf("exp_negative_offset %d", got)
		}
		pos := col(t, tbl, "exp_positive_counts").(*array.List).ListValues().(*array.Int64).Int64Values()
		neg := col(t, tbl, "exp_negative_counts").(*array.List).ListValues().(*array.Int64).Int64Values()
		if !slices.Equal(pos, []int64{1, 2, 3}) || !slices.Equal(neg, []int64{2}) {
			t.Errorf("counts %v %v", pos, neg)
		}
	})
}

// manyRows makes n sorted gauge rows over a few groups.
func manyRows(agg *specs.Aggregation, n int) []exec.Row {
	rows := make([]exec.Row, n)
	w := agg.Window.Milliseconds()
	for i := range rows {
		g, k := i/1000, i%1000
		rows[i] = exec.Row{
			WindowStart: ms(taskStart) + int64(k)*w, WindowEnd: ms(taskStart) + int64(k+1)*w,
			Dims:    []string{"c" + string(rune('a'+g/26)) + string(rune('a'+g%26)), "acme", "b1"},
			Samples: int64(i%7 + 1), Count: int64(i%7 + 1),
			Values: []float64{float64(i) / 3, float64(i), float64(i) * 2, float64(i%13) + 0.25, float64(i) * 1.5},
			Sketch: []byte{byte(i), byte(i >> 8)},
		}
	}
	return rows
}

func TestEncodeRollupDeterministic(t *testing.T) {
	old := rowGroupRows
	rowGroupRows = 1000
	t.Cleanup(func() { rowGroupRows = old })

	agg := testAgg(t, "broker_cpu_1m")
	rows := manyRows(agg, 2500)
	meta := testMeta()
	first, err := EncodeRollup(exec.Rollup{Agg: agg, Rows: rows}, meta)
	if err != nil {
		t.Fatal(err)
	}
	pf, tbl := readBack(t, first)
	if n := pf.NumRowGroups(); n != 3 {
		t.Errorf("%d row groups, want 3 (1000+1000+500)", n)
	}
	if tbl.NumRows() != 2500 {
		t.Errorf("%d rows read back", tbl.NumRows())
	}
	// Concurrent encodings of a copy of the rows (as parallel tasks would do) give the
	// same bytes.
	var wg sync.WaitGroup
	outs := make([][]byte, 4)
	errs := make([]error, 4)
	for i := range outs {
		wg.Go(func() {
			cp := manyRows(agg, 2500)
			outs[i], errs[i] = EncodeRollup(exec.Rollup{Agg: agg, Rows: cp}, meta)
		})
	}
	wg.Wait()
	for i := range outs {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if !bytes.Equal(outs[i], first) {
			t.Fatalf("encoding %d differs from the first (%d vs %d bytes)", i, len(outs[i]), len(first))
		}
	}
	// Anything in FileMeta changes the bytes: it is part of the file.
	other := meta
	other.TaskID = "other"
	diff, err := EncodeRollup(exec.Rollup{Agg: agg, Rows: rows}, other)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(diff, first) {
		t.Error("a different task ID gave the same bytes")
	}
}

func TestEncodeRollupRejectsBadRows(t *testing.T) {
	agg := testAgg(t, "broker_cpu_1m")
	hist := testAgg(t, "latency_1h")
	exp := testAgg(t, "latency_exp_1h")
	tests := []struct {
		name string
		agg  *specs.Aggregation
		edit func(rows []exec.Row) []exec.Row
		want string
	}{
		{"out of order", agg, func(r []exec.Row) []exec.Row { r[0], r[1] = r[1], r[0]; return r }, "out of order after row 0"},
		{"duplicate group and window", agg, func(r []exec.Row) []exec.Row { return append(r[:1], r[0]) }, "duplicate group and window"},
		{"tenant order inside dims", agg, func(r []exec.Row) []exec.Row { r[2].Dims[1] = "aaa"; return r }, "row 2"},
		{"missing dimension", agg, func(r []exec.Row) []exec.Row { r[3].Dims = r[3].Dims[:2]; return r }, "row 3 has 2 dimension values, want 3"},
		{"missing value", agg, func(r []exec.Row) []exec.Row { r[0].Values = r[0].Values[:4]; return r }, "row 0 has 4 values, want 5"},
		{"window not aligned", agg, func(r []exec.Row) []exec.Row { r[0].WindowStart += 1000; r[0].WindowEnd += 1000; return r }, "not an aligned 1m window"},
		{"window of wrong length", agg, func(r []exec.Row) []exec.Row { r[0].WindowEnd += 60000; return r }, "not an aligned 1m window"},
		{"histogram counts", hist, func(r []exec.Row) []exec.Row { r[0].Hist.Counts = r[0].Hist.Counts[:2]; return r }, "2 bounds and 2 bucket counts"},
		{"bucket count overflow", hist, func(r []exec.Row) []exec.Row { r[0].Hist.Counts[1] = math.MaxUint64; return r }, "does not fit int64"},
		{"zero count overflow", exp, func(r []exec.Row) []exec.Row { r[0].Exp.ZeroCount = 1 << 63; return r }, "zero count"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var rows []exec.Row
			switch tc.agg.Name {
			case "latency_1h":
				rows = histRows(tc.agg)
			case "latency_exp_1h":
				rows = expRows(tc.agg)
			default:
				rows = gaugeRows(tc.agg)
			}
			_, err := EncodeRollup(exec.Rollup{Agg: tc.agg, Rows: tc.edit(rows)}, testMeta())
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one containing %q", err, tc.want)
			}
			if !strings.Contains(err.Error(), tc.agg.Name) {
				t.Errorf("error %q does not name the aggregation", err)
			}
		})
	}
}

func TestRollupSchemaMatchesOutputColumns(t *testing.T) {
	for _, a := range testRegistry(t).Aggregations {
		sc, err := RollupSchema(a)
		if err != nil {
			t.Fatalf("%s: %v", a.Name, err)
		}
		var names []string
		for _, f := range sc.Fields() {
			names = append(names, f.Name)
			if f.Type.ID() == arrow.UINT64 || f.Type.ID() == arrow.UINT32 {
				t.Errorf("%s.%s is unsigned", a.Name, f.Name)
			}
		}
		if !slices.Equal(names, a.OutputColumns()) {
			t.Errorf("%s: schema %v, want %v", a.Name, names, a.OutputColumns())
		}
	}
}

// BenchmarkEncodeRollup measures encoding of gauge rows (5 values and a sketch);
// rows/cpu-s counts the CPU time of every goroutine, the encoder's and the GC's.
func BenchmarkEncodeRollup(b *testing.B) {
	agg := testAgg(b, "broker_cpu_1m")
	rows := manyRows(agg, 100_000)
	meta := testMeta()
	var size int
	start, cpu0 := time.Now(), cpuTime()
	for b.Loop() {
		data, err := EncodeRollup(exec.Rollup{Agg: agg, Rows: rows}, meta)
		if err != nil {
			b.Fatal(err)
		}
		size = len(data)
	}
	total := float64(len(rows)) * float64(b.N)
	b.ReportMetric(total/time.Since(start).Seconds(), "rows/s")
	if cpu := cpuTime() - cpu0; cpu > 0 {
		b.ReportMetric(total/cpu.Seconds(), "rows/cpu-s")
	}
	b.ReportMetric(float64(size)/float64(len(rows)), "bytes/row")
}
