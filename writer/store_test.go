package writer

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tallyhq/tally/exec"
	"github.com/tallyhq/tally/internal/s3test"
	"github.com/tallyhq/tally/specs"
)

// fixedNow is the clock of the store tests.
var fixedNow = time.Date(2026, 11, 2, 3, 4, 5, 0, time.UTC)

// storeCase opens one kind of store for a test.
type storeCase struct {
	name string
	open func(t *testing.T) (url string, dir string)
}

// storeCases are the stores every store test runs against: memory, local files (with
// temporary files in the system temp dir and next to the key) and an S3 API server.
var storeCases = []storeCase{
	{"mem", func(t *testing.T) (string, string) { return "mem://", "" }},
	{"file", func(t *testing.T) (string, string) {
		d := t.TempDir()
		return "file://" + filepath.ToSlash(d), d
	}},
	{"file-no-tmp-dir", func(t *testing.T) (string, string) {
		d := t.TempDir()
		return "file://" + filepath.ToSlash(d) + "?no_tmp_dir=1", d
	}},
	{"s3", func(t *testing.T) (string, string) {
		raw := s3test.Start(t, "rollups")
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		u.Path = "/out/backfill" // a prefix inside the bucket
		return u.String(), ""
	}},
}

// forEachStore runs fn against every kind of store.
func forEachStore(t *testing.T, fn func(t *testing.T, s *Store, dir string)) {
	for _, sc := range storeCases {
		t.Run(sc.name, func(t *testing.T) {
			u, dir := sc.open(t)
			s, err := OpenStore(context.Background(), u, WithClock(func() time.Time { return fixedNow }))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				if err := s.Close(); err != nil {
					t.Error(err)
				}
			})
			fn(t, s, dir)
		})
	}
}

// allKeys lists every object of the store.
func allKeys(t *testing.T, s *Store) []string {
	t.Helper()
	objs, err := s.listKeys(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, o := range objs {
		keys = append(keys, o.Key)
	}
	slices.Sort(keys)
	return keys
}

func testManifest(t testing.TB, outs []OutputObject) *Manifest {
	m := &Manifest{
		TaskID: testTaskID, From: taskStart, To: taskStart.Add(time.Hour), Shard: "all",
		RunID: "run-1", TallyVersion: "test",
		Inputs:  []Input{{Key: "dt=2026-11-01/hour=00/a.parquet", Size: 100, ETag: `"e1"`, RowGroups: []int{0, 1}}},
		Outputs: outs,
		Sinks:   []string{SinkKafka, SinkParquet},
		Kafka:   []KafkaRange{{Topic: "tally.bytes_in_5m", Partition: 3, FirstOffset: 10, LastOffset: 12, Records: 2}},
		Stats:   map[string]int64{"rows_in": 1000, "dropped_nonfinite": 2},
	}
	for _, a := range testRegistry(t).Aggregations {
		m.Specs = append(m.Specs, SpecRef{Name: a.Name, Version: a.Version})
	}
	return m
}

func TestWriteRollupsAndCommit(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *Store, _ string) {
		ctx := context.Background()
		outs, err := s.WriteRollups(ctx, testRollups(t), testMeta())
		if err != nil {
			t.Fatal(err)
		}
		type obj struct {
			agg, tenant string
			rows        int64
		}
		var got []obj
		for _, o := range outs {
			got = append(got, obj{o.Aggregation, o.Tenant, o.Rows})
			data, err := s.Bucket().ReadAll(ctx, o.Key)
			if err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256(data)
			if int64(len(data)) != o.Bytes || hex.EncodeToString(sum[:]) != o.SHA256 {
				t.Errorf("%s: %d bytes sha256 %x, output says %d bytes %s", o.Key, len(data), sum, o.Bytes, o.SHA256)
			}
			ref, ok := ParseRollupKey(o.Key)
			if !ok || ref.Tenant != o.Tenant || ref.Aggregation != o.Aggregation || ref.SpecVersion != o.SpecVersion || ref.TaskID != testTaskID {
				t.Errorf("key %s does not match output %+v", o.Key, o)
			}
			// Every file holds only its tenant's rows.
			_, tbl := readBack(t, data)
			tenants := col(t, tbl, "tenant")
			for i := 0; i < tenants.Len(); i++ {
				if v := tenants.ValueStr(i); v != o.Tenant {
					t.Errorf("%s: row %d has tenant %q", o.Key, i, v)
				}
			}
		}
		// bytes_in_5m has no Parquet output; broker_cpu_1m has two tenants; sorted by key.
		want := []obj{
			{"broker_cpu_1m", "acme", 4}, {"latency_1h", "acme", 2}, {"latency_exp_1h", "acme", 1}, {"broker_cpu_1m", "globex", 1},
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("outputs %+v, want %+v", got, want)
		}

		m := testManifest(t, outs)
		if err := s.Commit(ctx, m); err != nil {
			t.Fatal(err)
		}
		back, err := s.ReadManifest(ctx, testTaskID)
		if err != nil {
			t.Fatal(err)
		}
		if !back.Created.Equal(fixedNow) || back.Format != ManifestFormat || back.InputFingerprint != Fingerprint(m.Inputs) {
			t.Errorf("stamped fields: created %s format %d fingerprint %s", back.Created, back.Format, back.InputFingerprint)
		}
		if !reflect.DeepEqual(back, m) {
			t.Errorf("manifest round trip:\n got %+v\nwant %+v", back, m)
		}
		all, err := s.ListManifests(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(all) != 1 || all[0].TaskID != testTaskID {
			t.Errorf("ListManifests = %v", all)
		}
		if _, err := s.ReadManifest(ctx, "no-such-task"); !errors.Is(err, ErrNotFound) {
			t.Errorf("missing manifest: err = %v, want ErrNotFound", err)
		}
	})
}

func TestRerunOverwritesIdentically(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *Store, _ string) {
		ctx := context.Background()
		first, err := s.WriteRollups(ctx, testRollups(t), testMeta())
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Commit(ctx, testManifest(t, first)); err != nil {
			t.Fatal(err)
		}
		keys := allKeys(t, s)
		// A rerun with other parallelism writes the same keys with the same bytes.
		serial := NewStore(s.Bucket(), s.URL(), WithConcurrency(1), WithClock(func() time.Time { return fixedNow.Add(time.Hour) }))
		second, err := serial.WriteRollups(ctx, testRollups(t), testMeta())
		if err != nil {
			t.Fatal(err)
		}
		if err := serial.Commit(ctx, testManifest(t, second)); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(first, second) {
			t.Errorf("rerun outputs differ:\n%+v\n%+v", first, second)
		}
		if again := allKeys(t, s); !slices.Equal(keys, again) {
			t.Errorf("rerun changed the object set:\n%v\n%v", keys, again)
		}
		m, err := s.ReadManifest(ctx, testTaskID)
		if err != nil {
			t.Fatal(err)
		}
		if !m.Created.Equal(fixedNow.Add(time.Hour)) {
			t.Errorf("manifest created %s, want the rerun's time", m.Created)
		}
	})
}

func TestCancelledWritesLeaveNothing(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *Store, dir string) {
		ctx := context.Background()
		cancelled, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := s.WriteRollups(cancelled, testRollups(t), testMeta()); !errors.Is(err, context.Canceled) {
			t.Fatalf("WriteRollups with a cancelled context: err = %v", err)
		}
		if err := s.Commit(cancelled, testManifest(t, nil)); !errors.Is(err, context.Canceled) {
			t.Fatalf("Commit with a cancelled context: err = %v", err)
		}
		if keys := allKeys(t, s); len(keys) != 0 {
			t.Fatalf("cancelled writes left %v", keys)
		}

		// A write cancelled after some bytes were sent leaves no object either: the
		// property put relies on.
		wctx, wcancel := context.WithCancel(ctx)
		w, err := s.Bucket().NewWriter(wctx, "tenant=acme/x/dt=2026-11-01/x-v-t.parquet", nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(bytes.Repeat([]byte("x"), 1<<16)); err != nil {
			t.Fatal(err)
		}
		wcancel()
		if err := w.Close(); err == nil {
			t.Fatal("Close after cancel succeeded")
		}
		if keys := allKeys(t, s); len(keys) != 0 {
			t.Fatalf("a cancelled write left %v", keys)
		}

		// A cancelled commit keeps the previous manifest.
		old := testManifest(t, nil)
		old.RunID = "run-old"
		if err := s.Commit(ctx, old); err != nil {
			t.Fatal(err)
		}
		next := testManifest(t, nil)
		next.RunID = "run-new"
		if err := s.Commit(cancelled, next); err == nil {
			t.Fatal("Commit with a cancelled context succeeded")
		}
		m, err := s.ReadManifest(ctx, testTaskID)
		if err != nil || m.RunID != "run-old" {
			t.Fatalf("after a cancelled commit: %v, %v; want the previous manifest", m, err)
		}
		if dir != "" {
			// No temporary file is left behind on disk.
			err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
				if err == nil && strings.HasSuffix(p, ".tmp") {
					t.Errorf("temporary file left: %s", p)
				}
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
		}
	})
}

func TestObsoleteAndClean(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *Store, dir string) {
		ctx := context.Background()
		// Commit 1: version A of every aggregation, two tenants.
		outs1, err := s.WriteRollups(ctx, testRollups(t), testMeta())
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Commit(ctx, testManifest(t, outs1)); err != nil {
			t.Fatal(err)
		}
		if left, err := s.Obsolete(ctx, ObsoleteOptions{}); err != nil || len(left) != 0 {
			t.Fatalf("fresh commit: leftovers %v, %v", left, err)
		}

		// Commit 2: broker_cpu_1m changed version and globex has no rows any more;
		// latency_exp_1h is no longer computed by the task.
		rollups := testRollups(t)
		var kept []exec.Rollup
		var oldCPU, newCPU string
		for _, r := range rollups {
			switch r.Agg.Name {
			case "broker_cpu_1m":
				a := *r.Agg
				oldCPU = a.Version
				a.Version = "0123456789ab"
				newCPU = a.Version
				r.Agg = &a
				r.Rows = slices.DeleteFunc(r.Rows, func(row exec.Row) bool { return row.Dims[1] == "globex" })
			case "latency_exp_1h":
				continue
			}
			kept = append(kept, r)
		}
		outs2, err := s.WriteRollups(ctx, kept, testMeta())
		if err != nil {
			t.Fatal(err)
		}
		m2 := testManifest(t, outs2)
		m2.RunID = "run-2"
		m2.Specs = nil
		for _, r := range kept {
			m2.Specs = append(m2.Specs, SpecRef{Name: r.Agg.Name, Version: r.Agg.Version})
		}
		if err := s.Commit(ctx, m2); err != nil {
			t.Fatal(err)
		}
		// A killed run of another task: data, no manifest.
		meta3 := testMeta()
		meta3.TaskID = "20261101T0100Z-20261101T0200Z-all"
		outs3, err := s.WriteRollups(ctx, rollups[2:3], meta3)
		if err != nil {
			t.Fatal(err)
		}
		// Objects tally did not write are never reported.
		if err := s.Bucket().WriteAll(ctx, "tenant=acme/README.txt", []byte("hi"), nil); err != nil {
			t.Fatal(err)
		}
		// An interrupted write's temporary file next to its key (fileblob no_tmp_dir).
		tmpKey := outs1[0].Key + ".18f3a2b4c5d6e7f8.tmp"
		if err := s.Bucket().WriteAll(ctx, tmpKey, []byte("partial"), nil); err != nil {
			t.Fatal(err)
		}

		left, err := s.Obsolete(ctx, ObsoleteOptions{})
		if err != nil {
			t.Fatal(err)
		}
		reasons := map[string]string{}
		for _, l := range left {
			reasons[l.Key] = l.Reason
		}
		cpuAcmeOld := RollupKey(&specs.Aggregation{Name: "broker_cpu_1m", Version: oldCPU}, "acme", testTaskID, taskStart)
		cpuGlobexOld := RollupKey(&specs.Aggregation{Name: "broker_cpu_1m", Version: oldCPU}, "globex", testTaskID, taskStart)
		expOld := ""
		for _, o := range outs1 {
			if o.Aggregation == "latency_exp_1h" {
				expOld = o.Key
			}
		}
		want := map[string]string{
			cpuAcmeOld:   "spec version " + oldCPU + " of broker_cpu_1m was replaced by " + newCPU,
			cpuGlobexOld: "spec version " + oldCPU + " of broker_cpu_1m was replaced by " + newCPU,
			expOld:       "aggregation latency_exp_1h is no longer computed by the task",
			outs3[0].Key: "has no manifest",
			tmpKey:       "temporary file of an interrupted write",
		}
		if len(reasons) != len(want) {
			t.Errorf("leftovers %v, want the keys of %v", reasons, want)
		}
		for k, w := range want {
			if !strings.Contains(reasons[k], w) {
				t.Errorf("leftover %s: reason %q, want one containing %q", k, reasons[k], w)
			}
		}

		// Limited to one task.
		only, err := s.Obsolete(ctx, ObsoleteOptions{TaskIDs: []string{meta3.TaskID}})
		if err != nil || len(only) != 1 || only[0].Key != outs3[0].Key {
			t.Errorf("Obsolete of task %s = %v, %v", meta3.TaskID, only, err)
		}
		// Young objects are skipped with MinAge (the store's clock is before their writes).
		young, err := NewStore(s.Bucket(), s.URL(), WithClock(time.Now)).Obsolete(ctx, ObsoleteOptions{MinAge: time.Hour})
		if err != nil || len(young) != 0 {
			t.Errorf("Obsolete with MinAge 1h = %v, %v", young, err)
		}

		// The killed task is rerun and committed after the listing: Clean keeps its file.
		if err := s.Commit(ctx, &Manifest{TaskID: meta3.TaskID, From: taskStart.Add(time.Hour), To: taskStart.Add(2 * time.Hour),
			Shard: "all", RunID: "run-3", Outputs: outs3}); err != nil {
			t.Fatal(err)
		}
		n, err := s.Clean(ctx, left)
		if err != nil {
			t.Fatal(err)
		}
		if n != len(want)-1 {
			t.Errorf("Clean deleted %d objects, want %d", n, len(want)-1)
		}
		if left, err := s.Obsolete(ctx, ObsoleteOptions{}); err != nil || len(left) != 0 {
			t.Errorf("after Clean: leftovers %v, %v", left, err)
		}
		for _, o := range append(outs2, outs3...) {
			if ok, err := s.Bucket().Exists(ctx, o.Key); err != nil || !ok {
				t.Errorf("committed %s is gone after Clean (%v)", o.Key, err)
			}
		}
		if ok, _ := s.Bucket().Exists(ctx, "tenant=acme/README.txt"); !ok {
			t.Error("Clean deleted a foreign object")
		}
	})
}

func TestJournal(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *Store, _ string) {
		ctx := context.Background()
		j := s.Journal()
		if _, ok, err := j.ReadPending(ctx, "t1"); ok || err != nil {
			t.Fatalf("empty journal: ok %v err %v", ok, err)
		}
		if err := j.WritePending(ctx, "t1", []byte(`{"txn":"a"}`)); err != nil {
			t.Fatal(err)
		}
		if err := j.WritePending(ctx, "t2", []byte(`{"txn":"b"}`)); err != nil {
			t.Fatal(err)
		}
		if err := j.WritePending(ctx, "t1", []byte(`{"txn":"c"}`)); err != nil {
			t.Fatal(err)
		}
		if err := j.WritePending(ctx, "t3", []byte(`{"txn":`)); err == nil {
			t.Error("invalid JSON payload accepted")
		}
		p, ok, err := j.ReadPending(ctx, "t1")
		if err != nil || !ok || string(p) != `{"txn":"c"}` {
			t.Fatalf("ReadPending = %s, %v, %v", p, ok, err)
		}
		ids, err := j.ListPending(ctx)
		if err != nil || !slices.Equal(ids, []string{"t1", "t2"}) {
			t.Fatalf("ListPending = %v, %v", ids, err)
		}
		if err := j.DeletePending(ctx, "t1"); err != nil {
			t.Fatal(err)
		}
		if err := j.DeletePending(ctx, "t1"); err != nil {
			t.Fatalf("deleting a missing marker: %v", err)
		}
		if _, ok, _ := j.ReadPending(ctx, "t1"); ok {
			t.Error("marker still there after DeletePending")
		}
		if err := j.WritePending(ctx, "../x", []byte(`{}`)); err == nil {
			t.Error("task ID with a slash accepted")
		}
	})
}

func TestRunSummary(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *Store, _ string) {
		ctx := context.Background()
		r1 := &RunSummary{RunID: "run-1", From: taskStart, To: taskStart.Add(time.Hour), Started: fixedNow, RowsIn: 3000,
			Tasks: TaskCounts{Planned: 2, Done: 1, Failed: 1}, Failed: []TaskFailure{{TaskID: "t2", Error: "boom"}},
			Aggregations: map[string]AggregationSummary{"broker_cpu_1m": {RowsOut: 5, Drops: map[string]int64{"dropped_nonfinite": 1}}}}
		r1.Finish(fixedNow.Add(2 * time.Second))
		if r1.DurationSeconds != 2 || r1.RowsPerSecond != 1500 {
			t.Errorf("Finish: %v s, %v rows/s", r1.DurationSeconds, r1.RowsPerSecond)
		}
		if err := s.WriteRunSummary(ctx, r1); err != nil {
			t.Fatal(err)
		}
		r2 := &RunSummary{RunID: "run-2", Started: fixedNow}
		if err := s.WriteRunSummary(ctx, r2); err != nil {
			t.Fatal(err)
		}
		back, err := s.ReadRunSummary(ctx, "run-1")
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(back, r1) {
			t.Errorf("round trip:\n got %+v\nwant %+v", back, r1)
		}
		latest, err := s.ReadRunSummary(ctx, LatestRun)
		if err != nil || latest.RunID != "run-2" {
			t.Errorf("latest = %+v, %v", latest, err)
		}
		if err := s.WriteRunSummary(ctx, &RunSummary{RunID: LatestRun}); err == nil {
			t.Error("run ID latest accepted")
		}
		if _, err := s.ReadRunSummary(ctx, "run-9"); !errors.Is(err, ErrNotFound) {
			t.Errorf("missing summary: %v", err)
		}
	})
}

func TestStatus(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *Store, _ string) {
		ctx := context.Background()
		m := testManifest(t, nil)
		if err := s.Commit(ctx, m); err != nil {
			t.Fatal(err)
		}
		m2 := testManifest(t, nil)
		m2.TaskID = "t-stale"
		if err := s.Commit(ctx, m2); err != nil {
			t.Fatal(err)
		}
		versions := map[string]string{}
		for _, sp := range m.Specs {
			versions[sp.Name] = sp.Version
		}
		committed := Task{ID: testTaskID, From: m.From, To: m.To, Shard: "all", Inputs: m.Inputs}
		stale := committed
		stale.ID = "t-stale"
		stale.Inputs = []Input{{Key: m.Inputs[0].Key, Size: 100, ETag: `"e2"`, RowGroups: []int{0, 1}}}
		missing := committed
		missing.ID = "t-missing"
		got, err := s.Status(ctx, []Task{missing, committed, stale}, versions)
		if err != nil {
			t.Fatal(err)
		}
		want := []struct{ id, state, why string }{
			{"t-missing", StateMissing, "no manifest"},
			{testTaskID, StateCommitted, "same inputs"},
			{"t-stale", StateStale, `etag changed "e1" → "e2"`},
		}
		if len(got) != len(want) {
			t.Fatalf("Status = %+v", got)
		}
		for i, w := range want {
			if got[i].TaskID != w.id || got[i].State != w.state || !strings.Contains(got[i].Why, w.why) {
				t.Errorf("status %d = %+v, want %s %s (%s)", i, got[i], w.id, w.state, w.why)
			}
		}
		if got[1].RunID != "run-1" || !got[1].Committed.Equal(fixedNow) {
			t.Errorf("committed status %+v lacks the manifest's run and time", got[1])
		}
	})
}

// A path after the bucket name is a key prefix: everything lands under it.
func TestOpenStorePrefix(t *testing.T) {
	ctx := context.Background()
	raw := s3test.Start(t, "rollups")
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/prod/tally"
	s, err := OpenStore(ctx, u.String())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Journal().WritePending(ctx, "t1", []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	root, err := OpenStore(ctx, raw)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	if keys := allKeys(t, root); !slices.Equal(keys, []string{"prod/tally/" + PendingKey("t1")}) {
		t.Fatalf("bucket holds %v", keys)
	}
	if _, err := OpenStore(ctx, "/data/out"); err == nil || !strings.Contains(err.Error(), "not a URL") {
		t.Errorf("a path without scheme: err = %v", err)
	}
}

// A read of something that is not a manifest fails with the key in the message, and
// a huge object is refused before it is read.
func TestReadManifestRejectsForeignObjects(t *testing.T) {
	old := maxMetaBytes
	maxMetaBytes = 4096
	t.Cleanup(func() { maxMetaBytes = old })
	ctx := context.Background()
	s, err := OpenStore(ctx, "mem://")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	write := func(key string, data []byte) {
		if err := s.Bucket().WriteAll(ctx, key, data, nil); err != nil {
			t.Fatal(err)
		}
	}
	write(ManifestKey("t-garbage"), []byte("not json"))
	write(ManifestKey("t-renamed"), mustJSON(t, testManifest(t, nil)))
	write(ManifestKey("t-huge"), bytes.Repeat([]byte(" "), int(maxMetaBytes)+1))
	for id, want := range map[string]string{
		"t-garbage": "not a tally manifest",
		"t-renamed": "names task",
		"t-huge":    "more than the",
	} {
		_, err := s.ReadManifest(ctx, id)
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), ManifestKey(id)) {
			t.Errorf("ReadManifest(%s) = %v, want an error naming the key and containing %q", id, err, want)
		}
	}
}

func mustJSON(t *testing.T, m *Manifest) []byte {
	t.Helper()
	m.Format = ManifestFormat
	data, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// A failed object write fails WriteRollups with the object's key, and no writer
// goroutine outlives the call.
func TestWriteRollupsFailureNamesTheObject(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := OpenStore(ctx, "file://"+filepath.ToSlash(dir))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	agg := testAgg(t, "broker_cpu_1m")
	bad := RollupKey(agg, "globex", testTaskID, taskStart)
	// A directory where the file should go makes its write fail.
	if err := os.MkdirAll(filepath.Join(dir, filepath.FromSlash(bad), "x"), 0o755); err != nil {
		t.Fatal(err)
	}
	before := runtime.NumGoroutine()
	_, err = s.WriteRollups(ctx, testRollups(t), testMeta())
	if err == nil || !strings.Contains(err.Error(), bad) {
		t.Fatalf("err = %v, want one naming %s", err, bad)
	}
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Errorf("%d goroutines after WriteRollups, %d before", n, before)
	}
	if _, err := s.ReadManifest(ctx, testTaskID); !errors.Is(err, ErrNotFound) {
		t.Errorf("a manifest exists after a failed write: %v", err)
	}
}

func TestVerify(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *Store, _ string) {
		ctx := context.Background()
		outs, err := s.WriteRollups(ctx, testRollups(t), testMeta())
		if err != nil {
			t.Fatal(err)
		}
		m := testManifest(t, outs)
		if err := s.Commit(ctx, m); err != nil {
			t.Fatal(err)
		}
		if p, err := s.Verify(ctx, m, true); err != nil || len(p) != 0 {
			t.Fatalf("fresh commit: problems %v, %v", p, err)
		}
		// Same size, other bytes: only the deep check sees it.
		data, err := s.Bucket().ReadAll(ctx, outs[0].Key)
		if err != nil {
			t.Fatal(err)
		}
		data[len(data)/2] ^= 0xff
		if err := s.Bucket().WriteAll(ctx, outs[0].Key, data, nil); err != nil {
			t.Fatal(err)
		}
		if err := s.Bucket().WriteAll(ctx, outs[1].Key, data[:10], nil); err != nil {
			t.Fatal(err)
		}
		if err := s.Bucket().Delete(ctx, outs[2].Key); err != nil {
			t.Fatal(err)
		}
		shallow, err := s.Verify(ctx, m, false)
		if err != nil {
			t.Fatal(err)
		}
		deep, err := s.Verify(ctx, m, true)
		if err != nil {
			t.Fatal(err)
		}
		kinds := func(ps []OutputProblem) map[string]string {
			out := map[string]string{}
			for _, p := range ps {
				out[p.Key] = p.Problem
			}
			return out
		}
		wantShallow := map[string]string{outs[1].Key: "size", outs[2].Key: "missing"}
		wantDeep := map[string]string{outs[0].Key: "sha256", outs[1].Key: "size", outs[2].Key: "missing"}
		if got := kinds(shallow); !reflect.DeepEqual(got, wantShallow) {
			t.Errorf("shallow problems %v, want %v", got, wantShallow)
		}
		if got := kinds(deep); !reflect.DeepEqual(got, wantDeep) {
			t.Errorf("deep problems %v, want %v", got, wantDeep)
		}
	})
}
