package audit

import (
	"strings"
	"time"

	"github.com/tallyhq/tally/exec"
	"github.com/tallyhq/tally/specs"
)

// Key identifies one output row: an aggregation, its group_by values and a window.
// It is comparable, so it keys maps; Dims joins the values with a NUL byte.
type Key struct {
	Aggregation string
	Dims        string
	WindowStart int64 // epoch milliseconds
}

// dimSep separates dimension values in Key.Dims; telemetry dimension values never
// hold a NUL byte.
const dimSep = "\x00"

// KeyOf returns the key of a row of agg.
func KeyOf(agg *specs.Aggregation, r *exec.Row) Key {
	return Key{Aggregation: agg.Name, Dims: strings.Join(r.Dims, dimSep), WindowStart: r.WindowStart}
}

// DimValues splits Key.Dims back into the group_by values.
func (k Key) DimValues() []string {
	if k.Dims == "" {
		return []string{""}
	}
	return strings.Split(k.Dims, dimSep)
}

// String renders the key for messages: aggregation{dims}@window start.
func (k Key) String() string {
	return k.Aggregation + "{" + strings.ReplaceAll(k.Dims, dimSep, ",") + "}@" +
		time.UnixMilli(k.WindowStart).UTC().Format(time.RFC3339)
}

// series is a key without its window: one time series of one aggregation.
type series struct {
	Aggregation string
	Dims        string
}

func (k Key) series() series { return series{k.Aggregation, k.Dims} }

// cloneRow deep-copies a row, so it outlives the engine's buffers.
func cloneRow(r *exec.Row) exec.Row {
	c := *r
	c.Dims = append([]string(nil), r.Dims...)
	c.Values = append([]float64(nil), r.Values...)
	if r.Hist != nil {
		c.Hist = &exec.Histogram{Bounds: append([]float64(nil), r.Hist.Bounds...), Counts: append([]uint64(nil), r.Hist.Counts...)}
	}
	if r.Exp != nil {
		e := *r.Exp
		e.PositiveCounts = append([]uint64(nil), r.Exp.PositiveCounts...)
		e.NegativeCounts = append([]uint64(nil), r.Exp.NegativeCounts...)
		c.Exp = &e
	}
	if r.Sketch != nil {
		c.Sketch = append([]byte(nil), r.Sketch...)
	}
	return c
}
