package audit

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/tallyhq/tally/exec"
	"github.com/tallyhq/tally/exec/hist"
	"github.com/tallyhq/tally/specs"
)

func sketchOf(t *testing.T, alpha float64, vals ...float64) []byte {
	t.Helper()
	s, err := hist.NewSketch(alpha)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range vals {
		if err := s.Add(v); err != nil {
			t.Fatal(err)
		}
	}
	return s.Encode()
}

func TestCompareRows(t *testing.T) {
	gauge := &specs.Aggregation{Name: "g", Type: specs.TypeGauge, Window: time.Minute, GroupBy: []string{"tenant"},
		Functions: []string{"count", "avg", "p99", "sketch"}, SketchAlpha: 0.01}
	histo := &specs.Aggregation{Name: "h", Type: specs.TypeHistogram, Temporality: specs.TemporalityDelta, Window: time.Minute,
		GroupBy: []string{"tenant"}, Functions: []string{"count", "sum", "buckets"}}
	exp := &specs.Aggregation{Name: "e", Type: specs.TypeExponentialHistogram, Temporality: specs.TemporalityDelta, Window: time.Minute,
		GroupBy: []string{"tenant"}, Functions: []string{"buckets"}}
	sk := sketchOf(t, 0.01, 1, 2, 3, 4, 100)
	g := func(count int64, avg, p99 float64, sketch []byte) exec.Row {
		return exec.Row{Count: count, Values: []float64{avg, p99}, Sketch: sketch}
	}
	h := func(count int64, sum float64, counts ...uint64) exec.Row {
		return exec.Row{Count: count, Values: []float64{sum}, Hist: &exec.Histogram{Bounds: []float64{1, 10}, Counts: counts}}
	}
	e := func(scale int32, counts ...uint64) exec.Row {
		return exec.Row{Exp: &exec.ExpHistogram{Scale: scale, PositiveCounts: counts}}
	}
	tol := DefaultTolerance()
	cases := []struct {
		name      string
		agg       *specs.Aggregation
		a, b      exec.Row
		tol       Tolerance
		wantDiffs []string
	}{
		{"identical gauge", gauge, g(5, 22, 100, sk), g(5, 22, 100, sk), tol, nil},
		{"count off by one", gauge, g(5, 22, 100, sk), g(4, 22, 100, sk), tol, []string{"count"}},
		{"avg within relative tolerance", gauge, g(5, 1e6, 100, sk), g(5, 1e6*(1+1e-10), 100, sk), tol, nil},
		{"avg beyond relative tolerance", gauge, g(5, 1e6, 100, sk), g(5, 1e6*(1+1e-8), 100, sk), tol, []string{"avg"}},
		{"avg near zero within absolute tolerance", gauge, g(5, 0, 100, sk), g(5, 1e-13, 100, sk), tol, nil},
		{"avg near zero beyond absolute tolerance", gauge, g(5, 0, 100, sk), g(5, 1e-11, 100, sk), tol, []string{"avg"}},
		{"loose tolerance", gauge, g(5, 100, 100, sk), g(5, 100.5, 100, sk), Tolerance{Rel: 0.01}, nil},
		{"NaN equals NaN", gauge, g(0, math.NaN(), math.NaN(), nil), g(0, math.NaN(), math.NaN(), nil), tol, nil},
		{"NaN against a number", gauge, g(5, math.NaN(), 100, sk), g(5, 1, 100, sk), tol, []string{"avg"}},
		{"gauge quantile within alpha", gauge, g(5, 22, 100, sk), g(5, 22, 100.9, sk), tol, nil},
		{"gauge quantile beyond alpha", gauge, g(5, 22, 100, sk), g(5, 22, 103, sk), tol, []string{"p99"}},
		{"sketch with one value less", gauge, g(5, 22, 100, sk), g(5, 22, 100, sketchOf(t, 0.01, 1, 2, 3, 4)), tol, []string{"sketch"}},
		{"sketch with other values", gauge, g(5, 22, 100, sk), g(5, 22, 100, sketchOf(t, 0.01, 1, 2, 3, 4, 200)), tol, []string{"sketch"}},
		{"sketch missing", gauge, g(5, 22, 100, sk), g(5, 22, 100, nil), tol, []string{"sketch"}},
		{"undecodable sketch", gauge, g(5, 22, 100, sk), g(5, 22, 100, []byte{0xff, 0xff}), tol, []string{"sketch"}},
		{"same buckets", histo, h(3, 7, 1, 1, 1), h(3, 7, 1, 1, 1), tol, nil},
		{"one bucket moved", histo, h(3, 7, 1, 1, 1), h(3, 7, 2, 0, 1), tol, []string{"buckets"}},
		{"bucket and sum", histo, h(3, 7, 1, 1, 1), h(4, 9, 1, 2, 1), tol, []string{"count", "sum", "buckets"}},
		{"same exponential", exp, e(3, 1, 2), e(3, 1, 2), tol, nil},
		{"exponential scale", exp, e(3, 1, 2), e(2, 1, 2), tol, []string{"buckets"}},
		{"exponential missing", exp, e(3, 1, 2), exec.Row{}, tol, []string{"buckets"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			diffs := CompareRows(c.agg, &c.a, &c.b, c.tol)
			var got []string
			for _, d := range diffs {
				got = append(got, d.Function)
				if d.Relative < 0 || d.Relative > 1 || math.IsNaN(d.Relative) {
					t.Errorf("%s: relative difference %v outside [0,1]", d.Function, d.Relative)
				}
			}
			if strings.Join(got, ",") != strings.Join(c.wantDiffs, ",") {
				t.Errorf("diffs %v, want %v (%+v)", got, c.wantDiffs, diffs)
			}
		})
	}
}

func TestParseStreamURL(t *testing.T) {
	cases := []struct {
		in      string
		brokers string
		topic   string
		archive string
		err     string
	}{
		{in: "kafka://b1:9092/tally.rollups", brokers: "b1:9092", topic: "tally.rollups"},
		{in: "kafka://b1:9092,b2:9093/t", brokers: "b1:9092,b2:9093", topic: "t"},
		{in: "s3://bucket/prefix?region=eu-west-1", archive: "s3://bucket/prefix?region=eu-west-1"},
		{in: "file:///data/rollups", archive: "file:///data/rollups"},
		{in: "", err: "empty"},
		{in: "kafka://b1:9092", err: "want kafka://"},
		{in: "kafka://b1:9092/a/b", err: "want kafka://"},
		{in: "kafka://b1/t", err: "not host:port"},
		{in: "kafka://,/t", err: "names no broker"},
		{in: "/data/rollups", err: "not a URL"},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			s, err := ParseStreamURL(c.in)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("err = %v, want %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(s.Brokers, ",") != c.brokers || s.Topic != c.topic || s.Archive != c.archive {
				t.Errorf("got %+v", s)
			}
			if s.String() != c.in {
				t.Errorf("String() = %q, want %q", s.String(), c.in)
			}
		})
	}
}

func TestConfigValidate(t *testing.T) {
	reg, err := specs.Load("testdata/registry.yaml")
	if err != nil {
		t.Fatal(err)
	}
	day := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	ok := func() Config {
		return Config{Registry: reg, From: day, To: day.Add(time.Hour), Stream: "kafka://b:9092/t"}
	}
	cases := []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"valid", func(*Config) {}, ""},
		{"no registry", func(c *Config) { c.Registry = nil }, "registry is required"},
		{"empty range", func(c *Config) { c.To = c.From }, "must be before"},
		{"unaligned", func(c *Config) { c.From = day.Add(time.Minute) }, "aligned to the largest window"},
		{"bad stream", func(c *Config) { c.Stream = "kafka://nohost" }, "--stream"},
		{"negative grace", func(c *Config) { c.Grace = -time.Second }, "--grace"},
		{"negative tolerance", func(c *Config) { c.Tolerance = Tolerance{Rel: -1} }, "relative tolerance"},
		{"unknown aggregation", func(c *Config) { c.Aggregations = []string{"nope"} }, `aggregations[0]: "nope"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := ok()
			c.edit(&cfg)
			err := cfg.Validate()
			if c.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if cfg.Grace != DefaultGrace || cfg.Tolerance != DefaultTolerance() || cfg.WorstSeries != DefaultWorstSeries {
					t.Errorf("defaults not filled: %+v", cfg)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want %q", err, c.want)
			}
		})
	}
}

func TestRoutesTo(t *testing.T) {
	agg := &specs.Aggregation{Name: "cpu_5m", Window: 5 * time.Minute, Output: specs.Output{Kafka: &specs.KafkaOutput{}}}
	cases := []struct {
		tmpl, topic string
		want        bool
	}{
		{"tally.{aggregation}", "tally.cpu_5m", true},
		{"tally.{aggregation}", "tally.other", false},
		{"rollups.{window}", "rollups.5m", true},
		{"t.{tenant}.{aggregation}", "t.acme.cpu_5m", true},
		{"t.{tenant}.{aggregation}", "t..cpu_5m", false},
		{"t.{tenant}.{aggregation}", "x.acme.cpu_5m", false},
	}
	for _, c := range cases {
		agg.Output.Kafka.Topic = c.tmpl
		if got := routesTo(agg, c.topic); got != c.want {
			t.Errorf("routesTo(%q, %q) = %v, want %v", c.tmpl, c.topic, got, c.want)
		}
	}
}
