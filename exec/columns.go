package exec

import (
	"fmt"
	"math"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// strCol reads a string column that may be dictionary-encoded, plain or large, and
// interns its values: ids(i) returns the interned id of row i (0 = null or "").
type strCol struct {
	dictIdx func(i int) int // dictionary index of row i (dictionary columns)
	dictIDs []uint32        // interned id per dictionary entry
	plain   func(i int) string
	valid   func(i int) bool
	in      *interner
	cache   map[string]uint32
}

func newStrCol(name string, a arrow.Array, in *interner) (*strCol, error) {
	c := &strCol{in: in, valid: func(i int) bool { return a.IsValid(i) }}
	if a.NullN() == 0 {
		c.valid = func(int) bool { return true }
	}
	switch arr := a.(type) {
	case *array.Dictionary:
		dict := arr.Dictionary()
		values, err := stringValues(name, dict)
		if err != nil {
			return nil, err
		}
		c.dictIDs = make([]uint32, len(values))
		for i, v := range values {
			if dict.IsValid(i) {
				c.dictIDs[i] = in.id(v)
			}
		}
		c.dictIdx = indexReader(arr.Indices())
		if c.dictIdx == nil {
			return nil, fmt.Errorf("column %q: dictionary index type %s is not supported", name, arr.Indices().DataType())
		}
	case *array.String:
		c.plain = arr.Value
	case *array.LargeString:
		c.plain = arr.Value
	case *array.Binary:
		c.plain = func(i int) string { return string(arr.Value(i)) }
	case *array.StringView:
		c.plain = arr.Value
	default:
		return nil, fmt.Errorf("column %q has type %s; a string column is expected", name, a.DataType())
	}
	if c.plain != nil {
		c.cache = make(map[string]uint32)
	}
	return c, nil
}

func stringValues(name string, a arrow.Array) ([]string, error) {
	out := make([]string, a.Len())
	switch d := a.(type) {
	case *array.String:
		for i := range out {
			out[i] = d.Value(i)
		}
	case *array.LargeString:
		for i := range out {
			out[i] = d.Value(i)
		}
	case *array.Binary:
		for i := range out {
			out[i] = string(d.Value(i))
		}
	default:
		return nil, fmt.Errorf("column %q is a dictionary of %s; a dictionary of strings is expected", name, a.DataType())
	}
	return out, nil
}

func indexReader(a arrow.Array) func(int) int {
	switch x := a.(type) {
	case *array.Int8:
		return func(i int) int { return int(x.Value(i)) }
	case *array.Int16:
		return func(i int) int { return int(x.Value(i)) }
	case *array.Int32:
		v := x.Int32Values()
		return func(i int) int { return int(v[i]) }
	case *array.Int64:
		v := x.Int64Values()
		return func(i int) int { return int(v[i]) }
	case *array.Uint8:
		return func(i int) int { return int(x.Value(i)) }
	case *array.Uint16:
		return func(i int) int { return int(x.Value(i)) }
	case *array.Uint32:
		return func(i int) int { return int(x.Value(i)) }
	}
	return nil
}

func (c *strCol) id(i int) uint32 {
	if !c.valid(i) {
		return 0
	}
	if c.dictIdx != nil {
		return c.dictIDs[c.dictIdx(i)]
	}
	s := c.plain(i)
	if id, ok := c.cache[s]; ok {
		return id
	}
	id := c.in.id(s)
	c.cache[s] = id
	return id
}

// int64Col reads integer or timestamp columns as int64 (times: nanoseconds, as the reader
// normalizes them).
type int64Col struct {
	get   func(i int) int64
	valid func(i int) bool
}

func newInt64Col(name string, a arrow.Array) (*int64Col, error) {
	c := &int64Col{valid: a.IsValid}
	if a.NullN() == 0 {
		c.valid = func(int) bool { return true }
	}
	switch x := a.(type) {
	case *array.Int64:
		v := x.Int64Values()
		c.get = func(i int) int64 { return v[i] }
	case *array.Timestamp:
		v := x.TimestampValues()
		unit := x.DataType().(*arrow.TimestampType).Unit
		mul := int64(1)
		switch unit {
		case arrow.Second:
			mul = 1e9
		case arrow.Millisecond:
			mul = 1e6
		case arrow.Microsecond:
			mul = 1e3
		}
		c.get = func(i int) int64 { return int64(v[i]) * mul }
	case *array.Int32:
		v := x.Int32Values()
		c.get = func(i int) int64 { return int64(v[i]) }
	case *array.Uint64:
		v := x.Uint64Values()
		c.get = func(i int) int64 {
			if v[i] > math.MaxInt64 {
				return math.MaxInt64
			}
			return int64(v[i])
		}
	case *array.Uint32:
		v := x.Uint32Values()
		c.get = func(i int) int64 { return int64(v[i]) }
	default:
		return nil, fmt.Errorf("column %q has type %s; an integer or timestamp column is expected", name, a.DataType())
	}
	return c, nil
}

// float64Col reads numeric columns as float64.
type float64Col struct {
	get   func(i int) float64
	valid func(i int) bool
}

func newFloat64Col(name string, a arrow.Array) (*float64Col, error) {
	c := &float64Col{valid: a.IsValid}
	if a.NullN() == 0 {
		c.valid = func(int) bool { return true }
	}
	switch x := a.(type) {
	case *array.Float64:
		v := x.Float64Values()
		c.get = func(i int) float64 { return v[i] }
	case *array.Float32:
		v := x.Float32Values()
		c.get = func(i int) float64 { return float64(v[i]) }
	case *array.Int64:
		v := x.Int64Values()
		c.get = func(i int) float64 { return float64(v[i]) }
	case *array.Int32:
		v := x.Int32Values()
		c.get = func(i int) float64 { return float64(v[i]) }
	case *array.Uint64:
		v := x.Uint64Values()
		c.get = func(i int) float64 { return float64(v[i]) }
	default:
		return nil, fmt.Errorf("column %q has type %s; a numeric column is expected", name, a.DataType())
	}
	return c, nil
}

// listCol reads list<number> columns.
type listCol struct {
	offsets func(i int) (int64, int64)
	valid   func(i int) bool
	f64     *float64Col
	i64     *int64Col
}

func newListCol(name string, a arrow.Array, wantFloat bool) (*listCol, error) {
	c := &listCol{valid: a.IsValid}
	var values arrow.Array
	switch x := a.(type) {
	case *array.List:
		c.offsets = x.ValueOffsets
		values = x.ListValues()
	case *array.LargeList:
		c.offsets = x.ValueOffsets
		values = x.ListValues()
	default:
		return nil, fmt.Errorf("column %q has type %s; a list column is expected", name, a.DataType())
	}
	var err error
	if wantFloat {
		c.f64, err = newFloat64Col(name+".element", values)
	} else {
		c.i64, err = newInt64Col(name+".element", values)
	}
	if err != nil {
		return nil, err
	}
	return c, nil
}

func (c *listCol) floats(i int) []float64 {
	lo, hi := c.offsets(i)
	out := make([]float64, 0, hi-lo)
	for j := lo; j < hi; j++ {
		out = append(out, c.f64.get(int(j)))
	}
	return out
}

func (c *listCol) uints(i int) ([]uint64, bool) {
	lo, hi := c.offsets(i)
	out := make([]uint64, 0, hi-lo)
	for j := lo; j < hi; j++ {
		v := c.i64.get(int(j))
		if v < 0 {
			return nil, false
		}
		out = append(out, uint64(v))
	}
	return out, true
}
