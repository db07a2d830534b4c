package writer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"gocloud.dev/blob"
	"gocloud.dev/gcerrors"

	"github.com/tallyhq/tally/exec"
	"github.com/tallyhq/tally/specs"
)

// MaxRollupBytes bounds the size of one rollup file that ReadRollups reads back. A
// task's rollup of one tenant is far smaller; a larger object is not one of ours.
const MaxRollupBytes = 2 << 30

// RollupInfo is what a rollup file says about itself: its key-value metadata.
type RollupInfo struct {
	// Key is the object key relative to the store root ("" for DecodeRollup).
	Key              string
	Format           string
	Aggregation      string
	SpecVersion      string
	Window           string
	Tenant           string
	TaskID           string
	InputFingerprint string
}

// DecodeRollup reads the bytes of one rollup file (docs/rollup-format.md) back into the
// rows of agg, in file order. Columns are found by name, so a file written for another
// spec version of agg is read as long as it has every column agg emits; RollupInfo
// says which version wrote it. Rows are checked as EncodeRollup checks them (shape,
// aligned windows, order), and errors name the column and row at fault.
func DecodeRollup(data []byte, agg *specs.Aggregation) (exec.Rollup, RollupInfo, error) {
	out := exec.Rollup{Agg: agg}
	var info RollupInfo
	if agg == nil {
		return out, info, errors.New("decode rollup: no aggregation")
	}
	pf, err := file.NewParquetReader(bytes.NewReader(data))
	if err != nil {
		return out, info, fmt.Errorf("decode rollup of %s: not a Parquet file: %w", agg.Name, err)
	}
	defer pf.Close()
	kv := pf.MetaData().KeyValueMetadata()
	get := func(k string) string {
		if kv == nil {
			return ""
		}
		if v := kv.FindValue(k); v != nil {
			return *v
		}
		return ""
	}
	info = RollupInfo{
		Format: get(MetaFormat), Aggregation: get(MetaAggregation), SpecVersion: get(MetaSpecVersion),
		Window: get(MetaWindow), Tenant: get(MetaTenant), TaskID: get(MetaTaskID), InputFingerprint: get(MetaInputFingerprint),
	}
	if info.Format != RollupFormat {
		return out, info, fmt.Errorf("decode rollup of %s: metadata %s is %q, want %q (not a tally rollup, or a newer format)", agg.Name, MetaFormat, info.Format, RollupFormat)
	}
	if info.Aggregation != agg.Name {
		return out, info, fmt.Errorf("decode rollup: file holds aggregation %q, not %q", info.Aggregation, agg.Name)
	}
	if w := specs.FormatWindow(agg.Window); info.Window != w {
		return out, info, fmt.Errorf("decode rollup of %s: file has window %q, the registry says %q", agg.Name, info.Window, w)
	}
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
	if err != nil {
		return out, info, fmt.Errorf("decode rollup of %s: %w", agg.Name, err)
	}
	tbl, err := fr.ReadTable(context.Background())
	if err != nil {
		return out, info, fmt.Errorf("decode rollup of %s: read rows: %w", agg.Name, err)
	}
	defer tbl.Release()
	n := int(tbl.NumRows())
	if n == 0 {
		return out, info, nil
	}
	cols := map[string]arrow.Array{}
	for i, f := range tbl.Schema().Fields() {
		ch := tbl.Column(i).Data()
		arr, err := concatChunks(ch)
		if err != nil {
			return out, info, fmt.Errorf("decode rollup of %s: column %s: %w", agg.Name, f.Name, err)
		}
		defer arr.Release()
		cols[f.Name] = arr
	}
	rows := make([]exec.Row, n)
	dec := rollupDecoder{agg: agg, cols: cols, rows: rows}
	if err := dec.decode(); err != nil {
		return out, info, fmt.Errorf("decode rollup of %s: %w", agg.Name, err)
	}
	if err := checkRows(agg, rows); err != nil {
		return out, info, fmt.Errorf("decode rollup of %s: %w", agg.Name, err)
	}
	out.Rows = rows
	return out, info, nil
}

// concatChunks returns one array holding every chunk of a column.
func concatChunks(ch *arrow.Chunked) (arrow.Array, error) {
	chunks := ch.Chunks()
	if len(chunks) == 1 {
		chunks[0].Retain()
		return chunks[0], nil
	}
	return array.Concatenate(chunks, memory.DefaultAllocator)
}

// rollupDecoder fills rows column by column.
type rollupDecoder struct {
	agg  *specs.Aggregation
	cols map[string]arrow.Array
	rows []exec.Row
}

func (d *rollupDecoder) col(name string) (arrow.Array, error) {
	a, ok := d.cols[name]
	if !ok {
		return nil, fmt.Errorf("column %s is missing (the file was written for another definition of the aggregation)", name)
	}
	return a, nil
}

func (d *rollupDecoder) decode() error {
	agg := d.agg
	nv := len(agg.ValueFunctions())
	for i := range d.rows {
		d.rows[i].Dims = make([]string, len(agg.GroupBy))
		d.rows[i].Values = make([]float64, nv)
	}
	for _, name := range []string{"window_start", "window_end"} {
		a, err := d.col(name)
		if err != nil {
			return err
		}
		ts, ok := a.(*array.Timestamp)
		if !ok {
			return fmt.Errorf("column %s is %s, want timestamp[ms]", name, a.DataType())
		}
		if tt := ts.DataType().(*arrow.TimestampType); tt.Unit != arrow.Millisecond {
			return fmt.Errorf("column %s has unit %s, want ms", name, tt.Unit)
		}
		for i := range d.rows {
			if ts.IsNull(i) {
				return fmt.Errorf("column %s, row %d: null", name, i)
			}
			if name == "window_start" {
				d.rows[i].WindowStart = int64(ts.Value(i))
			} else {
				d.rows[i].WindowEnd = int64(ts.Value(i))
			}
		}
	}
	for k, dim := range agg.GroupBy {
		a, err := d.col(dim)
		if err != nil {
			return err
		}
		s, ok := a.(*array.String)
		if !ok {
			return fmt.Errorf("dimension column %s is %s, want string", dim, a.DataType())
		}
		for i := range d.rows {
			d.rows[i].Dims[k] = s.Value(i)
		}
	}
	if agg.Has(specs.FnCount) {
		if err := d.int64s(specs.FnCount, func(r *exec.Row, v int64) { r.Count = v }); err != nil {
			return err
		}
	}
	if err := d.int64s("samples", func(r *exec.Row, v int64) { r.Samples = v }); err != nil {
		return err
	}
	for vi, fn := range agg.ValueFunctions() {
		a, err := d.col(fn)
		if err != nil {
			return err
		}
		f, ok := a.(*array.Float64)
		if !ok {
			return fmt.Errorf("column %s is %s, want double", fn, a.DataType())
		}
		for i := range d.rows {
			if f.IsNull(i) {
				d.rows[i].Values[vi] = math.NaN()
			} else {
				d.rows[i].Values[vi] = f.Value(i)
			}
		}
	}
	if agg.Has(specs.FnSketch) {
		a, err := d.col(specs.FnSketch)
		if err != nil {
			return err
		}
		b, ok := a.(*array.Binary)
		if !ok {
			return fmt.Errorf("column %s is %s, want binary", specs.FnSketch, a.DataType())
		}
		for i := range d.rows {
			if !b.IsNull(i) {
				d.rows[i].Sketch = bytes.Clone(b.Value(i))
			}
		}
	}
	if agg.Has(specs.FnBuckets) {
		if agg.Type == specs.TypeExponentialHistogram {
			return d.exponential()
		}
		return d.explicit()
	}
	return nil
}

func (d *rollupDecoder) int64s(name string, set func(*exec.Row, int64)) error {
	a, err := d.col(name)
	if err != nil {
		return err
	}
	x, ok := a.(*array.Int64)
	if !ok {
		return fmt.Errorf("column %s is %s, want int64", name, a.DataType())
	}
	for i := range d.rows {
		if x.IsNull(i) {
			return fmt.Errorf("column %s, row %d: null", name, i)
		}
		set(&d.rows[i], x.Value(i))
	}
	return nil
}

// list returns the list array of a column and checks its value type.
func (d *rollupDecoder) list(name string, want arrow.Type) (*array.List, error) {
	a, err := d.col(name)
	if err != nil {
		return nil, err
	}
	l, ok := a.(*array.List)
	if !ok || l.ListValues().DataType().ID() != want {
		return nil, fmt.Errorf("column %s is %s, want a list of %s", name, a.DataType(), want)
	}
	return l, nil
}

func uints(l *array.List, i int, name string) ([]uint64, error) {
	vals := l.ListValues().(*array.Int64)
	start, end := l.ValueOffsets(i)
	out := make([]uint64, 0, end-start)
	for j := start; j < end; j++ {
		v := vals.Value(int(j))
		if v < 0 {
			return nil, fmt.Errorf("column %s, row %d: negative bucket count %d", name, i, v)
		}
		out = append(out, uint64(v))
	}
	return out, nil
}

func (d *rollupDecoder) explicit() error {
	bounds, err := d.list("bucket_bounds", arrow.FLOAT64)
	if err != nil {
		return err
	}
	counts, err := d.list("bucket_counts", arrow.INT64)
	if err != nil {
		return err
	}
	bv := bounds.ListValues().(*array.Float64)
	for i := range d.rows {
		if bounds.IsNull(i) || counts.IsNull(i) {
			continue
		}
		start, end := bounds.ValueOffsets(i)
		h := &exec.Histogram{Bounds: make([]float64, 0, end-start)}
		for j := start; j < end; j++ {
			h.Bounds = append(h.Bounds, bv.Value(int(j)))
		}
		if h.Counts, err = uints(counts, i, "bucket_counts"); err != nil {
			return err
		}
		d.rows[i].Hist = h
	}
	return nil
}

func (d *rollupDecoder) exponential() error {
	int32s := map[string]*array.Int32{}
	for _, name := range []string{"exp_scale", "exp_positive_offset", "exp_negative_offset"} {
		a, err := d.col(name)
		if err != nil {
			return err
		}
		x, ok := a.(*array.Int32)
		if !ok {
			return fmt.Errorf("column %s is %s, want int32", name, a.DataType())
		}
		int32s[name] = x
	}
	zc, err := d.col("exp_zero_count")
	if err != nil {
		return err
	}
	zero, ok := zc.(*array.Int64)
	if !ok {
		return fmt.Errorf("column exp_zero_count is %s, want int64", zc.DataType())
	}
	pos, err := d.list("exp_positive_counts", arrow.INT64)
	if err != nil {
		return err
	}
	neg, err := d.list("exp_negative_counts", arrow.INT64)
	if err != nil {
		return err
	}
	for i := range d.rows {
		if int32s["exp_scale"].IsNull(i) {
			continue
		}
		e := &exec.ExpHistogram{
			Scale:          int32s["exp_scale"].Value(i),
			PositiveOffset: int32s["exp_positive_offset"].Value(i),
			NegativeOffset: int32s["exp_negative_offset"].Value(i),
		}
		if !zero.IsNull(i) {
			if zero.Value(i) < 0 {
				return fmt.Errorf("column exp_zero_count, row %d: negative count %d", i, zero.Value(i))
			}
			e.ZeroCount = uint64(zero.Value(i))
		}
		if e.PositiveCounts, err = uints(pos, i, "exp_positive_counts"); err != nil {
			return err
		}
		if e.NegativeCounts, err = uints(neg, i, "exp_negative_counts"); err != nil {
			return err
		}
		d.rows[i].Exp = e
	}
	return nil
}

// ReadRollups reads back the rollup files of aggs whose dt= partition lies in the days
// that [from, to) touches, for every tenant of the store, and calls fn with each file
// (sorted by key). Only the prefixes tenant=<t>/<aggregation>/dt=<day>/ are listed,
// never the whole tree. Objects whose key RollupKey cannot have written are skipped;
// a file that does not decode is an error naming its key. Rows are not filtered by
// time: the caller keeps the windows it wants.
func (s *Store) ReadRollups(ctx context.Context, aggs []*specs.Aggregation, from, to time.Time, fn func(RollupInfo, exec.Rollup) error) error {
	if !to.After(from) {
		return fmt.Errorf("read rollups under %s: empty range [%s, %s)", s.url, from.Format(time.RFC3339), to.Format(time.RFC3339))
	}
	tenants, err := s.tenantPrefixes(ctx)
	if err != nil {
		return err
	}
	var days []string
	for d := from.UTC().Truncate(24 * time.Hour); d.Before(to); d = d.Add(24 * time.Hour) {
		days = append(days, d.Format(time.DateOnly))
	}
	for _, tp := range tenants {
		for _, agg := range aggs {
			for _, day := range days {
				prefix := tp + agg.Name + "/dt=" + day + "/"
				objs, err := s.listKeys(ctx, prefix)
				if err != nil {
					return err
				}
				sort.Slice(objs, func(i, j int) bool { return objs[i].Key < objs[j].Key })
				for _, o := range objs {
					ref, ok := ParseRollupKey(o.Key)
					if !ok || ref.Aggregation != agg.Name {
						continue
					}
					data, err := s.readRollupObject(ctx, o.Key)
					if err != nil {
						return err
					}
					ro, info, err := DecodeRollup(data, agg)
					if err != nil {
						return fmt.Errorf("%s under %s: %w", o.Key, s.url, err)
					}
					info.Key = o.Key
					if err := fn(info, ro); err != nil {
						return err
					}
				}
			}
		}
	}
	return nil
}

// tenantPrefixes lists the tenant=<t>/ prefixes at the store root.
func (s *Store) tenantPrefixes(ctx context.Context) ([]string, error) {
	var out []string
	it := s.bucket.List(&blob.ListOptions{Prefix: TenantPrefix, Delimiter: "/"})
	for {
		o, err := it.Next(ctx)
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("list tenants under %s: %w", s.url, err)
		}
		if o.IsDir && strings.HasPrefix(o.Key, TenantPrefix) {
			out = append(out, o.Key)
		}
	}
	sort.Strings(out)
	return out, nil
}

// readRollupObject reads one rollup file, refusing one larger than MaxRollupBytes.
func (s *Store) readRollupObject(ctx context.Context, key string) ([]byte, error) {
	r, err := s.bucket.NewReader(ctx, key, nil)
	if err != nil {
		if gcerrors.Code(err) == gcerrors.NotFound {
			return nil, fmt.Errorf("read %s under %s: %w", key, s.url, ErrNotFound)
		}
		return nil, fmt.Errorf("read %s under %s: %w", key, s.url, err)
	}
	defer r.Close()
	if r.Size() > MaxRollupBytes {
		return nil, fmt.Errorf("read %s under %s: %d bytes, more than the %d a rollup file may have", key, s.url, r.Size(), int64(MaxRollupBytes))
	}
	data, err := io.ReadAll(io.LimitReader(r, MaxRollupBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read %s under %s: %w", key, s.url, err)
	}
	if len(data) > MaxRollupBytes {
		return nil, fmt.Errorf("read %s under %s: more than %d bytes", key, s.url, int64(MaxRollupBytes))
	}
	return data, nil
}
