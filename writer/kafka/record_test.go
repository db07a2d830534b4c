package kafka

import (
	"bytes"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
	metricspb "go.opentelemetry.io/proto/otlp/metrics/v1"
	"google.golang.org/protobuf/proto"

	"github.com/tallyhq/tally/exec"
	"github.com/tallyhq/tally/specs"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

// TestMurmur2JavaVectors checks murmur2 against the vectors of Kafka's
// clients/src/test/java/org/apache/kafka/common/utils/UtilsTest.java (testMurmur2).
func TestMurmur2JavaVectors(t *testing.T) {
	for _, tc := range []struct {
		key  string
		java int32
	}{
		{"21", -973932308},
		{"foobar", -790332482},
		{"a-little-bit-long-string", -985981536},
		{"a-little-bit-longer-string", -1486304829},
		{"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971},
		{"abc", 479470107},
	} {
		t.Run(tc.key, func(t *testing.T) {
			if got := int32(murmur2([]byte(tc.key))); got != tc.java {
				t.Errorf("murmur2(%q) = %d, Java gives %d", tc.key, got, tc.java)
			}
		})
	}
}

// TestPartitionJavaRule checks Partition = toPositive(murmur2) % n on the Java vectors
// (expected values derived from the Java hashes by hand) and on edge cases.
func TestPartitionJavaRule(t *testing.T) {
	for _, tc := range []struct {
		name string
		key  string
		n    int32
		want int32
	}{
		{"21 of 12", "21", 12, 0},
		{"21 of 100", "21", 100, 40},
		{"foobar of 12", "foobar", 12, 6},
		{"foobar of 100", "foobar", 100, 66},
		{"long of 12", "a-little-bit-long-string", 12, 8},
		{"longer of 12", "a-little-bit-longer-string", 12, 11},
		{"longer of 100", "a-little-bit-longer-string", 100, 19},
		{"lkjh of 100", "lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", 100, 77},
		{"abc of 12", "abc", 12, 3},
		{"one partition", "foobar", 1, 0},
		{"no partitions", "foobar", 0, -1},
		{"negative partitions", "foobar", -3, -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Partition([]byte(tc.key), tc.n); got != tc.want {
				t.Errorf("Partition(%q, %d) = %d, want %d", tc.key, tc.n, got, tc.want)
			}
		})
	}
}

// TestPartitionMatchesProducer checks that the producer's partitioner (franz-go's
// StickyKeyPartitioner with its default hasher) places keys where Partition says.
func TestPartitionMatchesProducer(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	p := kgo.StickyKeyPartitioner(nil).ForTopic("t")
	for i := 0; i < 2000; i++ {
		key := make([]byte, rng.Intn(40)+1)
		rng.Read(key)
		n := rng.Intn(64) + 1
		if got, want := p.Partition(&kgo.Record{Key: key}, n), int(Partition(key, int32(n))); got != want {
			t.Fatalf("key %x of %d partitions: producer picks %d, Partition says %d", key, n, got, want)
		}
	}
}

func TestEscapeKeyValue(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"plain", "eu-west-1", "eu-west-1"},
		{"empty", "", ""},
		{"comma", "a,b", `a\,b`},
		{"equals", "a=b", `a\=b`},
		{"pipe", "a|b", `a\|b`},
		{"backslash", `a\b`, `a\\b`},
		{"all", `\,=|`, `\\\,\=\|`},
		{"unicode", "zürich", "zürich"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := EscapeKeyValue(tc.in); got != tc.want {
				t.Errorf("EscapeKeyValue(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestKeysAndTopics(t *testing.T) {
	reg := testRegistry(t)
	enc := NewEncoder(reg.Source.Tenant)
	gauge := mustAgg(t, reg, "broker_cpu_5m")
	row := exec.Row{WindowStart: 1767225600000, WindowEnd: 1767225900000, Dims: []string{"acme", "eu,1", "b=2"}}
	withKey := func(a *specs.Aggregation, k specs.KafkaOutput) *specs.Aggregation {
		c := *a
		c.Output.Kafka = &k
		return &c
	}
	suffix := func(s string, ms int64) string {
		var b [8]byte
		for i := 7; i >= 0; i-- {
			b[i] = byte(ms)
			ms >>= 8
		}
		return s + string(b[:])
	}
	for _, tc := range []struct {
		name    string
		out     specs.KafkaOutput
		key     string
		topic   string
		wantErr string
	}{
		{"default string key", specs.KafkaOutput{Topic: "t", Key: specs.DefaultKeyTemplate, KeyFormat: "string"},
			`broker_cpu_5m|tenant=acme,cluster=eu\,1,broker=b\=2|1767225600000`, "t", ""},
		{"windowed default inner key", specs.KafkaOutput{Topic: "t", KeyFormat: "windowed"},
			suffix(`broker_cpu_5m|tenant=acme,cluster=eu\,1,broker=b\=2`, 1767225600000), "t", ""},
		{"iso, window and dim", specs.KafkaOutput{Topic: "m.{window}.{tenant}", Key: "{dim:cluster}@{window_start_iso}/{window}", KeyFormat: "string"},
			`eu\,1@2026-01-01T00:00:00.000Z/5m`, "m.5m.acme", ""},
		{"topic with aggregation", specs.KafkaOutput{Topic: "tally.{aggregation}", Key: "{aggregation}", KeyFormat: "string"},
			"broker_cpu_5m", "tally.broker_cpu_5m", ""},
		{"unknown key variable", specs.KafkaOutput{Topic: "t", Key: "{nope}", KeyFormat: "string"}, "", "", "unknown variable {nope}"},
		{"dim not in group_by", specs.KafkaOutput{Topic: "t", Key: "{dim:topic}", KeyFormat: "string"}, "", "", `"topic" is not in group_by`},
		{"unbalanced brace", specs.KafkaOutput{Topic: "t", Key: "{aggregation", KeyFormat: "string"}, "", "", "without '}'"},
		{"illegal topic", specs.KafkaOutput{Topic: "t.{window}.{aggregation}/x", Key: "k", KeyFormat: "string"}, "k", "", "Kafka topic names allow only"},
		{"topic dimension value illegal", specs.KafkaOutput{Topic: "x.{tenant}", Key: "k", KeyFormat: "string"}, "k", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := withKey(gauge, tc.out)
			r := row
			if tc.name == "topic dimension value illegal" {
				r.Dims = []string{"ac me", "c", "b"}
				tc.wantErr = "Kafka topic names allow only"
			}
			key, kerr := enc.Key(a, &r)
			topic, terr := enc.Topic(a, &r)
			err := errors.Join(kerr, terr)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
				}
				if !strings.Contains(err.Error(), "aggregation broker_cpu_5m") {
					t.Errorf("error %q does not name the aggregation", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(key) != tc.key {
				t.Errorf("key = %q, want %q", key, tc.key)
			}
			if topic != tc.topic {
				t.Errorf("topic = %q, want %q", topic, tc.topic)
			}
			if tc.out.KeyFormat == specs.KeyFormatWindowed {
				inner, start, err := SplitWindowedKey(key)
				if err != nil || start != row.WindowStart || !bytes.HasPrefix(key, inner) {
					t.Errorf("SplitWindowedKey = %q, %d, %v", inner, start, err)
				}
			}
		})
	}
	if _, _, err := SplitWindowedKey([]byte("short")); err == nil {
		t.Error("SplitWindowedKey accepted a 5-byte key")
	}
}

// goldenCases are the records pinned by testdata/golden: one per aggregation of the
// test registry, which covers every kind, both encodings and both key formats.
func goldenCases(t testing.TB) (*specs.Registry, []*specs.Aggregation) {
	reg := testRegistry(t)
	return reg, reg.Aggregations
}

var goldenTask = TaskRef{RunID: "run-20260101T000000Z-golden", TaskID: "task-0001", Origin: OriginBackfill}

// goldenText renders a record as the golden file's text.
func goldenText(rec *kgo.Record) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# record contract v%d; regenerate with: go test ./writer/kafka -run TestGolden -update\n", RecordVersion)
	fmt.Fprintf(&b, "topic: %s\n", rec.Topic)
	fmt.Fprintf(&b, "partition of 12: %d\n", Partition(rec.Key, 12))
	fmt.Fprintf(&b, "timestamp_ms: %d\n", rec.Timestamp.UnixMilli())
	fmt.Fprintf(&b, "key_text: %q\n", rec.Key)
	fmt.Fprintf(&b, "key_hex: %s\n", hex.EncodeToString(rec.Key))
	for _, h := range rec.Headers {
		fmt.Fprintf(&b, "header: %s=%s\n", h.Key, h.Value)
	}
	fmt.Fprintf(&b, "value_bytes: %d\n", len(rec.Value))
	if rec.Value[0] == '{' {
		fmt.Fprintf(&b, "value_text: %s\n", rec.Value)
	}
	b.WriteString("value_hex:\n")
	h := hex.EncodeToString(rec.Value)
	for len(h) > 64 {
		b.WriteString(h[:64] + "\n")
		h = h[64:]
	}
	b.WriteString(h + "\n")
	return b.String()
}

// TestGolden pins the bytes of one record per aggregation kind, encoding and key
// format. A diff here is a change of the record contract: bump RecordVersion and
// docs/kafka-records.md, or fix the regression.
func TestGolden(t *testing.T) {
	reg, aggs := goldenCases(t)
	enc := NewEncoder(reg.Source.Tenant)
	for _, agg := range aggs {
		t.Run(agg.Name, func(t *testing.T) {
			row := testRow(t, agg, 1)
			rec, err := enc.Record(agg, &row, goldenTask)
			if err != nil {
				t.Fatal(err)
			}
			// Encoding twice gives the same bytes (deterministic protobuf and JSON).
			again, err := enc.Record(agg, &row, goldenTask)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(rec.Value, again.Value) || !bytes.Equal(rec.Key, again.Key) {
				t.Fatal("encoding the same row twice gave different bytes")
			}
			got := goldenText(rec)
			path := filepath.Join("testdata", "golden", agg.Name+".txt")
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("record differs from %s:\n--- got\n%s\n--- want\n%s", path, got, want)
			}
		})
	}
}

// TestDocExamples checks that the worked examples in docs/kafka-records.md are the
// golden records, so the document cannot drift from the code.
func TestDocExamples(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "kafka-records.md"))
	if err != nil {
		t.Fatal(err)
	}
	reg := testRegistry(t)
	enc := NewEncoder(reg.Source.Tenant)
	for _, name := range []string{"request_latency_1h_json", "broker_cpu_5m_json", "bytes_in_1m"} {
		agg := mustAgg(t, reg, name)
		row := testRow(t, agg, 1)
		rec, err := enc.Record(agg, &row, goldenTask)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(doc, rec.Value) {
			t.Errorf("docs/kafka-records.md lacks the JSON value of %s:\n%s", name, rec.Value)
		}
		if !bytes.Contains(doc, []byte(hex.EncodeToString(rec.Key))) {
			t.Errorf("docs/kafka-records.md lacks the key of %s: %x", name, rec.Key)
		}
	}
	otlp := mustAgg(t, reg, "request_errors_5m")
	row := testRow(t, otlp, 1)
	v, err := enc.Value(otlp, &row)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(doc, []byte(hexLines(v))) {
		t.Errorf("docs/kafka-records.md lacks the OTLP value of request_errors_5m:\n%s", hexLines(v))
	}
}

func hexLines(b []byte) string {
	h := hex.EncodeToString(b)
	var s strings.Builder
	for len(h) > 64 {
		s.WriteString(h[:64] + "\n")
		h = h[64:]
	}
	s.WriteString(h)
	return s.String()
}

// TestDecodeRoundTrip decodes every golden record and finds the row it came from.
func TestDecodeRoundTrip(t *testing.T) {
	reg, aggs := goldenCases(t)
	enc := NewEncoder(reg.Source.Tenant)
	for _, agg := range aggs {
		for i := 0; i < 3; i++ {
			t.Run(fmt.Sprintf("%s/%d", agg.Name, i), func(t *testing.T) {
				row := testRow(t, agg, i)
				rec, err := enc.Record(agg, &row, goldenTask)
				if err != nil {
					t.Fatal(err)
				}
				rec.Partition, rec.Offset = 3, 42
				d, err := Decode(rec)
				if err != nil {
					t.Fatal(err)
				}
				checkDecoded(t, agg, &row, d)
			})
		}
	}
}

func checkDecoded(t *testing.T, agg *specs.Aggregation, row *exec.Row, d Decoded) {
	t.Helper()
	if d.Aggregation != agg.Name || d.SpecVersion != agg.Version {
		t.Errorf("aggregation %s@%s, want %s@%s", d.Aggregation, d.SpecVersion, agg.Name, agg.Version)
	}
	if d.WindowStart != row.WindowStart || d.WindowEnd != row.WindowEnd {
		t.Errorf("window [%d,%d), want [%d,%d)", d.WindowStart, d.WindowEnd, row.WindowStart, row.WindowEnd)
	}
	if len(d.Dims) != len(agg.GroupBy) {
		t.Fatalf("dims %v, want %d", d.Dims, len(agg.GroupBy))
	}
	for i, g := range agg.GroupBy {
		if d.Dims[i] != (Dim{g, row.Dims[i]}) {
			t.Errorf("dims[%d] = %v, want %s=%s", i, d.Dims[i], g, row.Dims[i])
		}
	}
	if d.Samples != row.Samples {
		t.Errorf("samples %d, want %d", d.Samples, row.Samples)
	}
	for _, fn := range agg.Functions {
		if fn == specs.FnBuckets || fn == specs.FnSketch {
			continue
		}
		want, _ := row.Value(agg, fn)
		if got, ok := d.Values[fn]; !ok || got != want {
			t.Errorf("value %s = %v (present %v), want %v", fn, got, ok, want)
		}
	}
	if agg.Has(specs.FnCount) && (!d.HasCount || d.Count != row.Count) {
		t.Errorf("count %d (%v), want %d", d.Count, d.HasCount, row.Count)
	}
	if !reflect.DeepEqual(d.Hist, row.Hist) {
		t.Errorf("hist %+v, want %+v", d.Hist, row.Hist)
	}
	if !reflect.DeepEqual(d.Exp, row.Exp) {
		t.Errorf("exp %+v, want %+v", d.Exp, row.Exp)
	}
	if !bytes.Equal(d.Sketch, row.Sketch) {
		t.Errorf("sketch differs")
	}
	if d.RunID != goldenTask.RunID || d.TaskID != goldenTask.TaskID || d.Origin != OriginBackfill {
		t.Errorf("provenance %s/%s/%s", d.RunID, d.TaskID, d.Origin)
	}
	if d.Topic == "" || d.Partition != 3 || d.Offset != 42 {
		t.Errorf("position %s/%d@%d", d.Topic, d.Partition, d.Offset)
	}
}

// TestDecodeNonFinite checks that JSON carries NaN and infinities as strings both ways.
func TestDecodeNonFinite(t *testing.T) {
	reg := testRegistry(t)
	agg := mustAgg(t, reg, "bytes_in_1m")
	row := testRow(t, agg, 0)
	row.Values = []float64{math.Inf(1), math.NaN()}
	rec, err := NewEncoder("tenant").Record(agg, &row, goldenTask)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(rec.Value, []byte(`"values":{"delta":"Infinity","rate":"NaN"}`)) {
		t.Errorf("value %s", rec.Value)
	}
	d, err := Decode(rec)
	if err != nil {
		t.Fatal(err)
	}
	if !math.IsInf(d.Values["delta"], 1) || !math.IsNaN(d.Values["rate"]) {
		t.Errorf("values %v", d.Values)
	}
}

func TestEncodeRejectsMalformedRows(t *testing.T) {
	reg := testRegistry(t)
	enc := NewEncoder(reg.Source.Tenant)
	hist := mustAgg(t, reg, "request_latency_1h")
	gauge := mustAgg(t, reg, "broker_cpu_5m")
	for _, tc := range []struct {
		name string
		agg  *specs.Aggregation
		edit func(*exec.Row)
		want string
	}{
		{"missing dimension", gauge, func(r *exec.Row) { r.Dims = r.Dims[:1] }, "dimension values"},
		{"missing value", gauge, func(r *exec.Row) { r.Values = r.Values[:2] }, "scalar functions"},
		{"empty window", gauge, func(r *exec.Row) { r.WindowEnd = r.WindowStart }, "empty"},
		{"no histogram", hist, func(r *exec.Row) { r.Hist = nil }, "no histogram"},
		{"bucket mismatch", hist, func(r *exec.Row) { r.Hist.Counts = r.Hist.Counts[:2] }, "counts for"},
		{"no sketch", gauge, func(r *exec.Row) { r.Sketch = nil }, "row has none"},
		{"garbage sketch", gauge, func(r *exec.Row) { r.Sketch = []byte{0xff, 0xff} }, "not a serialized DDSketch"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			row := testRow(t, tc.agg, 0)
			tc.edit(&row)
			_, err := enc.Record(tc.agg, &row, goldenTask)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), tc.agg.Name) {
				t.Errorf("err = %v, want one naming %s and containing %q", err, tc.agg.Name, tc.want)
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	reg := testRegistry(t)
	enc := NewEncoder(reg.Source.Tenant)
	jsonAgg := mustAgg(t, reg, "bytes_in_1m")
	jrow := testRow(t, jsonAgg, 0)
	good, err := enc.Record(jsonAgg, &jrow, goldenTask)
	if err != nil {
		t.Fatal(err)
	}
	otlpAgg := mustAgg(t, reg, "request_errors_5m")
	orow := testRow(t, otlpAgg, 0)
	goodOTLP, err := enc.Record(otlpAgg, &orow, goldenTask)
	if err != nil {
		t.Fatal(err)
	}
	twoResources := func() []byte {
		var md metricspb.MetricsData
		if err := proto.Unmarshal(goodOTLP.Value, &md); err != nil {
			t.Fatal(err)
		}
		md.ResourceMetrics = append(md.ResourceMetrics, md.ResourceMetrics[0])
		b, _ := proto.Marshal(&md)
		return b
	}
	shiftedWindow := func() []byte {
		var md metricspb.MetricsData
		if err := proto.Unmarshal(goodOTLP.Value, &md); err != nil {
			t.Fatal(err)
		}
		md.ResourceMetrics[0].ScopeMetrics[0].Metrics[1].GetSum().DataPoints[0].TimeUnixNano += 1e6
		b, _ := proto.Marshal(&md)
		return b
	}
	jsonWith := func(old, new string) []byte {
		return bytes.Replace(good.Value, []byte(old), []byte(new), 1)
	}
	for _, tc := range []struct {
		name  string
		ct    string
		value []byte
		field string
	}{
		{"empty value", ContentTypeJSON, nil, "value"},
		{"unknown content type", "text/plain", []byte("x"), "header content-type"},
		{"not json", ContentTypeJSON, []byte("{nope"), "value"},
		{"wrong record version", ContentTypeJSON, jsonWith(`"record_version":1`, `"record_version":9`), "record_version"},
		{"no aggregation", ContentTypeJSON, jsonWith(`"aggregation":"bytes_in_1m"`, `"aggregation":""`), "aggregation"},
		{"window end before start", ContentTypeJSON, jsonWith(`"window_end_ms":`, `"window_end_ms":-`), "window_end_ms"},
		{"dimension not a string", ContentTypeJSON, jsonWith(`"tenant":"acme-0"`, `"tenant":7`), "dims"},
		{"count not an integer", ContentTypeJSON, jsonWith(`"values":{`, `"values":{"count":1.5,`), "values"},
		{"value not a number", ContentTypeJSON, jsonWith(`"delta":0.5`, `"delta":"x"`), "values"},
		{"samples not a number", ContentTypeJSON, jsonWith(`"samples":10`, `"samples":"10"`), "samples"},
		{"trailing data", ContentTypeJSON, append(append([]byte{}, good.Value...), []byte(`{}`)...), "value"},
		{"not protobuf", ContentTypeOTLP, []byte{0xff, 0xff, 0xff}, "value"},
		{"two resources", ContentTypeOTLP, twoResources(), "resource_metrics"},
		{"metrics disagree on window", ContentTypeOTLP, shiftedWindow(), "metrics[1]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := &kgo.Record{Topic: "tally.x", Partition: 2, Offset: 77, Value: tc.value,
				Headers: []kgo.RecordHeader{{Key: HeaderContentType, Value: []byte(tc.ct)}}}
			_, err := Decode(rec)
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("err = %v, want a *DecodeError", err)
			}
			if de.Field != tc.field {
				t.Errorf("field %q, want %q (err %v)", de.Field, tc.field, err)
			}
			if !strings.Contains(err.Error(), "tally.x/2@77") {
				t.Errorf("error %q does not name the record", err)
			}
		})
	}
}

// FuzzDecode feeds arbitrary values to Decode: it must return a record or an error,
// never panic, and a decoded record always has a non-empty window and an aggregation.
func FuzzDecode(f *testing.F) {
	reg := testRegistry(f)
	enc := NewEncoder(reg.Source.Tenant)
	for _, agg := range reg.Aggregations {
		row := testRow(f, agg, 1)
		rec, err := enc.Record(agg, &row, goldenTask)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(rec.Headers[0].Value), rec.Value)
	}
	f.Add("", []byte("{}"))
	f.Add(ContentTypeOTLP, []byte{0x0a, 0x00})
	f.Fuzz(func(t *testing.T, ct string, value []byte) {
		rec := &kgo.Record{Topic: "fuzz", Value: value}
		if ct != "" {
			rec.Headers = []kgo.RecordHeader{{Key: HeaderContentType, Value: []byte(ct)}}
		}
		d, err := Decode(rec)
		if err != nil {
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("error %v is not a *DecodeError", err)
			}
			return
		}
		if d.WindowEnd <= d.WindowStart || d.Aggregation == "" {
			t.Fatalf("decoded %+v without a window or aggregation", d)
		}
	})
}
