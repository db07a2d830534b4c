package bench

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

// RelTolerance is the largest relative difference accepted between two engines'
// floating-point values (they add in different orders); counts must be equal.
const RelTolerance = 1e-9

// cell is one normalized output value.
type cell struct {
	null  bool
	isInt bool
	i     int64
	f     float64
	s     string
	list  []cell
	isStr bool
	isLst bool
}

func (c cell) String() string {
	switch {
	case c.null:
		return "null"
	case c.isStr:
		return strconv.Quote(c.s)
	case c.isInt:
		return strconv.FormatInt(c.i, 10)
	case c.isLst:
		parts := make([]string, len(c.list))
		for i, e := range c.list {
			parts[i] = e.String()
		}
		return "[" + strings.Join(parts, " ") + "]"
	}
	return strconv.FormatFloat(c.f, 'g', -1, 64)
}

// Table is an engine's output of one aggregation: rows keyed by window start and
// group-by values, each a map of column name to value.
type Table struct {
	Rows map[string]map[string]cell
}

// ReadOutput reads Parquet files of one aggregation into a Table keyed by
// window_start and the group_by columns.
func ReadOutput(ctx context.Context, files []string, groupBy []string) (*Table, error) {
	t := &Table{Rows: map[string]map[string]cell{}}
	for _, f := range files {
		if err := readOutputFile(ctx, f, groupBy, t); err != nil {
			return nil, fmt.Errorf("read output %s: %w", f, err)
		}
	}
	return t, nil
}

func readOutputFile(ctx context.Context, path string, groupBy []string, t *Table) error {
	pf, err := file.OpenParquetFile(path, false)
	if err != nil {
		return err
	}
	defer pf.Close()
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: 64 << 10}, memory.DefaultAllocator)
	if err != nil {
		return err
	}
	tbl, err := fr.ReadTable(ctx)
	if err != nil {
		return err
	}
	defer tbl.Release()
	tr := array.NewTableReader(tbl, 64<<10)
	defer tr.Release()
	for tr.Next() {
		rec := tr.RecordBatch()
		names := make([]string, rec.NumCols())
		for i := range names {
			names[i] = rec.Schema().Field(i).Name
		}
		for r := 0; r < int(rec.NumRows()); r++ {
			row := make(map[string]cell, len(names))
			for c, name := range names {
				if name == "spec_version" {
					continue
				}
				v, err := cellAt(rec.Column(c), r)
				if err != nil {
					return fmt.Errorf("column %s: %w", name, err)
				}
				row[name] = v
			}
			key, err := rowKey(row, groupBy)
			if err != nil {
				return err
			}
			if _, dup := t.Rows[key]; dup {
				return fmt.Errorf("row %s appears twice", key)
			}
			t.Rows[key] = row
		}
	}
	return tr.Err()
}

func rowKey(row map[string]cell, groupBy []string) (string, error) {
	ws, ok := row["window_start"]
	if !ok || !ws.isInt {
		return "", fmt.Errorf("no integer or timestamp window_start column")
	}
	parts := []string{strconv.FormatInt(ws.i, 10)}
	for _, g := range groupBy {
		c, ok := row[g]
		if !ok {
			return "", fmt.Errorf("no group_by column %q", g)
		}
		parts = append(parts, c.s)
	}
	return strings.Join(parts, "|"), nil
}

// cellAt normalizes one value: timestamps to epoch milliseconds, integers to int64,
// floats to float64, strings, lists of numbers.
func cellAt(a arrow.Array, i int) (cell, error) {
	if a.IsNull(i) {
		return cell{null: true}, nil
	}
	switch x := a.(type) {
	case *array.Timestamp:
		v := int64(x.Value(i))
		switch x.DataType().(*arrow.TimestampType).Unit {
		case arrow.Second:
			v *= 1000
		case arrow.Microsecond:
			v /= 1000
		case arrow.Nanosecond:
			v /= 1_000_000
		}
		return cell{isInt: true, i: v}, nil
	case *array.Int64:
		return cell{isInt: true, i: x.Value(i)}, nil
	case *array.Int32:
		return cell{isInt: true, i: int64(x.Value(i))}, nil
	case *array.Uint64:
		if x.Value(i) > math.MaxInt64 {
			return cell{}, fmt.Errorf("value %d overflows int64", x.Value(i))
		}
		return cell{isInt: true, i: int64(x.Value(i))}, nil
	case *array.Uint32:
		return cell{isInt: true, i: int64(x.Value(i))}, nil
	case *array.Float64:
		return cell{f: x.Value(i)}, nil
	case *array.Float32:
		return cell{f: float64(x.Value(i))}, nil
	case *array.String:
		return cell{isStr: true, s: x.Value(i)}, nil
	case *array.LargeString:
		return cell{isStr: true, s: x.Value(i)}, nil
	case *array.StringView:
		return cell{isStr: true, s: x.Value(i)}, nil
	case *array.Dictionary:
		return cellAt(x.Dictionary(), x.GetValueIndex(i))
	case array.ListLike:
		lo, hi := x.ValueOffsets(i)
		c := cell{isLst: true}
		for j := lo; j < hi; j++ {
			e, err := cellAt(x.ListValues(), int(j))
			if err != nil {
				return cell{}, err
			}
			c.list = append(c.list, e)
		}
		return c, nil
	}
	return cell{}, fmt.Errorf("unsupported type %s", a.DataType())
}

// equalCells compares two normalized values: integers exactly, floats within
// RelTolerance, an integer and a whole float as numbers.
func equalCells(a, b cell) bool {
	switch {
	case a.null || b.null:
		return a.null == b.null
	case a.isStr || b.isStr:
		return a.isStr == b.isStr && a.s == b.s
	case a.isLst || b.isLst:
		if a.isLst != b.isLst || len(a.list) != len(b.list) {
			return false
		}
		for i := range a.list {
			if !equalCells(a.list[i], b.list[i]) {
				return false
			}
		}
		return true
	case a.isInt && b.isInt:
		return a.i == b.i
	case a.isInt:
		return float64(a.i) == b.f
	case b.isInt:
		return a.f == float64(b.i)
	}
	if a.f == b.f {
		return true
	}
	return math.Abs(a.f-b.f) <= RelTolerance*math.Max(math.Abs(a.f), math.Abs(b.f))
}

// Mismatch says how an engine's output differs from tally's.
type Mismatch struct {
	Aggregation string
	// Rows and OtherRows are the row counts of tally and the other engine.
	Rows, OtherRows int
	// Examples are up to ten differences, each naming the row and column.
	Examples []string
	// Differences is the number of differing rows.
	Differences int
}

func (m *Mismatch) Error() string {
	return fmt.Sprintf("aggregation %s: %d of %d rows differ (tally %d rows, other %d rows); first: %s",
		m.Aggregation, m.Differences, max(m.Rows, m.OtherRows), m.Rows, m.OtherRows, strings.Join(m.Examples, "; "))
}

// CompareTables checks other against want (tally's): the same rows, every column of
// want present in other with an equal value. It returns nil or a *Mismatch.
func CompareTables(agg string, want, other *Table) error {
	m := &Mismatch{Aggregation: agg, Rows: len(want.Rows), OtherRows: len(other.Rows)}
	keys := make([]string, 0, len(want.Rows))
	for k := range want.Rows {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	note := func(s string) {
		m.Differences++
		if len(m.Examples) < 10 {
			m.Examples = append(m.Examples, s)
		}
	}
	for _, k := range keys {
		w := want.Rows[k]
		o, ok := other.Rows[k]
		if !ok {
			note(fmt.Sprintf("row %s missing", k))
			continue
		}
		cols := make([]string, 0, len(w))
		for c := range w {
			cols = append(cols, c)
		}
		sort.Strings(cols)
		for _, c := range cols {
			oc, ok := o[c]
			if !ok {
				note(fmt.Sprintf("row %s: column %s missing", k, c))
				break
			}
			if !equalCells(w[c], oc) {
				note(fmt.Sprintf("row %s column %s: tally %s, other %s", k, c, w[c], oc))
				break
			}
		}
	}
	var extra []string
	for k := range other.Rows {
		if _, ok := want.Rows[k]; !ok {
			extra = append(extra, k)
		}
	}
	sort.Strings(extra)
	for _, k := range extra {
		note(fmt.Sprintf("row %s not in tally's output", k))
	}
	if m.Differences > 0 {
		return m
	}
	return nil
}
