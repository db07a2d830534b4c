package audit_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/tallyhq/tally/audit"
	"github.com/tallyhq/tally/audit/streamsim"
	"github.com/tallyhq/tally/gen"
	"github.com/tallyhq/tally/specs"
)

// day is the start of the generated lake; the tests audit [day, day+2h).
var day = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

const (
	lakeHours = 2
	grace     = 5 * time.Minute
)

// testLake is the URL of the lake TestMain generates once for every test.
var testLake string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "tally-audit-lake-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	testLake = "file://" + filepath.ToSlash(dir)
	cfg := gen.DefaultConfig(testLake, day, day.Add(lakeHours*time.Hour))
	cfg.Tenants, cfg.ClustersPerTenant, cfg.BrokersPerCluster, cfg.TopicsPerBroker = 2, 2, 2, 2
	cfg.Interval = 20 * time.Second
	cfg.RowGroupRows = 8000
	cfg.Seed = 7
	// Late points arrive 30 minutes late: far beyond the 5-minute grace.
	cfg.LateFraction, cfg.DuplicateFraction, cfg.NaNFraction, cfg.OutOfOrderFraction = 0.03, 0.02, 0.01, 0.02
	cfg.ResetProbability = 0.2
	if _, err := gen.GenerateURL(context.Background(), cfg); err != nil {
		fmt.Fprintln(os.Stderr, "generate lake:", err)
		os.Exit(2)
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// registry loads testdata/registry.yaml over the test lake, every Kafka output sent
// to topic.
func registry(t testing.TB, topic string) *specs.Registry {
	t.Helper()
	reg, err := specs.Load("testdata/registry.yaml")
	if err != nil {
		t.Fatal(err)
	}
	reg.Source.URL = testLake
	for _, a := range reg.Aggregations {
		if a.Output.Kafka != nil {
			a.Output.Kafka.Topic = topic
		}
	}
	return reg
}

var unsafeTopic = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// topicFor names a topic of its own for a test, so reruns against a real broker never
// read an earlier run's records.
func topicFor(t testing.TB) string {
	name := unsafeTopic.ReplaceAllString(t.Name(), "-")
	return fmt.Sprintf("audit-%s-%x", strings.ToLower(name), time.Now().UnixNano())
}

func streamURL(brokers []string, topic string) string {
	return "kafka://" + strings.Join(brokers, ",") + "/" + topic
}

func auditConfig(reg *specs.Registry, stream string) audit.Config {
	return audit.Config{Registry: reg, From: day, To: day.Add(lakeHours * time.Hour), Stream: stream, Grace: grace,
		Logger: slog.New(slog.DiscardHandler)}
}

// verdict is what the audit must say about one key.
type verdict struct {
	class       audit.Class
	explanation string // "" when unexplained
}

func (v verdict) String() string {
	if v.explanation == "" {
		return string(v.class) + " (unexplained)"
	}
	return string(v.class) + " (" + v.explanation + ")"
}

// expected turns injected faults into the verdict per key, with the precedence the
// audit documents: a lost record, then a conflicting duplicate, then an identical
// duplicate (harmless unless its value is wrong), then a value bug, then late data.
func expected(faults []streamsim.Fault) map[audit.Key]verdict {
	kinds := map[audit.Key]map[streamsim.FaultKind]bool{}
	for _, f := range faults {
		if kinds[f.Key] == nil {
			kinds[f.Key] = map[streamsim.FaultKind]bool{}
		}
		kinds[f.Key][f.Kind] = true
	}
	out := map[audit.Key]verdict{}
	for k, has := range kinds {
		var v verdict
		switch {
		case has[streamsim.MissingPartition]:
			v = verdict{audit.MissingInStream, ""}
		case has[streamsim.DuplicateConflicting]:
			v = verdict{audit.DuplicateConflicting, ""}
		case has[streamsim.DuplicateIdentical] && has[streamsim.ValueBug]:
			v = verdict{audit.DuplicateIdentical, ""}
		case has[streamsim.DuplicateIdentical] && has[streamsim.LateValue]:
			v = verdict{audit.DuplicateIdentical, audit.ExplainedLate}
		case has[streamsim.DuplicateIdentical]:
			v = verdict{audit.DuplicateIdentical, audit.ExplainedHarmlessDuplicate}
		case has[streamsim.ValueBug]:
			v = verdict{audit.ValueMismatch, ""}
		case has[streamsim.LateMissing]:
			v = verdict{audit.MissingInStream, audit.ExplainedLate}
		case has[streamsim.LateValue]:
			v = verdict{audit.ValueMismatch, audit.ExplainedLate}
		}
		out[k] = v
	}
	return out
}

// found turns the report's findings into verdicts.
func found(t testing.TB, rep *audit.Report) map[audit.Key]verdict {
	t.Helper()
	out := map[audit.Key]verdict{}
	for i := range rep.Findings {
		f := &rep.Findings[i]
		if _, dup := out[f.Key()]; dup {
			t.Errorf("key %s reported twice", f.Key())
		}
		if f.Explained != (f.Explanation != "") {
			t.Errorf("key %s: explained=%v with explanation %q", f.Key(), f.Explained, f.Explanation)
		}
		out[f.Key()] = verdict{f.Class, f.Explanation}
	}
	return out
}

// sameVerdicts fails the test with every difference between want and got.
func sameVerdicts(t testing.TB, want, got map[audit.Key]verdict) {
	t.Helper()
	var diffs []string
	for k, w := range want {
		if g, ok := got[k]; !ok {
			diffs = append(diffs, fmt.Sprintf("missed   %s: want %s", k, w))
		} else if g != w {
			diffs = append(diffs, fmt.Sprintf("wrong    %s: got %s, want %s", k, g, w))
		}
	}
	for k, g := range got {
		if _, ok := want[k]; !ok {
			diffs = append(diffs, fmt.Sprintf("spurious %s: %s", k, g))
		}
	}
	sort.Strings(diffs)
	if len(diffs) > 0 {
		if len(diffs) > 20 {
			diffs = append(diffs[:20], fmt.Sprintf("… and %d more", len(diffs)-20))
		}
		t.Fatalf("findings differ from the injected faults (%d want, %d got):\n%s", len(want), len(got), strings.Join(diffs, "\n"))
	}
}

func countKinds(faults []streamsim.Fault) map[streamsim.FaultKind]int {
	out := map[streamsim.FaultKind]int{}
	for _, f := range faults {
		out[f.Kind]++
	}
	return out
}
