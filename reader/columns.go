package reader

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/metadata"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/apache/arrow-go/v18/parquet/schema"

	"github.com/tallyhq/tally/specs"
)

// kind is the canonical shape of a contract column.
type kind int

const (
	kindTime      kind = iota // int64 ns UTC
	kindString                // dictionary<int32, utf8>
	kindFloat                 // float64
	kindInt64                 // int64
	kindInt32                 // int32
	kindBool                  // bool
	kindFloatList             // list<float64>
	kindIntList               // list<int64>
)

// contractColumn is one column of the raw contract (docs/raw-schema.md).
type contractColumn struct {
	kind     kind
	optional bool // absent from a file → all nulls; otherwise absence is an error
}

// contract lists every contract column besides the dimensions (which are required strings).
var contract = map[string]contractColumn{
	"time":            {kindTime, false},
	"start_time":      {kindTime, true},
	"metric":          {kindString, false},
	"type":            {kindString, true},
	"temporality":     {kindString, true},
	"monotonic":       {kindBool, true},
	"value":           {kindFloat, false},
	"count":           {kindInt64, false},
	"sum":             {kindFloat, true},
	"min":             {kindFloat, true},
	"max":             {kindFloat, true},
	"bounds":          {kindFloatList, false},
	"bucket_counts":   {kindIntList, false},
	"scale":           {kindInt32, false},
	"zero_count":      {kindInt64, false},
	"positive_offset": {kindInt32, false},
	"positive_counts": {kindIntList, false},
	"negative_offset": {kindInt32, true},
	"negative_counts": {kindIntList, true},
	"ingest_time":     {kindTime, true},
}

// Optional reports whether a contract column may be absent from a file (it then reads
// as all nulls). Dimensions and the other contract columns are required when needed.
func Optional(name string) bool { return contract[name].optional }

// outputType is the Arrow type ReadRowGroup gives each kind.
func (k kind) outputType() arrow.DataType {
	switch k {
	case kindTime:
		return arrow.PrimitiveTypes.Int64
	case kindString:
		return &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int32, ValueType: arrow.BinaryTypes.String}
	case kindFloat:
		return arrow.PrimitiveTypes.Float64
	case kindInt64:
		return arrow.PrimitiveTypes.Int64
	case kindInt32:
		return arrow.PrimitiveTypes.Int32
	case kindBool:
		return arrow.FixedWidthTypes.Boolean
	case kindFloatList:
		return arrow.ListOf(arrow.PrimitiveTypes.Float64)
	default:
		return arrow.ListOf(arrow.PrimitiveTypes.Int64)
	}
}

func (k kind) describe() string {
	switch k {
	case kindTime:
		return "a timestamp (TIMESTAMP millis/micros/nanos, INT96, or INT64 with source.time_unit)"
	case kindString:
		return "a string (string, large_string, binary, dictionary, or an integer id)"
	case kindFloat:
		return "a number (int, float or decimal)"
	case kindInt64, kindInt32:
		return "an integer"
	case kindBool:
		return "a boolean"
	case kindFloatList:
		return "a list of numbers"
	default:
		return "a list of integers"
	}
}

// Column is one contract column resolved against one file.
type Column struct {
	// Name is the contract name (time, metric, value, …, or a dimension); it is the
	// field name in ReadRowGroup's records.
	Name string
	// Physical is the column's name in the lake (source.columns, or Name).
	Physical string
	// Present is false for an optional column the file does not have; it reads as nulls.
	Present bool
	// Field is the top-level field index in the file's schema (-1 when absent).
	Field int
	// Leaves are the Parquet leaf column indices of the field (one, or more for lists).
	Leaves []int
	// FileType is the Arrow type the file stores (before normalization).
	FileType arrow.DataType
	// Type is the Arrow type ReadRowGroup returns.
	Type arrow.DataType
	// TimeUnit is, for time columns, the unit of the stored values: s, ms, us or ns;
	// "int96" for Spark's INT96; "" when it is guessed from the data at read time
	// (time_unit auto and no statistics).
	TimeUnit string

	kind      kind
	statsUnit string // unit of the Parquet statistics of a time column
}

// Columns is the registry's projection resolved against one file's schema.
type Columns struct {
	// Key is the object the columns were resolved against.
	Key  string
	cols []Column
	pos  map[string]int
	// schema is the output schema, in resolution order.
	schema *arrow.Schema
}

// Names are the contract names, in the order ReadRowGroup's record has them.
func (c *Columns) Names() []string {
	out := make([]string, len(c.cols))
	for i, col := range c.cols {
		out[i] = col.Name
	}
	return out
}

// Column returns the resolved column of a contract name.
func (c *Columns) Column(name string) (Column, bool) {
	i, ok := c.pos[name]
	if !ok {
		return Column{}, false
	}
	return c.cols[i], true
}

// All returns every resolved column, in record order.
func (c *Columns) All() []Column { return append([]Column(nil), c.cols...) }

// Schema is the Arrow schema of ReadRowGroup's records.
func (c *Columns) Schema() *arrow.Schema { return c.schema }

// manifest builds the Arrow view of the file's schema; a hostile schema must not
// crash the process.
func (f *File) manifest() (m *pqarrow.SchemaManifest, err error) {
	defer func() {
		if r := recover(); r != nil {
			m, err = nil, f.corrupt("schema cannot be mapped to Arrow: %v", r)
		}
	}()
	m, err = pqarrow.NewSchemaManifest(f.Meta.Schema, f.Meta.KeyValueMetadata(), &pqarrow.ArrowReadProperties{})
	if err != nil {
		return nil, f.corrupt("schema cannot be mapped to Arrow: %v", err)
	}
	return m, nil
}

// Resolve maps the contract columns in need (contract names such as those of
// specs.UnionRawColumns, and dimension names) onto this file's schema through the
// registry's source.columns mapping, checks their types and decides the unit of
// integer time columns. A required column that is missing or has an unusable type is
// an error naming the object, the physical and contract columns and the registry
// setting to change; all such problems are reported at once.
func (f *File) Resolve(src *specs.Source, need []string) (*Columns, error) {
	m, err := f.manifest()
	if err != nil {
		return nil, err
	}
	fields := map[string]int{}
	var names []string
	for i, fld := range m.Fields {
		if _, dup := fields[fld.Field.Name]; !dup {
			fields[fld.Field.Name] = i
		}
		names = append(names, fld.Field.Name)
	}
	dims := map[string]bool{}
	for _, d := range src.Dimensions {
		dims[d] = true
	}
	cols := &Columns{Key: f.Obj.Key, pos: map[string]int{}}
	var errs []error
	var outFields []arrow.Field
	for _, name := range need {
		if _, dup := cols.pos[name]; dup {
			continue
		}
		cc, isContract := contract[name]
		if !isContract {
			if !dims[name] {
				errs = append(errs, fmt.Errorf("%s: %q is neither a contract column nor one of source.dimensions", f.Obj.Key, name))
				continue
			}
			cc = contractColumn{kind: kindString}
		}
		col := Column{Name: name, Physical: src.Column(name), Field: -1, Type: cc.kind.outputType(), kind: cc.kind}
		fi, ok := fields[col.Physical]
		if !ok {
			if !cc.optional {
				errs = append(errs, missingColumnError(f.Obj.Key, name, col.Physical, names))
				continue
			}
		} else {
			col.Present = true
			col.Field = fi
			col.FileType = m.Fields[fi].Field.Type
			col.Leaves = leaves(&m.Fields[fi], nil)
			if err := checkType(&col); err != nil {
				errs = append(errs, fmt.Errorf("%s: column %q (contract column %q) %v", f.Obj.Key, col.Physical, name, err))
				continue
			}
			if col.kind == kindTime {
				if err := f.timeUnit(&col, src.TimeUnit); err != nil {
					errs = append(errs, err)
					continue
				}
			}
		}
		cols.pos[name] = len(cols.cols)
		cols.cols = append(cols.cols, col)
		outFields = append(outFields, arrow.Field{Name: name, Type: col.Type, Nullable: true})
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	cols.schema = arrow.NewSchema(outFields, nil)
	return cols, nil
}

func missingColumnError(key, name, physical string, have []string) error {
	sorted := append([]string(nil), have...)
	sort.Strings(sorted)
	hint := fmt.Sprintf("map it with source.columns.%s: <the lake's column>", name)
	if physical != name {
		hint = fmt.Sprintf("fix source.columns.%s (now %q)", name, physical)
	}
	return fmt.Errorf("%s: has no column %q for contract column %q; %s; the file's columns are: %s",
		key, physical, name, hint, strings.Join(sorted, ", "))
}

func leaves(sf *pqarrow.SchemaField, out []int) []int {
	if sf.IsLeaf() {
		return append(out, sf.ColIndex)
	}
	for i := range sf.Children {
		out = leaves(&sf.Children[i], out)
	}
	return out
}

func isInteger(t arrow.DataType) bool {
	switch t.ID() {
	case arrow.INT8, arrow.INT16, arrow.INT32, arrow.INT64, arrow.UINT8, arrow.UINT16, arrow.UINT32, arrow.UINT64:
		return true
	}
	return false
}

func isNumber(t arrow.DataType) bool {
	return isInteger(t) || t.ID() == arrow.FLOAT32 || t.ID() == arrow.FLOAT64
}

// maxDecimalScale bounds the scale of a decimal column (decimal256 holds at most 76
// digits); a larger one comes from a forged footer and would size a power of ten.
const maxDecimalScale = 76

func isDecimal(t arrow.DataType) bool {
	switch d := t.(type) {
	case *arrow.Decimal128Type:
		return d.Scale >= -maxDecimalScale && d.Scale <= maxDecimalScale
	case *arrow.Decimal256Type:
		return d.Scale >= -maxDecimalScale && d.Scale <= maxDecimalScale
	}
	return false
}

func isString(t arrow.DataType) bool {
	switch t.ID() {
	case arrow.STRING, arrow.LARGE_STRING, arrow.BINARY, arrow.LARGE_BINARY, arrow.STRING_VIEW, arrow.BINARY_VIEW:
		return true
	case arrow.DICTIONARY:
		return isString(t.(*arrow.DictionaryType).ValueType)
	}
	return false
}

func listElem(t arrow.DataType) (arrow.DataType, bool) {
	switch lt := t.(type) {
	case *arrow.ListType:
		return lt.Elem(), true
	case *arrow.LargeListType:
		return lt.Elem(), true
	}
	return nil, false
}

// checkType accepts the stored types the reader can normalize to the column's kind.
func checkType(col *Column) error {
	t := col.FileType
	ok := false
	switch col.kind {
	case kindTime:
		ok = t.ID() == arrow.TIMESTAMP || t.ID() == arrow.INT64
	case kindString:
		ok = isString(t) || isInteger(t) // integer ids are formatted in decimal
	case kindFloat:
		ok = isNumber(t) || isDecimal(t)
	case kindInt64, kindInt32:
		ok = isInteger(t)
	case kindBool:
		ok = t.ID() == arrow.BOOL
	case kindFloatList:
		e, isList := listElem(t)
		ok = isList && isNumber(e)
	case kindIntList:
		e, isList := listElem(t)
		ok = isList && isInteger(e)
	}
	if !ok {
		return fmt.Errorf("is %s; the contract needs %s: map source.columns.%s to a column of that type", t, col.kind.describe(), col.Name)
	}
	return nil
}

var unitFactor = map[string]int64{specs.UnitS: 1e9, specs.UnitMS: 1e6, specs.UnitUS: 1e3, specs.UnitNS: 1}

// guessUnit guesses the unit of an epoch timestamp from its magnitude: ~1e9 s,
// ~1e12 ms, ~1e15 us, ~1e18 ns (each band covers 1973 to 5138 in its unit).
func guessUnit(v int64) string {
	if v < 0 {
		v = -v
	}
	switch {
	case v < 1e11:
		return specs.UnitS
	case v < 1e14:
		return specs.UnitMS
	case v < 1e17:
		return specs.UnitUS
	default:
		return specs.UnitNS
	}
}

// timeUnit decides the unit of a time column's values as read (TimeUnit) and of its
// Parquet statistics (statsUnit); they differ only when a stored Arrow schema
// overrides the Parquet annotation.
func (f *File) timeUnit(col *Column, configured string) error {
	leaf := f.Meta.Schema.Column(col.Leaves[0])
	if leaf.PhysicalType() == parquet.Types.Int96 {
		col.TimeUnit = "int96"
		return nil
	}
	if ts, ok := col.FileType.(*arrow.TimestampType); ok {
		col.TimeUnit = [...]string{specs.UnitS, specs.UnitMS, specs.UnitUS, specs.UnitNS}[ts.Unit&3]
		col.statsUnit = col.TimeUnit
		if lt, ok := leaf.LogicalType().(schema.TimestampLogicalType); ok {
			col.statsUnit = [...]string{specs.UnitMS, specs.UnitUS, specs.UnitNS}[lt.TimeUnit()%3]
		}
		return nil
	}
	if configured != specs.UnitAuto && configured != "" {
		col.TimeUnit, col.statsUnit = configured, configured
		return nil
	}
	// auto: every row group with statistics must agree on the magnitude.
	first, firstRG := "", -1
	for rg := 0; rg < f.NumRowGroups(); rg++ {
		st, ok := f.int64Stats(col.Leaves[0], rg)
		if !ok {
			continue
		}
		mx := st.Max()
		if -st.Min() > mx {
			mx = st.Min()
		}
		if mx == 0 {
			continue // all zero (e.g. unknown start_time): says nothing about the unit
		}
		u := guessUnit(mx)
		if first == "" {
			first, firstRG = u, rg
		} else if u != first {
			return fmt.Errorf("%s: column %q (contract column %q) looks like epoch %s in row group %d but epoch %s in row group %d; set source.time_unit to the lake's unit (s, ms, us or ns)",
				f.Obj.Key, col.Physical, col.Name, first, firstRG, u, rg)
		}
	}
	col.TimeUnit, col.statsUnit = first, first // "" → guessed from the data when read
	return nil
}

// int64Stats returns the min/max statistics of an INT64 leaf in a row group.
func (f *File) int64Stats(leaf, rg int) (*metadata.Int64Statistics, bool) {
	cc, err := f.Meta.RowGroup(rg).ColumnChunk(leaf)
	if err != nil {
		return nil, false
	}
	st, err := cc.Statistics()
	if err != nil || st == nil || !st.HasMinMax() {
		return nil, false
	}
	i64, ok := st.(*metadata.Int64Statistics)
	return i64, ok
}

// toNanos converts v in unit to nanoseconds; ok is false on overflow.
func toNanos(v int64, unit string) (int64, bool) {
	f := unitFactor[unit]
	if f == 0 {
		return 0, false
	}
	if v > math.MaxInt64/f || v < math.MinInt64/f {
		return 0, false
	}
	return v * f, true
}

// RowGroupTimeRange returns the [min, max] event time of row group rg, as UTC
// nanoseconds since the epoch, from the time column's statistics. ok is false when
// the statistics are missing or unusable (INT96, unknown unit, out of range); such a
// row group cannot be pruned.
func (f *File) RowGroupTimeRange(cols *Columns, rg int) (min, max int64, ok bool) {
	col, found := cols.Column("time")
	if !found || !col.Present || rg < 0 || rg >= f.NumRowGroups() {
		return 0, 0, false
	}
	if col.statsUnit == "" {
		return 0, 0, false
	}
	st, ok := f.int64Stats(col.Leaves[0], rg)
	if !ok {
		return 0, 0, false
	}
	lo, ok1 := toNanos(st.Min(), col.statsUnit)
	hi, ok2 := toNanos(st.Max(), col.statsUnit)
	if !ok1 || !ok2 || lo > hi {
		return 0, 0, false
	}
	return lo, hi, true
}

// RowGroupSingleValue reports whether every row of row group rg holds the same
// non-null value in the string column name (statistics min == max and no nulls), and
// that value. The planner uses it to shard single-tenant row groups by tenant.
func (f *File) RowGroupSingleValue(cols *Columns, name string, rg int) (string, bool) {
	col, found := cols.Column(name)
	if !found || !col.Present || col.kind != kindString || len(col.Leaves) != 1 || rg < 0 || rg >= f.NumRowGroups() {
		return "", false
	}
	cc, err := f.Meta.RowGroup(rg).ColumnChunk(col.Leaves[0])
	if err != nil {
		return "", false
	}
	st, err := cc.Statistics()
	if err != nil || st == nil || !st.HasMinMax() || !st.HasNullCount() || st.NullCount() != 0 {
		return "", false
	}
	bs, ok := st.(*metadata.ByteArrayStatistics)
	if !ok || string(bs.Min()) != string(bs.Max()) {
		return "", false
	}
	return string(bs.Min()), true
}

// NeededBytes is the compressed size of the projected column chunks of row group rg:
// what ReadRowGroup fetches (nothing for an empty row group).
func (f *File) NeededBytes(cols *Columns, rg int) int64 {
	if rg < 0 || rg >= f.NumRowGroups() || f.RowGroupRows(rg) == 0 {
		return 0
	}
	rgm := f.Meta.RowGroup(rg)
	var n int64
	for _, col := range cols.cols {
		for _, leaf := range col.Leaves {
			cc, err := rgm.ColumnChunk(leaf)
			if err != nil {
				continue
			}
			_, l := chunkRange(cc)
			n += l
		}
	}
	return n
}
