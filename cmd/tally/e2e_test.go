package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tallyhq/tally/gen"
	"github.com/tallyhq/tally/internal/kafkatest"
	"github.com/tallyhq/tally/internal/s3test"
	"github.com/tallyhq/tally/reader"
	"github.com/tallyhq/tally/writer"
	"github.com/tallyhq/tally/writer/kafka"
)

// tallyBin is the tally binary built once for the end-to-end tests.
var tallyBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "tally-e2e-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	tallyBin = filepath.Join(dir, "tally")
	if out, err := exec.Command("go", "build", "-o", tallyBin, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build tally: %v\n%s", err, out)
		os.Exit(2)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

var e2eDay = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

// e2eLake writes a lake of `hours` hourly partitions, one single-tenant file per
// tenant, so that plans shard by tenant.
func e2eLake(t *testing.T, url string, hours int) {
	t.Helper()
	cfg := gen.DefaultConfig(url, e2eDay, e2eDay.Add(time.Duration(hours)*time.Hour))
	cfg.Tenants, cfg.ClustersPerTenant, cfg.BrokersPerCluster, cfg.TopicsPerBroker = 3, 2, 2, 2
	cfg.FilesPerPartition = 3
	cfg.Interval = 20 * time.Second
	cfg.Seed = 5
	cfg.DuplicateFraction, cfg.NaNFraction, cfg.ResetProbability = 0.01, 0.01, 0.3
	if _, err := gen.GenerateURL(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
}

func tally(t *testing.T, env []string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(tallyBin, args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func mustTally(t *testing.T, args ...string) string {
	t.Helper()
	out, err := tally(t, nil, args...)
	if err != nil {
		t.Fatalf("tally %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// objects lists every object under url with its SHA-256; manifests, pending markers
// and run summaries are left out unless all is set.
func objects(t *testing.T, url string, all bool) map[string]string {
	t.Helper()
	ctx := context.Background()
	b, err := reader.OpenBucket(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	out := map[string]string{}
	it := b.List(nil)
	for {
		obj, err := it.Next(ctx)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if !all && strings.HasPrefix(obj.Key, "_tally/") {
			continue
		}
		data, err := b.ReadAll(ctx, obj.Key)
		if err != nil {
			t.Fatal(err)
		}
		h := sha256.Sum256(data)
		out[obj.Key] = hex.EncodeToString(h[:])
	}
	return out
}

func equalTrees(t *testing.T, label string, got, want map[string]string) {
	t.Helper()
	if len(want) == 0 {
		t.Fatalf("%s: the reference run wrote nothing", label)
	}
	var keys []string
	for k := range want {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	bad := 0
	for _, k := range keys {
		if got[k] != want[k] {
			if bad < 5 {
				t.Errorf("%s: %s differs or is missing", label, k)
			}
			bad++
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			if bad < 5 {
				t.Errorf("%s: leftover object %s", label, k)
			}
			bad++
		}
	}
	if bad > 0 {
		t.Fatalf("%s: %d objects differ", label, bad)
	}
}

func fileURL(dir string) string { return "file://" + filepath.ToSlash(dir) }

// TestKillAndResume kills a backfill with SIGKILL while it commits tasks, reruns it,
// and expects exactly the files of an uninterrupted run: no duplicates, no leftovers.
func TestKillAndResume(t *testing.T) {
	lakeURL := fileURL(t.TempDir())
	e2eLake(t, lakeURL, 8)
	spec := "../../specs/examples/kafka-telemetry.yaml"
	rng := []string{"--spec", spec, "--source", lakeURL, "--from", "2026-11-01T00:00:00Z", "--to", "2026-11-01T08:00:00Z"}

	ref := fileURL(t.TempDir())
	mustTally(t, append([]string{"backfill", "--out", ref, "--parallelism", "1"}, rng...)...)
	want := objects(t, ref, false)

	outDir := t.TempDir()
	out := fileURL(outDir)
	killed := false
	for attempt := 0; attempt < 3 && !killed; attempt++ {
		cmd := exec.Command(tallyBin, append([]string{"backfill", "--out", out, "--parallelism", "1", "--log-format", "json"}, rng...)...)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Kill once some but not all tasks are committed.
		deadline := time.Now().Add(2 * time.Minute)
		for time.Now().Before(deadline) {
			ms, _ := filepath.Glob(filepath.Join(outDir, "_tally", "tasks", "*.json"))
			if len(ms) >= 2 {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		_ = cmd.Process.Signal(syscall.SIGKILL)
		err := cmd.Wait()
		ms, _ := filepath.Glob(filepath.Join(outDir, "_tally", "tasks", "*.json"))
		killed = err != nil && len(ms) < len(want) // the run did not finish
		t.Logf("attempt %d: killed with %d manifests committed (%v)", attempt, len(ms), err)
	}
	if !killed {
		t.Fatal("could not kill the backfill before it finished")
	}
	resumed := mustTally(t, append([]string{"backfill", "--out", out, "--parallelism", "2"}, rng...)...)
	if !strings.Contains(resumed, "skipped") {
		t.Fatalf("resumed run output has no skipped tasks:\n%s", resumed)
	}
	got := objects(t, out, false)
	// Objects a killed writer may have left that no manifest names are leftovers: the
	// resumed run must have overwritten or never exposed them.
	equalTrees(t, "resumed run", got, want)
	status := mustTally(t, append([]string{"status", "--out", out}, rng...)...)
	if !strings.Contains(status, "0 missing, 0 stale") {
		t.Fatalf("status after resume:\n%s", status)
	}
}

// TestShardsEqualOneRun runs --shard 0/3, 1/3 and 2/3 as three processes and expects the
// files of one unsharded run, byte for byte; tally status then reports nothing missing.
func TestShardsEqualOneRun(t *testing.T) {
	lakeURL := fileURL(t.TempDir())
	e2eLake(t, lakeURL, 3)
	spec := "../../specs/examples/kafka-telemetry.yaml"
	rng := []string{"--spec", spec, "--source", lakeURL, "--from", "2026-11-01T00:00:00Z", "--to", "2026-11-01T03:00:00Z"}

	ref := fileURL(t.TempDir())
	mustTally(t, append([]string{"backfill", "--out", ref}, rng...)...)
	want := objects(t, ref, false)

	out := fileURL(t.TempDir())
	errs := make(chan error, 3)
	for i := 0; i < 3; i++ {
		go func() {
			o, err := tally(t, nil, append([]string{"backfill", "--out", out, "--shard", fmt.Sprintf("%d/3", i), "--parallelism", "1"}, rng...)...)
			if err != nil {
				err = fmt.Errorf("shard %d/3: %v\n%s", i, err, o)
			}
			errs <- err
		}()
	}
	for i := 0; i < 3; i++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	equalTrees(t, "three shards", objects(t, out, false), want)
	status := mustTally(t, append([]string{"status", "--out", out}, rng...)...)
	if !strings.Contains(status, "0 missing, 0 stale") {
		t.Fatalf("status after three shards:\n%s", status)
	}
	// Before any backfill, status says everything is missing and exits 1.
	empty := fileURL(t.TempDir())
	o, err := tally(t, nil, append([]string{"status", "--out", empty}, rng...)...)
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != exitFindings || !strings.Contains(o, "0 committed") {
		t.Fatalf("status of an empty output: %v\n%s", err, o)
	}
}

// TestS3EndToEnd: gen writes to an S3 API server, plan and backfill read there and write
// rollups to another bucket on it, through s3:// URLs.
func TestS3EndToEnd(t *testing.T) {
	lakeURL := s3test.Start(t, "raw")
	outURL := s3test.Start(t, "rollups")
	env := []string{
		"AWS_ACCESS_KEY_ID=" + os.Getenv("AWS_ACCESS_KEY_ID"),
		"AWS_SECRET_ACCESS_KEY=" + os.Getenv("AWS_SECRET_ACCESS_KEY"),
		"AWS_REGION=us-east-1",
	}
	if o, err := tally(t, env, "gen", "--out", lakeURL, "--from", "2026-11-01T00:00:00Z", "--to", "2026-11-01T02:00:00Z", "--tenants", "2", "--seed", "3"); err != nil {
		t.Fatalf("gen: %v\n%s", err, o)
	}
	spec := "../../specs/examples/kafka-telemetry.yaml"
	rng := []string{"--spec", spec, "--source", lakeURL, "--from", "2026-11-01T00:00:00Z", "--to", "2026-11-01T02:00:00Z"}
	o, err := tally(t, env, append([]string{"plan", "--json"}, rng...)...)
	if err != nil || !strings.Contains(o, `"read_amplification": 1`) {
		t.Fatalf("plan: %v\n%s", err, o)
	}
	o, err = tally(t, env, append([]string{"backfill", "--out", outURL}, rng...)...)
	if err != nil || !strings.Contains(o, ": ok") {
		t.Fatalf("backfill: %v\n%s", err, o)
	}
	got := objects(t, outURL, true)
	var rollups, manifests int
	for k := range got {
		switch {
		case strings.HasPrefix(k, "tenant="):
			rollups++
		case strings.HasPrefix(k, "_tally/tasks/"):
			manifests++
		}
	}
	// Two hours of two tenants in single-tenant files: four tenant-sharded tasks.
	if rollups == 0 || manifests != 4 {
		t.Fatalf("S3 output has %d rollup files and %d manifests, want some and 4", rollups, manifests)
	}
	if o, err := tally(t, env, append([]string{"status", "--out", outURL}, rng...)...); err != nil || !strings.Contains(o, "4 committed, 0 missing, 0 stale") {
		t.Fatalf("status on S3: %v\n%s", err, o)
	}
}

// TestKafkaKillAndResume publishes every aggregation to Kafka, kills the backfill with
// SIGKILL while it commits tasks, reruns it, and expects a read_committed consumer to
// see every rollup row exactly once: as many records as Parquet rows, no key twice.
func TestKafkaKillAndResume(t *testing.T) {
	brokers := kafkatest.Cluster(t)
	lakeURL := fileURL(t.TempDir())
	e2eLake(t, lakeURL, 6)
	spec := "../../specs/examples/kafka-telemetry.yaml"
	topic := fmt.Sprintf("tally-e2e-%d.{aggregation}", time.Now().UnixNano())
	args := []string{"--spec", spec, "--source", lakeURL, "--from", "2026-11-01T00:00:00Z", "--to", "2026-11-01T06:00:00Z",
		"--kafka-brokers", strings.Join(brokers, ","), "--kafka-create-topics", "--kafka-topic", topic, "--kafka-topic-partitions", "3", "--kafka-topic-replication", "1"}
	outDir := t.TempDir()
	out := fileURL(outDir)
	cmd := exec.Command(tallyBin, append([]string{"backfill", "--out", out, "--parallelism", "1", "--log-format", "json"}, args...)...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(3 * time.Minute)
	for time.Now().Before(deadline) {
		if ms, _ := filepath.Glob(filepath.Join(outDir, "_tally", "tasks", "*.json")); len(ms) >= 2 {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	_ = cmd.Wait()
	mustTally(t, append([]string{"backfill", "--out", out}, args...)...)
	// Exit codes: a bad flag value is an error (2), not an interruption.
	if _, err := tally(t, nil, "backfill", "--out", out, "--spec", spec, "--from", "2026-11-01T00:30:00Z", "--to", "2026-11-01T06:00:00Z"); err == nil {
		t.Fatal("an unaligned --from was accepted")
	} else if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != exitError {
		t.Fatalf("unaligned --from: exit %v, want %d", err, exitError)
	}

	// Rows per aggregation from the manifests.
	ctx := context.Background()
	st, err := writer.OpenStore(ctx, out)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ms, err := st.ListManifests(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]int64{}
	for _, m := range ms {
		for _, o := range m.Outputs {
			rows[o.Aggregation] += o.Rows
		}
	}
	if len(rows) == 0 {
		t.Fatal("no rollup rows")
	}
	for agg, n := range rows {
		name := strings.ReplaceAll(topic, "{aggregation}", agg)
		recs, err := kafka.Consume(ctx, brokers, name, true)
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		for _, r := range recs {
			if seen[string(r.Key)] {
				t.Errorf("%s: key %q twice", name, r.Key)
			}
			seen[string(r.Key)] = true
		}
		if int64(len(recs)) != n {
			t.Errorf("%s: %d committed records, %d Parquet rows", name, len(recs), n)
		}
	}
}
