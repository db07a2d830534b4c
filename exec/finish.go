package exec

import (
	"cmp"
	"fmt"
	"reflect"
	"slices"
	"strings"

	"golang.org/x/sync/errgroup"
)

// Carry is the per-series state one task hands to the next task of the same shard: the
// latest point of every cumulative series. It makes a run read each row group once
// while computing exactly what a lookback read would give.
type Carry struct {
	// End is the end of the task that produced the carry; it is valid for a task
	// starting there.
	End int64
	// Last maps a series key (metric and dimension values joined by NUL) to its latest point.
	Last map[string]CarryPoint
}

// CarryPoint is the latest point of a cumulative series.
type CarryPoint struct {
	Time  int64
	Value float64
	Start int64
	Hist  *histPoint
}

// sortedSeries is the task's series after sorting and cleanup.
type sortedSeries struct {
	keys   [][]uint32 // ids per global series, in key order
	rank   []uint32   // byte-order rank of every interned string id
	strs   []string   // key strings (for carry), filled lazily
	offs   []int      // points of series s are pts[offs[s]:offs[s+1]]
	pts    []point
	hists  []histPoint
	drops  []seriesDrops
	metric []int // metric index per series
}

type seriesDrops struct {
	nonFinite, null, dup, conflict int64
}

func (st *taskState) finish(chunks []*chunk, tables []*seriesTable) (*Result, error) {
	e := st.e
	// Inject the carried state as candidate points of an extra table.
	extra := newSeriesTable(len(e.reg.Source.Dimensions))
	carryChunk := &chunk{worker: len(tables)}
	if c := st.task.Carry; c != nil {
		keys := make([]string, 0, len(c.Last))
		for k := range c.Last {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		ids := make([]uint32, extra.width)
		for _, k := range keys {
			cp := c.Last[k]
			parts := strings.Split(k, "\x00")
			if len(parts) != extra.width {
				return nil, fmt.Errorf("carried state has a series key with %d parts, want %d", len(parts), extra.width)
			}
			for i, p := range parts {
				ids[i] = st.in.id(p)
			}
			mi, ok := e.metIdx[parts[0]]
			if !ok || e.lookAt[mi] == 0 || cp.Time < st.start-int64(e.lookAt[mi]) || cp.Time >= st.start {
				continue
			}
			p := point{time: cp.Time, value: cp.Value, start: cp.Start, ingest: noTime, series: extra.lookup(ids), hist: -1, flags: flagCandidate}
			if cp.Hist != nil {
				p.hist = int32(len(carryChunk.hists))
				carryChunk.hists = append(carryChunk.hists, *cp.Hist)
			}
			carryChunk.points = append(carryChunk.points, p)
		}
	}
	tables = append(tables, extra)
	chunks = append(chunks, carryChunk)

	// Global series in key order.
	type ref struct {
		w     int
		local uint32
	}
	var refs []ref
	for w, t := range tables {
		for l := 0; l < t.len(); l++ {
			refs = append(refs, ref{w, uint32(l)})
		}
	}
	// Rank the interned strings once, so series keys compare as integers.
	rank := st.in.ranks()
	cmpIDs := func(a, b []uint32) int {
		for i := range a {
			if a[i] != b[i] {
				return cmp.Compare(rank[a[i]], rank[b[i]])
			}
		}
		return 0
	}
	slices.SortFunc(refs, func(a, b ref) int {
		return cmpIDs(tables[a.w].key(a.local), tables[b.w].key(b.local))
	})
	remap := make([][]uint32, len(tables))
	for w, t := range tables {
		remap[w] = make([]uint32, t.len())
	}
	ss := &sortedSeries{rank: rank}
	for _, r := range refs {
		k := tables[r.w].key(r.local)
		if n := len(ss.keys); n == 0 || cmpIDs(ss.keys[n-1], k) != 0 {
			ss.keys = append(ss.keys, k)
			ss.metric = append(ss.metric, e.metIdx[st.in.str(k[0])])
		}
		remap[r.w][r.local] = uint32(len(ss.keys) - 1)
	}
	nSeries := len(ss.keys)
	if nSeries > e.cfg.MaxSeries {
		return nil, fmt.Errorf("%d distinct series, more than --max-series %d; cut the range into smaller tasks or raise the limit", nSeries, e.cfg.MaxSeries)
	}

	// Counting sort of points by series, in chunk order (deterministic).
	counts := make([]int, nSeries+1)
	total := 0
	var rowsRead, lookback int64
	for _, c := range chunks {
		if c == nil {
			continue
		}
		rowsRead += c.rowsRead
		lookback += c.lookback
		rm := remap[c.worker]
		for i := range c.points {
			counts[rm[c.points[i].series]+1]++
		}
		total += len(c.points)
	}
	for i := 1; i <= nSeries; i++ {
		counts[i] += counts[i-1]
	}
	ss.offs = append([]int(nil), counts...)
	ss.pts = getPoints(total)[:total]
	pos := counts[:nSeries]
	for _, c := range chunks {
		if c == nil {
			continue
		}
		rm := remap[c.worker]
		base := int32(len(ss.hists))
		ss.hists = append(ss.hists, c.hists...)
		for _, p := range c.points {
			g := rm[p.series]
			p.series = g
			if p.hist >= 0 {
				p.hist += base
			}
			ss.pts[pos[g]] = p
			pos[g]++
		}
		c.points, c.hists = nil, nil
	}

	// Per series: order by time, drop junk, dedupe; compact in place.
	ss.drops = make([]seriesDrops, nSeries)
	newOffs := make([]int, nSeries+1)
	out := 0
	for s := 0; s < nSeries; s++ {
		pts := ss.pts[ss.offs[s]:ss.offs[s+1]]
		if !strictlyIncreasing(pts) {
			// Out-of-order rows or duplicates: the full order decides which twin is kept.
			slices.SortStableFunc(pts, ss.compare)
		}
		d := &ss.drops[s]
		newOffs[s] = out
		for i := range pts {
			p := pts[i]
			counted := p.flags&flagCandidate == 0
			if p.flags&flagNull != 0 {
				if counted {
					d.null++
				}
				continue
			}
			if p.flags&flagNonFinite != 0 {
				if counted {
					d.nonFinite++
				}
				continue
			}
			if out > newOffs[s] && ss.pts[out-1].time == p.time {
				if counted {
					d.dup++
					if !samePoint(&ss.pts[out-1], &p, ss.hists) {
						d.conflict++
					}
				}
				continue
			}
			ss.pts[out] = p
			out++
		}
	}
	newOffs[nSeries] = out
	ss.offs = newOffs
	ss.pts = ss.pts[:out]

	res := &Result{Stats: Stats{RowsRead: rowsRead, Lookback: lookback, Series: nSeries, PerAggregation: map[string]*AggStats{}}}
	for _, p := range ss.pts {
		if p.flags&flagCandidate == 0 {
			res.Stats.Points++
		}
	}
	// Aggregations only read the sorted series: compute them side by side, keep
	// registry order.
	aggs := make([]*aggregator, len(e.reg.Aggregations))
	var g errgroup.Group
	g.SetLimit(e.cfg.Parallelism)
	for ai, a := range e.reg.Aggregations {
		aggs[ai] = &aggregator{st: st, ss: ss, agg: a, ai: ai, stats: &AggStats{}}
		g.Go(func() error {
			var err error
			aggs[ai].rows, err = aggs[ai].run()
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	for _, ag := range aggs {
		res.Rollups = append(res.Rollups, Rollup{Agg: ag.agg, Rows: ag.rows})
		res.Stats.PerAggregation[ag.agg.Name] = ag.stats
		res.Stats.OutputRows += int64(len(ag.rows))
	}
	res.Carry = st.carryOut(ss)
	ss.release()
	return res, nil
}

// compare orders one series' points: by time, then valid before junk, then the payload
// (value; for histograms count, sum), then start time, then the rest of a histogram's
// payload, so the point kept among duplicates never depends on file order.
func (ss *sortedSeries) compare(a, b point) int {
	if c := cmp.Compare(a.time, b.time); c != 0 {
		return c
	}
	// Junk sorts last among equal times so that a valid twin is the one kept.
	ja, jb := a.flags&(flagNull|flagNonFinite), b.flags&(flagNull|flagNonFinite)
	if c := cmp.Compare(ja, jb); c != 0 {
		return c
	}
	if a.hist >= 0 && b.hist >= 0 {
		ha, hb := &ss.hists[a.hist], &ss.hists[b.hist]
		if c := cmp.Compare(ha.count, hb.count); c != 0 {
			return c
		}
		if c := cmp.Compare(ha.sum, hb.sum); c != 0 {
			return c
		}
		if c := cmp.Compare(a.start, b.start); c != 0 {
			return c
		}
		if c := slices.Compare(ha.bounds, hb.bounds); c != 0 {
			return c
		}
		if c := slices.Compare(ha.counts, hb.counts); c != 0 {
			return c
		}
		if ha.exp != nil && hb.exp != nil {
			if c := cmp.Compare(ha.exp.Scale, hb.exp.Scale); c != 0 {
				return c
			}
			if c := cmp.Compare(ha.exp.ZeroCount, hb.exp.ZeroCount); c != 0 {
				return c
			}
			if c := cmp.Compare(ha.exp.Positive.Offset, hb.exp.Positive.Offset); c != 0 {
				return c
			}
			if c := slices.Compare(ha.exp.Positive.Counts, hb.exp.Positive.Counts); c != 0 {
				return c
			}
			if c := cmp.Compare(ha.exp.Negative.Offset, hb.exp.Negative.Offset); c != 0 {
				return c
			}
			if c := slices.Compare(ha.exp.Negative.Counts, hb.exp.Negative.Counts); c != 0 {
				return c
			}
		}
	} else {
		if c := cmp.Compare(a.value, b.value); c != 0 {
			return c
		}
		if c := cmp.Compare(a.start, b.start); c != 0 {
			return c
		}
	}
	if c := cmp.Compare(a.flags&flagCandidate, b.flags&flagCandidate); c != 0 {
		return c
	}
	return cmp.Compare(a.ingest, b.ingest)
}

// strictlyIncreasing reports whether the points' times strictly increase: then they are
// in compare order already and have no duplicates (the common case, checked cheaply).
func strictlyIncreasing(pts []point) bool {
	for i := 1; i < len(pts); i++ {
		if pts[i].time <= pts[i-1].time {
			return false
		}
	}
	return true
}

func samePoint(a, b *point, hists []histPoint) bool {
	if a.value != b.value || a.start != b.start {
		return false
	}
	if a.hist >= 0 && b.hist >= 0 {
		ha, hb := &hists[a.hist], &hists[b.hist]
		if ha.exp != nil || hb.exp != nil {
			return ha.exp != nil && hb.exp != nil && reflect.DeepEqual(ha.exp, hb.exp)
		}
		return ha.count == hb.count && ha.sum == hb.sum && slices.Equal(ha.counts, hb.counts) && slices.Equal(ha.bounds, hb.bounds)
	}
	return true
}

// carryOut keeps the latest point of every cumulative series.
func (st *taskState) carryOut(ss *sortedSeries) *Carry {
	e := st.e
	if e.maxLook == 0 {
		return nil
	}
	c := &Carry{End: st.end, Last: map[string]CarryPoint{}}
	for s := range ss.keys {
		if e.lookAt[ss.metric[s]] == 0 || ss.offs[s+1] == ss.offs[s] {
			continue
		}
		p := ss.pts[ss.offs[s+1]-1]
		cp := CarryPoint{Time: p.time, Value: p.value, Start: p.start}
		if p.hist >= 0 {
			h := ss.hists[p.hist]
			cp.Hist = &h
		}
		c.Last[seriesKeyString(st.in, ss.keys[s])] = cp
	}
	return c
}
