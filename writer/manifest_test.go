package writer

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestCommitted(t *testing.T) {
	base := func() (*Manifest, Task, map[string]string) {
		in := []Input{
			{Key: "raw/dt=2026-11-01/hour=00/a.parquet", Size: 100, ETag: `"a1"`, RowGroups: []int{0, 1}},
			{Key: "raw/dt=2026-11-01/hour=00/b.parquet", Size: 200, ETag: `"b1"`, RowGroups: []int{2}},
		}
		m := &Manifest{Format: ManifestFormat, TaskID: "t1", From: taskStart, To: taskStart.Add(time.Hour), Shard: "all",
			Inputs: in, Specs: []SpecRef{{Name: "cpu", Version: "aaa"}, {Name: "mem", Version: "bbb"}}}
		// The planned task lists its inputs in another order: order does not matter.
		task := Task{ID: "t1", From: taskStart, To: taskStart.Add(time.Hour), Shard: "all", Inputs: []Input{in[1], in[0]}}
		return m, task, map[string]string{"cpu": "aaa", "mem": "bbb"}
	}
	tests := []struct {
		name string
		edit func(m *Manifest, task *Task, specs map[string]string) *Manifest
		skip bool
		why  string
	}{
		{"unchanged", nil, true, "same inputs"},
		{"no manifest", func(*Manifest, *Task, map[string]string) *Manifest { return nil }, false, "no manifest"},
		{"etag changed", func(m *Manifest, task *Task, _ map[string]string) *Manifest {
			task.Inputs[1].ETag = `"a2"`
			return m
		}, false, `input raw/dt=2026-11-01/hour=00/a.parquet etag changed "a1" → "a2"`},
		{"size changed", func(m *Manifest, task *Task, _ map[string]string) *Manifest {
			task.Inputs[0].Size = 201
			return m
		}, false, "b.parquet size changed 200 → 201 bytes"},
		{"row groups changed", func(m *Manifest, task *Task, _ map[string]string) *Manifest {
			task.Inputs[1].RowGroups = []int{0, 1, 2}
			return m
		}, false, "a.parquet row groups changed [0,1] → [0,1,2]"},
		{"input added", func(m *Manifest, task *Task, _ map[string]string) *Manifest {
			task.Inputs = append(task.Inputs, Input{Key: "raw/late.parquet", Size: 5})
			return m
		}, false, "input raw/late.parquet is new"},
		{"input gone", func(m *Manifest, task *Task, _ map[string]string) *Manifest {
			task.Inputs = task.Inputs[:1]
			return m
		}, false, "a.parquet is gone"},
		{"spec version changed", func(m *Manifest, _ *Task, sv map[string]string) *Manifest {
			sv["cpu"] = "ccc"
			return m
		}, false, "aggregation cpu spec version changed aaa → ccc"},
		{"aggregation added", func(m *Manifest, _ *Task, sv map[string]string) *Manifest {
			sv["disk"] = "ddd"
			return m
		}, false, "aggregation disk is new"},
		{"aggregation removed from the run still skips", func(m *Manifest, _ *Task, sv map[string]string) *Manifest {
			delete(sv, "mem")
			return m
		}, true, "same inputs"},
		{"kafka wanted, committed without it", func(m *Manifest, task *Task, _ map[string]string) *Manifest {
			m.Sinks = []string{SinkParquet}
			task.Sinks = []string{SinkParquet, SinkKafka}
			return m
		}, false, "did not produce kafka output (it produced parquet)"},
		{"kafka committed, not wanted now", func(m *Manifest, task *Task, _ map[string]string) *Manifest {
			m.Sinks = []string{SinkKafka, SinkParquet}
			task.Sinks = []string{SinkParquet}
			return m
		}, true, "same inputs"},
		{"sinks not recorded", func(m *Manifest, task *Task, _ map[string]string) *Manifest {
			task.Sinks = []string{SinkParquet}
			return m
		}, false, "none recorded"},
		{"time slice changed", func(m *Manifest, task *Task, _ map[string]string) *Manifest {
			task.To = task.To.Add(time.Hour)
			return m
		}, false, "time slice changed"},
		{"shard changed", func(m *Manifest, task *Task, _ map[string]string) *Manifest {
			task.Shard = "1/2"
			return m
		}, false, `shard changed: committed "all", planned "1/2"`},
		{"other task", func(m *Manifest, task *Task, _ map[string]string) *Manifest {
			task.ID = "t2"
			return m
		}, false, "manifest is of task t1"},
		{"newer format", func(m *Manifest, _ *Task, _ map[string]string) *Manifest {
			m.Format = ManifestFormat + 1
			return m
		}, false, "newer"},
		{"many changes are summarized", func(m *Manifest, task *Task, sv map[string]string) *Manifest {
			sv["cpu"], sv["mem"], sv["x"], sv["y"] = "1", "2", "3", "4"
			return m
		}, false, "and 1 more changes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, task, sv := base()
			if tc.edit != nil {
				m = tc.edit(m, &task, sv)
			}
			skip, why := Committed(m, task, sv)
			if skip != tc.skip || !strings.Contains(why, tc.why) {
				t.Fatalf("Committed = %v, %q; want %v, containing %q", skip, why, tc.skip, tc.why)
			}
		})
	}
}

func TestFingerprint(t *testing.T) {
	a := Input{Key: "a", Size: 1, ETag: "x", RowGroups: []int{0, 1}}
	b := Input{Key: "b", Size: 2}
	fp := Fingerprint([]Input{a, b})
	if Fingerprint([]Input{b, a}) != fp {
		t.Error("fingerprint depends on input order")
	}
	for name, in := range map[string][]Input{
		"etag":       {{Key: "a", Size: 1, ETag: "y", RowGroups: []int{0, 1}}, b},
		"size":       {{Key: "a", Size: 3, ETag: "x", RowGroups: []int{0, 1}}, b},
		"row groups": {{Key: "a", Size: 1, ETag: "x", RowGroups: []int{0}}, b},
		"key":        {{Key: "a2", Size: 1, ETag: "x", RowGroups: []int{0, 1}}, b},
		"fewer":      {a},
		"empty":      nil,
	} {
		if Fingerprint(in) == fp {
			t.Errorf("changing the %s kept the fingerprint", name)
		}
	}
	// Keys with separators cannot be confused with two inputs.
	if Fingerprint([]Input{{Key: "a\" 1 \"x\"\n\"b", Size: 2}}) == Fingerprint([]Input{{Key: "a", Size: 1, ETag: "x"}, {Key: "b", Size: 2}}) {
		t.Error("a key with quotes and newlines collides with two inputs")
	}
}

func TestDecodeManifestRejects(t *testing.T) {
	valid := `{"format":1,"task_id":"t1","from":"2026-11-01T00:00:00Z","to":"2026-11-01T01:00:00Z"}`
	if _, err := DecodeManifest([]byte(valid)); err != nil {
		t.Fatalf("valid manifest rejected: %v", err)
	}
	tests := []struct {
		name, doc, want string
	}{
		{"not JSON", `{`, "not a tally manifest"},
		{"newer format", strings.Replace(valid, `"format":1`, `"format":2`, 1), "newer tally"},
		{"no format", strings.Replace(valid, `"format":1,`, ``, 1), "format 0"},
		{"bad task ID", strings.Replace(valid, `"t1"`, `"../t1"`, 1), "task_id"},
		{"empty range", strings.Replace(valid, `01:00:00Z`, `00:00:00Z`, 1), "is not before"},
		{"foreign output key", strings.Replace(valid, `}`, `,"outputs":[{"key":"x/y.parquet"}]}`, 1), "not a rollup key"},
		{"output of another task", strings.Replace(valid, `}`, `,"outputs":[{"key":"tenant=a/agg/dt=2026-11-01/agg-v1-t2.parquet"}]}`, 1), "belongs to task t2"},
		{"duplicate spec", strings.Replace(valid, `}`, `,"specs":[{"name":"a","version":"1"},{"name":"a","version":"2"}]}`, 1), "appears twice"},
		{"wrong type", strings.Replace(valid, `"t1"`, `7`, 1), "not a tally manifest"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeManifest([]byte(tc.doc))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func FuzzDecodeManifest(f *testing.F) {
	m := &Manifest{Format: 1, TaskID: "t1", From: taskStart, To: taskStart.Add(time.Hour),
		Inputs: []Input{{Key: "a", Size: 1, RowGroups: []int{0}}}, Specs: []SpecRef{{Name: "a", Version: "1"}}}
	seed, _ := json.Marshal(m)
	f.Add(seed)
	f.Add([]byte(`{"format":1}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := DecodeManifest(data)
		if err != nil {
			return
		}
		// What decodes is valid and survives a round trip.
		if err := m.Validate(); err != nil {
			t.Fatalf("decoded manifest is invalid: %v", err)
		}
		again, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := DecodeManifest(again); err != nil {
			t.Fatalf("re-encoded manifest rejected: %v", err)
		}
	})
}
