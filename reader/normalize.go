package reader

import (
	"fmt"
	"math"
	"math/big"
	"strconv"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// normalize turns the decoded chunks of one column into the column's canonical type.
// Arrays already in the canonical type are passed through without copying.
func normalize(chunks []arrow.Array, col *Column, mem memory.Allocator) (arrow.Array, error) {
	switch col.kind {
	case kindString:
		return toDictString(chunks, mem)
	case kindTime:
		return toNanosArray(chunks, col, mem)
	}
	if len(chunks) == 1 && arrow.TypeEqual(chunks[0].DataType(), col.Type) {
		// Same layout; rewrap so the type (list element names included) is canonical.
		d := chunks[0].Data()
		nd := array.NewData(col.Type, d.Len(), d.Buffers(), d.Children(), d.NullN(), d.Offset())
		defer nd.Release()
		return array.MakeFromData(nd), nil
	}
	parts := make([]arrow.Array, 0, len(chunks))
	defer func() {
		for _, p := range parts {
			p.Release()
		}
	}()
	for _, c := range chunks {
		var (
			a   arrow.Array
			err error
		)
		switch col.kind {
		case kindFloat:
			a, err = toFloat64(c, mem)
		case kindInt64:
			a, err = toInt64(c, mem)
		case kindInt32:
			a, err = toInt32(c, mem)
		case kindBool:
			c.Retain()
			a = c
		case kindFloatList, kindIntList:
			a, err = toList(c, col.kind, mem)
		}
		if err != nil {
			return nil, err
		}
		parts = append(parts, a)
	}
	if len(parts) == 1 {
		parts[0].Retain()
		return parts[0], nil
	}
	if len(parts) == 0 {
		return array.MakeArrayOfNull(mem, col.Type, 0), nil
	}
	return array.Concatenate(parts, mem)
}

// numericAt returns an accessor of the float64 value of each slot of a numeric array
// (integers, floats, decimals).
func numericAt(a arrow.Array) (func(i int) float64, bool) {
	switch v := a.(type) {
	case *array.Float64:
		return func(i int) float64 { return v.Value(i) }, true
	case *array.Float32:
		return func(i int) float64 { return float64(v.Value(i)) }, true
	case *array.Int64:
		return func(i int) float64 { return float64(v.Value(i)) }, true
	case *array.Int32:
		return func(i int) float64 { return float64(v.Value(i)) }, true
	case *array.Int16:
		return func(i int) float64 { return float64(v.Value(i)) }, true
	case *array.Int8:
		return func(i int) float64 { return float64(v.Value(i)) }, true
	case *array.Uint64:
		return func(i int) float64 { return float64(v.Value(i)) }, true
	case *array.Uint32:
		return func(i int) float64 { return float64(v.Value(i)) }, true
	case *array.Uint16:
		return func(i int) float64 { return float64(v.Value(i)) }, true
	case *array.Uint8:
		return func(i int) float64 { return float64(v.Value(i)) }, true
	case *array.Decimal128:
		scale := v.DataType().(*arrow.Decimal128Type).Scale
		return func(i int) float64 {
			n := v.Value(i)
			if hi, lo := n.HighBits(), n.LowBits(); (hi == 0 && lo <= math.MaxInt64) || (hi == -1 && lo > math.MaxInt64) {
				return decimalToFloat(int64(lo), nil, scale)
			}
			return decimalToFloat(0, n.BigInt(), scale)
		}, true
	case *array.Decimal256:
		scale := v.DataType().(*arrow.Decimal256Type).Scale
		return func(i int) float64 { return decimalToFloat(0, v.Value(i).BigInt(), scale) }, true
	}
	return nil, false
}

// exactPow10 are the powers of ten a float64 holds exactly.
var exactPow10 = [...]float64{1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
	1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22}

// decimalToFloat is the float64 nearest to unscaled·10^-scale (unscaled is small, or
// large when not nil), as DuckDB and Spark convert decimals. arrow-go's ToFloat64 is
// off by an ulp for values such as 12.3456. checkType bounds the scale.
func decimalToFloat(small int64, large *big.Int, scale int32) float64 {
	if large == nil && small > -(1<<53) && small < 1<<53 && scale >= 0 && int(scale) < len(exactPow10) {
		return float64(small) / exactPow10[scale] // both exact: one correctly rounded division
	}
	if large == nil {
		large = big.NewInt(small)
	}
	p := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(abs32(scale))), nil)
	r := new(big.Rat)
	if scale >= 0 {
		r.SetFrac(large, p)
	} else {
		r.SetInt(new(big.Int).Mul(large, p))
	}
	f, _ := r.Float64()
	return f
}

func abs32(x int32) int32 {
	if x < 0 {
		return -x
	}
	return x
}

// integerAt returns an accessor of an integer array's values as int64; values of a
// uint64 array above MaxInt64 report ok=false.
func integerAt(a arrow.Array) (func(i int) (int64, bool), bool) {
	switch v := a.(type) {
	case *array.Int64:
		return func(i int) (int64, bool) { return v.Value(i), true }, true
	case *array.Int32:
		return func(i int) (int64, bool) { return int64(v.Value(i)), true }, true
	case *array.Int16:
		return func(i int) (int64, bool) { return int64(v.Value(i)), true }, true
	case *array.Int8:
		return func(i int) (int64, bool) { return int64(v.Value(i)), true }, true
	case *array.Uint64:
		return func(i int) (int64, bool) { x := v.Value(i); return int64(x), x <= math.MaxInt64 }, true
	case *array.Uint32:
		return func(i int) (int64, bool) { return int64(v.Value(i)), true }, true
	case *array.Uint16:
		return func(i int) (int64, bool) { return int64(v.Value(i)), true }, true
	case *array.Uint8:
		return func(i int) (int64, bool) { return int64(v.Value(i)), true }, true
	}
	return nil, false
}

func toFloat64(a arrow.Array, mem memory.Allocator) (arrow.Array, error) {
	if a.DataType().ID() == arrow.FLOAT64 {
		a.Retain()
		return a, nil
	}
	at, ok := numericAt(a)
	if !ok {
		return nil, fmt.Errorf("cannot read %s as float64", a.DataType())
	}
	b := array.NewFloat64Builder(mem)
	defer b.Release()
	b.Reserve(a.Len())
	for i := 0; i < a.Len(); i++ {
		if a.IsNull(i) {
			b.UnsafeAppendBoolToBitmap(false)
			continue
		}
		b.UnsafeAppend(at(i))
	}
	return b.NewArray(), nil
}

func toInt64(a arrow.Array, mem memory.Allocator) (arrow.Array, error) {
	if a.DataType().ID() == arrow.INT64 {
		a.Retain()
		return a, nil
	}
	at, ok := integerAt(a)
	if !ok {
		return nil, fmt.Errorf("cannot read %s as int64", a.DataType())
	}
	b := array.NewInt64Builder(mem)
	defer b.Release()
	b.Reserve(a.Len())
	for i := 0; i < a.Len(); i++ {
		if a.IsNull(i) {
			b.UnsafeAppendBoolToBitmap(false)
			continue
		}
		v, ok := at(i)
		if !ok {
			return nil, fmt.Errorf("row %d: value does not fit in int64", i)
		}
		b.UnsafeAppend(v)
	}
	return b.NewArray(), nil
}

func toInt32(a arrow.Array, mem memory.Allocator) (arrow.Array, error) {
	if a.DataType().ID() == arrow.INT32 {
		a.Retain()
		return a, nil
	}
	at, ok := integerAt(a)
	if !ok {
		return nil, fmt.Errorf("cannot read %s as int32", a.DataType())
	}
	b := array.NewInt32Builder(mem)
	defer b.Release()
	b.Reserve(a.Len())
	for i := 0; i < a.Len(); i++ {
		if a.IsNull(i) {
			b.UnsafeAppendBoolToBitmap(false)
			continue
		}
		v, ok := at(i)
		if !ok || v < math.MinInt32 || v > math.MaxInt32 {
			return nil, fmt.Errorf("row %d: value does not fit in int32", i)
		}
		b.UnsafeAppend(int32(v))
	}
	return b.NewArray(), nil
}

// toList converts a list (or large list) of numbers to list<float64> or list<int64>.
func toList(a arrow.Array, k kind, mem memory.Allocator) (arrow.Array, error) {
	var (
		values  arrow.Array
		offsets func(i int) (int64, int64)
	)
	switch l := a.(type) {
	case *array.List:
		values = l.ListValues()
		offsets = func(i int) (int64, int64) { s, e := l.ValueOffsets(i); return s, e }
	case *array.LargeList:
		values = l.ListValues()
		offsets = l.ValueOffsets
	default:
		return nil, fmt.Errorf("cannot read %s as a list", a.DataType())
	}
	b := array.NewListBuilder(mem, k.outputType().(*arrow.ListType).Elem())
	defer b.Release()
	b.Reserve(a.Len())
	switch vb := b.ValueBuilder().(type) {
	case *array.Float64Builder:
		at, ok := numericAt(values)
		if !ok {
			return nil, fmt.Errorf("cannot read list elements of %s as float64", values.DataType())
		}
		for i := 0; i < a.Len(); i++ {
			if a.IsNull(i) {
				b.AppendNull()
				continue
			}
			b.Append(true)
			s, e := offsets(i)
			for j := int(s); j < int(e); j++ {
				if values.IsNull(j) {
					vb.AppendNull()
				} else {
					vb.Append(at(j))
				}
			}
		}
	case *array.Int64Builder:
		at, ok := integerAt(values)
		if !ok {
			return nil, fmt.Errorf("cannot read list elements of %s as int64", values.DataType())
		}
		for i := 0; i < a.Len(); i++ {
			if a.IsNull(i) {
				b.AppendNull()
				continue
			}
			b.Append(true)
			s, e := offsets(i)
			for j := int(s); j < int(e); j++ {
				if values.IsNull(j) {
					vb.AppendNull()
					continue
				}
				v, ok := at(j)
				if !ok {
					return nil, fmt.Errorf("row %d: list element does not fit in int64", i)
				}
				vb.Append(v)
			}
		}
	}
	return b.NewArray(), nil
}

// toDictString builds one dictionary<int32, utf8> array from string-like chunks.
// A single chunk already in that type is passed through.
func toDictString(chunks []arrow.Array, mem memory.Allocator) (arrow.Array, error) {
	want := kindString.outputType()
	same := true
	for _, c := range chunks {
		same = same && arrow.TypeEqual(c.DataType(), want)
	}
	switch {
	case same && len(chunks) == 1:
		chunks[0].Retain()
		return chunks[0], nil
	case same && len(chunks) > 1:
		return array.Concatenate(chunks, mem) // unifies the batches' dictionaries
	}
	b := array.NewDictionaryBuilder(mem, want.(*arrow.DictionaryType)).(*array.BinaryDictionaryBuilder)
	defer b.Release()
	for _, c := range chunks {
		str, err := stringAt(c)
		if err != nil {
			return nil, err
		}
		for i := 0; i < c.Len(); i++ {
			if c.IsNull(i) {
				b.AppendNull()
				continue
			}
			if err := b.AppendString(str(i)); err != nil {
				return nil, err
			}
		}
	}
	return b.NewArray(), nil
}

// stringAt returns an accessor of the string value of each slot of a string-like array.
func stringAt(a arrow.Array) (func(i int) string, error) {
	switch v := a.(type) {
	case *array.String:
		return v.Value, nil
	case *array.LargeString:
		return v.Value, nil
	case *array.StringView:
		return v.Value, nil
	case *array.Binary:
		return v.ValueString, nil
	case *array.LargeBinary:
		return func(i int) string { return string(v.Value(i)) }, nil
	case *array.BinaryView:
		return v.ValueString, nil
	case *array.Dictionary:
		inner, err := stringAt(v.Dictionary())
		if err != nil {
			return nil, err
		}
		return func(i int) string { return inner(v.GetValueIndex(i)) }, nil
	}
	if u, ok := a.(*array.Uint64); ok {
		return func(i int) string { return strconv.FormatUint(u.Value(i), 10) }, nil
	}
	if isInteger(a.DataType()) {
		at, _ := integerAt(a)
		return func(i int) string { x, _ := at(i); return strconv.FormatInt(x, 10) }, nil
	}
	return nil, fmt.Errorf("cannot read %s as a string", a.DataType())
}

// toNanosArray converts timestamps or integers in the column's unit to int64
// nanoseconds since the epoch. Timestamp(ns) and int64 ns are passed through.
func toNanosArray(chunks []arrow.Array, col *Column, mem memory.Allocator) (arrow.Array, error) {
	unit := col.TimeUnit
	if unit == "int96" {
		unit = "ns" // the decoder turns INT96 into timestamp[ns]
	}
	if unit == "" {
		unit = guessFromData(chunks)
	}
	factor := unitFactor[unit]
	if factor == 0 {
		return nil, fmt.Errorf("unknown time unit %q", unit)
	}
	if len(chunks) == 1 && factor == 1 {
		d := chunks[0].Data()
		nd := array.NewData(arrow.PrimitiveTypes.Int64, d.Len(), d.Buffers(), nil, d.NullN(), d.Offset())
		defer nd.Release()
		return array.MakeFromData(nd), nil
	}
	b := array.NewInt64Builder(mem)
	defer b.Release()
	for _, c := range chunks {
		var raw []int64
		switch v := c.(type) {
		case *array.Int64:
			raw = v.Int64Values()
		case *array.Timestamp:
			ts := v.TimestampValues()
			raw = arrow.Int64Traits.CastFromBytes(arrow.TimestampTraits.CastToBytes(ts))
		default:
			return nil, fmt.Errorf("cannot read %s as a timestamp", c.DataType())
		}
		b.Reserve(len(raw))
		for i, x := range raw {
			if c.IsNull(i) {
				b.UnsafeAppendBoolToBitmap(false)
				continue
			}
			ns, ok := toNanos(x, unit)
			if !ok {
				return nil, fmt.Errorf("row %d: %d %s since the epoch is out of the representable range (year 1677 to 2262); check source.time_unit", i, x, unit)
			}
			b.UnsafeAppend(ns)
		}
	}
	return b.NewArray(), nil
}

// guessFromData guesses the unit from the first non-zero value, for files without
// time statistics.
func guessFromData(chunks []arrow.Array) string {
	for _, c := range chunks {
		if v, ok := c.(*array.Int64); ok {
			for i, x := range v.Int64Values() {
				if !c.IsNull(i) && x != 0 {
					return guessUnit(x)
				}
			}
		}
	}
	return "ns"
}
