package planner

import (
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"path"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"gocloud.dev/blob"
	"golang.org/x/sync/errgroup"

	"github.com/tallyhq/tally/reader"
	"github.com/tallyhq/tally/specs"
)

// listed is one raw segment found by listing, with the time range its partition
// promises (zero partition for flat lakes).
type listed struct {
	obj       reader.Object
	partStart time.Time // inclusive; zero when the layout says nothing
	partEnd   time.Time // exclusive
}

// partition is one prefix to list and the event times it holds.
type partition struct {
	prefix     string
	start, end time.Time
	recursive  bool // list everything below (druid, flat); otherwise list only this level and below
}

// partitionSize is the time span of one partition of a layout (0 when it varies).
func partitionSize(layout string) time.Duration {
	switch layout {
	case specs.LayoutHive:
		return time.Hour
	case specs.LayoutHiveDaily:
		return 24 * time.Hour
	}
	return 0
}

// hivePartitions are the partitions of a hive or hive-daily layout that overlap
// [from, to). Hours 0 to 9 are listed both zero-padded (hour=08/) and as written by
// engines that format an integer partition value (hour=8/).
func hivePartitions(layout string, from, to time.Time) []partition {
	size := partitionSize(layout)
	var out []partition
	for t := from.Truncate(size); t.Before(to); t = t.Add(size) {
		p := partition{start: t, end: t.Add(size)}
		if layout != specs.LayoutHive {
			p.prefix = fmt.Sprintf("dt=%s/", t.Format("2006-01-02"))
			out = append(out, p)
			continue
		}
		p.prefix = fmt.Sprintf("dt=%s/hour=%02d/", t.Format("2006-01-02"), t.Hour())
		out = append(out, p)
		if t.Hour() < 10 {
			// Hive, Spark and DuckDB write an integer hour partition without padding
			// (hour=8/); both spellings name the same hour.
			p.prefix = fmt.Sprintf("dt=%s/hour=%d/", t.Format("2006-01-02"), t.Hour())
			out = append(out, p)
		}
	}
	return out
}

// druidIntervalLayouts are the ISO-8601 forms of Druid interval folder names.
var druidIntervalLayouts = []string{
	"2006-01-02T15:04:05.000Z07:00",
	"2006-01-02T15:04:05Z07:00",
	"2006-01-02T15:04Z07:00",
	"2006-01-02T15Z07:00",
	"2006-01-02Z07:00",
	"2006-01-02T15:04:05.000",
	"2006-01-02T15:04:05",
	"2006-01-02",
	"20060102T150405Z",
	"20060102T150405.000Z",
}

func parseISO(s string) (time.Time, bool) {
	for _, l := range druidIntervalLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

// ParseDruidInterval parses a Druid segment folder name START_END (ISO-8601 instants,
// e.g. 2026-11-01T00:00:00.000Z_2026-11-01T01:00:00.000Z). Deep storages that cannot
// hold ':' write it as '_' (2026-11-01T00_00_00.000Z_…); both are accepted.
func ParseDruidInterval(name string) (start, end time.Time, ok bool) {
	name = strings.TrimSuffix(name, "/")
	for i := 0; i < len(name); i++ {
		if name[i] != '_' {
			continue
		}
		l, r := name[:i], name[i+1:]
		s, ok1 := parseISO(l)
		if !ok1 {
			s, ok1 = parseISO(colons(l))
		}
		e, ok2 := parseISO(r)
		if !ok2 {
			e, ok2 = parseISO(colons(r))
		}
		if ok1 && ok2 && s.Before(e) {
			return s, e, true
		}
	}
	return time.Time{}, time.Time{}, false
}

// colons turns the '_' that replace ':' in the time part of an instant back into ':'.
func colons(s string) string {
	if i := strings.IndexByte(s, 'T'); i >= 0 {
		return s[:i] + strings.ReplaceAll(s[i:], "_", ":")
	}
	return s
}

// lister lists a bucket and counts what it lists.
type lister struct {
	b           *blob.Bucket
	concurrency int

	mu       sync.Mutex
	prefixes int
	objects  int
	skipped  int
}

// listAll lists every object under prefix (no delimiter), keeping raw segments.
func (l *lister) listAll(ctx context.Context, p partition) ([]listed, error) {
	l.mu.Lock()
	l.prefixes++
	l.mu.Unlock()
	it := l.b.List(&blob.ListOptions{Prefix: p.prefix})
	var out []listed
	nobj, nskip := 0, 0
	for {
		o, err := it.Next(ctx)
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("list %q: %w", p.prefix, err)
		}
		if o.IsDir {
			continue
		}
		nobj++
		if !isSegment(o.Key, o.Size) {
			nskip++
			continue
		}
		out = append(out, listed{obj: reader.Object{Key: o.Key, Size: o.Size, ETag: hex.EncodeToString(o.MD5), ModTime: o.ModTime.UTC()},
			partStart: p.start, partEnd: p.end})
	}
	l.mu.Lock()
	l.objects += nobj
	l.skipped += nskip
	l.mu.Unlock()
	return out, nil
}

// isSegment keeps Parquet objects and drops the hidden files and markers Hadoop,
// Spark and Druid leave beside them (_SUCCESS, .crc, _delta_log, descriptor.json).
func isSegment(key string, size int64) bool {
	if size <= 0 || strings.HasSuffix(key, "/") {
		return false
	}
	for _, part := range strings.Split(key, "/") {
		if strings.HasPrefix(part, "_") && !strings.Contains(part, "=") || strings.HasPrefix(part, ".") {
			return false
		}
	}
	switch ext := strings.ToLower(path.Ext(key)); ext {
	case ".parquet", ".parq", ".pq":
		return true
	case "":
		// Writers that name segments without a suffix: Hive (000000_0, 000000_0_copy_1)
		// and Flink/Spark-style part files (part-<uuid>-0-0).
		name := path.Base(key)
		return hiveFileRE.MatchString(name) || strings.HasPrefix(name, "part-")
	}
	return false
}

var hiveFileRE = regexp.MustCompile(`^[0-9]{6}_[0-9]+(_copy_[0-9]+)?$`)

// druidPartitions lists the root with delimiter "/" and keeps the interval folders
// that overlap [from, to).
func (l *lister) druidPartitions(ctx context.Context, from, to time.Time) ([]partition, error) {
	l.mu.Lock()
	l.prefixes++
	l.mu.Unlock()
	it := l.b.List(&blob.ListOptions{Delimiter: "/"})
	var out []partition
	for {
		o, err := it.Next(ctx)
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("list interval folders: %w", err)
		}
		if !o.IsDir {
			continue
		}
		s, e, ok := ParseDruidInterval(o.Key)
		if !ok || !s.Before(to) || !e.After(from) {
			continue
		}
		out = append(out, partition{prefix: o.Key, start: s, end: e, recursive: true})
	}
	return out, nil
}

// list finds the raw segments of the layout that may hold events of [from, to).
func (l *lister) list(ctx context.Context, layout string, from, to time.Time) ([]listed, error) {
	var parts []partition
	switch layout {
	case specs.LayoutHive, specs.LayoutHiveDaily:
		parts = hivePartitions(layout, from, to)
	case specs.LayoutDruid:
		var err error
		if parts, err = l.druidPartitions(ctx, from, to); err != nil {
			return nil, err
		}
	case specs.LayoutFlat:
		parts = []partition{{prefix: "", recursive: true}}
	default:
		return nil, fmt.Errorf("unknown layout %q; allowed: hive, hive-daily, druid, flat", layout)
	}
	results := make([][]listed, len(parts))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(l.concurrency)
	for i, p := range parts {
		g.Go(func() error {
			objs, err := l.listAll(gctx, p)
			results[i] = objs
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	var out []listed
	seen := map[string]bool{}
	for _, r := range results {
		for _, o := range r {
			if !seen[o.obj.Key] { // overlapping druid intervals cannot list a key twice, but be sure
				seen[o.obj.Key] = true
				out = append(out, o)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].obj.Key < out[j].obj.Key })
	return out, nil
}
