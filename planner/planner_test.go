package planner_test

import (
	"bytes"
	"context"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"gocloud.dev/blob"
	"gocloud.dev/blob/memblob"

	"github.com/tallyhq/tally/gen"
	"github.com/tallyhq/tally/planner"
	"github.com/tallyhq/tally/reader/readertest"
	"github.com/tallyhq/tally/specs"
)

var day = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

func at(h int) time.Time { return day.Add(time.Duration(h) * time.Hour) }

// registry parses a test registry over gen's dimensions (or readertest's when dims
// is set) with the given layout, extra source lines and extra aggregations.
func registry(t testing.TB, layout, sourceExtra, aggExtra string, dims ...string) *specs.Registry {
	t.Helper()
	if len(dims) == 0 {
		dims = gen.Dimensions()
	}
	groupBy := "[tenant, cluster]"
	y := fmt.Sprintf(`version: 1
source:
  url: mem://
  layout: %s
  dimensions: [%s]
  tenant: tenant
%saggregations:
  - name: broker_cpu_5m
    metric: kafka.broker.cpu
    type: gauge
    window: 5m
    group_by: %s
    functions: [count, avg, max]
  - name: broker_memory_1h
    metric: kafka.broker.memory
    type: gauge
    window: 1h
    group_by: %s
    functions: [avg]
%s`, layout, strings.Join(dims, ", "), sourceExtra, groupBy, groupBy, aggExtra)
	reg, err := specs.Parse("test-registry.yaml", []byte(y))
	if err != nil {
		t.Fatalf("registry: %v", err)
	}
	return reg
}

// genLake writes a small generated lake into a fresh in-memory bucket and returns it
// wrapped in a listing counter.
func genLake(t testing.TB, cfg gen.Config) (*blob.Bucket, *countingBucket) {
	t.Helper()
	inner := memblob.OpenBucket(nil)
	t.Cleanup(func() { inner.Close() })
	if cfg.Tenants == 0 {
		cfg.Tenants = 3
	}
	cfg.ClustersPerTenant, cfg.BrokersPerCluster, cfg.TopicsPerBroker = 1, 2, 1
	if cfg.Interval == 0 {
		cfg.Interval = time.Minute
	}
	cfg.Metrics = []string{gen.MetricCPU, gen.MetricMemory}
	if cfg.RowGroupRows == 0 {
		cfg.RowGroupRows = 1 << 20
	}
	if _, err := gen.Generate(context.Background(), inner, cfg); err != nil {
		t.Fatalf("generate: %v", err)
	}
	b, c := newCountingBucket(inner)
	return b, c
}

func build(t testing.TB, b *blob.Bucket, reg *specs.Registry, from, to time.Time) *planner.Plan {
	t.Helper()
	p, err := planner.Build(context.Background(), b, reg, from, to, planner.Options{})
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	return p
}

func taskIDs(p *planner.Plan) []string {
	var ids []string
	for _, t := range p.Tasks {
		ids = append(ids, t.ID)
	}
	return ids
}

func hivePrefixes(hours ...int) []string {
	var out []string
	for _, h := range hours {
		tm := at(h)
		out = append(out, fmt.Sprintf("dt=%s/hour=%02d/|", tm.Format("2006-01-02"), tm.Hour()))
		if tm.Hour() < 10 {
			out = append(out, fmt.Sprintf("dt=%s/hour=%d/|", tm.Format("2006-01-02"), tm.Hour()))
		}
	}
	sort.Strings(out)
	return out
}

// TestBuildHiveGenerated plans a generated hive lake: only the hour prefixes of the
// range are listed, every row group of them is kept, one task per hour, and each
// needed chunk is read exactly once (read amplification 1).
func TestBuildHiveGenerated(t *testing.T) {
	b, counter := genLake(t, gen.Config{From: at(0), To: at(6)})
	reg := registry(t, "hive", "", "")
	p := build(t, b, reg, at(1), at(4))

	if got, want := counter.listed(), hivePrefixes(1, 2, 3); !reflect.DeepEqual(got, want) {
		t.Fatalf("listed %v, want only %v", got, want)
	}
	if got := counter.rangedReads(); got != 2*6 {
		t.Fatalf("planning issued %d ranged reads, want 2 per footer (12)", got)
	}
	if p.Stats.PrefixesListed != 6 || p.Stats.FilesRead != 6 {
		t.Fatalf("prefixes %d, files %d; want 6 (hour=01/ and hour=1/ …) and 6 (2 files per hour)", p.Stats.PrefixesListed, p.Stats.FilesRead)
	}
	want := []string{"20261101T0100Z-20261101T0200Z-all", "20261101T0200Z-20261101T0300Z-all", "20261101T0300Z-20261101T0400Z-all"}
	if got := taskIDs(p); !reflect.DeepEqual(got, want) {
		t.Fatalf("tasks %v, want %v", got, want)
	}
	if p.Stats.ReadAmplification != 1.0 || p.Stats.BytesToFetch != p.Stats.NeededBytes || p.Stats.NeededBytes == 0 {
		t.Fatalf("read amplification %v (fetch %d, needed %d), want exactly 1", p.Stats.ReadAmplification, p.Stats.BytesToFetch, p.Stats.NeededBytes)
	}
	if p.Stats.RowGroupsPruned != 0 || p.Stats.RowGroupsKept != p.Stats.RowGroups {
		t.Fatalf("kept %d pruned %d of %d", p.Stats.RowGroupsKept, p.Stats.RowGroupsPruned, p.Stats.RowGroups)
	}
	// 3 tenants × 2 brokers × 2 metrics × 60 minutes per hour.
	if p.Stats.Rows != 3*720 {
		t.Fatalf("rows %d, want %d", p.Stats.Rows, 3*720)
	}
	if p.Slice != "1h" || p.Lookback != "0s" || p.RegistryVersions["broker_cpu_5m"] != reg.Aggregation("broker_cpu_5m").Version {
		t.Fatalf("slice %q lookback %q versions %v", p.Slice, p.Lookback, p.RegistryVersions)
	}
	if len(p.Notes) != 0 {
		t.Fatalf("notes %v, want none", p.Notes)
	}
}

// TestBuildCrossesDayBoundary proves a range over midnight lists the hours of both days.
func TestBuildCrossesDayBoundary(t *testing.T) {
	b, counter := genLake(t, gen.Config{From: at(21), To: at(27)})
	p := build(t, b, registry(t, "hive", "", ""), at(22), at(26))
	if got, want := counter.listed(), hivePrefixes(22, 23, 24, 25); !reflect.DeepEqual(got, want) {
		t.Fatalf("listed %v, want %v", got, want)
	}
	want := []string{"20261101T2200Z-20261101T2300Z-all", "20261101T2300Z-20261102T0000Z-all",
		"20261102T0000Z-20261102T0100Z-all", "20261102T0100Z-20261102T0200Z-all"}
	if got := taskIDs(p); !reflect.DeepEqual(got, want) {
		t.Fatalf("tasks %v, want %v", got, want)
	}
}

// TestBuildRangeErrors proves an empty range and unaligned bounds are errors that say
// what to use instead.
func TestBuildRangeErrors(t *testing.T) {
	b := memblob.OpenBucket(nil)
	defer b.Close()
	reg := registry(t, "hive", "", "")
	cases := []struct {
		name     string
		from, to time.Time
		want     []string
	}{
		{"empty range", at(1), at(1), []string{"is empty", "--from must be before --to"}},
		{"reversed range", at(2), at(1), []string{"is empty"}},
		{"unaligned from", at(1).Add(7 * time.Minute), at(3), []string{"--from 2026-11-01T01:07:00Z is not aligned", "largest window 1h", "2026-11-01T01:00:00Z or 2026-11-01T02:00:00Z"}},
		{"unaligned to", at(1), at(3).Add(-time.Second), []string{"--to", "2026-11-01T02:00:00Z or 2026-11-01T03:00:00Z"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := planner.Build(context.Background(), b, reg, tc.from, tc.to, planner.Options{})
			if err == nil {
				t.Fatal("Build succeeded, want an error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}

// TestBuildNoData proves a range without data is an empty plan, not an error, and says so.
func TestBuildNoData(t *testing.T) {
	b, counter := genLake(t, gen.Config{From: at(0), To: at(2)})
	p := build(t, b, registry(t, "hive", "", ""), at(10), at(12))
	if len(p.Tasks) != 0 || p.Stats.FilesRead != 0 || p.Stats.ReadAmplification != 0 {
		t.Fatalf("tasks %d files %d amplification %v, want an empty plan", len(p.Tasks), p.Stats.FilesRead, p.Stats.ReadAmplification)
	}
	if len(p.Notes) != 1 || !strings.HasPrefix(p.Notes[0], "no data: 2 partition prefixes listed") {
		t.Fatalf("notes %q, want a 'no data' note", p.Notes)
	}
	if len(counter.listed()) != 2 {
		t.Fatalf("listed %v, want the 2 hours of the range", counter.listed())
	}
}

// TestBuildPrunesByStatistics proves row groups outside the range are pruned by their
// time statistics (hive-daily: a day partition holds every hour's row groups).
func TestBuildPrunesByStatistics(t *testing.T) {
	inner := memblob.OpenBucket(nil)
	defer inner.Close()
	var rows []readertest.Row
	for h := 0; h < 24; h++ {
		rows = append(rows, readertest.Series("kafka.broker.cpu", "acme", "c1", at(h), 5*time.Minute, 12)...)
	}
	readertest.Put(t, inner, "dt=2026-11-01/part-00000.parquet", rows, readertest.Options{RowGroupRows: 12, TimeEncoding: readertest.TimestampMillis})
	readertest.Put(t, inner, "dt=2026-11-01/_SUCCESS", nil, readertest.Options{})
	b, counter := newCountingBucket(inner)
	reg := registry(t, "hive-daily", "", "", readertest.Dimensions...)
	p := build(t, b, reg, at(3), at(5))
	if got := counter.listed(); !reflect.DeepEqual(got, []string{"dt=2026-11-01/|"}) {
		t.Fatalf("listed %v, want the one day", got)
	}
	if p.Stats.RowGroups != 24 || p.Stats.RowGroupsKept != 2 || p.Stats.RowGroupsPruned != 22 {
		t.Fatalf("row groups %d kept %d pruned %d; want 24, 2, 22", p.Stats.RowGroups, p.Stats.RowGroupsKept, p.Stats.RowGroupsPruned)
	}
	if p.Stats.ObjectsSkipped != 1 {
		t.Fatalf("skipped %d objects, want the _SUCCESS marker", p.Stats.ObjectsSkipped)
	}
	// The slice is a day (the partition); the plan covers 03:00-05:00 of it as one task.
	if p.Slice != "1d" || len(p.Tasks) != 1 || p.Tasks[0].ID != "20261101T0300Z-20261101T0500Z-tenant=acme" {
		t.Fatalf("slice %s tasks %v", p.Slice, taskIDs(p))
	}
	if got := p.Tasks[0].Inputs[0].RowGroups; !reflect.DeepEqual(got, []int{3, 4}) {
		t.Fatalf("row groups %v, want [3 4]", got)
	}
	if p.Stats.ReadAmplification != 1 {
		t.Fatalf("read amplification %v", p.Stats.ReadAmplification)
	}
}

// TestBuildDruid plans a druid lake: the root is listed with a delimiter, and only the
// interval folders overlapping the range are listed, colon-less names included.
func TestBuildDruid(t *testing.T) {
	inner := memblob.OpenBucket(nil)
	defer inner.Close()
	folders := []string{
		"2026-11-01T00:00:00.000Z_2026-11-01T01:00:00.000Z",
		"2026-11-01T01:00:00.000Z_2026-11-01T02:00:00.000Z",
		"2026-11-01T02_00_00.000Z_2026-11-01T03_00_00.000Z",
		"2026-11-01T03:00:00.000Z_2026-11-01T04:00:00.000Z",
		"not-an-interval",
	}
	for i, f := range folders {
		rows := readertest.Series("kafka.broker.cpu", "acme", "c1", at(i), time.Minute, 60)
		readertest.Put(t, inner, f+"/2026-11-05T10:00:00.000Z/0/part-00000.parquet", rows, readertest.Options{})
	}
	b, counter := newCountingBucket(inner)
	reg := registry(t, "druid", "", "", readertest.Dimensions...)
	p := build(t, b, reg, at(1), at(3))
	want := []string{folders[1] + "/|", folders[2] + "/|", "|/"}
	got := counter.listed()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("listed %v, want %v", got, want)
	}
	if ids := taskIDs(p); !reflect.DeepEqual(ids, []string{"20261101T0100Z-20261101T0200Z-tenant=acme", "20261101T0200Z-20261101T0300Z-tenant=acme"}) {
		t.Fatalf("tasks %v", ids)
	}
	if p.Stats.ReadAmplification != 1 {
		t.Fatalf("read amplification %v", p.Stats.ReadAmplification)
	}
}

// TestBuildDruidGenerated plans gen's druid layout end to end.
func TestBuildDruidGenerated(t *testing.T) {
	b, counter := genLake(t, gen.Config{From: at(0), To: at(4), Layout: gen.LayoutDruid})
	p := build(t, b, registry(t, "druid", "", ""), at(1), at(3))
	if n := len(counter.listed()); n != 3 {
		t.Fatalf("listed %v, want the root and 2 interval folders", counter.listed())
	}
	if len(p.Tasks) != 2 || p.Stats.FilesRead != 4 || p.Stats.ReadAmplification != 1 {
		t.Fatalf("tasks %v files %d amplification %v", taskIDs(p), p.Stats.FilesRead, p.Stats.ReadAmplification)
	}
}

// TestBuildColumnsAndTimeUnits plans lakes with renamed columns and every time
// encoding: the tasks are the same whatever the physical shape.
func TestBuildColumnsAndTimeUnits(t *testing.T) {
	rename := map[string]string{"time": "event_time", "value": "val", "tenant": "org"}
	cols := "  columns: {time: event_time, value: val, tenant: org}\n"
	cases := []struct {
		name      string
		gen       gen.Config
		source    string
		withStats bool
	}{
		{"generated timestamp millis", gen.Config{TimeUnit: gen.UnitMS}, "", true},
		{"generated timestamp micros renamed", gen.Config{TimeUnit: gen.UnitUS, Columns: rename}, cols, true},
		{"generated timestamp nanos", gen.Config{TimeUnit: gen.UnitNS}, "", true},
		{"generated int64 millis auto", gen.Config{TimeUnit: gen.UnitInt64MS}, "  time_unit: auto\n", true},
		{"generated int64 nanos explicit", gen.Config{TimeUnit: gen.UnitInt64NS, Columns: rename}, "  time_unit: ns\n" + cols, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.gen.From, tc.gen.To = at(0), at(3)
			b, _ := genLake(t, tc.gen)
			p := build(t, b, registry(t, "hive", tc.source, ""), at(1), at(3))
			if got := taskIDs(p); len(got) != 2 || got[0] != "20261101T0100Z-20261101T0200Z-all" {
				t.Fatalf("tasks %v", got)
			}
			if p.Stats.RowGroupsWithoutStats != 0 || p.Stats.ReadAmplification != 1 {
				t.Fatalf("row groups without stats %d, amplification %v", p.Stats.RowGroupsWithoutStats, p.Stats.ReadAmplification)
			}
			for _, f := range p.Files {
				for _, rg := range f.RowGroups {
					if rg.Min == nil || rg.Min.Before(at(1)) || !rg.Max.Before(at(3)) {
						t.Fatalf("%s row group %d range [%v, %v] is not inside the listed hours", f.Key, rg.Index, rg.Min, rg.Max)
					}
				}
			}
		})
	}
	t.Run("int96 without statistics trusts the partition", func(t *testing.T) {
		inner := memblob.OpenBucket(nil)
		defer inner.Close()
		for h := 0; h < 3; h++ {
			readertest.Put(t, inner, fmt.Sprintf("dt=2026-11-01/hour=%02d/part-00000.parquet", h),
				readertest.Series("kafka.broker.cpu", "acme", "c1", at(h), time.Minute, 60), readertest.Options{TimeEncoding: readertest.Int96})
		}
		p := build(t, inner, registry(t, "hive", "", "", readertest.Dimensions...), at(1), at(3))
		if len(p.Tasks) != 2 || p.Stats.RowGroupsWithoutStats != 2 || p.Stats.ReadAmplification != 1 {
			t.Fatalf("tasks %v, without stats %d, amplification %v", taskIDs(p), p.Stats.RowGroupsWithoutStats, p.Stats.ReadAmplification)
		}
		if len(p.Notes) != 1 || !strings.Contains(p.Notes[0], "no usable time statistics") {
			t.Fatalf("notes %q", p.Notes)
		}
	})
	t.Run("missing column names the registry setting", func(t *testing.T) {
		b, _ := genLake(t, gen.Config{From: at(0), To: at(2), Columns: rename})
		_, err := planner.Build(context.Background(), b, registry(t, "hive", "", ""), at(0), at(1), planner.Options{})
		if err == nil || !strings.Contains(err.Error(), "source.columns.time") || !strings.Contains(err.Error(), "part-") {
			t.Fatalf("err = %v, want one naming the object and source.columns.time", err)
		}
	})
}

// TestBuildHiveUnpaddedHours proves hour partitions written the way Hive, Spark and
// DuckDB format an integer (hour=8/) are found as well as zero-padded ones, also
// when one lake mixes both.
func TestBuildHiveUnpaddedHours(t *testing.T) {
	inner := memblob.OpenBucket(nil)
	defer inner.Close()
	keys := []string{"dt=2026-11-01/hour=8/data_0.parquet", "dt=2026-11-01/hour=09/part-0.parquet",
		"dt=2026-11-01/hour=9/data_0.parquet", "dt=2026-11-01/hour=10/data_0.parquet"}
	for i, k := range keys {
		h := 8 + i
		if i >= 2 {
			h = 7 + i
		}
		readertest.Put(t, inner, k, readertest.Series("kafka.broker.cpu", "acme", "c1", at(h).Add(time.Duration(i)*time.Second), time.Minute, 30), readertest.Options{})
	}
	b, counter := newCountingBucket(inner)
	p := build(t, b, registry(t, "hive", "", "", readertest.Dimensions...), at(8), at(11))
	if got, want := counter.listed(), hivePrefixes(8, 9, 10); !reflect.DeepEqual(got, want) {
		t.Fatalf("listed %v, want %v", got, want)
	}
	var files []string
	for _, f := range p.Files {
		files = append(files, f.Key)
	}
	sort.Strings(keys)
	if !reflect.DeepEqual(files, keys) {
		t.Fatalf("planned files %v, want %v", files, keys)
	}
	want := []string{"20261101T0800Z-20261101T0900Z-tenant=acme", "20261101T0900Z-20261101T1000Z-tenant=acme", "20261101T1000Z-20261101T1100Z-tenant=acme"}
	if got := taskIDs(p); !reflect.DeepEqual(got, want) {
		t.Fatalf("tasks %v, want %v", got, want)
	}
}

// TestBuildEmptyFile proves an empty file beside data (pyarrow and arrow-go write an
// empty table as one row group of 0 rows, a dictionary page at offset 4 and data page
// offset 0) is planned, pruned and never read.
func TestBuildEmptyFile(t *testing.T) {
	inner := memblob.OpenBucket(nil)
	defer inner.Close()
	readertest.Put(t, inner, "dt=2026-11-01/hour=01/part-00000.parquet", readertest.Series("kafka.broker.cpu", "acme", "c1", at(1), time.Minute, 60), readertest.Options{})
	readertest.Put(t, inner, "dt=2026-11-01/hour=01/part-00001.parquet", nil, readertest.Options{})
	p := build(t, inner, registry(t, "hive", "", "", readertest.Dimensions...), at(1), at(2))
	if p.Stats.FilesRead != 2 || p.Stats.RowGroups != 2 || p.Stats.RowGroupsKept != 1 || p.Stats.RowGroupsPruned != 1 {
		t.Fatalf("files %d row groups %d kept %d pruned %d; want 2, 2, 1, 1", p.Stats.FilesRead, p.Stats.RowGroups, p.Stats.RowGroupsKept, p.Stats.RowGroupsPruned)
	}
	if len(p.Tasks) != 1 || len(p.Tasks[0].Inputs) != 1 || p.Tasks[0].Inputs[0].Key != "dt=2026-11-01/hour=01/part-00000.parquet" {
		t.Fatalf("tasks %+v: want one task reading only part-00000", p.Tasks)
	}
	if p.Stats.ReadAmplification != 1 {
		t.Fatalf("read amplification %v, want 1", p.Stats.ReadAmplification)
	}
}

// TestBuildSpillover proves a row group holding events outside its partition joins
// every slice it overlaps (so no point is lost) and shows as read amplification.
func TestBuildSpillover(t *testing.T) {
	inner := memblob.OpenBucket(nil)
	defer inner.Close()
	// Hour 01's partition also holds 10 late minutes of hour 00 (00:50-00:59).
	late := readertest.Series("kafka.broker.cpu", "acme", "c1", at(0).Add(50*time.Minute), time.Minute, 10)
	own := readertest.Series("kafka.broker.cpu", "acme", "c1", at(1), time.Minute, 60)
	readertest.Put(t, inner, "dt=2026-11-01/hour=00/part-00000.parquet", readertest.Series("kafka.broker.cpu", "acme", "c1", at(0), time.Minute, 50), readertest.Options{})
	readertest.Put(t, inner, "dt=2026-11-01/hour=01/part-00000.parquet", append(late, own...), readertest.Options{})
	p := build(t, inner, registry(t, "hive", "", "", readertest.Dimensions...), at(0), at(2))
	if len(p.Tasks) != 2 {
		t.Fatalf("tasks %v", taskIDs(p))
	}
	first := p.Tasks[0]
	if len(first.Inputs) != 2 || first.Inputs[1].Key != "dt=2026-11-01/hour=01/part-00000.parquet" {
		t.Fatalf("task %s inputs %+v: the spilled-over row group must join the 00:00 task", first.ID, first.Inputs)
	}
	if p.Stats.ReadAmplification <= 1 || p.Stats.BytesToFetch <= p.Stats.NeededBytes {
		t.Fatalf("read amplification %v, want > 1", p.Stats.ReadAmplification)
	}
}

// TestBuildTenantShards proves single-tenant row groups split a slice into tenant
// tasks, while one mixed row group keeps its slice whole.
func TestBuildTenantShards(t *testing.T) {
	b, _ := genLake(t, gen.Config{From: at(0), To: at(2), Tenants: 2, FilesPerPartition: 2})
	p := build(t, b, registry(t, "hive", "", ""), at(0), at(2))
	want := []string{
		"20261101T0000Z-20261101T0100Z-tenant=tenant-000", "20261101T0000Z-20261101T0100Z-tenant=tenant-001",
		"20261101T0100Z-20261101T0200Z-tenant=tenant-000", "20261101T0100Z-20261101T0200Z-tenant=tenant-001",
	}
	if got := taskIDs(p); !reflect.DeepEqual(got, want) {
		t.Fatalf("tasks %v, want %v", got, want)
	}
	if p.Tasks[1].Shard != "tenant-001" || p.Tasks[1].Tenant != "tenant-001" {
		t.Fatalf("task %+v", p.Tasks[1])
	}
	mixed, _ := genLake(t, gen.Config{From: at(0), To: at(1), Tenants: 3, FilesPerPartition: 2})
	if got := taskIDs(build(t, mixed, registry(t, "hive", "", ""), at(0), at(1))); !reflect.DeepEqual(got, []string{"20261101T0000Z-20261101T0100Z-all"}) {
		t.Fatalf("mixed tenants: tasks %v, want one task for all", got)
	}
}

// TestBuildLookback proves a registry with cumulative aggregations lists the partition
// before the range and gives each task the row groups that hold predecessors.
func TestBuildLookback(t *testing.T) {
	cumulative := `  - name: bytes_in_1m
    metric: kafka.server.bytes_in
    type: sum
    temporality: cumulative
    monotonic: true
    window: 1m
    group_by: [tenant]
    functions: [delta]
`
	b, counter := genLake(t, gen.Config{From: at(0), To: at(4), Tenants: 3})
	p := build(t, b, registry(t, "hive", "", cumulative), at(1), at(3))
	if got, want := counter.listed(), hivePrefixes(0, 1, 2); !reflect.DeepEqual(got, want) {
		t.Fatalf("listed %v, want %v (hour 00 for the 10m lookback)", got, want)
	}
	if p.Lookback != "10m0s" {
		t.Fatalf("lookback %q", p.Lookback)
	}
	for i, task := range p.Tasks {
		if len(task.Lookback) != 2 || task.LookbackBytes == 0 {
			t.Fatalf("task %s lookback %+v", task.ID, task.Lookback)
		}
		wantKey := fmt.Sprintf("dt=2026-11-01/hour=%02d/", i)
		if !strings.HasPrefix(task.Lookback[0].Key, wantKey) {
			t.Fatalf("task %s lookback reads %s, want the previous hour %s", task.ID, task.Lookback[0].Key, wantKey)
		}
	}
	if p.Stats.ReadAmplification != 1 || p.Stats.RowGroupsKept != 6 {
		t.Fatalf("amplification %v kept %d", p.Stats.ReadAmplification, p.Stats.RowGroupsKept)
	}
}

// TestShard proves static shards partition the tasks, are deterministic and balanced.
func TestShard(t *testing.T) {
	p := &planner.Plan{}
	sizes := []int64{100, 90, 80, 70, 60, 50, 40, 30, 20, 10, 5, 0}
	for i, s := range sizes {
		start := at(i)
		p.Tasks = append(p.Tasks, planner.Task{ID: planner.TaskID(start, start.Add(time.Hour), planner.ShardAll, ""), Start: start, End: start.Add(time.Hour), Shard: planner.ShardAll, Bytes: s})
	}
	for _, n := range []int{1, 2, 3, 5, 12, 20} {
		seen := map[string]int{}
		var loads []int64
		for i := 0; i < n; i++ {
			tasks := p.Shard(i, n)
			if again := p.Shard(i, n); !reflect.DeepEqual(tasks, again) {
				t.Fatalf("Shard(%d, %d) is not deterministic", i, n)
			}
			var load int64
			for j, task := range tasks {
				seen[task.ID]++
				load += task.Bytes
				if j > 0 && tasks[j-1].ID >= task.ID {
					t.Fatalf("Shard(%d, %d) not sorted by ID", i, n)
				}
			}
			loads = append(loads, load)
		}
		if len(seen) != len(sizes) {
			t.Fatalf("n=%d: %d tasks assigned, want %d", n, len(seen), len(sizes))
		}
		for id, c := range seen {
			if c != 1 {
				t.Fatalf("n=%d: task %s assigned %d times", n, id, c)
			}
		}
		sort.Slice(loads, func(a, b int) bool { return loads[a] < loads[b] })
		if n <= len(sizes) && loads[len(loads)-1]-loads[0] > 100 {
			t.Fatalf("n=%d: loads %v differ by more than the largest task", n, loads)
		}
	}
	if p.Shard(2, 2) != nil || p.Shard(0, 0) != nil || p.Shard(-1, 3) != nil {
		t.Fatal("out-of-range shards must be empty")
	}
}

// TestPlanJSON proves a plan survives WriteJSON/ReadPlan unchanged and that ReadPlan
// rejects other formats, garbage and tampered task IDs.
func TestPlanJSON(t *testing.T) {
	b, _ := genLake(t, gen.Config{From: at(0), To: at(2)})
	p := build(t, b, registry(t, "hive", "", ""), at(0), at(2))
	var buf bytes.Buffer
	if err := p.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	text := buf.String()
	got, err := planner.ReadPlan(strings.NewReader(text))
	if err != nil {
		t.Fatalf("ReadPlan: %v", err)
	}
	var again bytes.Buffer
	if err := got.WriteJSON(&again); err != nil {
		t.Fatal(err)
	}
	if again.String() != text {
		t.Fatal("plan changed through a JSON round trip")
	}
	if !strings.Contains(text, `"format": 1`) || !strings.Contains(text, `"read_amplification": 1`) {
		t.Fatalf("plan JSON lacks format or stats:\n%.400s", text)
	}
	bad := []struct{ name, text, want string }{
		{"future format", strings.Replace(text, `"format": 1`, `"format": 2`, 1), "format 2"},
		{"garbage", "not json", "not a tally plan"},
		{"tampered id", strings.Replace(text, `"id": "20261101T0000Z-20261101T0100Z-all"`, `"id": "x"`, 1), "does not match"},
	}
	for _, tc := range bad {
		if _, err := planner.ReadPlan(strings.NewReader(tc.text)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", tc.name, err, tc.want)
		}
	}
}

// TestTaskID proves IDs are a pure function of slice and shard, and safe in object names.
func TestTaskID(t *testing.T) {
	cases := []struct {
		shard, tenant, want string
	}{
		{planner.ShardAll, "", "20261101T0100Z-20261101T0200Z-all"},
		{"acme", "acme", "20261101T0100Z-20261101T0200Z-tenant=acme"},
		{"all", "all", "20261101T0100Z-20261101T0200Z-tenant=all"},
		{"a/b c", "a/b c", "20261101T0100Z-20261101T0200Z-tenant=a%2Fb%20c"},
	}
	for _, tc := range cases {
		if got := planner.TaskID(at(1), at(2), tc.shard, tc.tenant); got != tc.want {
			t.Errorf("TaskID(%q) = %q, want %q", tc.tenant, got, tc.want)
		}
	}
}

// TestParseDruidInterval covers the interval folder names Druid deep storages write.
func TestParseDruidInterval(t *testing.T) {
	cases := []struct {
		name string
		ok   bool
	}{
		{"2026-11-01T00:00:00.000Z_2026-11-01T01:00:00.000Z/", true},
		{"2026-11-01T00_00_00.000Z_2026-11-01T01_00_00.000Z", true},
		{"2026-11-01T00:00:00Z_2026-11-02T00:00:00Z", true},
		{"20261101T000000.000Z_20261101T010000.000Z", true},
		{"2026-11-01_2026-11-02", true},
		{"2026-11-01T01:00:00.000Z_2026-11-01T00:00:00.000Z", false},
		{"dt=2026-11-01", false},
		{"_", false},
	}
	for _, tc := range cases {
		s, e, ok := planner.ParseDruidInterval(tc.name)
		if ok != tc.ok {
			t.Errorf("%q: ok = %v, want %v", tc.name, ok, tc.ok)
		}
		if ok && (!s.Before(e) || s.Location() != time.UTC) {
			t.Errorf("%q: [%v, %v)", tc.name, s, e)
		}
	}
}
