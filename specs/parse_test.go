package specs

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"
)

const validSource = `version: 1
source:
  url: file:///lake
  dimensions: [tenant, cluster, broker]
  tenant: tenant
`

func agg(body string) string {
	return validSource + "aggregations:\n  - name: a\n" + body
}

func TestParseValid(t *testing.T) {
	reg, err := Load("examples/kafka-telemetry.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(reg.Aggregations) != 8 {
		t.Fatalf("%d aggregations, want 8", len(reg.Aggregations))
	}
	a := reg.Aggregation("cluster_bytes_in_1m")
	if a == nil || a.Window != time.Minute || a.Kind() != "sum/cumulative/monotonic" || a.Staleness != DefaultStaleness {
		t.Fatalf("cluster_bytes_in_1m = %+v", a)
	}
	if a.Output.Kafka == nil || a.Output.Kafka.Encoding != EncodingOTLP || a.Output.Kafka.Key != DefaultKeyTemplate {
		t.Fatalf("kafka output defaults not applied: %+v", a.Output.Kafka)
	}
	if len(a.Version) != 12 {
		t.Fatalf("version %q", a.Version)
	}
	if reg.MaxWindow() != time.Hour {
		t.Fatalf("max window %s", reg.MaxWindow())
	}
}

// TestValidationErrors covers every error branch: each case names the substring the
// message must hold, and the line it must point at (0: any).
func TestValidationErrors(t *testing.T) {
	cases := []struct {
		name string
		yaml string
		want string
		line int
	}{
		{"empty", ``, "the registry is empty", 0},
		{"not yaml", "source: [", "not valid YAML", 0},
		{"top level not a mapping", "- 1", "must be a mapping", 1},
		{"unknown top key", validSource + "aggregation: []\n", "aggregation: unknown key", 6},
		{"bad version", "version: 2\n" + strings.TrimPrefix(validSource, "version: 1\n") + "aggregations: []", "unsupported registry version", 1},
		{"missing source", "version: 1\naggregations: []\n", "source: is required", 0},
		{"missing aggregations", validSource, "aggregations: is required", 0},
		{"aggregations not a list", validSource + "aggregations: 3\n", "must be a list of aggregations", 6},
		{"no aggregations", validSource + "aggregations: []\n", "at least one aggregation is required", 0},
		{"bad url", strings.Replace(validSource, "file:///lake", "lake", 1) + "aggregations: []", "is not a URL", 0},
		{"bad layout", strings.Replace(validSource, "  url:", "  layout: daily\n  url:", 1) + "aggregations: []", "unknown layout", 3},
		{"bad time unit", strings.Replace(validSource, "  url:", "  time_unit: minutes\n  url:", 1) + "aggregations: []", "unknown time unit", 3},
		{"columns not a mapping", strings.Replace(validSource, "  url:", "  columns: [a]\n  url:", 1) + "aggregations: []", "must be a mapping from contract column names", 3},
		{"unknown column", strings.Replace(validSource, "  url:", "  columns: {colour: x}\n  url:", 1) + "aggregations: []", "neither a contract column", 0},
		{"bad physical column", strings.Replace(validSource, "  url:", "  columns: {time: \"a b\"}\n  url:", 1) + "aggregations: []", "not a valid column name", 0},
		{"duplicate dimension", strings.Replace(validSource, "[tenant, cluster, broker]", "[tenant, tenant]", 1) + "aggregations: []", "listed twice", 0},
		{"contract column as dimension", strings.Replace(validSource, "[tenant, cluster, broker]", "[tenant, value]", 1) + "aggregations: []", "is a contract column, not a dimension", 0},
		{"no dimensions", strings.Replace(validSource, "[tenant, cluster, broker]", "[]", 1) + "aggregations: []", "at least one dimension", 0},
		{"tenant not a dimension", strings.Replace(validSource, "tenant: tenant", "tenant: org", 1) + "aggregations: []", "tenant \"org\" is not one of source.dimensions", 0},
		{"missing name", validSource + "aggregations:\n  - metric: m\n    type: gauge\n    window: 1m\n    group_by: [tenant]\n    functions: [avg]\n", "name: is required", 7},
		{"bad name", agg("    metric: m\n    type: gauge\n    window: 1m\n    group_by: [tenant]\n    functions: [avg]\n"), "", 0},
		{"missing metric", agg("    type: gauge\n    window: 1m\n    group_by: [tenant]\n    functions: [avg]\n"), "metric: is required", 7},
		{"metric and metrics", agg("    metric: m\n    metrics: [n]\n    type: gauge\n    window: 1m\n    group_by: [tenant]\n    functions: [avg]\n"), "either metric or metrics", 9},
		{"unknown type", agg("    metric: m\n    type: counter\n    window: 1m\n    group_by: [tenant]\n    functions: [avg]\n"), "unknown type \"counter\"", 7},
		{"gauge temporality", agg("    metric: m\n    type: gauge\n    temporality: delta\n    window: 1m\n    group_by: [tenant]\n    functions: [avg]\n"), "gauges have no temporality", 7},
		{"monotonic gauge", agg("    metric: m\n    type: gauge\n    monotonic: true\n    window: 1m\n    group_by: [tenant]\n    functions: [avg]\n"), "gauges cannot be monotonic", 7},
		{"bad temporality", agg("    metric: m\n    type: sum\n    temporality: sometimes\n    window: 1m\n    group_by: [tenant]\n    functions: [sum]\n"), "unknown temporality", 7},
		{"monotonic histogram", agg("    metric: m\n    type: histogram\n    monotonic: true\n    window: 1m\n    group_by: [tenant]\n    functions: [count]\n"), "only sums are monotonic", 7},
		{"bad monotonic", agg("    metric: m\n    type: sum\n    monotonic: yes\n    window: 1m\n    group_by: [tenant]\n    functions: [sum]\n"), "must be true or false", 10},
		{"window does not divide a day", agg("    metric: m\n    type: gauge\n    window: 7m\n    group_by: [tenant]\n    functions: [avg]\n"), "does not divide a day", 7},
		{"window not a duration", agg("    metric: m\n    type: gauge\n    window: often\n    group_by: [tenant]\n    functions: [avg]\n"), "is not a duration", 10},
		{"window mapping", agg("    metric: m\n    type: gauge\n    window: {m: 1}\n    group_by: [tenant]\n    functions: [avg]\n"), "must be a duration", 10},
		{"staleness out of range", agg("    metric: m\n    type: sum\n    monotonic: true\n    staleness: 2d\n    window: 1m\n    group_by: [tenant]\n    functions: [delta]\n"), "staleness: 48h0m0s is out of range", 7},
		{"sketch alpha out of range", agg("    metric: m\n    type: gauge\n    sketch_alpha: 0.7\n    window: 1m\n    group_by: [tenant]\n    functions: [p99]\n"), "sketch_alpha: 0.7 is out of range", 7},
		{"sketch alpha not a number", agg("    metric: m\n    type: gauge\n    sketch_alpha: lots\n    window: 1m\n    group_by: [tenant]\n    functions: [p99]\n"), "must be a number", 10},
		{"group_by unknown dimension", agg("    metric: m\n    type: gauge\n    window: 1m\n    group_by: [tenant, zone]\n    functions: [avg]\n"), "group_by[1]: \"zone\" is not one of source.dimensions", 7},
		{"group_by twice", agg("    metric: m\n    type: gauge\n    window: 1m\n    group_by: [tenant, tenant]\n    functions: [avg]\n"), "group_by[1]: \"tenant\" is listed twice", 7},
		{"group_by without tenant", agg("    metric: m\n    type: gauge\n    window: 1m\n    group_by: [cluster]\n    functions: [avg]\n"), "must include the tenant dimension", 7},
		{"filter unknown dimension", agg("    metric: m\n    type: gauge\n    window: 1m\n    group_by: [tenant]\n    filters: [{dimension: zone, value: a}]\n    functions: [avg]\n"), "filters[0].dimension: \"zone\"", 7},
		{"filter bad op", agg("    metric: m\n    type: gauge\n    window: 1m\n    group_by: [tenant]\n    filters: [{dimension: broker, op: like, value: a}]\n    functions: [avg]\n"), "unknown operator \"like\"", 12},
		{"filter eq with many", agg("    metric: m\n    type: gauge\n    window: 1m\n    group_by: [tenant]\n    filters: [{dimension: broker, op: eq, values: [a, b]}]\n    functions: [avg]\n"), "takes one value", 7},
		{"filter without values", agg("    metric: m\n    type: gauge\n    window: 1m\n    group_by: [tenant]\n    filters: [{dimension: broker}]\n    functions: [avg]\n"), "values: is required", 12},
		{"filter value and values", agg("    metric: m\n    type: gauge\n    window: 1m\n    group_by: [tenant]\n    filters: [{dimension: broker, value: a, values: [b]}]\n    functions: [avg]\n"), "either value or values", 12},
		{"filters not a list", agg("    metric: m\n    type: gauge\n    window: 1m\n    group_by: [tenant]\n    filters: 3\n    functions: [avg]\n"), "must be a list of {dimension, op, value(s)}", 12},
		{"no functions", agg("    metric: m\n    type: gauge\n    window: 1m\n    group_by: [tenant]\n    functions: []\n"), "at least one function is required", 7},
		{"function for another kind", agg("    metric: m\n    type: gauge\n    window: 1m\n    group_by: [tenant]\n    functions: [delta]\n"), "function \"delta\" is not defined for gauge aggregations; allowed: count, sum", 7},
		{"quantile of a sum", agg("    metric: m\n    type: sum\n    temporality: delta\n    window: 1m\n    group_by: [tenant]\n    functions: [p99]\n"), "quantile \"p99\" is not defined for sum/delta", 7},
		{"bad quantile", agg("    metric: m\n    type: gauge\n    window: 1m\n    group_by: [tenant]\n    functions: [p100]\n"), "function \"p100\" is not defined", 7},
		{"function twice", agg("    metric: m\n    type: gauge\n    window: 1m\n    group_by: [tenant]\n    functions: [avg, avg]\n"), "functions[1]: \"avg\" is listed twice", 7},
		{"duplicate name", validSource + "aggregations:\n  - {name: a, metric: m, type: gauge, window: 1m, group_by: [tenant], functions: [avg]}\n  - {name: a, metric: m, type: gauge, window: 1m, group_by: [tenant], functions: [avg]}\n", "name \"a\" is already used by aggregations[0] (line 7)", 0},
		{"duplicate key", agg("    metric: m\n    metric: n\n    type: gauge\n    window: 1m\n    group_by: [tenant]\n    functions: [avg]\n"), "appears twice", 9},
		{"unknown aggregation key", agg("    metric: m\n    colour: red\n    type: gauge\n    window: 1m\n    group_by: [tenant]\n    functions: [avg]\n"), "colour: unknown key; allowed keys here", 9},
		{"output nowhere", agg("    metric: m\n    type: gauge\n    window: 1m\n    group_by: [tenant]\n    functions: [avg]\n    output: {parquet: false}\n"), "sends the results nowhere", 7},
		{"kafka without topic", agg("    metric: m\n    type: gauge\n    window: 1m\n    group_by: [tenant]\n    functions: [avg]\n    output: {kafka: {encoding: json}}\n"), "topic: is required", 13},
		{"kafka bad encoding", agg("    metric: m\n    type: gauge\n    window: 1m\n    group_by: [tenant]\n    functions: [avg]\n    output: {kafka: {topic: t, encoding: avro}}\n"), "unknown encoding \"avro\"", 13},
		{"kafka bad key format", agg("    metric: m\n    type: gauge\n    window: 1m\n    group_by: [tenant]\n    functions: [avg]\n    output: {kafka: {topic: t, key_format: bytes}}\n"), "unknown key format", 13},
		{"kafka unknown template var", agg("    metric: m\n    type: gauge\n    window: 1m\n    group_by: [tenant]\n    functions: [avg]\n    output: {kafka: {topic: \"t.{region}\"}}\n"), "unknown variable {region}", 7},
		{"kafka key dim not grouped", agg("    metric: m\n    type: gauge\n    window: 1m\n    group_by: [tenant]\n    functions: [avg]\n    output: {kafka: {topic: t, key: \"{dim:broker}\"}}\n"), "\"broker\" is not in group_by", 7},
		{"kafka unbalanced template", agg("    metric: m\n    type: gauge\n    window: 1m\n    group_by: [tenant]\n    functions: [avg]\n    output: {kafka: {topic: \"t.{aggregation\"}}\n"), "unbalanced braces", 7},
		{"function named like a column", agg("    metric: m\n    type: gauge\n    window: 1m\n    group_by: [tenant]\n    functions: [samples]\n"), "collides with an output column", 7},
		{"string expected", agg("    metric: [m, [n]]\n    type: gauge\n    window: 1m\n    group_by: [tenant]\n    functions: [avg]\n"), "metric[1]: must be a string", 8},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "bad name" {
				tc.yaml = strings.Replace(tc.yaml, "name: a", "name: A-1", 1)
				tc.want = "\"A-1\" is not a valid name"
				tc.line = 7
			}
			_, err := Parse("reg.yaml", []byte(tc.yaml))
			if err == nil {
				t.Fatalf("no error, want %q", tc.want)
			}
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("error %T is not a *FieldError: %v", err, err)
			}
			msg := err.Error()
			if !strings.Contains(msg, tc.want) {
				t.Fatalf("error\n  %s\ndoes not contain %q", msg, tc.want)
			}
			if !strings.HasPrefix(msg, "reg.yaml") {
				t.Fatalf("error does not name the file: %s", msg)
			}
			if tc.line > 0 {
				found := false
				for _, e := range unwrapAll(err) {
					if strings.Contains(e.Error(), tc.want) && e.Line == tc.line {
						found = true
					}
				}
				if !found {
					t.Fatalf("no error %q at line %d in:\n%s", tc.want, tc.line, msg)
				}
			}
		})
	}
}

func unwrapAll(err error) []*FieldError {
	var out []*FieldError
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range j.Unwrap() {
			out = append(out, unwrapAll(e)...)
		}
		return out
	}
	var fe *FieldError
	if errors.As(err, &fe) {
		out = append(out, fe)
	}
	return out
}

func TestAllErrorsAtOnce(t *testing.T) {
	_, err := Parse("reg.yaml", []byte(agg("    metric: m\n    type: gauge\n    window: 7m\n    group_by: [zone]\n    functions: [delta]\n")))
	if n := len(unwrapAll(err)); n < 3 {
		t.Fatalf("%d errors, want window, group_by and function errors together: %v", n, err)
	}
}

func TestVersionStableAndSensitive(t *testing.T) {
	base := agg("    metric: m\n    type: gauge\n    window: 1m\n    group_by: [tenant, cluster]\n    filters: [{dimension: broker, op: in, values: [b, a]}]\n    functions: [avg, max]\n")
	v := func(y string) string {
		t.Helper()
		reg, err := Parse("r.yaml", []byte(y))
		if err != nil {
			t.Fatal(err)
		}
		return reg.Aggregations[0].Version
	}
	v0 := v(base)
	if v(base) != v0 {
		t.Fatal("version is not stable")
	}
	same := map[string]string{
		"filter values reordered":    strings.Replace(base, "[b, a]", "[a, b]", 1),
		"kafka routing added":        base + "    output: {kafka: {topic: x}}\n",
		"yaml flow vs block style":   strings.Replace(base, "functions: [avg, max]", "functions:\n      - avg\n      - max", 1),
		"explicit default staleness": base + "    staleness: 10m\n",
	}
	for name, y := range same {
		if v(y) != v0 {
			t.Errorf("%s changed the version", name)
		}
	}
	differ := map[string]string{
		"window":          strings.Replace(base, "window: 1m", "window: 5m", 1),
		"group_by order":  strings.Replace(base, "[tenant, cluster]", "[cluster, tenant]", 1),
		"function added":  strings.Replace(base, "[avg, max]", "[avg, max, min]", 1),
		"filter value":    strings.Replace(base, "[b, a]", "[b, c]", 1),
		"metric":          strings.Replace(base, "metric: m", "metric: n", 1),
		"sketch accuracy": base + "    sketch_alpha: 0.02\n",
	}
	for name, y := range differ {
		if v(y) == v0 {
			t.Errorf("changing %s kept the version", name)
		}
	}
}

func TestParseWindowAndFormat(t *testing.T) {
	for in, want := range map[string]time.Duration{"1m": time.Minute, "90s": 90 * time.Second, "1h": time.Hour, "1d": 24 * time.Hour, "7d": 7 * 24 * time.Hour} {
		got, err := ParseWindow(in)
		if err != nil || got != want {
			t.Errorf("ParseWindow(%q) = %v, %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "d", "0d", "-1d", "x"} {
		if _, err := ParseWindow(bad); err == nil {
			t.Errorf("ParseWindow(%q) accepted", bad)
		}
	}
	for d, want := range map[time.Duration]string{time.Minute: "1m", 5 * time.Minute: "5m", time.Hour: "1h", 24 * time.Hour: "1d", 90 * time.Second: "1m30s"} {
		if got := FormatWindow(d); got != want {
			t.Errorf("FormatWindow(%v) = %q, want %q", d, got, want)
		}
	}
}

func TestExampleRegistryFileMatchesEmbedded(t *testing.T) {
	data, err := os.ReadFile("examples/kafka-telemetry.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if string(data) != string(exampleRegistry) {
		t.Fatal("embedded example differs from the file")
	}
	if _, err := Example("mem://"); err != nil {
		t.Fatal(err)
	}
}

func FuzzParse(f *testing.F) {
	ex, _ := os.ReadFile("examples/kafka-telemetry.yaml")
	f.Add(ex)
	f.Add([]byte(agg("    metric: m\n    type: gauge\n    window: 1m\n    group_by: [tenant]\n    functions: [avg, p99.9]\n")))
	f.Add([]byte("version: 1\nsource: {url: 'x://', dimensions: [a], tenant: a}\naggregations: [{name: a}]"))
	f.Add([]byte("&a [*a]"))
	f.Add([]byte("{"))
	f.Fuzz(func(t *testing.T, data []byte) {
		reg, err := Parse("fuzz.yaml", data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz.yaml") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		for _, a := range reg.Aggregations {
			if len(a.Version) != 12 || a.Window <= 0 || len(a.Functions) == 0 {
				t.Fatalf("accepted an invalid aggregation: %+v", a)
			}
		}
	})
}
