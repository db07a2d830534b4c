package writer

import (
	"bytes"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/tallyhq/tally/exec"
	"github.com/tallyhq/tally/specs"
)

// Rollup file constants (docs/rollup-format.md).
const (
	// RollupFormat names the layout of the rollup files; it is stamped into every file
	// (tally.format) and bumped when a column changes meaning or type.
	RollupFormat = "tally-rollup-1"
	// CreatedBy is the Parquet created_by string of every rollup file, in the
	// "<application> version <version>" form readers parse. It names the rollup format,
	// not the tally build, so that the same rows give the same bytes with any build.
	CreatedBy = "tally-rollup version 1"
	// RowGroupRows is the number of rows per row group; only the last one is smaller.
	RowGroupRows = 1 << 20
	// ZstdLevel is the zstd compression level of every column.
	ZstdLevel = 3
)

// File key-value metadata keys of a rollup file.
const (
	MetaFormat           = "tally.format"
	MetaAggregation      = "tally.aggregation"
	MetaSpecVersion      = "tally.spec_version"
	MetaWindow           = "tally.window"
	MetaTenant           = "tally.tenant"
	MetaTaskID           = "tally.task_id"
	MetaInputFingerprint = "tally.input_fingerprint"
)

// FileMeta is what a rollup file says about where it comes from. Everything in it
// must be deterministic for a task (no run ID, no clock): it is part of the file's
// bytes.
type FileMeta struct {
	// TaskID is the planner's task ID, e.g. 20261101T0000Z-20261101T0100Z-all.
	TaskID string
	// TaskStart is the start of the task's time slice; it names the dt= partition.
	TaskStart time.Time
	// TenantDimension is the registry's tenant dimension (specs.Source.Tenant); every
	// aggregation groups by it. WriteRollups splits rows by its value.
	TenantDimension string
	// Tenant is the tenant of the file's rows. WriteRollups sets it per file.
	Tenant string
	// InputFingerprint is Fingerprint of the task's inputs.
	InputFingerprint string
}

// rowGroupRows is RowGroupRows; tests lower it to exercise several row groups.
var rowGroupRows = RowGroupRows

// column is one output column: its Arrow field, whether Parquet dictionary-encodes
// it, and how rows fill it (column by column, so each builder is asserted once).
type column struct {
	field arrow.Field
	dict  bool
	// fill appends one value per row; row errors name the row as first+index.
	fill func(b array.Builder, rows []exec.Row, first int) error
}

var timestampMS = &arrow.TimestampType{Unit: arrow.Millisecond, TimeZone: "UTC"}

// RollupSchema is the Arrow schema of agg's rollup files: the columns of
// agg.OutputColumns(), in order, with the types of docs/rollup-format.md.
func RollupSchema(agg *specs.Aggregation) (*arrow.Schema, error) {
	cols, err := rollupColumns(agg, "")
	if err != nil {
		return nil, err
	}
	fields := make([]arrow.Field, len(cols))
	for i, c := range cols {
		fields[i] = c.field
	}
	return arrow.NewSchema(fields, nil), nil
}

func rollupColumns(agg *specs.Aggregation, version string) ([]column, error) {
	valueIndex := map[string]int{}
	for i, f := range agg.ValueFunctions() {
		valueIndex[f] = i
	}
	dimIndex := map[string]int{}
	for i, d := range agg.GroupBy {
		dimIndex[d] = i
	}
	var cols []column
	seen := map[string]bool{}
	expCol := func(name string) bool {
		return strings.HasPrefix(name, "exp_") && agg.Type == specs.TypeExponentialHistogram
	}
	for i, name := range agg.OutputColumns() {
		if seen[name] {
			return nil, fmt.Errorf("aggregation %s: output column %q appears twice; rename the group_by dimension that clashes with a function column", agg.Name, name)
		}
		seen[name] = true
		var c column
		switch {
		case i < 2: // window_start, window_end
			c = column{field: arrow.Field{Name: name, Type: timestampMS}, dict: true}
			end := name == "window_end"
			c.fill = func(b array.Builder, rows []exec.Row, _ int) error {
				tb := b.(*array.TimestampBuilder)
				for k := range rows {
					v := rows[k].WindowStart
					if end {
						v = rows[k].WindowEnd
					}
					tb.UnsafeAppend(arrow.Timestamp(v))
				}
				return nil
			}
		case i < 2+len(agg.GroupBy):
			d := dimIndex[name]
			c = column{field: arrow.Field{Name: name, Type: arrow.BinaryTypes.String}, dict: true}
			c.fill = func(b array.Builder, rows []exec.Row, _ int) error {
				sb := b.(*array.StringBuilder)
				for k := range rows {
					sb.Append(rows[k].Dims[d])
				}
				return nil
			}
		case name == specs.FnCount:
			c = column{field: arrow.Field{Name: name, Type: arrow.PrimitiveTypes.Int64}}
			c.fill = func(b array.Builder, rows []exec.Row, _ int) error {
				ib := b.(*array.Int64Builder)
				for k := range rows {
					ib.UnsafeAppend(rows[k].Count)
				}
				return nil
			}
		case name == "samples":
			c = column{field: arrow.Field{Name: name, Type: arrow.PrimitiveTypes.Int64}}
			c.fill = func(b array.Builder, rows []exec.Row, _ int) error {
				ib := b.(*array.Int64Builder)
				for k := range rows {
					ib.UnsafeAppend(rows[k].Samples)
				}
				return nil
			}
		case name == "spec_version":
			c = column{field: arrow.Field{Name: name, Type: arrow.BinaryTypes.String}, dict: true}
			c.fill = func(b array.Builder, rows []exec.Row, _ int) error {
				sb := b.(*array.StringBuilder)
				for range rows {
					sb.Append(version)
				}
				return nil
			}
		case name == specs.FnSketch:
			c = column{field: arrow.Field{Name: name, Type: arrow.BinaryTypes.Binary, Nullable: true}}
			c.fill = func(b array.Builder, rows []exec.Row, _ int) error {
				bb := b.(*array.BinaryBuilder)
				for k := range rows {
					if rows[k].Sketch == nil {
						bb.AppendNull()
					} else {
						bb.Append(rows[k].Sketch)
					}
				}
				return nil
			}
		case name == "bucket_bounds" && agg.Type == specs.TypeHistogram:
			c = column{field: arrow.Field{Name: name, Type: arrow.ListOfNonNullable(arrow.PrimitiveTypes.Float64), Nullable: true}}
			c.fill = func(b array.Builder, rows []exec.Row, _ int) error {
				lb := b.(*array.ListBuilder)
				vb := lb.ValueBuilder().(*array.Float64Builder)
				for k := range rows {
					if rows[k].Hist == nil {
						lb.AppendNull()
						continue
					}
					lb.Append(true)
					vb.AppendValues(rows[k].Hist.Bounds, nil)
				}
				return nil
			}
		case name == "bucket_counts" && agg.Type == specs.TypeHistogram:
			c = uintListColumn(name, func(r *exec.Row) ([]uint64, bool) {
				if r.Hist == nil {
					return nil, false
				}
				return r.Hist.Counts, true
			})
		case expCol(name):
			var err error
			if c, err = expColumn(name); err != nil {
				return nil, fmt.Errorf("aggregation %s: %w", agg.Name, err)
			}
		default:
			vi, ok := valueIndex[name]
			if !ok {
				return nil, fmt.Errorf("aggregation %s: output column %q has no known type (not a dimension, count, samples, sketch, bucket or value function)", agg.Name, name)
			}
			c = column{field: arrow.Field{Name: name, Type: arrow.PrimitiveTypes.Float64, Nullable: true}}
			c.fill = func(b array.Builder, rows []exec.Row, _ int) error {
				fb := b.(*array.Float64Builder)
				for k := range rows {
					// NaN is exec's "unknown" (docs/rollup-format.md): it becomes null.
					if v := rows[k].Values[vi]; math.IsNaN(v) {
						fb.AppendNull()
					} else {
						fb.UnsafeAppend(v)
					}
				}
				return nil
			}
		}
		cols = append(cols, c)
	}
	return cols, nil
}

func uintListColumn(name string, get func(*exec.Row) ([]uint64, bool)) column {
	c := column{field: arrow.Field{Name: name, Type: arrow.ListOfNonNullable(arrow.PrimitiveTypes.Int64), Nullable: true}}
	c.fill = func(b array.Builder, rows []exec.Row, first int) error {
		lb := b.(*array.ListBuilder)
		vb := lb.ValueBuilder().(*array.Int64Builder)
		for k := range rows {
			counts, ok := get(&rows[k])
			if !ok {
				lb.AppendNull()
				continue
			}
			lb.Append(true)
			vb.Reserve(len(counts))
			for _, n := range counts {
				if n > math.MaxInt64 {
					return fmt.Errorf("row %d, column %s: bucket count %d does not fit int64", first+k, name, n)
				}
				vb.UnsafeAppend(int64(n))
			}
		}
		return nil
	}
	return c
}

func expColumn(name string) (column, error) {
	nullable := func(t arrow.DataType) column {
		return column{field: arrow.Field{Name: name, Type: t, Nullable: true}}
	}
	var c column
	switch name {
	case "exp_scale", "exp_positive_offset", "exp_negative_offset":
		c = nullable(arrow.PrimitiveTypes.Int32)
		c.fill = func(b array.Builder, rows []exec.Row, _ int) error {
			ib := b.(*array.Int32Builder)
			for k := range rows {
				e := rows[k].Exp
				if e == nil {
					ib.AppendNull()
					continue
				}
				v := e.Scale
				switch name {
				case "exp_positive_offset":
					v = e.PositiveOffset
				case "exp_negative_offset":
					v = e.NegativeOffset
				}
				ib.Append(v)
			}
			return nil
		}
	case "exp_zero_count":
		c = nullable(arrow.PrimitiveTypes.Int64)
		c.fill = func(b array.Builder, rows []exec.Row, first int) error {
			ib := b.(*array.Int64Builder)
			for k := range rows {
				e := rows[k].Exp
				if e == nil {
					ib.AppendNull()
					continue
				}
				if e.ZeroCount > math.MaxInt64 {
					return fmt.Errorf("row %d, column %s: zero count %d does not fit int64", first+k, name, e.ZeroCount)
				}
				ib.Append(int64(e.ZeroCount))
			}
			return nil
		}
	case "exp_positive_counts", "exp_negative_counts":
		neg := name == "exp_negative_counts"
		c = uintListColumn(name, func(r *exec.Row) ([]uint64, bool) {
			if r.Exp == nil {
				return nil, false
			}
			if neg {
				return r.Exp.NegativeCounts, true
			}
			return r.Exp.PositiveCounts, true
		})
	default:
		return c, fmt.Errorf("output column %q is not an exponential histogram column", name)
	}
	return c, nil
}

// EncodeRollup encodes the rows of r as one rollup Parquet file (docs/rollup-format.md).
// The rows must be sorted by dimensions, then window start, with one row per group
// and window; EncodeRollup checks that and every row's shape, and returns an error
// naming the row otherwise. The same rows and meta always give the same bytes.
func EncodeRollup(r exec.Rollup, meta FileMeta) ([]byte, error) {
	agg := r.Agg
	if agg == nil {
		return nil, fmt.Errorf("encode rollup: no aggregation")
	}
	if err := checkRows(agg, r.Rows); err != nil {
		return nil, fmt.Errorf("encode rollup of %s for task %s: %w", agg.Name, meta.TaskID, err)
	}
	cols, err := rollupColumns(agg, agg.Version)
	if err != nil {
		return nil, err
	}
	fields := make([]arrow.Field, len(cols))
	for i, c := range cols {
		fields[i] = c.field
	}
	schema := arrow.NewSchema(fields, nil)

	mem := memory.NewGoAllocator()
	opts := []parquet.WriterProperty{
		parquet.WithAllocator(mem),
		parquet.WithCreatedBy(CreatedBy),
		parquet.WithCompression(compress.Codecs.Zstd),
		parquet.WithCompressionLevel(ZstdLevel),
		parquet.WithStats(true),
		parquet.WithMaxRowGroupLength(int64(rowGroupRows)),
		parquet.WithDictionaryDefault(false),
		parquet.WithDataPageVersion(parquet.DataPageV1),
		parquet.WithVersion(parquet.V2_6),
	}
	for _, c := range cols {
		if c.dict {
			opts = append(opts, parquet.WithDictionaryFor(c.field.Name, true))
		}
	}
	// Sorted by the dimensions, then window start; these are leaf columns 2.. and 0.
	var sorting []parquet.SortingColumn
	for i := range agg.GroupBy {
		sorting = append(sorting, parquet.SortingColumn{ColumnIdx: int32(2 + i)})
	}
	sorting = append(sorting, parquet.SortingColumn{ColumnIdx: 0})
	opts = append(opts, parquet.WithSortingColumns(sorting))

	var buf bytes.Buffer
	fw, err := pqarrow.NewFileWriter(schema, &buf, parquet.NewWriterProperties(opts...),
		pqarrow.NewArrowWriterProperties(pqarrow.WithAllocator(mem)))
	if err != nil {
		return nil, fmt.Errorf("encode rollup of %s: create Parquet writer: %w", agg.Name, err)
	}
	kv := [][2]string{
		{MetaFormat, RollupFormat},
		{MetaAggregation, agg.Name},
		{MetaSpecVersion, agg.Version},
		{MetaWindow, specs.FormatWindow(agg.Window)},
		{MetaTenant, meta.Tenant},
		{MetaTaskID, meta.TaskID},
		{MetaInputFingerprint, meta.InputFingerprint},
	}
	for _, p := range kv {
		if err := fw.AppendKeyValueMetadata(p[0], p[1]); err != nil {
			return nil, fmt.Errorf("encode rollup of %s: metadata %s: %w", agg.Name, p[0], err)
		}
	}
	rb := array.NewRecordBuilder(mem, schema)
	defer rb.Release()
	for start := 0; start < len(r.Rows); start += rowGroupRows {
		end := min(start+rowGroupRows, len(r.Rows))
		rb.Reserve(end - start)
		for j, c := range cols {
			if err := c.fill(rb.Field(j), r.Rows[start:end], start); err != nil {
				return nil, fmt.Errorf("encode rollup of %s: %w", agg.Name, err)
			}
		}
		rec := rb.NewRecordBatch()
		err := fw.Write(rec)
		rec.Release()
		if err != nil {
			return nil, fmt.Errorf("encode rollup of %s: write rows %d-%d: %w", agg.Name, start, end, err)
		}
	}
	if err := fw.Close(); err != nil {
		return nil, fmt.Errorf("encode rollup of %s: close Parquet writer: %w", agg.Name, err)
	}
	return buf.Bytes(), nil
}

// checkRows verifies the shape and order of rows: one row per group and window,
// sorted by dimensions then window start, each window exactly one aggregation window.
func checkRows(agg *specs.Aggregation, rows []exec.Row) error {
	nv := len(agg.ValueFunctions())
	win := agg.Window.Milliseconds()
	for i := range rows {
		r := &rows[i]
		if len(r.Dims) != len(agg.GroupBy) {
			return fmt.Errorf("row %d has %d dimension values, want %d (%s)", i, len(r.Dims), len(agg.GroupBy), strings.Join(agg.GroupBy, ", "))
		}
		if len(r.Values) != nv {
			return fmt.Errorf("row %d has %d values, want %d (%s)", i, len(r.Values), nv, strings.Join(agg.ValueFunctions(), ", "))
		}
		if r.WindowEnd-r.WindowStart != win || r.WindowStart%win != 0 {
			return fmt.Errorf("row %d: window [%d, %d) is not an aligned %s window", i, r.WindowStart, r.WindowEnd, specs.FormatWindow(agg.Window))
		}
		if r.Hist != nil && len(r.Hist.Counts) != len(r.Hist.Bounds)+1 {
			return fmt.Errorf("row %d: histogram has %d bounds and %d bucket counts, want bounds+1 counts", i, len(r.Hist.Bounds), len(r.Hist.Counts))
		}
		if i > 0 {
			if c := compareRows(&rows[i-1], r); c >= 0 {
				what := "out of order"
				if c == 0 {
					what = "a duplicate group and window"
				}
				return fmt.Errorf("row %d (%s) is %s after row %d (%s); rows must be sorted by dimensions, then window start",
					i, rowKey(agg, r), what, i-1, rowKey(agg, &rows[i-1]))
			}
		}
	}
	return nil
}

func compareRows(a, b *exec.Row) int {
	for k := range a.Dims {
		if c := strings.Compare(a.Dims[k], b.Dims[k]); c != 0 {
			return c
		}
	}
	switch {
	case a.WindowStart < b.WindowStart:
		return -1
	case a.WindowStart > b.WindowStart:
		return 1
	}
	return 0
}

func rowKey(agg *specs.Aggregation, r *exec.Row) string {
	var b strings.Builder
	for k, d := range agg.GroupBy {
		fmt.Fprintf(&b, "%s=%q ", d, r.Dims[k])
	}
	b.WriteString("window_start=" + strconv.FormatInt(r.WindowStart, 10))
	return b.String()
}
