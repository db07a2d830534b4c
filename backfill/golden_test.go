package backfill_test

import (
	"bufio"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/tallyhq/tally/backfill"
	"github.com/tallyhq/tally/exec"
	"github.com/tallyhq/tally/specs"
)

var update = flag.Bool("update", false, "rewrite testdata/golden (lake from points.csv, expected.txt from the output)")

const goldenDir = "../testdata/golden"

// TestGolden backfills the committed golden lake and compares every output row with
// testdata/golden/expected.txt, and a few groups with values worked out by hand from
// testdata/golden/points.csv.
func TestGolden(t *testing.T) {
	if *update {
		writeGoldenLake(t)
	}
	reg, err := specs.Load(filepath.Join(goldenDir, "registry.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	lakeDir, err := filepath.Abs(filepath.Join(goldenDir, "lake"))
	if err != nil {
		t.Fatal(err)
	}
	reg.Source.URL = "file://" + filepath.ToSlash(lakeDir)
	out := "file://" + filepath.ToSlash(t.TempDir())
	from, to := day.Add(12*time.Hour), day.Add(13*time.Hour)
	run(t, backfill.Config{Registry: reg, From: from, To: to, Out: out})

	var b strings.Builder
	rollups := map[string]exec.Rollup{}
	for _, a := range reg.Aggregations {
		r := readAll(t, out, a, from, to)
		rollups[a.Name] = r
		for _, row := range r.Rows {
			fmt.Fprintf(&b, "%s %s %s samples=%d", a.Name, time.UnixMilli(row.WindowStart).UTC().Format("15:04"), strings.Join(row.Dims, "/"), row.Samples)
			if a.Has(specs.FnCount) {
				fmt.Fprintf(&b, " count=%d", row.Count)
			}
			for i, fn := range a.ValueFunctions() {
				fmt.Fprintf(&b, " %s=%s", fn, strconv.FormatFloat(row.Values[i], 'g', 12, 64))
			}
			if row.Hist != nil {
				fmt.Fprintf(&b, " buckets=%v:%v", row.Hist.Bounds, row.Hist.Counts)
			}
			b.WriteByte('\n')
		}
	}
	expected := filepath.Join(goldenDir, "expected.txt")
	if *update {
		if err := os.WriteFile(expected, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(expected)
	if err != nil {
		t.Fatal(err)
	}
	if b.String() != string(want) {
		t.Errorf("output differs from %s (rerun with -update after checking):\ngot:\n%s\nwant:\n%s", expected, b.String(), want)
	}

	// Worked out by hand from points.csv (docs/semantics.md rules).
	hand := []struct {
		agg, window, dims string
		fn                string
		want              float64
	}{
		// 12:00: b1 10 (its exact duplicate counts once, its NaN is dropped) and b2 30.
		{"cpu_1m", "12:00", "t1/c1", "sum", 40},
		{"cpu_1m", "12:00", "t1/c1", "count", 2},
		{"cpu_1m", "12:00", "t1/c1", "avg", 20},
		{"cpu_1m", "12:00", "t1/c1", "first", 10},
		{"cpu_1m", "12:00", "t1/c1", "last", 30},
		{"cpu_1m", "12:01", "t1/c1", "last", 20},
		{"cpu_1m", "12:01", "t1/c1", "first", 40},
		// b1: 130−100 (predecessor in the hour=11 partition) + 20; b2: baseline, then +60.
		{"bytes_1m", "12:00", "t1/c1", "delta", 110},
		{"bytes_1m", "12:00", "t1/c1", "rate", 110.0 / 60},
		// b1: reset to 5, new start_time 12, then +8.
		{"bytes_1m", "12:01", "t1/c1", "delta", 25},
		{"errors_5m", "12:00", "t1", "sum", 5},
		{"errors_5m", "12:05", "t1", "sum", 1},
		{"errors_5m", "12:00", "t1", "rate", 5.0 / 300},
		// buckets [1 4 1]: rank 3 falls half-way into (1, 10].
		{"latency_5m", "12:00", "t1", "count", 6},
		{"latency_5m", "12:00", "t1", "sum", 50},
		{"latency_5m", "12:00", "t1", "p50", 5.5},
	}
	for _, h := range hand {
		r := rollups[h.agg]
		found := false
		for _, row := range r.Rows {
			if time.UnixMilli(row.WindowStart).UTC().Format("15:04") != h.window || strings.Join(row.Dims, "/") != h.dims {
				continue
			}
			found = true
			got, ok := row.Value(r.Agg, h.fn)
			if !ok || math.Abs(got-h.want) > 1e-12*math.Max(1, math.Abs(h.want)) {
				t.Errorf("%s %s %s %s = %v, want %v", h.agg, h.window, h.dims, h.fn, got, h.want)
			}
		}
		if !found {
			t.Errorf("%s %s %s: no row", h.agg, h.window, h.dims)
		}
	}
}

// writeGoldenLake turns points.csv into the committed hive lake (one file per hour).
func writeGoldenLake(t *testing.T) {
	t.Helper()
	f, err := os.Open(filepath.Join(goldenDir, "points.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	byHour := map[string][][]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Split(line, ",")
		if len(fields) != 11 {
			t.Fatalf("points.csv: %q has %d fields, want 11", line, len(fields))
		}
		byHour[fields[0][:2]] = append(byHour[fields[0][:2]], fields)
	}
	ts := &arrow.TimestampType{Unit: arrow.Millisecond, TimeZone: "UTC"}
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "time", Type: ts}, {Name: "start_time", Type: ts, Nullable: true},
		{Name: "metric", Type: arrow.BinaryTypes.String}, {Name: "value", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "tenant", Type: arrow.BinaryTypes.String}, {Name: "cluster", Type: arrow.BinaryTypes.String}, {Name: "broker", Type: arrow.BinaryTypes.String},
		{Name: "count", Type: arrow.PrimitiveTypes.Int64, Nullable: true}, {Name: "sum", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "bounds", Type: arrow.ListOf(arrow.PrimitiveTypes.Float64), Nullable: true},
		{Name: "bucket_counts", Type: arrow.ListOf(arrow.PrimitiveTypes.Int64), Nullable: true},
	}, nil)
	at := func(hms string) arrow.Timestamp {
		v, err := time.Parse(time.RFC3339, "2026-11-01T"+hms+"Z")
		if err != nil {
			t.Fatal(err)
		}
		return arrow.Timestamp(v.UnixMilli())
	}
	hours := make([]string, 0, len(byHour))
	for h := range byHour {
		hours = append(hours, h)
	}
	slices.Sort(hours)
	for _, h := range hours {
		b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
		for _, r := range byHour[h] {
			b.Field(0).(*array.TimestampBuilder).Append(at(r[0]))
			if r[6] == "" {
				b.Field(1).AppendNull()
			} else {
				b.Field(1).(*array.TimestampBuilder).Append(at(r[6]))
			}
			b.Field(2).(*array.StringBuilder).Append(r[1])
			if r[5] == "" {
				b.Field(3).AppendNull()
			} else {
				v, err := strconv.ParseFloat(r[5], 64)
				if err != nil {
					t.Fatal(err)
				}
				b.Field(3).(*array.Float64Builder).Append(v)
			}
			for i := 0; i < 3; i++ {
				b.Field(4 + i).(*array.StringBuilder).Append(r[2+i])
			}
			if r[7] == "" {
				for i := 7; i <= 10; i++ {
					b.Field(i).AppendNull()
				}
			} else {
				c, _ := strconv.ParseInt(r[7], 10, 64)
				s, _ := strconv.ParseFloat(r[8], 64)
				b.Field(7).(*array.Int64Builder).Append(c)
				b.Field(8).(*array.Float64Builder).Append(s)
				lb := b.Field(9).(*array.ListBuilder)
				lb.Append(true)
				for _, x := range strings.Split(r[9], "|") {
					v, _ := strconv.ParseFloat(x, 64)
					lb.ValueBuilder().(*array.Float64Builder).Append(v)
				}
				cb := b.Field(10).(*array.ListBuilder)
				cb.Append(true)
				for _, x := range strings.Split(r[10], "|") {
					v, _ := strconv.ParseInt(x, 10, 64)
					cb.ValueBuilder().(*array.Int64Builder).Append(v)
				}
			}
		}
		rec := b.NewRecordBatch()
		b.Release()
		tbl := array.NewTableFromRecords(schema, []arrow.RecordBatch{rec})
		dir := filepath.Join(goldenDir, "lake", "dt=2026-11-01", "hour="+h)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		out, err := os.Create(filepath.Join(dir, "part-00000.parquet"))
		if err != nil {
			t.Fatal(err)
		}
		props := parquet.NewWriterProperties(parquet.WithCompression(compress.Codecs.Zstd), parquet.WithCreatedBy("tally golden"), parquet.WithStats(true))
		if err := pqarrow.WriteTable(tbl, out, 1024, props, pqarrow.DefaultWriterProps()); err != nil {
			t.Fatal(err)
		}
		tbl.Release()
		rec.Release()
	}
}
