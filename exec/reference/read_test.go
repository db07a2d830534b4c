package reference

import (
	"context"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"gocloud.dev/blob/memblob"

	"github.com/tallyhq/tally/reader"
	"github.com/tallyhq/tally/reader/readertest"
	"github.com/tallyhq/tally/specs"
)

// TestReadObjectMatchesDirectPoints writes raw segments in several physical shapes,
// reads them back with ReadObject and checks that Compute gives bit-identical
// rollups to Compute on the same points built in memory.
func TestReadObjectMatchesDirectPoints(t *testing.T) {
	const yaml = `version: 1
source:
  url: mem://
  time_unit: %s
  dimensions: [tenant, cluster]
  tenant: tenant
  columns: {%s}
aggregations:
  - {name: cpu, metric: cpu, type: gauge, window: 1m, group_by: [tenant, cluster], functions: [count, sum, min, max, first, last, p50]}
  - {name: bytes, metric: bytes, type: sum, temporality: cumulative, monotonic: true, window: 1m, group_by: [tenant], functions: [delta, count]}
  - {name: lat, metric: lat, type: histogram, temporality: delta, window: 5m, group_by: [tenant], functions: [count, sum, buckets, p90]}
`
	base := time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)
	var rows []readertest.Row
	rows = append(rows, readertest.Series("cpu", "acme", "c1", base.Add(-time.Minute), 7*time.Second, 100)...)
	rows = append(rows, readertest.Series("cpu", "acme", "c2", base, 11*time.Second, 60)...)
	counter := readertest.Series("bytes", "acme", "c1", base.Add(-2*time.Minute), 13*time.Second, 60)
	for i := range counter {
		counter[i].Value = float64(i * i)
		counter[i].StartTime = base.Add(-time.Hour)
	}
	counter[30].Value = 3 // a reset
	rows = append(rows, counter...)
	lat := readertest.Series("lat", "beta", "c1", base, 17*time.Second, 40)
	for i := range lat {
		lat[i].Bounds = []float64{1, 10}
		lat[i].BucketCounts = []int64{int64(i % 3), 1, int64(i % 2)}
		lat[i].Count = lat[i].BucketCounts[0] + 1 + lat[i].BucketCounts[2]
		lat[i].Sum = float64(i) / 3
	}
	rows = append(rows, lat...)
	rows = append(rows, readertest.Row{Time: base.Add(30 * time.Second), Metric: "cpu", Value: math.NaN(), Tenant: "acme", Cluster: "c1"})

	direct := make([]Point, 0, len(rows))
	for _, r := range rows {
		p := Point{Time: r.Time.UnixNano(), Metric: r.Metric, Dims: []string{r.Tenant, r.Cluster}, Value: r.Value,
			Count: uint64(r.Count), Sum: r.Sum, Bounds: r.Bounds}
		if !r.StartTime.IsZero() {
			p.StartTime, p.HasStart = r.StartTime.UnixNano(), true
		}
		for _, c := range r.BucketCounts {
			p.BucketCounts = append(p.BucketCounts, uint64(c))
		}
		direct = append(direct, p)
	}

	cases := []struct {
		name   string
		unit   string
		rename string
		opt    readertest.Options
	}{
		{"timestamp nanos, one row group", "auto", "", readertest.Options{Histograms: true}},
		{"timestamp millis, dictionary strings, small row groups", "auto", "", readertest.Options{Histograms: true, TimeEncoding: readertest.TimestampMillis, DictStrings: true, RowGroupRows: 37}},
		{"int64 micros, large strings, renamed columns", "us", "time: ts, tenant: org", readertest.Options{Histograms: true, TimeEncoding: readertest.Int64Micros, LargeStrings: true, Rename: map[string]string{"time": "ts", "tenant": "org"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			reg, err := specs.Parse("lake.yaml", []byte(fmt.Sprintf(yaml, tc.unit, tc.rename)))
			if err != nil {
				t.Fatal(err)
			}
			b := memblob.OpenBucket(nil)
			defer b.Close()
			const key = "dt=2026-11-01/hour=10/part-0.parquet"
			data := readertest.MustWrite(t, rows, tc.opt)
			if err := b.WriteAll(ctx, key, data, nil); err != nil {
				t.Fatal(err)
			}
			pts, err := ReadObject(ctx, b, reg, reader.Object{Key: key, Size: int64(len(data))})
			if err != nil {
				t.Fatalf("ReadObject: %v", err)
			}
			if len(pts) != len(rows) {
				t.Fatalf("read %d points from %d rows", len(pts), len(rows))
			}
			from, to := base, base.Add(10*time.Minute)
			got, gotStats, err := Compute(reg, from, to, pts)
			if err != nil {
				t.Fatal(err)
			}
			want, wantStats, err := Compute(reg, from, to, direct)
			if err != nil {
				t.Fatal(err)
			}
			for i := range want {
				if len(want[i].Rows) == 0 {
					t.Fatalf("%s has no rows: the lake does not exercise it", want[i].Agg.Name)
				}
				if d := diffRows(got[i].Rows, want[i].Rows); d != "" {
					t.Errorf("%s: %s", want[i].Agg.Name, d)
				}
				if gotStats.PerAggregation[want[i].Agg.Name] != wantStats.PerAggregation[want[i].Agg.Name] {
					t.Errorf("%s: stats %+v, want %+v", want[i].Agg.Name, gotStats.PerAggregation[want[i].Agg.Name], wantStats.PerAggregation[want[i].Agg.Name])
				}
			}
		})
	}
}

// TestReadObjectErrorsNameTheObject checks that a broken object fails with its key.
func TestReadObjectErrorsNameTheObject(t *testing.T) {
	ctx := context.Background()
	b := memblob.OpenBucket(nil)
	defer b.Close()
	const key = "dt=2026-11-01/hour=10/broken.parquet"
	if err := b.WriteAll(ctx, key, []byte("PAR1 not really parquet PAR1"), nil); err != nil {
		t.Fatal(err)
	}
	reg := testRegistry(t, gaugeAll)
	_, err := ReadObject(ctx, b, reg, reader.Object{Key: key, Size: 28})
	if err == nil || !strings.Contains(err.Error(), key) {
		t.Fatalf("error %v does not name %s", err, key)
	}
}
