package gen

import (
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// stringCols are the schema indexes of the string columns written from Arrow
// dictionary arrays built from per-series ids (seriesDesc.sid order), so that the
// Parquet writer neither copies nor hashes a string per row. Only columns that never
// hold "" qualify: arrow-go v18.8.0 leaves empty strings out of the row-group
// statistics of dictionary arrays (ByteArrayStatistics.UpdateFromArrow), which would
// let a reader prune row groups holding topic = "". topic and request_type are
// written as plain strings.
var stringCols = [...]int{iMetric, iType, iTemporality, iTenant, iCluster, iBroker}

const numStringCols = len(stringCols)

// stringDictType is the Arrow type of the string columns while writing; Parquet
// stores plain UTF-8 BYTE_ARRAY columns with dictionary encoding.
var stringDictType = &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int32, ValueType: arrow.BinaryTypes.String}

// recordBuilder appends rows to Arrow builders of the written schema and cuts
// one record per row group.
type recordBuilder struct {
	schema               *arrow.Schema
	builders             [numColumns]array.Builder // nil for stringCols
	strs                 [numStringCols]dictColumn
	time, start, ingest  timeColumn
	monotonic            *array.BooleanBuilder
	topic, requestType   *array.StringBuilder
	value, sum, min, max *array.Float64Builder
	count                *array.Int64Builder
	bounds, bucketCounts *array.ListBuilder
	boundValues          *array.Float64Builder
	bucketValues         *array.Int64Builder
}

func newRecordBuilder(schema *arrow.Schema, g *generator) *recordBuilder {
	mem := memory.DefaultAllocator
	r := &recordBuilder{schema: schema}
	isString := map[int]int{}
	for j, i := range stringCols {
		isString[i] = j
	}
	for i, f := range schema.Fields() {
		if j, ok := isString[i]; ok {
			r.strs[j] = dictColumn{global: g.fleet.strs[j], local: make([]int32, len(g.fleet.strs[j])), idx: array.NewInt32Builder(mem)}
			continue
		}
		r.builders[i] = array.NewBuilder(mem, f.Type)
	}
	div := int64(storageUnit(g.cfg.TimeUnit))
	tc := func(i int) timeColumn {
		tb := timeColumn{div: div}
		switch x := r.builders[i].(type) {
		case *array.TimestampBuilder:
			tb.ts = x
		case *array.Int64Builder:
			tb.i64 = x
		}
		return tb
	}
	r.time, r.start, r.ingest = tc(iTime), tc(iStartTime), tc(iIngestTime)
	r.monotonic = r.builders[iMonotonic].(*array.BooleanBuilder)
	r.topic = r.builders[iTopic].(*array.StringBuilder)
	r.requestType = r.builders[iRequestType].(*array.StringBuilder)
	r.value = r.builders[iValue].(*array.Float64Builder)
	r.count = r.builders[iCount].(*array.Int64Builder)
	r.sum = r.builders[iSum].(*array.Float64Builder)
	r.min = r.builders[iMin].(*array.Float64Builder)
	r.max = r.builders[iMax].(*array.Float64Builder)
	r.bounds = r.builders[iBounds].(*array.ListBuilder)
	r.bucketCounts = r.builders[iBucketCounts].(*array.ListBuilder)
	r.boundValues = r.bounds.ValueBuilder().(*array.Float64Builder)
	r.bucketValues = r.bucketCounts.ValueBuilder().(*array.Int64Builder)
	return r
}

func (b *recordBuilder) release() {
	for _, x := range b.builders {
		if x != nil {
			x.Release()
		}
	}
	for i := range b.strs {
		b.strs[i].idx.Release()
	}
}

func (b *recordBuilder) append(r *row) {
	s := r.s
	d := &metricDefs[s.metric]
	b.time.append(r.t)
	if r.hasStart {
		b.start.append(r.start)
	} else {
		b.start.appendNull()
	}
	for j := range b.strs {
		b.strs[j].append(s.sid[j])
	}
	b.topic.Append(s.topic)
	b.requestType.Append(s.requestType)
	if d.typ == TypeSum {
		b.monotonic.Append(d.monotonic)
	} else {
		b.monotonic.AppendNull()
	}
	if d.typ == TypeHistogram {
		h := &r.hist
		b.value.AppendNull()
		b.count.Append(h.count)
		b.sum.Append(h.sum)
		b.min.Append(h.min)
		b.max.Append(h.max)
		b.bounds.Append(true)
		b.boundValues.AppendValues(latencyBounds, nil)
		b.bucketCounts.Append(true)
		b.bucketValues.AppendValues(h.buckets[:], nil)
	} else {
		b.value.Append(r.value)
		b.count.AppendNull()
		b.sum.AppendNull()
		b.min.AppendNull()
		b.max.AppendNull()
		b.bounds.AppendNull()
		b.bucketCounts.AppendNull()
	}
	b.ingest.append(r.ingest)
}

// newRecord cuts the n appended rows into a record and resets the builders.
func (b *recordBuilder) newRecord(n int) arrow.RecordBatch {
	cols := make([]arrow.Array, numColumns)
	for i, x := range b.builders {
		if x != nil {
			cols[i] = x.NewArray()
		}
	}
	for j, i := range stringCols {
		cols[i] = b.strs[j].newArray()
	}
	rec := array.NewRecordBatch(b.schema, cols, int64(n))
	for _, c := range cols {
		c.Release()
	}
	return rec
}

// dictColumn builds one string column as a dictionary array whose dictionary holds
// only the values used in the current row group, in order of first use.
type dictColumn struct {
	global []string // every value of the column, by id
	local  []int32  // global id → local index + 1; 0 when unused so far
	values []string // local dictionary
	idx    *array.Int32Builder
}

// append adds the value with global id; a negative id is null.
func (d *dictColumn) append(id int32) {
	if id < 0 {
		d.idx.AppendNull()
		return
	}
	l := d.local[id]
	if l == 0 {
		d.values = append(d.values, d.global[id])
		l = int32(len(d.values))
		d.local[id] = l
	}
	d.idx.Append(l - 1)
}

func (d *dictColumn) newArray() arrow.Array {
	sb := array.NewStringBuilder(memory.DefaultAllocator)
	sb.AppendValues(d.values, nil)
	dict := sb.NewArray()
	sb.Release()
	idx := d.idx.NewArray()
	arr := array.NewDictionaryArray(stringDictType, idx, dict)
	idx.Release()
	dict.Release()
	clear(d.local)
	d.values = d.values[:0]
	return arr
}

// timeColumn appends nanosecond times to a TIMESTAMP or plain INT64 builder.
type timeColumn struct {
	ts  *array.TimestampBuilder
	i64 *array.Int64Builder
	div int64
}

func (c timeColumn) append(ns int64) {
	if c.ts != nil {
		c.ts.Append(arrow.Timestamp(ns / c.div))
		return
	}
	c.i64.Append(ns / c.div)
}

func (c timeColumn) appendNull() {
	if c.ts != nil {
		c.ts.AppendNull()
		return
	}
	c.i64.AppendNull()
}
