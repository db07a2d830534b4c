package writer

import (
	"context"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tallyhq/tally/exec"
	"github.com/tallyhq/tally/specs"
)

// sameRow compares two rows field by field; NaN equals NaN, and a nil slice equals an
// empty one (Parquet does not keep that difference).
func sameRow(a, b *exec.Row) bool {
	if a.WindowStart != b.WindowStart || a.WindowEnd != b.WindowEnd || a.Samples != b.Samples || a.Count != b.Count ||
		!slices.Equal(a.Dims, b.Dims) || len(a.Values) != len(b.Values) || !slices.Equal(a.Sketch, b.Sketch) {
		return false
	}
	for i := range a.Values {
		if a.Values[i] != b.Values[i] && !(math.IsNaN(a.Values[i]) && math.IsNaN(b.Values[i])) {
			return false
		}
	}
	if (a.Hist == nil) != (b.Hist == nil) || (a.Exp == nil) != (b.Exp == nil) {
		return false
	}
	if a.Hist != nil && (!slices.Equal(a.Hist.Bounds, b.Hist.Bounds) || !slices.Equal(a.Hist.Counts, b.Hist.Counts)) {
		return false
	}
	if a.Exp != nil {
		x, y := a.Exp, b.Exp
		if x.Scale != y.Scale || x.ZeroCount != y.ZeroCount || x.PositiveOffset != y.PositiveOffset || x.NegativeOffset != y.NegativeOffset ||
			!slices.Equal(x.PositiveCounts, y.PositiveCounts) || !slices.Equal(x.NegativeCounts, y.NegativeCounts) {
			return false
		}
	}
	return true
}

func TestDecodeRollupRoundTrip(t *testing.T) {
	for _, ro := range testRollups(t) {
		if len(ro.Rows) == 0 {
			continue
		}
		t.Run(ro.Agg.Name, func(t *testing.T) {
			meta := testMeta()
			meta.Tenant = "acme"
			data, err := EncodeRollup(ro, meta)
			if err != nil {
				t.Fatal(err)
			}
			got, info, err := DecodeRollup(data, ro.Agg)
			if err != nil {
				t.Fatal(err)
			}
			if info.Aggregation != ro.Agg.Name || info.SpecVersion != ro.Agg.Version || info.TaskID != testTaskID ||
				info.Tenant != "acme" || info.Format != RollupFormat || info.InputFingerprint != meta.InputFingerprint {
				t.Errorf("info = %+v", info)
			}
			if len(got.Rows) != len(ro.Rows) {
				t.Fatalf("%d rows, want %d", len(got.Rows), len(ro.Rows))
			}
			for i := range ro.Rows {
				want := ro.Rows[i]
				if !ro.Agg.Has(specs.FnCount) {
					want.Count = 0 // no count column is written
				}
				if !sameRow(&got.Rows[i], &want) {
					t.Errorf("row %d = %+v, want %+v", i, got.Rows[i], ro.Rows[i])
				}
			}
		})
	}
}

func TestDecodeRollupRejects(t *testing.T) {
	reg := testRegistry(t)
	cpu := reg.Aggregation("broker_cpu_1m")
	cpuData, err := EncodeRollup(exec.Rollup{Agg: cpu, Rows: gaugeRows(cpu)}, testMeta())
	if err != nil {
		t.Fatal(err)
	}
	// The same aggregation with one more function: its column is missing from the file.
	more := *cpu
	more.Functions = append(slices.Clone(cpu.Functions), "p50")
	otherWindow := *cpu
	otherWindow.Window = 5 * time.Minute
	cases := []struct {
		name string
		data []byte
		agg  *specs.Aggregation
		want string
	}{
		{"not parquet", []byte("PAR1 this is not a parquet file PAR1"), cpu, "not a Parquet file"},
		{"truncated", cpuData[:len(cpuData)/2], cpu, "not a Parquet file"},
		{"other aggregation", cpuData, reg.Aggregation("bytes_in_5m"), `holds aggregation "broker_cpu_1m"`},
		{"other window", cpuData, &otherWindow, "window"},
		{"missing column", cpuData, &more, "column p50 is missing"},
		{"no aggregation", cpuData, nil, "no aggregation"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := DecodeRollup(c.data, c.agg)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want it to mention %q", err, c.want)
			}
		})
	}
}

func TestReadRollupsListsOnlyTheRange(t *testing.T) {
	ctx := context.Background()
	s, err := OpenStore(ctx, "mem://")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rollups := testRollups(t)
	if _, err := s.WriteRollups(ctx, rollups, testMeta()); err != nil {
		t.Fatal(err)
	}
	// A second task two days later must not be read for the first day.
	later := testMeta()
	later.TaskID = "20261103T0000Z-20261103T0100Z-all"
	later.TaskStart = taskStart.Add(48 * time.Hour)
	if _, err := s.WriteRollups(ctx, rollups, later); err != nil {
		t.Fatal(err)
	}
	// A foreign object beside the rollups is ignored.
	if err := s.put(ctx, "tenant=acme/broker_cpu_1m/dt=2026-11-01/notes.txt", "text/plain", []byte("hi")); err != nil {
		t.Fatal(err)
	}
	reg := testRegistry(t)
	got := map[string][]exec.Row{}
	tasks := map[string]bool{}
	err = s.ReadRollups(ctx, reg.Aggregations, taskStart, taskStart.Add(24*time.Hour), func(info RollupInfo, ro exec.Rollup) error {
		got[ro.Agg.Name] = append(got[ro.Agg.Name], ro.Rows...)
		tasks[info.TaskID] = true
		if !strings.HasPrefix(info.Key, "tenant=") {
			t.Errorf("key %q", info.Key)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(tasks) != 1 || !tasks[testTaskID] {
		t.Errorf("tasks read = %v, want only %s", tasks, testTaskID)
	}
	for _, ro := range rollups {
		want := len(ro.Rows)
		if !ro.Agg.Output.Parquet {
			want = 0 // never written
		}
		if len(got[ro.Agg.Name]) != want {
			t.Errorf("%s: read %d rows, want %d", ro.Agg.Name, len(got[ro.Agg.Name]), want)
		}
	}
	if err := s.ReadRollups(ctx, reg.Aggregations, taskStart, taskStart, nil); err == nil {
		t.Error("empty range accepted")
	}
}
