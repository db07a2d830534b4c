package exec

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/tallyhq/tally/specs"
)

// tp is a test point in contract terms.
type tp struct {
	time   string // "12:00:10" on day 2026-11-01, or RFC3339
	metric string
	dims   []string // values of the source dimensions
	value  float64
	null   bool
	start  string // "" = unknown
	ingest string
	// histogram
	hcount  int64
	hsum    float64
	bounds  []float64
	buckets []int64
	// exponential histogram
	exp *expTP
}

type expTP struct {
	scale  int32
	zero   int64
	offset int32
	counts []int64
}

const testDay = "2026-11-01T"

func ts(t *testing.T, s string) int64 {
	t.Helper()
	if len(s) == 8 {
		s = testDay + s + "Z"
	}
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatalf("bad time %q: %v", s, err)
	}
	return v.UnixNano()
}

// record builds an Arrow record with contract column names, the way reader.ReadRowGroup
// returns them: times as timestamp[ns], strings dictionary-encoded.
func record(t *testing.T, dims []string, pts []tp) arrow.RecordBatch {
	t.Helper()
	mem := memory.NewGoAllocator()
	strDict := &arrow.DictionaryType{IndexType: arrow.PrimitiveTypes.Int32, ValueType: arrow.BinaryTypes.String}
	tsType := &arrow.TimestampType{Unit: arrow.Nanosecond, TimeZone: "UTC"}
	fields := []arrow.Field{
		{Name: "time", Type: tsType},
		{Name: "start_time", Type: tsType, Nullable: true},
		{Name: "ingest_time", Type: tsType, Nullable: true},
		{Name: "metric", Type: strDict},
		{Name: "value", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "count", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "sum", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "bounds", Type: arrow.ListOf(arrow.PrimitiveTypes.Float64), Nullable: true},
		{Name: "bucket_counts", Type: arrow.ListOf(arrow.PrimitiveTypes.Int64), Nullable: true},
		{Name: "scale", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
		{Name: "zero_count", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "positive_offset", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
		{Name: "positive_counts", Type: arrow.ListOf(arrow.PrimitiveTypes.Int64), Nullable: true},
	}
	for _, d := range dims {
		fields = append(fields, arrow.Field{Name: d, Type: strDict, Nullable: true})
	}
	b := array.NewRecordBuilder(mem, arrow.NewSchema(fields, nil))
	defer b.Release()
	for _, p := range pts {
		b.Field(0).(*array.TimestampBuilder).Append(arrow.Timestamp(ts(t, p.time)))
		if p.start == "" {
			b.Field(1).AppendNull()
		} else {
			b.Field(1).(*array.TimestampBuilder).Append(arrow.Timestamp(ts(t, p.start)))
		}
		if p.ingest == "" {
			b.Field(2).AppendNull()
		} else {
			b.Field(2).(*array.TimestampBuilder).Append(arrow.Timestamp(ts(t, p.ingest)))
		}
		if err := b.Field(3).(*array.BinaryDictionaryBuilder).AppendString(p.metric); err != nil {
			t.Fatal(err)
		}
		if p.exp != nil {
			b.Field(4).AppendNull()
			b.Field(5).(*array.Int64Builder).Append(p.hcount)
			b.Field(6).(*array.Float64Builder).Append(p.hsum)
			b.Field(7).AppendNull()
			b.Field(8).AppendNull()
			b.Field(9).(*array.Int32Builder).Append(p.exp.scale)
			b.Field(10).(*array.Int64Builder).Append(p.exp.zero)
			b.Field(11).(*array.Int32Builder).Append(p.exp.offset)
			lb := b.Field(12).(*array.ListBuilder)
			lb.Append(true)
			for _, x := range p.exp.counts {
				lb.ValueBuilder().(*array.Int64Builder).Append(x)
			}
		} else if p.null || p.bounds != nil {
			b.Field(4).AppendNull()
		} else {
			b.Field(4).(*array.Float64Builder).Append(p.value)
		}
		if p.bounds != nil {
			b.Field(5).(*array.Int64Builder).Append(p.hcount)
			b.Field(6).(*array.Float64Builder).Append(p.hsum)
			lb := b.Field(7).(*array.ListBuilder)
			lb.Append(true)
			for _, x := range p.bounds {
				lb.ValueBuilder().(*array.Float64Builder).Append(x)
			}
			cb := b.Field(8).(*array.ListBuilder)
			cb.Append(true)
			for _, x := range p.buckets {
				cb.ValueBuilder().(*array.Int64Builder).Append(x)
			}
		} else if p.exp == nil {
			for f := 5; f <= 8; f++ {
				b.Field(f).AppendNull()
			}
		}
		if p.exp == nil {
			for f := 9; f <= 12; f++ {
				b.Field(f).AppendNull()
			}
		}
		for i := range dims {
			v := ""
			if i < len(p.dims) {
				v = p.dims[i]
			}
			if err := b.Field(13 + i).(*array.BinaryDictionaryBuilder).AppendString(v); err != nil {
				t.Fatal(err)
			}
		}
	}
	return b.NewRecordBatch()
}

func mustRegistry(t *testing.T, yaml string) *specs.Registry {
	t.Helper()
	reg, err := specs.Parse("test.yaml", []byte(yaml))
	if err != nil {
		t.Fatalf("registry: %v", err)
	}
	return reg
}

// runTask runs one task over the given inputs (each a slice of points = one row group).
func runTask(t *testing.T, reg *specs.Registry, from, to string, parallelism int, groups ...[]tp) *Result {
	t.Helper()
	e, err := New(Config{Registry: reg, Parallelism: parallelism})
	if err != nil {
		t.Fatal(err)
	}
	var inputs []Input
	for i, g := range groups {
		g := g
		inputs = append(inputs, Input{Name: "rg" + string(rune('0'+i)), Read: func(context.Context) (arrow.RecordBatch, error) {
			return record(t, reg.Source.Dimensions, g), nil
		}})
	}
	res, err := e.Run(context.Background(), Task{ID: "t", Start: time.Unix(0, ts(t, from)).UTC(), End: time.Unix(0, ts(t, to)).UTC(), Inputs: inputs})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func near(a, b float64) bool {
	if math.IsNaN(a) || math.IsNaN(b) {
		return math.IsNaN(a) && math.IsNaN(b)
	}
	return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b))
}
