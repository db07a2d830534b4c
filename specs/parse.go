package specs

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// FieldError is one problem in a registry file: where it is and what is wrong.
type FieldError struct {
	File  string // registry file ("" when parsed from bytes)
	Line  int    // 1-based line, 0 when unknown
	Field string // field path, e.g. aggregations[2].window
	Msg   string // what is wrong and what is allowed
}

func (e *FieldError) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
	} else {
		b.WriteString("registry")
	}
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	if e.Field != "" {
		b.WriteString(": ")
		b.WriteString(e.Field)
	}
	b.WriteString(": ")
	b.WriteString(e.Msg)
	return b.String()
}

// maxRegistryBytes bounds what Parse accepts; registries are hand-written files.
const maxRegistryBytes = 8 << 20

// Load reads, parses and validates the registry file at path.
func Load(path string) (*Registry, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read registry: %w", err)
	}
	return Parse(path, data)
}

// Parse parses and validates a registry. file is only used in error messages.
// All problems are reported at once, joined with errors.Join; each is a *FieldError.
func Parse(file string, data []byte) (*Registry, error) {
	if len(data) > maxRegistryBytes {
		return nil, &FieldError{File: file, Msg: fmt.Sprintf("registry is %d bytes, more than the %d allowed", len(data), maxRegistryBytes)}
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		line := 0
		var te *yaml.TypeError
		if !errors.As(err, &te) {
			if m := yamlLineRE.FindStringSubmatch(err.Error()); m != nil {
				line, _ = strconv.Atoi(m[1])
			}
		}
		return nil, &FieldError{File: file, Line: line, Msg: "not valid YAML: " + strings.TrimPrefix(err.Error(), "yaml: ")}
	}
	p := &parser{file: file}
	reg := &Registry{Path: file}
	if len(doc.Content) == 0 {
		p.errf(&doc, "", "the registry is empty; it needs a source and at least one aggregation")
		return nil, p.err()
	}
	p.registry(doc.Content[0], reg)
	if err := p.err(); err != nil {
		return nil, err
	}
	p.validate(reg)
	if err := p.err(); err != nil {
		return nil, err
	}
	for _, a := range reg.Aggregations {
		a.Version = a.computeVersion(&reg.Source)
	}
	return reg, nil
}

var yamlLineRE = regexp.MustCompile(`line (\d+)`)

type parser struct {
	file string
	errs []error
}

func (p *parser) errf(n *yaml.Node, field, format string, args ...any) {
	line := 0
	if n != nil {
		line = n.Line
	}
	p.errs = append(p.errs, &FieldError{File: p.file, Line: line, Field: field, Msg: fmt.Sprintf(format, args...)})
}

func (p *parser) err() error {
	if len(p.errs) == 0 {
		return nil
	}
	return errors.Join(p.errs...)
}

// mapping walks a YAML mapping, calling fn for each known key and reporting unknown,
// duplicate and missing required keys.
func (p *parser) mapping(n *yaml.Node, path string, known []string, required []string, fn func(key string, v *yaml.Node)) {
	if n.Kind != yaml.MappingNode {
		p.errf(n, path, "must be a mapping with keys %s", strings.Join(known, ", "))
		return
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		key := k.Value
		fp := join(path, key)
		if seen[key] {
			p.errf(k, fp, "appears twice")
			continue
		}
		seen[key] = true
		if !contains(known, key) {
			p.errf(k, fp, "unknown key; allowed keys here: %s", strings.Join(known, ", "))
			continue
		}
		fn(key, v)
	}
	for _, r := range required {
		if !seen[r] {
			p.errf(n, join(path, r), "is required")
		}
	}
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func (p *parser) str(n *yaml.Node, path string) string {
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		p.errf(n, path, "must be a string")
		return ""
	}
	return n.Value
}

func (p *parser) strList(n *yaml.Node, path string) []string {
	if n.Kind == yaml.ScalarNode && n.Tag != "!!null" {
		return []string{n.Value}
	}
	if n.Kind != yaml.SequenceNode {
		p.errf(n, path, "must be a list of strings")
		return nil
	}
	out := make([]string, 0, len(n.Content))
	for i, c := range n.Content {
		out = append(out, p.str(c, fmt.Sprintf("%s[%d]", path, i)))
	}
	return out
}

func (p *parser) boolean(n *yaml.Node, path string) bool {
	if n.Kind == yaml.ScalarNode {
		switch n.Value {
		case "true":
			return true
		case "false":
			return false
		}
	}
	p.errf(n, path, "must be true or false")
	return false
}

func (p *parser) registry(n *yaml.Node, reg *Registry) {
	var srcNode, aggNode *yaml.Node
	p.mapping(n, "", []string{"version", "source", "aggregations"}, []string{"source", "aggregations"}, func(key string, v *yaml.Node) {
		switch key {
		case "version":
			if v.Value != "1" {
				p.errf(v, "version", "unsupported registry version %q; this tally reads version 1", v.Value)
			}
		case "source":
			srcNode = v
		case "aggregations":
			aggNode = v
		}
	})
	if srcNode != nil {
		p.source(srcNode, &reg.Source)
	}
	if aggNode != nil {
		if aggNode.Kind != yaml.SequenceNode {
			p.errf(aggNode, "aggregations", "must be a list of aggregations")
			return
		}
		for i, c := range aggNode.Content {
			a := &Aggregation{Line: c.Line, Output: Output{Parquet: true}}
			p.aggregation(c, fmt.Sprintf("aggregations[%d]", i), a)
			reg.Aggregations = append(reg.Aggregations, a)
		}
	}
}

func (p *parser) source(n *yaml.Node, s *Source) {
	s.Layout = DefaultLayout
	s.TimeUnit = DefaultTimeUnit
	p.mapping(n, "source", []string{"url", "layout", "time_unit", "columns", "dimensions", "tenant"}, []string{"url", "dimensions", "tenant"}, func(key string, v *yaml.Node) {
		path := "source." + key
		switch key {
		case "url":
			s.URL = p.str(v, path)
		case "layout":
			s.Layout = p.str(v, path)
			if !contains([]string{LayoutHive, LayoutHiveDaily, LayoutDruid, LayoutFlat}, s.Layout) {
				p.errf(v, path, "unknown layout %q; allowed: hive (dt=YYYY-MM-DD/hour=HH/), hive-daily (dt=YYYY-MM-DD/), druid (START_END/ interval folders), flat (no time partitions)", s.Layout)
			}
		case "time_unit":
			s.TimeUnit = p.str(v, path)
			if !contains([]string{UnitAuto, UnitS, UnitMS, UnitUS, UnitNS}, s.TimeUnit) {
				p.errf(v, path, "unknown time unit %q; allowed: auto, s, ms, us, ns", s.TimeUnit)
			}
		case "columns":
			if v.Kind != yaml.MappingNode {
				p.errf(v, path, "must be a mapping from contract column names to the lake's column names")
				return
			}
			s.Columns = map[string]string{}
			for i := 0; i+1 < len(v.Content); i += 2 {
				k, val := v.Content[i], v.Content[i+1]
				if _, dup := s.Columns[k.Value]; dup {
					p.errf(k, path+"."+k.Value, "appears twice")
				}
				s.Columns[k.Value] = p.str(val, path+"."+k.Value)
			}
		case "dimensions":
			s.Dimensions = p.strList(v, path)
		case "tenant":
			s.Tenant = p.str(v, path)
		}
	})
}

var aggKeys = []string{"name", "metric", "metrics", "type", "temporality", "monotonic", "window", "group_by", "filters", "functions", "staleness", "sketch_alpha", "output"}

func (p *parser) aggregation(n *yaml.Node, path string, a *Aggregation) {
	p.mapping(n, path, aggKeys, []string{"name", "type", "window", "group_by", "functions"}, func(key string, v *yaml.Node) {
		fp := path + "." + key
		switch key {
		case "name":
			a.Name = p.str(v, fp)
		case "metric", "metrics":
			if len(a.Metrics) > 0 {
				p.errf(v, fp, "give either metric or metrics, not both")
				return
			}
			a.Metrics = p.strList(v, fp)
		case "type":
			a.Type = p.str(v, fp)
		case "temporality":
			a.Temporality = p.str(v, fp)
		case "monotonic":
			a.Monotonic = p.boolean(v, fp)
		case "window":
			a.Window = p.duration(v, fp)
		case "staleness":
			a.Staleness = p.duration(v, fp)
		case "sketch_alpha":
			f, err := strconv.ParseFloat(v.Value, 64)
			if err != nil || v.Kind != yaml.ScalarNode {
				p.errf(v, fp, "must be a number between 0 and 1 (exclusive), e.g. 0.01")
				return
			}
			a.SketchAlpha = f
		case "group_by":
			a.GroupBy = p.strList(v, fp)
		case "functions":
			a.Functions = p.strList(v, fp)
		case "filters":
			if v.Kind != yaml.SequenceNode {
				p.errf(v, fp, "must be a list of {dimension, op, value(s)}")
				return
			}
			for i, c := range v.Content {
				a.Filters = append(a.Filters, p.filter(c, fmt.Sprintf("%s[%d]", fp, i)))
			}
		case "output":
			p.output(v, fp, &a.Output)
		}
	})
	if a.Metrics == nil {
		p.errf(n, path+".metric", "is required: the source metric name(s) the aggregation reads")
	}
}

func (p *parser) filter(n *yaml.Node, path string) Filter {
	f := Filter{Op: OpEq}
	p.mapping(n, path, []string{"dimension", "op", "value", "values"}, []string{"dimension"}, func(key string, v *yaml.Node) {
		fp := path + "." + key
		switch key {
		case "dimension":
			f.Dimension = p.str(v, fp)
		case "op":
			f.Op = p.str(v, fp)
			if !contains([]string{OpEq, OpNe, OpIn, OpNotIn}, f.Op) {
				p.errf(v, fp, "unknown operator %q; allowed: eq, ne, in, not_in", f.Op)
			}
		case "value", "values":
			if f.Values != nil {
				p.errf(v, fp, "give either value or values, not both")
				return
			}
			f.Values = p.strList(v, fp)
		}
	})
	if f.Values == nil {
		p.errf(n, path+".values", "is required: the value(s) to compare with")
	}
	return f
}

func (p *parser) output(n *yaml.Node, path string, o *Output) {
	p.mapping(n, path, []string{"parquet", "kafka"}, nil, func(key string, v *yaml.Node) {
		fp := path + "." + key
		switch key {
		case "parquet":
			o.Parquet = p.boolean(v, fp)
		case "kafka":
			k := &KafkaOutput{Key: DefaultKeyTemplate, KeyFormat: DefaultKeyFormat, Encoding: DefaultEncoding}
			keySet := false
			p.mapping(v, fp, []string{"topic", "key", "key_format", "encoding"}, []string{"topic"}, func(key string, v *yaml.Node) {
				kp := fp + "." + key
				switch key {
				case "topic":
					k.Topic = p.str(v, kp)
				case "key":
					k.Key = p.str(v, kp)
					keySet = true
				case "key_format":
					k.KeyFormat = p.str(v, kp)
					if k.KeyFormat != KeyFormatString && k.KeyFormat != KeyFormatWindowed {
						p.errf(v, kp, "unknown key format %q; allowed: string, windowed (Kafka Streams windowed key)", k.KeyFormat)
					}
				case "encoding":
					k.Encoding = p.str(v, kp)
					if k.Encoding != EncodingOTLP && k.Encoding != EncodingJSON {
						p.errf(v, kp, "unknown encoding %q; allowed: otlp, json", k.Encoding)
					}
				}
			})
			if !keySet && k.KeyFormat == KeyFormatWindowed {
				// The window start travels in the windowed key's 8-byte suffix.
				k.Key = DefaultWindowedKeyTemplate
			}
			o.Kafka = k
		}
	})
}

// ParseWindow parses a window or duration: Go durations (90s, 5m, 1h) and whole days (1d, 7d).
func ParseWindow(s string) (time.Duration, error) {
	if strings.HasSuffix(s, "d") {
		n, err := strconv.Atoi(strings.TrimSuffix(s, "d"))
		if err != nil || n <= 0 || n > 366 {
			return 0, fmt.Errorf("%q is not a number of days", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration", s)
	}
	return d, nil
}

func (p *parser) duration(n *yaml.Node, path string) time.Duration {
	if n.Kind != yaml.ScalarNode {
		p.errf(n, path, "must be a duration such as 1m, 5m, 1h or 1d")
		return 0
	}
	d, err := ParseWindow(n.Value)
	if err != nil {
		p.errf(n, path, "%v; write a duration such as 1m, 5m, 1h or 1d", err)
		return 0
	}
	return d
}

// FormatWindow writes a window the way the registry does (1m, 5m, 1h, 1d).
func FormatWindow(d time.Duration) string {
	day := 24 * time.Hour
	if d >= day && d%day == 0 {
		return strconv.Itoa(int(d/day)) + "d"
	}
	s := d.String() // e.g. 1h0m0s, 5m0s, 1m30s
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
