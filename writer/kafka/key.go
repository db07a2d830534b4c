package kafka

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/tallyhq/tally/specs"
)

// windowSuffixLen is the size of the window start that Kafka Streams'
// TimeWindowedSerializer appends to the inner key (WindowKeySchema.toBinary).
const windowSuffixLen = 8

// isoMillis is the layout of {window_start_iso} and of the JSON encoding's times: UTC,
// always three fractional digits, so the text has one fixed width.
const isoMillis = "2006-01-02T15:04:05.000Z"

// formatISO renders epoch milliseconds as isoMillis.
func formatISO(ms int64) string {
	return time.UnixMilli(ms).UTC().Format(isoMillis)
}

// EscapeKeyValue escapes a dimension value for use in a key: a backslash before each
// '\', ',', '=' and '|'. Dimension names cannot hold those characters, so after
// escaping, the rendered {dimensions} splits back into its name=value pairs without
// ambiguity: "a=x\,y,b=z" is a="x,y", b="z".
func EscapeKeyValue(v string) string {
	if !strings.ContainsAny(v, `\,=|`) {
		return v
	}
	var b strings.Builder
	b.Grow(len(v) + 4)
	for i := 0; i < len(v); i++ {
		switch c := v[i]; c {
		case '\\', ',', '=', '|':
			b.WriteByte('\\')
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// keyContext is what a key or topic template is rendered against.
type keyContext struct {
	agg       *specs.Aggregation
	dims      []string
	tenantDim string
	start     int64
}

func (c *keyContext) dim(name string) (string, bool) {
	for i, g := range c.agg.GroupBy {
		if g == name {
			if i < len(c.dims) {
				return c.dims[i], true
			}
			return "", false
		}
	}
	return "", false
}

// render expands a template. vars lists the variables allowed besides {dim:NAME};
// escape is applied to dimension values (keys escape them, topics do not).
func render(tmpl string, c *keyContext, vars map[string]bool, escape bool) (string, error) {
	var b strings.Builder
	b.Grow(len(tmpl) + 32)
	rest := tmpl
	for {
		open := strings.IndexByte(rest, '{')
		if open < 0 {
			if strings.IndexByte(rest, '}') >= 0 {
				return "", fmt.Errorf("template %q has a '}' without '{'", tmpl)
			}
			b.WriteString(rest)
			return b.String(), nil
		}
		if strings.IndexByte(rest[:open], '}') >= 0 {
			return "", fmt.Errorf("template %q has a '}' without '{'", tmpl)
		}
		b.WriteString(rest[:open])
		end := strings.IndexByte(rest[open:], '}')
		if end < 0 {
			return "", fmt.Errorf("template %q has a '{' without '}'", tmpl)
		}
		name := rest[open+1 : open+end]
		rest = rest[open+end+1:]
		if dn, ok := strings.CutPrefix(name, "dim:"); ok {
			v, found := c.dim(dn)
			if !found {
				return "", fmt.Errorf("template %q uses {%s} but %q is not in group_by of %s", tmpl, name, dn, c.agg.Name)
			}
			if escape {
				v = EscapeKeyValue(v)
			}
			b.WriteString(v)
			continue
		}
		if !vars[name] {
			return "", fmt.Errorf("template %q uses unknown variable {%s}", tmpl, name)
		}
		switch name {
		case "aggregation":
			b.WriteString(c.agg.Name)
		case "window":
			b.WriteString(specs.FormatWindow(c.agg.Window))
		case "window_start":
			b.WriteString(strconv.FormatInt(c.start, 10))
		case "window_start_iso":
			b.WriteString(formatISO(c.start))
		case "tenant":
			if c.tenantDim == "" {
				return "", fmt.Errorf("template %q uses {tenant} but the registry names no tenant dimension", tmpl)
			}
			v, found := c.dim(c.tenantDim)
			if !found {
				return "", fmt.Errorf("template %q uses {tenant} but the tenant dimension %q is not in group_by of %s", tmpl, c.tenantDim, c.agg.Name)
			}
			b.WriteString(v)
		case "dimensions":
			for i, g := range c.agg.GroupBy {
				if i > 0 {
					b.WriteByte(',')
				}
				b.WriteString(g)
				b.WriteByte('=')
				v := ""
				if i < len(c.dims) {
					v = c.dims[i]
				}
				b.WriteString(EscapeKeyValue(v))
			}
		}
	}
}

var (
	keyVars   = map[string]bool{"aggregation": true, "dimensions": true, "window_start": true, "window_start_iso": true, "window": true}
	topicVars = map[string]bool{"aggregation": true, "tenant": true, "window": true}
)

// keyTemplate is the template an aggregation's keys are rendered from.
func keyTemplate(k *specs.KafkaOutput) string {
	if k.Key != "" {
		return k.Key
	}
	if k.KeyFormat == specs.KeyFormatWindowed {
		return specs.DefaultWindowedKeyTemplate
	}
	return specs.DefaultKeyTemplate
}

// renderKey builds the record key of one row: the rendered template as UTF-8 bytes, and
// for the windowed format the window start appended as 8 big-endian bytes.
func renderKey(k *specs.KafkaOutput, c *keyContext) ([]byte, error) {
	s, err := render(keyTemplate(k), c, keyVars, true)
	if err != nil {
		return nil, err
	}
	switch k.KeyFormat {
	case "", specs.KeyFormatString:
		return []byte(s), nil
	case specs.KeyFormatWindowed:
		key := make([]byte, len(s)+windowSuffixLen)
		copy(key, s)
		binary.BigEndian.PutUint64(key[len(s):], uint64(c.start))
		return key, nil
	default:
		return nil, fmt.Errorf("unknown key format %q; allowed: string, windowed", k.KeyFormat)
	}
}

// SplitWindowedKey splits a key in Kafka Streams' windowed layout into the inner key and
// the window start (epoch milliseconds).
func SplitWindowedKey(key []byte) (inner []byte, windowStart int64, err error) {
	if len(key) < windowSuffixLen {
		return nil, 0, fmt.Errorf("windowed key is %d bytes, shorter than the %d-byte window start suffix", len(key), windowSuffixLen)
	}
	n := len(key) - windowSuffixLen
	return key[:n], int64(binary.BigEndian.Uint64(key[n:])), nil
}

// validTopic reports whether s is a legal Kafka topic name.
func validTopic(s string) error {
	if s == "" || s == "." || s == ".." {
		return fmt.Errorf("topic %q is not a legal Kafka topic name", s)
	}
	if len(s) > 249 {
		return fmt.Errorf("topic %q is %d characters, more than Kafka's 249", s, len(s))
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return fmt.Errorf("topic %q holds %q; Kafka topic names allow only letters, digits, '.', '_' and '-'", s, c)
		}
	}
	return nil
}
