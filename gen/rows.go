package gen

import (
	"container/heap"
	"fmt"
	"time"
)

// maxDisplacement is how many rows later, at most, an out-of-order row is written.
const maxDisplacement = 1000

// partition is one hour of event time and its folder.
type partition struct {
	start  int64  // hour start, ns
	lo, hi int64  // [lo, hi): the hour clipped to [From, To)
	prefix string // folder, ending in "/"
}

// fileSpec is one object of the lake: file index of a partition.
type fileSpec struct {
	part  partition
	index int
	key   string
}

// partitionPrefix is the folder of the hour that starts at t.
func partitionPrefix(layout string, t time.Time) string {
	if layout == LayoutDruid {
		const iso = "2006-01-02T15:04:05.000Z"
		return t.Format(iso) + "_" + t.Add(time.Hour).Format(iso) + "/"
	}
	return fmt.Sprintf("dt=%s/hour=%02d/", t.Format("2006-01-02"), t.Hour())
}

// fileKey is the object key of file k of a partition.
func fileKey(prefix string, k int) string { return fmt.Sprintf("%spart-%05d.parquet", prefix, k) }

// files lists every object the configuration may write, in generation order:
// partitions by time, then file index. A file with no rows is not written.
func files(c *Config) []fileSpec {
	from, to := c.From.UnixNano(), c.To.UnixNano()
	var out []fileSpec
	for h := floorDiv(from, hourNS) * hourNS; h < to; h += hourNS {
		p := partition{start: h, lo: max(h, from), hi: min(h+hourNS, to), prefix: partitionPrefix(c.Layout, time.Unix(0, h).UTC())}
		for k := 0; k < c.FilesPerPartition; k++ {
			out = append(out, fileSpec{part: p, index: k, key: fileKey(p.prefix, k)})
		}
	}
	return out
}

// fileRows produces the rows of one file in written order: by time then series,
// duplicates next to their original (or at their place in another file), and
// displaced rows up to maxDisplacement rows later. Memory is bounded by the
// number of series and maxDisplacement, never by the number of rows.
type fileRows struct {
	g       *generator
	spec    fileSpec
	order   []int32 // series visited, sorted by (phase, idx)
	withDup bool    // foreign series are visited for duplicates routed here
	k       int64   // current interval index
	pos     int     // next position in order
	done    bool
	emitted int64
	seq     int64
	held    heldRows
	queued  []row
	qhead   int
	epochs  []epochCache // by series index, for counters
}

func (g *generator) newFileRows(spec fileSpec) *fileRows {
	c := g.cfg
	f := &fileRows{g: g, spec: spec, order: g.fleet.byFile[spec.index]}
	if c.DuplicateFraction > 0 && c.FilesPerPartition > 1 {
		f.order, f.withDup = g.fleet.order, true
	}
	f.k = floorDiv(spec.part.lo, g.interval) - 1
	f.epochs = make([]epochCache, len(g.fleet.series))
	return f
}

// next fills r with the next row of the file; it returns false at the end.
func (f *fileRows) next(r *row) bool {
	for {
		if f.qhead < len(f.queued) {
			*r = f.queued[f.qhead]
			f.qhead++
			if f.qhead == len(f.queued) {
				f.queued, f.qhead = f.queued[:0], 0
			}
			f.emitted++
			return true
		}
		if len(f.held) > 0 && (f.done || f.held[0].at <= f.emitted) {
			*r = heap.Pop(&f.held).(heldRow).r
			f.emitted++
			return true
		}
		if f.done {
			return false
		}
		f.advance()
	}
}

// advance generates the next point that belongs in this file into queued or held,
// or marks the file done.
func (f *fileRows) advance() {
	g, c := f.g, f.g.cfg
	n := int64(c.FilesPerPartition)
	for {
		if f.pos == len(f.order) {
			f.k++
			f.pos = 0
			if f.k*g.interval >= f.spec.part.hi || len(f.order) == 0 {
				f.done = true
				return
			}
		}
		s := &g.fleet.series[f.order[f.pos]]
		f.pos++
		t := g.slotTime(s, f.k)
		if t < f.spec.part.lo {
			continue
		}
		if t >= f.spec.part.hi {
			f.done = true // phases are sorted: every later point is past the hour too
			return
		}
		own := int(s.tenant)%c.FilesPerPartition == f.spec.index
		dup := c.DuplicateFraction > 0 && s.drawUnit(f.k, drawDup) < c.DuplicateFraction
		dupHere := dup && int64(s.draw64(f.k, drawDupFile)%uint64(n)) == int64(f.spec.index)
		if !own && !dupHere {
			continue
		}
		var r row
		g.fill(&r, s, f.k, t, f.spec.part.start, &f.epochs[s.idx])
		if own {
			if c.OutOfOrderFraction > 0 && s.drawUnit(f.k, drawDisplace) < c.OutOfOrderFraction {
				r.displaced = true
				by := 1 + int64(s.draw64(f.k, drawDisplaceBy)%maxDisplacement)
				f.seq++
				heap.Push(&f.held, heldRow{r: r, at: f.emitted + by, seq: f.seq})
				r.displaced = false
			} else {
				f.queued = append(f.queued, r)
			}
		}
		if dupHere {
			r.dup = true
			f.queued = append(f.queued, r)
		}
		return
	}
}

// heldRow is a displaced row waiting until at rows have been written.
type heldRow struct {
	r   row
	at  int64
	seq int64
}

// heldRows is a min-heap by (at, seq).
type heldRows []heldRow

func (h heldRows) Len() int { return len(h) }
func (h heldRows) Less(i, j int) bool {
	if h[i].at != h[j].at {
		return h[i].at < h[j].at
	}
	return h[i].seq < h[j].seq
}
func (h heldRows) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *heldRows) Push(x any)   { *h = append(*h, x.(heldRow)) }
func (h *heldRows) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// Point is one generated row as written, for building reference results in tests.
type Point struct {
	// File is the object key the row is written to; Row is its index in that file.
	File string
	Row  int64
	// Time is the event time; IngestTime when the pipeline received the point.
	Time, IngestTime time.Time
	// StartTime is the start of a cumulative counter's epoch; zero (null) otherwise.
	StartTime time.Time
	// Metric, Type (gauge, sum, histogram) and Temporality ("" when null).
	Metric, Type, Temporality string
	// Monotonic is written (non-null) only for sums.
	Monotonic bool
	// Value is written (non-null) for every type but histograms; NaN or +Inf when NaN is set.
	Value float64
	// Dimensions; "" where a dimension does not apply.
	Tenant, Cluster, Broker, Topic, RequestType string
	// Histogram fields, written (non-null) only for histograms.
	Count         int64
	Sum, Min, Max float64
	Bounds        []float64
	BucketCounts  []int64
	// Quirks: Late (ingest_time = time + LateBy), Duplicate (this row is the extra
	// copy of an identical row), OutOfOrder (written later than its sorted place),
	// Reset (first point of a counter epoch), NaN (a NaN or +Inf gauge value).
	Late, Duplicate, OutOfOrder, Reset, NaN bool
}

// Points calls fn for every row Generate would write for cfg, in generation order
// (files by partition time and index, rows in file order), with the same values.
// It stops at the first error fn returns and returns it.
func Points(cfg Config, fn func(p Point) error) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	g := newGenerator(&cfg)
	for _, spec := range files(&cfg) {
		f := g.newFileRows(spec)
		var r row
		for i := int64(0); f.next(&r); i++ {
			if err := fn(r.point(spec.key, i)); err != nil {
				return err
			}
		}
	}
	return nil
}

// point converts a row to its exported form.
func (r *row) point(file string, i int64) Point {
	s := r.s
	d := &metricDefs[s.metric]
	p := Point{
		File: file, Row: i,
		Time: time.Unix(0, r.t).UTC(), IngestTime: time.Unix(0, r.ingest).UTC(),
		Metric: d.name, Type: d.typ, Temporality: d.temporality, Monotonic: d.monotonic,
		Value:  r.value,
		Tenant: s.tenantName, Cluster: s.cluster, Broker: s.broker, Topic: s.topic, RequestType: s.requestType,
		Late: r.late, Duplicate: r.dup, OutOfOrder: r.displaced, Reset: r.reset, NaN: r.nan,
	}
	if r.hasStart {
		p.StartTime = time.Unix(0, r.start).UTC()
	}
	if d.typ == TypeHistogram {
		p.Value = 0
		p.Count, p.Sum, p.Min, p.Max = r.hist.count, r.hist.sum, r.hist.min, r.hist.max
		p.Bounds = LatencyBounds()
		p.BucketCounts = append([]int64(nil), r.hist.buckets[:]...)
	}
	return p
}

// ExpectedRows is the number of points of cfg before duplicates: the rows
// Generate writes less Stats.Duplicates. It is exact and costs one pass over the series.
func ExpectedRows(cfg Config) (int64, error) {
	if err := cfg.Validate(); err != nil {
		return 0, err
	}
	from, to, iv := cfg.From.UnixNano(), cfg.To.UnixNano(), int64(cfg.Interval)
	var n int64
	for _, s := range newFleet(&cfg).series {
		n += ceilDiv(to-s.phase, iv) - ceilDiv(from-s.phase, iv)
	}
	return n, nil
}
