package reference

import (
	"reflect"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/tallyhq/tally/exec"
	"github.com/tallyhq/tally/specs"
)

// column is one column of a test record, given as Arrow JSON.
type column struct {
	name string
	typ  arrow.DataType
	json string
}

// buildRecord makes a record from JSON columns; the caller releases it.
func buildRecord(t *testing.T, mem memory.Allocator, cols []column) arrow.RecordBatch {
	t.Helper()
	fields := make([]arrow.Field, len(cols))
	arrs := make([]arrow.Array, len(cols))
	rows := int64(-1)
	for i, c := range cols {
		fields[i] = arrow.Field{Name: c.name, Type: c.typ, Nullable: true}
		a, _, err := array.FromJSON(mem, c.typ, strings.NewReader(c.json))
		if err != nil {
			t.Fatalf("column %s: %v", c.name, err)
		}
		defer a.Release()
		arrs[i] = a
		rows = int64(a.Len())
	}
	return array.NewRecordBatch(arrow.NewSchema(fields, nil), arrs, rows)
}

var (
	dictString = &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int32, ValueType: arrow.BinaryTypes.String}
	tsMS       = &arrow.TimestampType{Unit: arrow.Millisecond, TimeZone: "UTC"}
	tsNS       = &arrow.TimestampType{Unit: arrow.Nanosecond}
)

func TestAppendRecord(t *testing.T) {
	src := &specs.Source{Dimensions: []string{"tenant", "broker", "topic"}}
	const t0 = int64(1714564810000) // 2024-05-01T12:00:10Z in ms
	cases := []struct {
		name     string
		cols     []column
		want     []Point
		errParts []string
	}{
		{
			name: "gauges with int64 ns time, dictionary and large strings, missing dimension",
			cols: []column{
				{"time", arrow.PrimitiveTypes.Int64, `[1714564810000000000, 1714564820000000000, 1714564830000000000]`},
				{"metric", dictString, `["cpu", "cpu", "mem"]`},
				{"tenant", arrow.BinaryTypes.LargeString, `["t1", null, "t2"]`},
				{"broker", arrow.BinaryTypes.String, `["b1", "b2", null]`},
				{"value", arrow.PrimitiveTypes.Float64, `[1.5, null, -2]`},
				{"start_time", tsNS, `[null, 1714564800000000000, null]`},
			},
			want: []Point{
				{Time: t0 * 1e6, Metric: "cpu", Dims: []string{"t1", "b1", ""}, Value: 1.5, CountNull: true},
				{Time: (t0 + 10_000) * 1e6, Metric: "cpu", Dims: []string{"", "b2", ""}, ValueNull: true, CountNull: true,
					StartTime: 1714564800000000000, HasStart: true},
				{Time: (t0 + 20_000) * 1e6, Metric: "mem", Dims: []string{"t2", "", ""}, Value: -2, CountNull: true},
			},
		},
		{
			name: "histograms with millisecond timestamps, signed counts and float32 values",
			cols: []column{
				{"time", tsMS, `[1714564810000, 1714564811000]`},
				{"ingest_time", tsMS, `[1714564815000, null]`},
				{"metric", arrow.BinaryTypes.String, `["lat", "lat"]`},
				{"tenant", dictString, `["t1", "t1"]`},
				{"count", arrow.PrimitiveTypes.Int64, `[3, null]`},
				{"sum", arrow.PrimitiveTypes.Float32, `[4.5, null]`},
				{"min", arrow.PrimitiveTypes.Float64, `[0.5, 1]`},
				{"max", arrow.PrimitiveTypes.Float64, `[3, null]`},
				{"bounds", arrow.ListOf(arrow.PrimitiveTypes.Float64), `[[1, 5], null]`},
				{"bucket_counts", arrow.LargeListOf(arrow.PrimitiveTypes.Uint64), `[[1, 2, 0], []]`},
			},
			want: []Point{
				{Time: t0 * 1e6, IngestTime: (t0 + 5000) * 1e6, HasIngest: true, Metric: "lat", Dims: []string{"t1", "", ""},
					ValueNull: true, Count: 3, Sum: 4.5, Min: 0.5, Max: 3, HasMinMax: true, Bounds: []float64{1, 5}, BucketCounts: []uint64{1, 2, 0}},
				{Time: (t0 + 1000) * 1e6, Metric: "lat", Dims: []string{"t1", "", ""}, ValueNull: true, CountNull: true, BucketCounts: []uint64{}},
			},
		},
		{
			name: "exponential histograms",
			cols: []column{
				{"time", arrow.PrimitiveTypes.Int64, `[1714564810000000000, 1714564811000000000]`},
				{"metric", arrow.BinaryTypes.String, `["lat", "lat"]`},
				{"count", arrow.PrimitiveTypes.Uint64, `[6, 1]`},
				{"sum", arrow.PrimitiveTypes.Float64, `[12, 0]`},
				{"scale", arrow.PrimitiveTypes.Int32, `[3, null]`},
				{"zero_count", arrow.PrimitiveTypes.Uint64, `[1, 1]`},
				{"zero_threshold", arrow.PrimitiveTypes.Float64, `[0.001, null]`},
				{"positive_offset", arrow.PrimitiveTypes.Int64, `[-2, null]`},
				{"positive_counts", arrow.ListOf(arrow.PrimitiveTypes.Uint64), `[[1, 2], null]`},
				{"negative_offset", arrow.PrimitiveTypes.Int32, `[4, 0]`},
				{"negative_counts", arrow.ListOf(arrow.PrimitiveTypes.Int64), `[[2], []]`},
			},
			want: []Point{
				{Time: t0 * 1e6, Metric: "lat", Dims: []string{"", "", ""}, ValueNull: true, Count: 6, Sum: 12,
					Scale: 3, ZeroCount: 1, ZeroThreshold: 0.001, PositiveOffset: -2, PositiveCounts: []uint64{1, 2},
					NegativeOffset: 4, NegativeCounts: []uint64{2}},
				{Time: (t0 + 1000) * 1e6, Metric: "lat", Dims: []string{"", "", ""}, ValueNull: true, Count: 1,
					ZeroCount: 1, NegativeCounts: []uint64{}},
			},
		},
		{
			name: "offset beyond int32",
			cols: []column{
				{"time", arrow.PrimitiveTypes.Int64, `[1]`},
				{"metric", arrow.BinaryTypes.String, `["a"]`},
				{"positive_offset", arrow.PrimitiveTypes.Int64, `[4294967296]`},
			},
			errParts: []string{`"positive_offset"`, "row 0", "4294967296", "int32"},
		},
		{
			name:     "missing time column",
			cols:     []column{{"metric", arrow.BinaryTypes.String, `["cpu"]`}},
			errParts: []string{`"time"`, "missing", "metric"},
		},
		{
			name:     "missing metric column",
			cols:     []column{{"time", arrow.PrimitiveTypes.Int64, `[1]`}},
			errParts: []string{`"metric"`, "missing"},
		},
		{
			name: "null time",
			cols: []column{
				{"time", arrow.PrimitiveTypes.Int64, `[1, null]`},
				{"metric", arrow.BinaryTypes.String, `["a", "b"]`},
			},
			errParts: []string{`"time"`, "row 1", "null"},
		},
		{
			name: "time column of the wrong type",
			cols: []column{
				{"time", arrow.BinaryTypes.String, `["noon"]`},
				{"metric", arrow.BinaryTypes.String, `["a"]`},
			},
			errParts: []string{`"time"`, "utf8", "timestamp"},
		},
		{
			name: "value column of the wrong type",
			cols: []column{
				{"time", arrow.PrimitiveTypes.Int64, `[1]`},
				{"metric", arrow.BinaryTypes.String, `["a"]`},
				{"value", arrow.BinaryTypes.String, `["1"]`},
			},
			errParts: []string{`"value"`, "float64"},
		},
		{
			name: "negative count",
			cols: []column{
				{"time", arrow.PrimitiveTypes.Int64, `[1]`},
				{"metric", arrow.BinaryTypes.String, `["a"]`},
				{"count", arrow.PrimitiveTypes.Int64, `[-4]`},
			},
			errParts: []string{`"count"`, "row 0", "-4", "negative"},
		},
		{
			name: "null inside bucket_counts",
			cols: []column{
				{"time", arrow.PrimitiveTypes.Int64, `[1]`},
				{"metric", arrow.BinaryTypes.String, `["a"]`},
				{"bucket_counts", arrow.ListOf(arrow.PrimitiveTypes.Uint64), `[[1, null]]`},
			},
			errParts: []string{`"bucket_counts"`, "row 0", "element 1", "null"},
		},
		{
			name: "second timestamps beyond int64 nanoseconds",
			cols: []column{
				{"time", &arrow.TimestampType{Unit: arrow.Second}, `[9223372036854775]`},
				{"metric", arrow.BinaryTypes.String, `["a"]`},
			},
			errParts: []string{`"time"`, "does not fit"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			rec := buildRecord(t, mem, tc.cols)
			defer rec.Release()
			got, err := AppendRecord(nil, src, rec)
			if tc.errParts != nil {
				if err == nil {
					t.Fatalf("AppendRecord succeeded with %+v; want an error mentioning %q", got, tc.errParts)
				}
				for _, part := range tc.errParts {
					if !strings.Contains(err.Error(), part) {
						t.Errorf("error %q does not mention %q", err, part)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("AppendRecord: %v", err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got\n%+v\nwant\n%+v", got, tc.want)
			}
		})
	}
}

// TestAppendRecordFeedsCompute converts a record and computes from it, so the
// converter's output is what Compute expects (dimension order, null handling).
func TestAppendRecordFeedsCompute(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	rec := buildRecord(t, mem, []column{
		{"time", tsNS, `[1714564810000000000, 1714564810000000000, 1714564820000000000, 1714564830000000000]`},
		{"metric", dictString, `["m", "m", "m", "m"]`},
		{"broker", dictString, `["b1", "b1", "b2", null]`},
		{"tenant", arrow.BinaryTypes.String, `["t1", "t1", "t1", "t1"]`},
		{"value", arrow.PrimitiveTypes.Float64, `[10, 10, 30, null]`},
	})
	defer rec.Release()
	reg := testRegistry(t, gaugeAll)
	pts, err := AppendRecord(nil, &reg.Source, rec)
	if err != nil {
		t.Fatal(err)
	}
	rollups, stats, err := Compute(reg, at(t, "12:00:00"), at(t, "12:01:00"), pts)
	if err != nil {
		t.Fatal(err)
	}
	want := row(t, "12:00:00", t1, 2, 2, 40, 10, 30, 20, 10, 30)
	if d := diffRows(rollups[0].Rows, []exec.Row{want}); d != "" {
		t.Error(d)
	}
	if st := stats.PerAggregation["a"]; st.Duplicates != 1 || st.DroppedNull != 1 {
		t.Errorf("stats %+v, want one duplicate and one null", st)
	}
}
