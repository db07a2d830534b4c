package reference

import (
	"fmt"
	"math"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/tallyhq/tally/specs"
)

// AppendRecord converts the rows of an Arrow record whose columns carry contract
// names (time, start_time, ingest_time, metric, value, count, sum, min, max,
// bounds, bucket_counts, and the source's dimension names) into points appended to
// dst. It accepts what a Parquet reader hands out:
//
//   - time columns as int64 nanoseconds or timestamp of any unit;
//   - strings as string, large_string or dictionary-encoded strings;
//   - value, sum, min and max as float64 or float32;
//   - count and zero_count as unsigned or signed integers (negative is an error);
//   - scale, positive_offset and negative_offset as int32 or int64;
//   - bounds, bucket_counts, positive_counts and negative_counts as list or
//     large_list of those types.
//
// time and metric are required. A missing dimension column reads as null (""), a
// missing value or count column as null values, a missing start_time or
// ingest_time as unknown; min and max are known only when both are present and
// non-null. A null histogram sum reads as 0, null exponential fields as 0 or
// empty. zero_threshold, not a contract column, is read when present. Columns that
// no Point field holds (type, temporality, monotonic) are ignored.
func AppendRecord(dst []Point, src *specs.Source, rec arrow.RecordBatch) ([]Point, error) {
	if src == nil || rec == nil {
		return dst, fmt.Errorf("reference: convert record: source and record are required")
	}
	sch := rec.Schema()
	col := func(name string) arrow.Array {
		idx := sch.FieldIndices(name)
		if len(idx) == 0 {
			return nil
		}
		return rec.Column(idx[0])
	}
	wrap := func(name string, err error) error {
		return fmt.Errorf("reference: convert record: column %q: %w", name, err)
	}
	var err error
	var times, starts, ingests int64Reader
	if times, err = timeReader(col("time")); err != nil {
		return dst, wrap("time", err)
	}
	if times == nil {
		return dst, fmt.Errorf("reference: convert record: required column %q is missing (columns: %v)", "time", fieldNames(sch))
	}
	if starts, err = timeReader(col("start_time")); err != nil {
		return dst, wrap("start_time", err)
	}
	if ingests, err = timeReader(col("ingest_time")); err != nil {
		return dst, wrap("ingest_time", err)
	}
	metric, err := stringReader(col("metric"))
	if err != nil {
		return dst, wrap("metric", err)
	}
	if metric == nil {
		return dst, fmt.Errorf("reference: convert record: required column %q is missing (columns: %v)", "metric", fieldNames(sch))
	}
	dims := make([]stringReaderFunc, len(src.Dimensions))
	for i, d := range src.Dimensions {
		if dims[i], err = stringReader(col(d)); err != nil {
			return dst, wrap(d, err)
		}
	}
	floats := map[string]floatReader{}
	for _, name := range []string{"value", "sum", "min", "max", "zero_threshold"} {
		if floats[name], err = floatReaderOf(col(name)); err != nil {
			return dst, wrap(name, err)
		}
	}
	count, err := uintReaderOf(col("count"))
	if err != nil {
		return dst, wrap("count", err)
	}
	bounds, err := floatListReader(col("bounds"))
	if err != nil {
		return dst, wrap("bounds", err)
	}
	buckets, err := uintListReader(col("bucket_counts"))
	if err != nil {
		return dst, wrap("bucket_counts", err)
	}
	ints := map[string]intReader{}
	for _, name := range []string{"scale", "positive_offset", "negative_offset"} {
		if ints[name], err = int32ReaderOf(col(name)); err != nil {
			return dst, wrap(name, err)
		}
	}
	zeroCount, err := uintReaderOf(col("zero_count"))
	if err != nil {
		return dst, wrap("zero_count", err)
	}
	uintLists := map[string]func(int) ([]uint64, error){}
	for _, name := range []string{"positive_counts", "negative_counts"} {
		if uintLists[name], err = uintListReader(col(name)); err != nil {
			return dst, wrap(name, err)
		}
	}

	n := int(rec.NumRows())
	for i := 0; i < n; i++ {
		var p Point
		var ok bool
		var err error
		if p.Time, ok, err = times(i); err != nil {
			return dst, wrap("time", fmt.Errorf("row %d: %w", i, err))
		} else if !ok {
			return dst, wrap("time", fmt.Errorf("row %d is null; every point needs an event time", i))
		}
		if starts != nil {
			if p.StartTime, p.HasStart, err = starts(i); err != nil {
				return dst, wrap("start_time", fmt.Errorf("row %d: %w", i, err))
			}
		}
		if ingests != nil {
			if p.IngestTime, p.HasIngest, err = ingests(i); err != nil {
				return dst, wrap("ingest_time", fmt.Errorf("row %d: %w", i, err))
			}
		}
		if p.Metric, ok = metric(i); !ok {
			return dst, wrap("metric", fmt.Errorf("row %d is null; every point needs a metric name", i))
		}
		p.Dims = make([]string, len(dims))
		for d, r := range dims {
			if r != nil {
				p.Dims[d], _ = r(i)
			}
		}
		p.ValueNull = true
		if r := floats["value"]; r != nil {
			p.Value, ok = r(i)
			p.ValueNull = !ok
		}
		if r := floats["sum"]; r != nil {
			p.Sum, _ = r(i)
		}
		minR, maxR := floats["min"], floats["max"]
		if minR != nil && maxR != nil {
			mn, okMin := minR(i)
			mx, okMax := maxR(i)
			if okMin && okMax {
				p.Min, p.Max, p.HasMinMax = mn, mx, true
			}
		}
		p.CountNull = true
		if count != nil {
			if p.Count, ok, err = count(i); err != nil {
				return dst, wrap("count", fmt.Errorf("row %d: %w", i, err))
			}
			p.CountNull = !ok
		}
		if bounds != nil {
			if p.Bounds, err = bounds(i); err != nil {
				return dst, wrap("bounds", fmt.Errorf("row %d: %w", i, err))
			}
		}
		if buckets != nil {
			if p.BucketCounts, err = buckets(i); err != nil {
				return dst, wrap("bucket_counts", fmt.Errorf("row %d: %w", i, err))
			}
		}
		if r := floats["zero_threshold"]; r != nil {
			p.ZeroThreshold, _ = r(i)
		}
		if zeroCount != nil {
			if p.ZeroCount, _, err = zeroCount(i); err != nil {
				return dst, wrap("zero_count", fmt.Errorf("row %d: %w", i, err))
			}
		}
		for _, f := range []struct {
			name string
			dst  *int32
		}{{"scale", &p.Scale}, {"positive_offset", &p.PositiveOffset}, {"negative_offset", &p.NegativeOffset}} {
			if r := ints[f.name]; r != nil {
				if *f.dst, err = r(i); err != nil {
					return dst, wrap(f.name, fmt.Errorf("row %d: %w", i, err))
				}
			}
		}
		for _, f := range []struct {
			name string
			dst  *[]uint64
		}{{"positive_counts", &p.PositiveCounts}, {"negative_counts", &p.NegativeCounts}} {
			if r := uintLists[f.name]; r != nil {
				if *f.dst, err = r(i); err != nil {
					return dst, wrap(f.name, fmt.Errorf("row %d: %w", i, err))
				}
			}
		}
		dst = append(dst, p)
	}
	return dst, nil
}

// intReader reads row i of a small integer column (0 for null).
type intReader func(i int) (int32, error)

func int32ReaderOf(a arrow.Array) (intReader, error) {
	switch c := a.(type) {
	case nil:
		return nil, nil
	case *array.Int32:
		return func(i int) (int32, error) {
			if c.IsNull(i) {
				return 0, nil
			}
			return c.Value(i), nil
		}, nil
	case *array.Int64:
		return func(i int) (int32, error) {
			if c.IsNull(i) {
				return 0, nil
			}
			v := c.Value(i)
			if v < math.MinInt32 || v > math.MaxInt32 {
				return 0, fmt.Errorf("%d does not fit in int32", v)
			}
			return int32(v), nil
		}, nil
	default:
		return nil, fmt.Errorf("type %s is not a small integer column; want int32 or int64", a.DataType())
	}
}

func fieldNames(s *arrow.Schema) []string {
	out := make([]string, s.NumFields())
	for i := range out {
		out[i] = s.Field(i).Name
	}
	return out
}

// int64Reader reads row i of a time column as ns since the epoch; ok is false for null.
type int64Reader func(i int) (v int64, ok bool, err error)

// timeReader reads int64 nanoseconds or timestamps of any unit as nanoseconds.
func timeReader(a arrow.Array) (int64Reader, error) {
	switch c := a.(type) {
	case nil:
		return nil, nil
	case *array.Int64:
		return func(i int) (int64, bool, error) {
			if c.IsNull(i) {
				return 0, false, nil
			}
			return c.Value(i), true, nil
		}, nil
	case *array.Timestamp:
		unit := c.DataType().(*arrow.TimestampType).Unit
		mult := int64(unit.Multiplier())
		return func(i int) (int64, bool, error) {
			if c.IsNull(i) {
				return 0, false, nil
			}
			v := int64(c.Value(i))
			if v > math.MaxInt64/mult || v < math.MinInt64/mult {
				return 0, false, fmt.Errorf("timestamp %d %s does not fit in int64 nanoseconds", v, unit)
			}
			return v * mult, true, nil
		}, nil
	default:
		return nil, fmt.Errorf("type %s is not a time column; want int64 nanoseconds or timestamp", a.DataType())
	}
}

// stringReaderFunc reads row i of a string column; ok is false for null.
type stringReaderFunc func(i int) (string, bool)

// stringReader reads string, large_string and dictionary-encoded strings.
func stringReader(a arrow.Array) (stringReaderFunc, error) {
	switch c := a.(type) {
	case nil:
		return nil, nil
	case *array.String:
		return func(i int) (string, bool) {
			if c.IsNull(i) {
				return "", false
			}
			return c.Value(i), true
		}, nil
	case *array.LargeString:
		return func(i int) (string, bool) {
			if c.IsNull(i) {
				return "", false
			}
			return c.Value(i), true
		}, nil
	case *array.Dictionary:
		values, err := stringReader(c.Dictionary())
		if err != nil {
			return nil, fmt.Errorf("dictionary values: %w", err)
		}
		dictLen := c.Dictionary().Len()
		return func(i int) (string, bool) {
			if c.IsNull(i) {
				return "", false
			}
			idx := c.GetValueIndex(i)
			if idx < 0 || idx >= dictLen {
				return "", false
			}
			return values(idx)
		}, nil
	default:
		return nil, fmt.Errorf("type %s is not a string column; want string, large_string or dictionary of strings", a.DataType())
	}
}

// floatReader reads row i of a floating-point column; ok is false for null.
type floatReader func(i int) (float64, bool)

func floatReaderOf(a arrow.Array) (floatReader, error) {
	switch c := a.(type) {
	case nil:
		return nil, nil
	case *array.Float64:
		return func(i int) (float64, bool) {
			if c.IsNull(i) {
				return 0, false
			}
			return c.Value(i), true
		}, nil
	case *array.Float32:
		return func(i int) (float64, bool) {
			if c.IsNull(i) {
				return 0, false
			}
			return float64(c.Value(i)), true
		}, nil
	default:
		return nil, fmt.Errorf("type %s is not a floating-point column; want float64 or float32", a.DataType())
	}
}

// uintReader reads row i of a count column; ok is false for null.
type uintReader func(i int) (uint64, bool, error)

func uintReaderOf(a arrow.Array) (uintReader, error) {
	if a == nil {
		return nil, nil
	}
	get, err := uintAt(a)
	if err != nil {
		return nil, err
	}
	return func(i int) (uint64, bool, error) {
		if a.IsNull(i) {
			return 0, false, nil
		}
		v, err := get(i)
		return v, err == nil, err
	}, nil
}

// uintAt returns an accessor for the non-null values of an integer array.
func uintAt(a arrow.Array) (func(i int) (uint64, error), error) {
	signed := func(v int64) (uint64, error) {
		if v < 0 {
			return 0, fmt.Errorf("count %d is negative", v)
		}
		return uint64(v), nil
	}
	switch c := a.(type) {
	case *array.Uint64:
		return func(i int) (uint64, error) { return c.Value(i), nil }, nil
	case *array.Uint32:
		return func(i int) (uint64, error) { return uint64(c.Value(i)), nil }, nil
	case *array.Int64:
		return func(i int) (uint64, error) { return signed(c.Value(i)) }, nil
	case *array.Int32:
		return func(i int) (uint64, error) { return signed(int64(c.Value(i))) }, nil
	default:
		return nil, fmt.Errorf("type %s is not an integer count; want uint64, int64, uint32 or int32", a.DataType())
	}
}

// listBounds returns the offsets of row i of a list column, or ok false for null.
func listBounds(l array.ListLike, i int) (start, end int64, ok bool) {
	if l.IsNull(i) {
		return 0, 0, false
	}
	start, end = l.ValueOffsets(i)
	return start, end, true
}

// asList checks that a is a list or large_list.
func asList(a arrow.Array) (array.ListLike, error) {
	switch c := a.(type) {
	case *array.List:
		return c, nil
	case *array.LargeList:
		return c, nil
	default:
		return nil, fmt.Errorf("type %s is not a list column; want list or large_list", a.DataType())
	}
}

func floatListReader(a arrow.Array) (func(i int) ([]float64, error), error) {
	if a == nil {
		return nil, nil
	}
	l, err := asList(a)
	if err != nil {
		return nil, err
	}
	elems, err := floatReaderOf(l.ListValues())
	if err != nil {
		return nil, fmt.Errorf("list elements: %w", err)
	}
	return func(i int) ([]float64, error) {
		start, end, ok := listBounds(l, i)
		if !ok {
			return nil, nil
		}
		out := make([]float64, 0, end-start)
		for j := start; j < end; j++ {
			v, ok := elems(int(j))
			if !ok {
				return nil, fmt.Errorf("element %d of the list is null", j-start)
			}
			out = append(out, v)
		}
		return out, nil
	}, nil
}

func uintListReader(a arrow.Array) (func(i int) ([]uint64, error), error) {
	if a == nil {
		return nil, nil
	}
	l, err := asList(a)
	if err != nil {
		return nil, err
	}
	vals := l.ListValues()
	get, err := uintAt(vals)
	if err != nil {
		return nil, fmt.Errorf("list elements: %w", err)
	}
	return func(i int) ([]uint64, error) {
		start, end, ok := listBounds(l, i)
		if !ok {
			return nil, nil
		}
		out := make([]uint64, 0, end-start)
		for j := start; j < end; j++ {
			if vals.IsNull(int(j)) {
				return nil, fmt.Errorf("element %d of the list is null", j-start)
			}
			v, err := get(int(j))
			if err != nil {
				return nil, fmt.Errorf("element %d: %w", j-start, err)
			}
			out = append(out, v)
		}
		return out, nil
	}, nil
}
