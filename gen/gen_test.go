package gen

import (
	"bytes"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/schema"
)

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Config)
		want   []string // substrings of the error; none means valid
	}{
		{name: "defaults are valid", mutate: func(*Config) {}},
		{name: "missing range", mutate: func(c *Config) { c.From, c.To = time.Time{}, time.Time{} }, want: []string{"From: required", "To: required"}},
		{name: "empty range", mutate: func(c *Config) { c.To = c.From }, want: []string{"To: 2026-11-01T00:00:00Z must be after From"}},
		{name: "before 1970", mutate: func(c *Config) { c.From = time.Date(1969, 1, 1, 0, 0, 0, 0, time.UTC) }, want: []string{"From: 1969-01-01T00:00:00Z is outside"}},
		{name: "negative fleet", mutate: func(c *Config) { c.Tenants, c.TopicsPerBroker = -1, -2 }, want: []string{"Tenants: -1: must be at least 1", "TopicsPerBroker: -2"}},
		{name: "interval too long", mutate: func(c *Config) { c.Interval = 2 * time.Hour }, want: []string{"Interval: 2h0m0s: must be positive and at most 1h0m0s"}},
		{name: "interval finer than unit", mutate: func(c *Config) { c.TimeUnit, c.Interval = UnitS, 1500*time.Millisecond }, want: []string{"Interval: 1.5s: must be a whole number of the time unit s"}},
		{name: "unknown unit", mutate: func(c *Config) { c.TimeUnit = "ps" }, want: []string{`TimeUnit: "ps": want one of`}},
		{name: "unknown layout and codec", mutate: func(c *Config) { c.Layout, c.Codec = "flat", "brotli" }, want: []string{`Layout: "flat"`, `Codec: "brotli"`}},
		{name: "fractions out of range", mutate: func(c *Config) { c.LateFraction, c.NaNFraction = 1.5, math.NaN() }, want: []string{"LateFraction: 1.5", "NaNFraction: NaN"}},
		{name: "unknown and repeated metric", mutate: func(c *Config) { c.Metrics = []string{"cpu", MetricCPU, MetricCPU} }, want: []string{`Metrics[0]: unknown metric "cpu"`, `Metrics[2]: "kafka.broker.cpu" is listed twice`}},
		{name: "bad column renames", mutate: func(c *Config) { c.Columns = map[string]string{"timestamp": "ts", ColValue: "", ColTenant: ColCluster} }, want: []string{`Columns["timestamp"]: not a contract column`, `Columns["value"]: the physical name is empty`, `"tenant" and "cluster" would both be written as column "cluster"`}},
		{name: "too many series", mutate: func(c *Config) {
			c.Tenants, c.ClustersPerTenant, c.BrokersPerCluster, c.TopicsPerBroker = 1000, 100, 100, 1
		}, want: []string{"more than the limit"}},
		{name: "row groups", mutate: func(c *Config) { c.RowGroupRows = -1; c.FilesPerPartition = MaxFilesPerPartition + 1 }, want: []string{"RowGroupRows: -1", "FilesPerPartition: 4097"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := Config{From: testFrom, To: testFrom.Add(time.Hour)}
			tc.mutate(&c)
			err := c.Validate()
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate accepted an invalid config, want errors %q", tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestValidateAppliesDefaults(t *testing.T) {
	c := Config{From: testFrom, To: testFrom.Add(time.Hour)}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	want := Config{
		From: testFrom, To: testFrom.Add(time.Hour),
		Tenants: DefaultTenants, ClustersPerTenant: DefaultClustersPerTenant, BrokersPerCluster: DefaultBrokersPerCluster,
		TopicsPerBroker: DefaultTopicsPerBroker, Interval: DefaultInterval, Layout: DefaultLayout,
		FilesPerPartition: DefaultFilesPerPartition, RowGroupRows: DefaultRowGroupRows, Codec: DefaultCodec,
		TimeUnit: DefaultTimeUnit, LateBy: DefaultLateBy,
	}
	if !equalConfig(c, want) {
		t.Fatalf("after Validate\n got %+v\nwant %+v", c, want)
	}
	if d := DefaultConfig("mem://", testFrom, testFrom.Add(time.Hour)); d.ResetProbability != DefaultResetProbability || d.Interval != DefaultInterval {
		t.Fatalf("DefaultConfig = %+v", d)
	}
}

func equalConfig(a, b Config) bool {
	a.Progress, b.Progress = nil, nil
	return reflect.DeepEqual(a, b)
}

// TestFilesMatchPoints proves that Points is the truth of what Generate writes:
// every file read back with an independent decoder equals Points row by row, for
// every time unit, and Stats agree with the flags Points reports.
func TestFilesMatchPoints(t *testing.T) {
	for _, unit := range []string{UnitMS, UnitUS, UnitNS, UnitS, UnitInt64MS, UnitInt64NS} {
		t.Run(unit, func(t *testing.T) {
			cfg := small(2 * time.Hour)
			cfg.Interval = 30 * time.Second
			cfg.TimeUnit = unit
			cfg.RowGroupRows = 500
			cfg.LateFraction, cfg.DuplicateFraction, cfg.NaNFraction, cfg.OutOfOrderFraction, cfg.ResetProbability = 0.02, 0.02, 0.02, 0.02, 0.2
			b, st := generateMem(t, cfg)
			objs := objects(t, b)
			want := truth(t, cfg)
			if got, w := sortedKeys(objs), sortedKeys(want); !slices.Equal(got, w) {
				t.Fatalf("objects %v, Points files %v", got, w)
			}
			var fromPoints Stats
			for _, key := range sortedKeys(objs) {
				got := decodeFile(t, cfg, key, objs[key])
				if len(got) != len(want[key]) {
					t.Fatalf("%s: %d rows, Points has %d", key, len(got), len(want[key]))
				}
				for i := range got {
					if err := samePoint(got[i], want[key][i]); err != nil {
						t.Fatal(err)
					}
					if res := unitResolution[unit]; got[i].Time.UnixNano()%int64(res) != 0 || got[i].IngestTime.UnixNano()%int64(res) != 0 {
						t.Fatalf("%s row %d: time %s or ingest %s not a whole %s", key, i, got[i].Time, got[i].IngestTime, res)
					}
				}
				fromPoints.Files++
				fromPoints.Bytes += int64(len(objs[key]))
				for _, p := range want[key] {
					fromPoints.Rows++
					switch {
					case p.Duplicate:
						fromPoints.Duplicates++
					default:
						fromPoints.NaNs += b2i(p.NaN)
						fromPoints.Late += b2i(p.Late)
						fromPoints.Resets += b2i(p.Reset)
						fromPoints.OutOfOrder += b2i(p.OutOfOrder)
					}
				}
			}
			fromPoints.Series = st.Series
			if st != fromPoints {
				t.Fatalf("Stats %+v, counted from Points and objects %+v", st, fromPoints)
			}
			if st.Duplicates == 0 || st.NaNs == 0 || st.Late == 0 || st.Resets == 0 || st.OutOfOrder == 0 {
				t.Fatalf("some quirk never happened: %+v", st)
			}
		})
	}
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

func TestDeterministic(t *testing.T) {
	cfg := small(3 * time.Hour)
	cfg.RowGroupRows = 300
	cfg.LateFraction, cfg.DuplicateFraction, cfg.NaNFraction, cfg.OutOfOrderFraction, cfg.ResetProbability = 0.05, 0.05, 0.05, 0.05, 0.1
	cfg.Concurrency = 1
	b1, s1 := generateMem(t, cfg)
	cfg.Concurrency = 4
	b2, s2 := generateMem(t, cfg)
	o1, o2 := objects(t, b1), objects(t, b2)
	if s1 != s2 {
		t.Fatalf("stats differ: %+v vs %+v", s1, s2)
	}
	if len(o1) != 6 || !slices.Equal(sortedKeys(o1), sortedKeys(o2)) {
		t.Fatalf("objects %v vs %v", sortedKeys(o1), sortedKeys(o2))
	}
	for k, v := range o1 {
		if !bytes.Equal(v, o2[k]) {
			t.Fatalf("%s differs between runs", k)
		}
	}
	cfg.Seed++
	b3, _ := generateMem(t, cfg)
	o3 := objects(t, b3)
	for k, v := range o1 {
		if bytes.Equal(v, o3[k]) {
			t.Fatalf("%s is identical for seeds %d and %d", k, cfg.Seed-1, cfg.Seed)
		}
	}
}

// describe renders a leaf column's Parquet type: path, physical type, logical type, repetition.
func describe(c *schema.Column, topRequired bool) string {
	lt := "none"
	switch l := c.LogicalType().(type) {
	case schema.TimestampLogicalType:
		lt = "timestamp(" + map[schema.TimeUnitType]string{schema.TimeUnitMillis: "ms", schema.TimeUnitMicros: "us", schema.TimeUnitNanos: "ns"}[l.TimeUnit()] + map[bool]string{true: ",utc", false: ""}[l.IsAdjustedToUTC()] + ")"
	case schema.StringLogicalType:
		lt = "string"
	case schema.IntLogicalType:
		lt = "int"
	case schema.NoLogicalType, nil:
	default:
		lt = c.LogicalType().String()
	}
	return c.ColumnPath().String() + " " + c.PhysicalType().String() + " " + lt + " " + map[bool]string{true: "required", false: "optional"}[topRequired]
}

func TestSchemaContract(t *testing.T) {
	contract := func(ts string) []string {
		opt := map[bool]string{true: "required", false: "optional"}
		tcol := func(name string, req bool) string { return name + " INT64 " + ts + " " + opt[req] }
		return []string{
			tcol("time", true), tcol("start_time", false),
			"metric BYTE_ARRAY string required", "type BYTE_ARRAY string required", "temporality BYTE_ARRAY string optional",
			"monotonic BOOLEAN none optional", "value DOUBLE none optional",
			"tenant BYTE_ARRAY string required", "cluster BYTE_ARRAY string required", "broker BYTE_ARRAY string required",
			"topic BYTE_ARRAY string required", "request_type BYTE_ARRAY string required",
			"count INT64 int optional", "sum DOUBLE none optional", "min DOUBLE none optional", "max DOUBLE none optional",
			"bounds.list.element DOUBLE none optional", "bucket_counts.list.element INT64 int optional",
			tcol("ingest_time", true),
		}
	}
	tests := []struct {
		unit   string
		tsType string
	}{
		{UnitMS, "timestamp(ms,utc)"},
		{UnitS, "timestamp(ms,utc)"},
		{UnitUS, "timestamp(us,utc)"},
		{UnitNS, "timestamp(ns,utc)"},
		// Plain INT64: no TIMESTAMP annotation (arrow-go always adds INT(64, signed)).
		{UnitInt64MS, "int"},
		{UnitInt64NS, "int"},
	}
	for _, tc := range tests {
		t.Run(tc.unit, func(t *testing.T) {
			cfg := small(time.Hour)
			cfg.TimeUnit = tc.unit
			b, _ := generateMem(t, cfg)
			for key, data := range objects(t, b) {
				md := openParquet(t, data).MetaData()
				var got []string
				for i := 0; i < md.Schema.NumColumns(); i++ {
					c := md.Schema.Column(i)
					got = append(got, describe(c, md.Schema.ColumnRoot(i).RepetitionType() == parquet.Repetitions.Required))
				}
				if want := contract(tc.tsType); !slices.Equal(got, want) {
					t.Fatalf("%s schema:\n got %q\nwant %q", key, got, want)
				}
				if md.GetCreatedBy() != createdBy {
					t.Errorf("created_by %q", md.GetCreatedBy())
				}
			}
		})
	}
}
