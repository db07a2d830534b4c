package specs

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"time"
)

var nameRE = regexp.MustCompile(`^[a-z][a-z0-9_]{0,127}$`)
var columnRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.\-]{0,127}$`)

// ContractColumns are the raw-segment columns of the contract (docs/raw-schema.md)
// besides the dimensions; Source.Columns may rename any of them.
var ContractColumns = []string{
	"time", "start_time", "metric", "type", "temporality", "monotonic", "value",
	"count", "sum", "min", "max", "bounds", "bucket_counts",
	"scale", "zero_count", "positive_offset", "positive_counts", "negative_offset", "negative_counts",
	"ingest_time",
}

// allowedWindows keeps windows to divisors of a day, so windows tile days and UTC alignment is exact.
func windowOK(d time.Duration) bool {
	if d < time.Second || d%time.Second != 0 {
		return false
	}
	day := 24 * time.Hour
	if d <= day {
		return day%d == 0
	}
	return false
}

func (p *parser) validate(reg *Registry) {
	s := &reg.Source
	if s.URL != "" {
		if u, err := url.Parse(s.URL); err != nil || u.Scheme == "" {
			p.errf(nil, "source.url", "%q is not a URL; write e.g. file:///data/lake, s3://bucket/prefix?region=us-east-1, gs://bucket, azblob://container", s.URL)
		}
	}
	dims := map[string]bool{}
	for i, d := range s.Dimensions {
		fp := fmt.Sprintf("source.dimensions[%d]", i)
		switch {
		case !columnRE.MatchString(d):
			p.errf(nil, fp, "%q is not a valid dimension name (letters, digits, _ . -)", d)
		case dims[d]:
			p.errf(nil, fp, "dimension %q is listed twice", d)
		case contains(ContractColumns, d):
			p.errf(nil, fp, "%q is a contract column, not a dimension; rename it with source.columns", d)
		}
		dims[d] = true
	}
	if len(s.Dimensions) == 0 {
		p.errf(nil, "source.dimensions", "at least one dimension is required (the tenant)")
	}
	if s.Tenant != "" && !dims[s.Tenant] {
		p.errf(nil, "source.tenant", "tenant %q is not one of source.dimensions (%s)", s.Tenant, strings.Join(s.Dimensions, ", "))
	}
	for k, v := range s.Columns {
		fp := "source.columns." + k
		if !contains(ContractColumns, k) && !dims[k] {
			p.errf(nil, fp, "%q is neither a contract column (%s) nor a dimension", k, strings.Join(ContractColumns, ", "))
		}
		if !columnRE.MatchString(v) {
			p.errf(nil, fp, "%q is not a valid column name", v)
		}
	}
	if len(reg.Aggregations) == 0 {
		p.errf(nil, "aggregations", "at least one aggregation is required")
	}
	names := map[string]int{}
	for i, a := range reg.Aggregations {
		p.validateAggregation(reg, a, fmt.Sprintf("aggregations[%d]", i), dims)
		if j, dup := names[a.Name]; dup && a.Name != "" {
			p.errf(nil, fmt.Sprintf("aggregations[%d].name", i), "name %q is already used by aggregations[%d] (line %d)", a.Name, j, reg.Aggregations[j].Line)
		}
		names[a.Name] = i
	}
}

func (p *parser) validateAggregation(reg *Registry, a *Aggregation, path string, dims map[string]bool) {
	bad := func(field, format string, args ...any) {
		p.errs = append(p.errs, &FieldError{File: p.file, Line: a.Line, Field: join(path, field), Msg: fmt.Sprintf(format, args...)})
	}
	if !nameRE.MatchString(a.Name) {
		bad("name", "%q is not a valid name: lower-case letters, digits and _, starting with a letter", a.Name)
	}
	for i, m := range a.Metrics {
		if m == "" {
			bad(fmt.Sprintf("metrics[%d]", i), "metric name is empty")
		}
	}
	switch a.Type {
	case TypeGauge:
		if a.Temporality != "" {
			bad("temporality", "gauges have no temporality; remove it")
		}
		if a.Monotonic {
			bad("monotonic", "gauges cannot be monotonic; use type sum for counters")
		}
	case TypeSum, TypeHistogram, TypeExponentialHistogram:
		if a.Temporality == "" {
			a.Temporality = TemporalityCumulative
		}
		if a.Temporality != TemporalityCumulative && a.Temporality != TemporalityDelta {
			bad("temporality", "unknown temporality %q; allowed: cumulative, delta", a.Temporality)
		}
		if a.Type != TypeSum && a.Monotonic {
			bad("monotonic", "only sums are monotonic; remove it")
		}
	default:
		bad("type", "unknown type %q; allowed: gauge, sum, histogram, exponential_histogram", a.Type)
		return
	}
	if a.Window != 0 && !windowOK(a.Window) {
		bad("window", "%s does not divide a day into whole seconds; allowed windows are divisors of 24h such as 1m, 5m, 15m, 1h, 1d", FormatWindow(a.Window))
	}
	if a.Staleness == 0 {
		a.Staleness = DefaultStaleness
	} else if a.Staleness < time.Second || a.Staleness > 24*time.Hour {
		bad("staleness", "%s is out of range; allowed: 1s to 24h", a.Staleness)
	}
	if a.SketchAlpha == 0 {
		a.SketchAlpha = DefaultSketchAlpha
	} else if a.SketchAlpha <= 0 || a.SketchAlpha >= 0.5 {
		bad("sketch_alpha", "%v is out of range; allowed: above 0 and below 0.5 (0.01 = 1%% relative error)", a.SketchAlpha)
	}
	seen := map[string]bool{}
	for i, g := range a.GroupBy {
		fp := fmt.Sprintf("group_by[%d]", i)
		if !dims[g] {
			bad(fp, "%q is not one of source.dimensions (%s)", g, strings.Join(reg.Source.Dimensions, ", "))
		}
		if seen[g] {
			bad(fp, "%q is listed twice", g)
		}
		seen[g] = true
	}
	if reg.Source.Tenant != "" && len(a.GroupBy) > 0 && !seen[reg.Source.Tenant] {
		bad("group_by", "must include the tenant dimension %q, so that every tenant's rows live under its own prefix", reg.Source.Tenant)
	}
	for i, f := range a.Filters {
		if !dims[f.Dimension] {
			bad(fmt.Sprintf("filters[%d].dimension", i), "%q is not one of source.dimensions (%s)", f.Dimension, strings.Join(reg.Source.Dimensions, ", "))
		}
		if (f.Op == OpEq || f.Op == OpNe) && len(f.Values) > 1 {
			bad(fmt.Sprintf("filters[%d].values", i), "op %s takes one value; use in or not_in for a list", f.Op)
		}
	}
	if len(a.Functions) == 0 {
		bad("functions", "at least one function is required; allowed for %s: %s", a.Kind(), strings.Join(AllowedFunctions(a.Kind()), ", "))
	}
	fseen := map[string]bool{}
	for i, fn := range a.Functions {
		fp := fmt.Sprintf("functions[%d]", i)
		if err := checkFunction(a.Kind(), fn); err != nil {
			bad(fp, "%v", err)
		}
		if fseen[fn] {
			bad(fp, "%q is listed twice", fn)
		}
		fseen[fn] = true
		if fn == "samples" || contains(a.GroupBy, fn) || contains(reservedColumns, fn) {
			bad(fp, "%q collides with an output column name", fn)
		}
	}
	if k := a.Output.Kafka; k != nil {
		if k.Topic == "" {
			bad("output.kafka.topic", "is required")
		}
		if err := checkTemplate(k.Topic, topicVars, a.GroupBy); err != nil {
			bad("output.kafka.topic", "%v", err)
		}
		if err := checkTemplate(k.Key, keyVars, a.GroupBy); err != nil {
			bad("output.kafka.key", "%v", err)
		}
	}
	if !a.Output.Parquet && a.Output.Kafka == nil {
		bad("output", "sends the results nowhere: enable parquet or add kafka")
	}
}

// reservedColumns are output columns every rollup has.
var reservedColumns = []string{"window_start", "window_end", "samples", "spec_version"}

var topicVars = []string{"aggregation", "tenant", "window"}
var keyVars = []string{"aggregation", "dimensions", "window_start", "window_start_iso", "window"}

var templateVarRE = regexp.MustCompile(`\{([^{}]*)\}`)

func checkTemplate(t string, vars []string, groupBy []string) error {
	if strings.Count(t, "{") != strings.Count(t, "}") {
		return fmt.Errorf("template %q has unbalanced braces", t)
	}
	for _, m := range templateVarRE.FindAllStringSubmatch(t, -1) {
		v := m[1]
		if strings.HasPrefix(v, "dim:") {
			if !contains(groupBy, strings.TrimPrefix(v, "dim:")) {
				return fmt.Errorf("template %q uses {%s} but %q is not in group_by", t, v, strings.TrimPrefix(v, "dim:"))
			}
			continue
		}
		if !contains(vars, v) {
			return fmt.Errorf("template %q uses unknown variable {%s}; allowed: {%s}, {dim:NAME}", t, v, strings.Join(vars, "}, {"))
		}
	}
	return nil
}

// Column returns the lake's physical column name for a contract column or dimension.
func (s *Source) Column(name string) string {
	if c, ok := s.Columns[name]; ok {
		return c
	}
	return name
}

// normalized is what a spec version hashes: everything that changes the numbers,
// nothing that only routes them.
type normalized struct {
	Semantics   string   `json:"semantics"`
	Name        string   `json:"name"`
	Metrics     []string `json:"metrics"`
	Type        string   `json:"type"`
	Temporality string   `json:"temporality"`
	Monotonic   bool     `json:"monotonic"`
	WindowMS    int64    `json:"window_ms"`
	GroupBy     []string `json:"group_by"`
	Filters     []Filter `json:"filters"`
	Functions   []string `json:"functions"`
	StalenessMS int64    `json:"staleness_ms"`
	SketchAlpha float64  `json:"sketch_alpha"`
	Dimensions  []string `json:"series_dimensions"`
}

func (a *Aggregation) computeVersion(src *Source) string {
	n := normalized{
		Semantics:   SemanticsVersion,
		Name:        a.Name,
		Metrics:     sortedCopy(a.Metrics),
		Type:        a.Type,
		Temporality: a.Temporality,
		Monotonic:   a.Monotonic,
		WindowMS:    a.Window.Milliseconds(),
		GroupBy:     a.GroupBy, // order matters: it is the output column order
		Functions:   a.Functions,
		StalenessMS: a.Staleness.Milliseconds(),
		SketchAlpha: a.SketchAlpha,
		Dimensions:  sortedCopy(src.Dimensions),
	}
	for _, f := range a.Filters {
		vals := sortedCopy(f.Values)
		if f.Op == OpEq {
			f.Op = OpIn
		}
		if f.Op == OpNe {
			f.Op = OpNotIn
		}
		n.Filters = append(n.Filters, Filter{Dimension: f.Dimension, Op: f.Op, Values: vals})
	}
	sort.Slice(n.Filters, func(i, j int) bool {
		if n.Filters[i].Dimension != n.Filters[j].Dimension {
			return n.Filters[i].Dimension < n.Filters[j].Dimension
		}
		return n.Filters[i].Op < n.Filters[j].Op
	})
	b, _ := json.Marshal(n) // plain struct of strings and numbers: cannot fail
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])[:12]
}

// Aggregation returns the aggregation named name, or nil.
func (r *Registry) Aggregation(name string) *Aggregation {
	for _, a := range r.Aggregations {
		if a.Name == name {
			return a
		}
	}
	return nil
}

// MaxWindow is the largest window of the registry's aggregations.
func (r *Registry) MaxWindow() time.Duration {
	var m time.Duration
	for _, a := range r.Aggregations {
		if a.Window > m {
			m = a.Window
		}
	}
	return m
}
