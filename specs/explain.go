package specs

import (
	"fmt"
	"sort"
	"strings"
)

// Explanation says what one aggregation reads and emits (tally spec explain).
type Explanation struct {
	Name          string   `json:"name"`
	Version       string   `json:"version"`
	Kind          string   `json:"kind"`
	Metrics       []string `json:"metrics"`
	Columns       []string `json:"columns"` // physical raw columns read
	Filters       string   `json:"filters,omitempty"`
	Window        string   `json:"window"`
	GroupBy       []string `json:"group_by"`
	Dropped       []string `json:"dropped_dimensions"`
	OutputColumns []string `json:"output_columns"`
	Outputs       []string `json:"outputs"`
}

// Explain describes every aggregation of the registry.
func Explain(r *Registry) []Explanation {
	var out []Explanation
	for _, a := range r.Aggregations {
		e := Explanation{Name: a.Name, Version: a.Version, Kind: a.Kind(), Metrics: a.Metrics,
			Window: FormatWindow(a.Window), GroupBy: a.GroupBy}
		for _, c := range a.RawColumns(&r.Source) {
			e.Columns = append(e.Columns, r.Source.Column(c))
		}
		for _, d := range r.Source.Dimensions {
			if !contains(a.GroupBy, d) {
				e.Dropped = append(e.Dropped, d)
			}
		}
		var fs []string
		for _, f := range a.Filters {
			fs = append(fs, fmt.Sprintf("%s %s %s", f.Dimension, f.Op, strings.Join(f.Values, "|")))
		}
		e.Filters = strings.Join(fs, " and ")
		e.OutputColumns = a.OutputColumns()
		if a.Output.Parquet {
			e.Outputs = append(e.Outputs, fmt.Sprintf("parquet tenant=<%s>/%s/dt=<date>/", r.Source.Tenant, a.Name))
		}
		if k := a.Output.Kafka; k != nil {
			e.Outputs = append(e.Outputs, fmt.Sprintf("kafka topic %s key %s (%s, %s)", k.Topic, k.Key, k.KeyFormat, k.Encoding))
		}
		out = append(out, e)
	}
	return out
}

// RawColumns are the contract columns (and dimensions) the aggregation reads from the
// raw segments, before renaming by Source.Columns. Every aggregation reads all
// dimensions, because a series is identified by its metric and all its attributes.
func (a *Aggregation) RawColumns(src *Source) []string {
	cols := []string{"time", "metric"}
	switch a.Type {
	case TypeGauge:
		cols = append(cols, "value")
	case TypeSum:
		cols = append(cols, "value")
		if a.Temporality == TemporalityCumulative {
			cols = append(cols, "start_time")
		}
	case TypeHistogram:
		cols = append(cols, "count", "sum", "min", "max", "bounds", "bucket_counts")
		if a.Temporality == TemporalityCumulative {
			cols = append(cols, "start_time")
		}
	case TypeExponentialHistogram:
		cols = append(cols, "count", "sum", "min", "max", "scale", "zero_count",
			"positive_offset", "positive_counts", "negative_offset", "negative_counts")
		if a.Temporality == TemporalityCumulative {
			cols = append(cols, "start_time")
		}
	}
	cols = append(cols, src.Dimensions...)
	return cols
}

// UnionRawColumns is the projection of a whole run: every column some aggregation reads,
// in contract order then dimension order.
func UnionRawColumns(r *Registry) []string {
	set := map[string]bool{}
	for _, a := range r.Aggregations {
		for _, c := range a.RawColumns(&r.Source) {
			set[c] = true
		}
	}
	var out []string
	for _, c := range ContractColumns {
		if set[c] {
			out = append(out, c)
			delete(set, c)
		}
	}
	for _, d := range r.Source.Dimensions {
		if set[d] {
			out = append(out, d)
			delete(set, d)
		}
	}
	rest := make([]string, 0, len(set))
	for c := range set {
		rest = append(rest, c)
	}
	sort.Strings(rest)
	return append(out, rest...)
}

// OutputColumns are the rollup Parquet columns of the aggregation, in order.
func (a *Aggregation) OutputColumns() []string {
	cols := []string{"window_start", "window_end"}
	cols = append(cols, a.GroupBy...)
	for _, f := range a.Functions {
		switch f {
		case FnBuckets:
			if a.Type == TypeHistogram {
				cols = append(cols, "bucket_bounds", "bucket_counts")
			} else {
				cols = append(cols, "exp_scale", "exp_zero_count", "exp_positive_offset", "exp_positive_counts", "exp_negative_offset", "exp_negative_counts")
			}
		default:
			cols = append(cols, f)
		}
	}
	return append(cols, "samples", "spec_version")
}
