package kafka

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/DataDog/sketches-go/ddsketch"
	"google.golang.org/protobuf/proto"

	"github.com/tallyhq/tally/exec"
	"github.com/tallyhq/tally/specs"
)

// testRegistry is testdata/registry.yaml: every kind, both encodings, both key formats.
func testRegistry(t testing.TB) *specs.Registry {
	t.Helper()
	reg, err := specs.Load("testdata/registry.yaml")
	if err != nil {
		t.Fatalf("load test registry: %v", err)
	}
	return reg
}

func mustAgg(t testing.TB, reg *specs.Registry, name string) *specs.Aggregation {
	t.Helper()
	a := reg.Aggregation(name)
	if a == nil {
		t.Fatalf("no aggregation %s in the test registry", name)
	}
	return a
}

// testSketch is a DDSketch of vals, serialized as the executor does.
func testSketch(t testing.TB, alpha float64, vals ...float64) []byte {
	t.Helper()
	s, err := ddsketch.NewDefaultDDSketch(alpha)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range vals {
		if err := s.Add(v); err != nil {
			t.Fatal(err)
		}
	}
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(s.ToProto())
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// testRow is a deterministic row of agg; i varies the dimensions and values. Window
// starts at 2026-01-01T00:00:00Z plus i windows.
func testRow(t testing.TB, agg *specs.Aggregation, i int) exec.Row {
	t.Helper()
	const base = 1767225600000 // 2026-01-01T00:00:00Z
	w := agg.Window.Milliseconds()
	row := exec.Row{
		WindowStart: base + int64(i)*w,
		WindowEnd:   base + int64(i+1)*w,
		Samples:     int64(10 + i),
		Count:       int64(10 + i),
	}
	for _, g := range agg.GroupBy {
		switch g {
		case "tenant":
			row.Dims = append(row.Dims, fmt.Sprintf("acme-%d", i%2))
		case "cluster":
			row.Dims = append(row.Dims, fmt.Sprintf("eu-west,k%d", i%3)) // a ',' to escape
		default:
			row.Dims = append(row.Dims, fmt.Sprintf("%s=%d", g, i%5)) // an '=' to escape
		}
	}
	for j := range agg.ValueFunctions() {
		row.Values = append(row.Values, float64(i)+float64(j)*0.25+0.5)
	}
	if agg.Has(specs.FnBuckets) {
		if agg.Type == specs.TypeExponentialHistogram {
			row.Exp = &exec.ExpHistogram{Scale: 3, ZeroCount: 1, ZeroThreshold: 1e-9,
				PositiveOffset: int32(-2 + i), PositiveCounts: []uint64{1, 0, uint64(3 + i), 2},
				NegativeOffset: 1, NegativeCounts: []uint64{uint64(i % 2)}}
		} else {
			row.Hist = &exec.Histogram{Bounds: []float64{0.005, 0.01, 0.1, 1}, Counts: []uint64{1, 2, uint64(3 + i), 4, 0}}
		}
	}
	if agg.Has(specs.FnSketch) {
		row.Sketch = testSketch(t, agg.SketchAlpha, 1, 2.5, float64(4+i))
	}
	return row
}

// memJournal keeps pending markers in memory.
type memJournal struct {
	mu      sync.Mutex
	pending map[string]Pending
	fail    error
}

func newJournal() *memJournal { return &memJournal{pending: map[string]Pending{}} }

func (j *memJournal) WritePending(_ context.Context, taskID string, p Pending) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.fail != nil {
		return j.fail
	}
	j.pending[taskID] = p
	return nil
}

func (j *memJournal) get(t testing.TB, taskID string) Pending {
	t.Helper()
	j.mu.Lock()
	defer j.mu.Unlock()
	p, ok := j.pending[taskID]
	if !ok {
		t.Fatalf("no pending marker for task %s", taskID)
	}
	return p
}

var errJournalDown = errors.New("journal store unavailable")
