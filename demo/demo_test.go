package demo

import (
	"context"
	"regexp"
	"strings"
	"testing"
)

// TestDemo runs the README's first command end to end on a temp dir: lake, plan,
// backfill, Kafka, and an audit that finds exactly the injected faults.
func TestDemo(t *testing.T) {
	var out strings.Builder
	if err := Run(context.Background(), Config{Dir: t.TempDir(), Hours: 2, Kafka: true}, &out); err != nil {
		t.Fatalf("demo: %v\n%s", err, out.String())
	}
	s := out.String()
	for _, want := range []string{"1. generated a raw lake", "read amplification 1.00", "3. backfilled 2 tasks", "first rows of", "committed records", "7. audited"} {
		if !strings.Contains(s, want) {
			t.Errorf("demo output lacks %q:\n%s", want, s)
		}
	}
	m := regexp.MustCompile(`the audit found (\d+) of the (\d+) keys the faults changed, and (\d+) it was not told about`).FindStringSubmatch(s)
	if m == nil || m[1] != m[2] || m[3] != "0" || m[1] == "0" {
		t.Fatalf("the audit did not find exactly the injected faults: %v\n%s", m, s)
	}
}
