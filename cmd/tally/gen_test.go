package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tallyhq/tally/gen"
)

// TestGenCommand runs `tally gen` twice with different concurrency: the lakes are
// identical and the summary matches the library's expectation.
func TestGenCommand(t *testing.T) {
	dir := t.TempDir()
	args := []string{"gen", "--from", "2026-11-01T00:00:00Z", "--hours", "2", "--tenants", "2", "--clusters", "1",
		"--brokers", "2", "--topics", "1", "--interval", "1m", "--seed", "3", "--duplicate-fraction", "0.05", "--progress", "never"}
	out := mustTally(t, append(args, "--out", filepath.Join(dir, "a"), "--json", "--concurrency", "2")...)
	var st gen.Stats
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("--json output %q: %v", out, err)
	}
	cfg := gen.Config{From: e2eDay, To: e2eDay.Add(2 * time.Hour), Tenants: 2, ClustersPerTenant: 1, BrokersPerCluster: 2, TopicsPerBroker: 1, Interval: time.Minute}
	want, err := gen.ExpectedRows(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if st.Files != 4 || st.Rows-st.Duplicates != want || st.Duplicates == 0 {
		t.Fatalf("stats %+v, want 4 files and %d rows before duplicates", st, want)
	}
	text := mustTally(t, append(args, "--out", fileURL(filepath.Join(dir, "b")), "--concurrency", "1")...)
	for _, w := range []string{"files    4", "quirks", "rows/s"} {
		if !strings.Contains(text, w) {
			t.Errorf("summary %q lacks %q", text, w)
		}
	}
	equalTrees(t, "gen with concurrency 1 vs 2", objects(t, fileURL(filepath.Join(dir, "b")), true), objects(t, fileURL(filepath.Join(dir, "a")), true))
}

func TestGenCommandErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no out", []string{"gen", "--from", "2026-11-01"}, "--out is required"},
		{"no from", []string{"gen", "--out", dir}, "--from is required"},
		{"to and hours", []string{"gen", "--out", dir, "--from", "2026-11-01", "--to", "2026-11-02", "--hours", "3"}, "either --to or --hours"},
		{"invalid config", []string{"gen", "--out", dir, "--from", "2026-11-01", "--tenants", "-1", "--codec", "brotli"}, `Tenants: -1: must be at least 1`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := tally(t, nil, tc.args...)
			if err == nil || !strings.Contains(out, tc.want) {
				t.Fatalf("tally %s = %v\n%s\nwant a failure mentioning %q", strings.Join(tc.args, " "), err, out, tc.want)
			}
		})
	}
}
