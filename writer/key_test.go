package writer

import (
	"strings"
	"testing"
	"time"
)

func TestRollupKey(t *testing.T) {
	agg := testAgg(t, "broker_cpu_1m")
	v := agg.Version
	paris := time.FixedZone("CET", 3600)
	tests := []struct {
		name   string
		tenant string
		task   string
		start  time.Time
		want   string
	}{
		{"plain", "acme", testTaskID, taskStart,
			"tenant=acme/broker_cpu_1m/dt=2026-11-01/broker_cpu_1m-" + v + "-" + testTaskID + ".parquet"},
		{"date is the UTC day of a zoned start", "acme", "t1", time.Date(2026, 11, 2, 0, 30, 0, 0, paris),
			"tenant=acme/broker_cpu_1m/dt=2026-11-01/broker_cpu_1m-" + v + "-t1.parquet"},
		{"slash and equals escaped", "a/b=c", "t1", taskStart,
			"tenant=a%2Fb%3Dc/broker_cpu_1m/dt=2026-11-01/broker_cpu_1m-" + v + "-t1.parquet"},
		{"percent escaped", "50%", "t1", taskStart,
			"tenant=50%25/broker_cpu_1m/dt=2026-11-01/broker_cpu_1m-" + v + "-t1.parquet"},
		{"empty tenant", "", "t1", taskStart,
			"tenant=__HIVE_DEFAULT_PARTITION__/broker_cpu_1m/dt=2026-11-01/broker_cpu_1m-" + v + "-t1.parquet"},
		{"literal default partition name kept apart from empty", "__HIVE_DEFAULT_PARTITION__", "t1", taskStart,
			"tenant=%5F_HIVE_DEFAULT_PARTITION__/broker_cpu_1m/dt=2026-11-01/broker_cpu_1m-" + v + "-t1.parquet"},
		{"dot-dot cannot climb", "..", "t1", taskStart,
			"tenant=%2E%2E/broker_cpu_1m/dt=2026-11-01/broker_cpu_1m-" + v + "-t1.parquet"},
		{"UTF-8 kept, control escaped", "zürich\n", "t1", taskStart,
			"tenant=zürich%0A/broker_cpu_1m/dt=2026-11-01/broker_cpu_1m-" + v + "-t1.parquet"},
		{"tenant-shard task", "a/b", "20261101T0000Z-20261101T0100Z-tenant=a%2Fb", taskStart,
			"tenant=a%2Fb/broker_cpu_1m/dt=2026-11-01/broker_cpu_1m-" + v + "-20261101T0000Z-20261101T0100Z-tenant=a%2Fb.parquet"},
		{"invalid UTF-8 escaped", "a\xffb", "t1", taskStart,
			"tenant=a%FFb/broker_cpu_1m/dt=2026-11-01/broker_cpu_1m-" + v + "-t1.parquet"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := RollupKey(agg, tc.tenant, tc.task, tc.start)
			if got != tc.want {
				t.Fatalf("RollupKey = %q, want %q", got, tc.want)
			}
			ref, ok := ParseRollupKey(got)
			if !ok {
				t.Fatalf("ParseRollupKey(%q) failed", got)
			}
			want := RollupRef{Tenant: tc.tenant, Aggregation: agg.Name, Date: tc.start.UTC().Format(time.DateOnly), SpecVersion: v, TaskID: tc.task}
			if ref != want {
				t.Fatalf("ParseRollupKey = %+v, want %+v", ref, want)
			}
		})
	}
}

func TestParseRollupKeyRejectsForeignKeys(t *testing.T) {
	for _, key := range []string{
		"",
		"_tally/tasks/t1.json",
		"tenant=acme/agg/dt=2026-11-01/agg-v1-t1.csv",
		"tenant=acme/agg/dt=2026-13-01/agg-v1-t1.parquet",
		"tenant=acme/agg/2026-11-01/agg-v1-t1.parquet",
		"tenant=acme/agg/dt=2026-11-01/other-v1-t1.parquet",
		"tenant=acme/agg/dt=2026-11-01/agg-v1.parquet",
		"tenant=a/b/agg/dt=2026-11-01/agg-v1-t1.parquet",
		"tenant=a%2fb/agg/dt=2026-11-01/agg-v1-t1.parquet", // lower-case hex: not ours
		"tenant=a%2/agg/dt=2026-11-01/agg-v1-t1.parquet",
		"tenant=a=b/agg/dt=2026-11-01/agg-v1-t1.parquet",
		"tenant=acme/agg/dt=2026-11-01/agg-v1-t1.parquet.1a2b.tmp",
		"tenant=acme/agg/dt=2026-11-01/agg-v1-t 1.parquet",
	} {
		if ref, ok := ParseRollupKey(key); ok {
			t.Errorf("ParseRollupKey(%q) = %+v, want rejection", key, ref)
		}
	}
}

func FuzzEscapeTenant(f *testing.F) {
	for _, s := range []string{"", "acme", "a/b", "..", ".", "%", "__HIVE_DEFAULT_PARTITION__", "\xff", "zürich"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, tenant string) {
		e := EscapeTenant(tenant)
		if strings.Contains(e, "/") || e == "." || e == ".." || e == "" {
			t.Fatalf("EscapeTenant(%q) = %q is not one safe path segment", tenant, e)
		}
		back, ok := UnescapeTenant(e)
		if !ok || back != tenant {
			t.Fatalf("UnescapeTenant(EscapeTenant(%q)) = %q, %v", tenant, back, ok)
		}
	})
}

func TestCheckID(t *testing.T) {
	tests := []struct {
		id string
		ok bool
	}{
		{testTaskID, true},
		{"run-2026.11.01+a=b_c", true},
		{"20261101T0000Z-20261101T0100Z-tenant=a%2Fb", true},
		{"a~b", false},
		{"", false},
		{".hidden", false},
		{"a/b", false},
		{"a b", false},
		{"..", false},
		{strings.Repeat("x", 201), false},
		{strings.Repeat("x", 200), true},
	}
	for _, tc := range tests {
		err := CheckID("task", tc.id)
		if (err == nil) != tc.ok {
			t.Errorf("CheckID(%q) = %v, want ok=%v", tc.id, err, tc.ok)
		}
	}
}
