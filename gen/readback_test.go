package gen

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"reflect"
	"sort"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"gocloud.dev/blob"
	"gocloud.dev/blob/memblob"
)

// testFrom is the start of most test ranges.
var testFrom = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

// small is a fleet of 2 tenants × 1 cluster × 2 brokers × 2 topics (36 series).
func small(hours time.Duration) Config {
	return Config{
		From: testFrom, To: testFrom.Add(hours),
		Tenants: 2, ClustersPerTenant: 1, BrokersPerCluster: 2, TopicsPerBroker: 2,
		Interval: time.Minute, Seed: 7,
	}
}

// generateMem writes cfg to a fresh in-memory bucket.
func generateMem(t testing.TB, cfg Config) (*blob.Bucket, Stats) {
	t.Helper()
	b := memblob.OpenBucket(nil)
	t.Cleanup(func() { _ = b.Close() })
	st, err := Generate(context.Background(), b, cfg)
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	return b, st
}

// objects returns every object of a bucket by key.
func objects(t testing.TB, b *blob.Bucket) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	it := b.List(nil)
	for {
		obj, err := it.Next(context.Background())
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("list: %v", err)
		}
		data, err := b.ReadAll(context.Background(), obj.Key)
		if err != nil {
			t.Fatalf("read %s: %v", obj.Key, err)
		}
		out[obj.Key] = data
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// openParquet opens a Parquet file held in memory.
func openParquet(t testing.TB, data []byte) *file.Reader {
	t.Helper()
	r, err := file.NewParquetReader(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("open Parquet: %v", err)
	}
	return r
}

// decodeFile reads every row of a generated file back into Points (quirk flags unset),
// independently of the generator: by physical column name and the file's own types.
func decodeFile(t testing.TB, cfg Config, key string, data []byte) []Point {
	t.Helper()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	pf := openParquet(t, data)
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: 4096}, memory.DefaultAllocator)
	if err != nil {
		t.Fatalf("%s: %v", key, err)
	}
	rr, err := fr.GetRecordReader(context.Background(), nil, nil)
	if err != nil {
		t.Fatalf("%s: %v", key, err)
	}
	defer rr.Release()
	var out []Point
	for rr.Next() {
		rec := rr.RecordBatch()
		col := func(contract string) arrow.Array {
			idx := rec.Schema().FieldIndices(cfg.physical(contract))
			if len(idx) != 1 {
				t.Fatalf("%s: column %q (contract %q) not found once in %v", key, cfg.physical(contract), contract, rec.Schema())
			}
			return rec.Column(idx[0])
		}
		times := func(contract string, i int) time.Time {
			a := col(contract)
			if a.IsNull(i) {
				return time.Time{}
			}
			var v int64
			unit := time.Duration(0)
			switch x := a.(type) {
			case *array.Timestamp:
				v = int64(x.Value(i))
				unit = x.DataType().(*arrow.TimestampType).Unit.Multiplier()
			case *array.Int64:
				v = x.Value(i)
				unit = map[string]time.Duration{UnitInt64MS: time.Millisecond, UnitInt64NS: time.Nanosecond}[cfg.TimeUnit]
			default:
				t.Fatalf("%s: %s is %T", key, contract, a)
			}
			return time.Unix(0, v*int64(unit)).UTC()
		}
		str := func(contract string, i int) string {
			a := col(contract).(*array.String)
			if a.IsNull(i) {
				return ""
			}
			return a.Value(i)
		}
		for i := 0; i < int(rec.NumRows()); i++ {
			p := Point{
				File: key, Row: int64(len(out)),
				Time: times(ColTime, i), StartTime: times(ColStartTime, i), IngestTime: times(ColIngestTime, i),
				Metric: str(ColMetric, i), Type: str(ColType, i), Temporality: str(ColTemporality, i),
				Tenant: str(ColTenant, i), Cluster: str(ColCluster, i), Broker: str(ColBroker, i),
				Topic: str(ColTopic, i), RequestType: str(ColRequestType, i),
			}
			if m := col(ColMonotonic).(*array.Boolean); m.IsValid(i) {
				p.Monotonic = m.Value(i)
			}
			if v := col(ColValue).(*array.Float64); v.IsValid(i) {
				p.Value = v.Value(i)
			}
			if c := col(ColCount).(*array.Int64); c.IsValid(i) {
				p.Count = c.Value(i)
				p.Sum = col(ColSum).(*array.Float64).Value(i)
				p.Min = col(ColMin).(*array.Float64).Value(i)
				p.Max = col(ColMax).(*array.Float64).Value(i)
				bl := col(ColBounds).(*array.List)
				lo, hi := bl.ValueOffsets(i)
				p.Bounds = append([]float64{}, bl.ListValues().(*array.Float64).Float64Values()[lo:hi]...)
				cl := col(ColBucketCounts).(*array.List)
				lo, hi = cl.ValueOffsets(i)
				p.BucketCounts = append([]int64{}, cl.ListValues().(*array.Int64).Int64Values()[lo:hi]...)
			}
			out = append(out, p)
		}
	}
	if err := rr.Err(); err != nil {
		t.Fatalf("%s: %v", key, err)
	}
	return out
}

// truth collects Points by file.
func truth(t testing.TB, cfg Config) map[string][]Point {
	t.Helper()
	out := map[string][]Point{}
	if err := Points(cfg, func(p Point) error {
		out[p.File] = append(out[p.File], p)
		return nil
	}); err != nil {
		t.Fatalf("Points: %v", err)
	}
	return out
}

// samePoint compares a decoded row with a truth point, ignoring quirk flags and
// treating NaN as equal to NaN.
func samePoint(got, want Point) error {
	want.Late, want.Duplicate, want.OutOfOrder, want.Reset, want.NaN = false, false, false, false, false
	if math.IsNaN(got.Value) && math.IsNaN(want.Value) {
		got.Value, want.Value = 0, 0
	}
	if !reflect.DeepEqual(got, want) {
		return fmt.Errorf("row %d of %s:\n got %+v\nwant %+v", got.Row, got.File, got, want)
	}
	return nil
}
