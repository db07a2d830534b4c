package exec

import (
	"fmt"
	"math"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/tallyhq/tally/exec/hist"
	"github.com/tallyhq/tally/specs"
)

// point flags.
const (
	flagNonFinite = 1 << iota // NaN or ±Inf value (or histogram sum)
	flagNull                  // null value / count
	flagCandidate             // before the task start: a predecessor only
)

// point is one raw point of a needed metric, 48 bytes.
type point struct {
	time   int64
	value  float64
	start  int64 // noTime when unknown
	ingest int64 // noTime when unknown
	series uint32
	hist   int32 // index into the chunk's (later the task's) histogram points; -1 none
	flags  uint8
}

// getPoints allocates a point buffer. Buffers are not pooled: a task's buffers are its
// largest allocation, and handing them back to the garbage collector as soon as they are
// consumed keeps the peak at one task's points instead of two.
func getPoints(n int) []point { return make([]point, 0, n) }

// histPoint holds the histogram columns of one point.
type histPoint struct {
	count     uint64
	sum       float64
	min, max  float64
	hasMinMax bool
	bounds    []float64
	counts    []uint64
	exp       *hist.Exponential // exponential histograms only
}

// chunk is what one input produced.
type chunk struct {
	worker   int
	points   []point
	hists    []histPoint
	rowsRead int64
	lookback int64
	// points of needed metrics before (and not predecessors) and after the slice
	outsideBefore, outsideAfter int64
}

// taskState is the state of one running task.
type taskState struct {
	e          *Engine
	task       Task
	start, end int64
	in         *interner
}

// extract turns one record into points of the needed metrics.
func (st *taskState) extract(rec arrow.RecordBatch, tab *seriesTable, worker int) (*chunk, error) {
	e := st.e
	src := &e.reg.Source
	c := &chunk{worker: worker, rowsRead: rec.NumRows()}
	col := func(name string) arrow.Array {
		idx := rec.Schema().FieldIndices(name)
		if len(idx) == 0 {
			return nil
		}
		return rec.Column(idx[0])
	}
	need := func(name string) (arrow.Array, error) {
		a := col(name)
		if a == nil {
			return nil, fmt.Errorf("column %q (contract column %q) is missing from the decoded row group", src.Column(name), name)
		}
		return a, nil
	}
	ta, err := need("time")
	if err != nil {
		return nil, err
	}
	tcol, err := newInt64Col(src.Column("time"), ta)
	if err != nil {
		return nil, err
	}
	ma, err := need("metric")
	if err != nil {
		return nil, err
	}
	mcol, err := newStrCol(src.Column("metric"), ma, st.in)
	if err != nil {
		return nil, err
	}
	dims := make([]*strCol, len(src.Dimensions))
	for i, d := range src.Dimensions {
		a := col(d)
		if a == nil {
			continue // absent dimension: "" for every row
		}
		if dims[i], err = newStrCol(src.Column(d), a, st.in); err != nil {
			return nil, err
		}
	}
	var vcol *float64Col
	if a := col("value"); a != nil {
		if vcol, err = newFloat64Col(src.Column("value"), a); err != nil {
			return nil, err
		}
	}
	var scol, icol *int64Col
	if a := col("start_time"); a != nil {
		if scol, err = newInt64Col(src.Column("start_time"), a); err != nil {
			return nil, err
		}
	}
	if a := col("ingest_time"); a != nil {
		if icol, err = newInt64Col(src.Column("ingest_time"), a); err != nil {
			return nil, err
		}
	}
	var hc *histCols
	if col("count") != nil {
		if hc, err = newHistCols(src, col); err != nil {
			return nil, err
		}
	}

	nMetrics := uint32(len(e.metrics))
	ids := make([]uint32, 1+len(dims))
	n := int(rec.NumRows())
	c.points = getPoints(n)
	prevSeries := noSeries
	for i := 0; i < n; i++ {
		mid := mcol.id(i)
		if mid == 0 || mid > nMetrics {
			continue
		}
		if !tcol.valid(i) {
			return nil, fmt.Errorf("row %d: column %q is null; every point needs an event time", i, src.Column("time"))
		}
		t := tcol.get(i)
		var flags uint8
		if t < st.start || t >= st.end {
			look := e.lookAt[int(mid-1)]
			if t >= st.end {
				c.outsideAfter++
				continue
			}
			if look == 0 || t < st.start-int64(look) {
				c.outsideBefore++
				continue
			}
			flags |= flagCandidate
			c.lookback++
		}
		ids[0] = mid
		for d, dc := range dims {
			if dc == nil {
				ids[d+1] = 0
			} else {
				ids[d+1] = dc.id(i)
			}
		}
		sid := tab.lookupAfter(prevSeries, ids)
		prevSeries = sid
		p := point{time: t, start: noTime, ingest: noTime, series: sid, hist: -1}
		if scol != nil && scol.valid(i) {
			p.start = scol.get(i)
		}
		if icol != nil && icol.valid(i) {
			p.ingest = icol.get(i)
		}
		kind := e.metricKind(int(mid - 1))
		if kind == specs.TypeHistogram || kind == specs.TypeExponentialHistogram {
			if hc == nil || !hc.count.valid(i) {
				p.flags |= flagNull
			} else {
				hp, err := hc.read(i, kind == specs.TypeExponentialHistogram)
				if err != nil {
					return nil, fmt.Errorf("row %d (metric %q): %w", i, st.in.str(mid), err)
				}
				if math.IsNaN(hp.sum) || math.IsInf(hp.sum, 0) {
					p.flags |= flagNonFinite
				}
				p.hist = int32(len(c.hists))
				c.hists = append(c.hists, hp)
			}
		} else {
			switch {
			case vcol == nil || !vcol.valid(i):
				p.flags |= flagNull
			default:
				p.value = vcol.get(i)
				if math.IsNaN(p.value) || math.IsInf(p.value, 0) {
					p.flags |= flagNonFinite
				}
			}
		}
		p.flags |= flags
		c.points = append(c.points, p)
	}
	return c, nil
}

// metricKind is the type the aggregations reading metric mi expect. Aggregations of
// different types over one metric are rejected by New... (a metric is one type).
func (e *Engine) metricKind(mi int) string {
	return e.reg.Aggregations[e.byMet[mi][0]].Type
}

// histCols reads explicit and exponential histogram columns.
type histCols struct {
	count         *int64Col
	sum, min, max *float64Col
	bounds        *listCol
	counts        *listCol
	// exponential
	scale, zeroCount, posOffset, negOffset *int64Col
	posCounts, negCounts                   *listCol
}

func newHistCols(src *specs.Source, col func(string) arrow.Array) (*histCols, error) {
	h := &histCols{}
	var err error
	a := col("count")
	if a == nil {
		return nil, fmt.Errorf("histogram column %q (contract %q) is missing", src.Column("count"), "count")
	}
	if h.count, err = newInt64Col(src.Column("count"), a); err != nil {
		return nil, err
	}
	for _, f := range []struct {
		name string
		dst  **float64Col
	}{{"sum", &h.sum}, {"min", &h.min}, {"max", &h.max}} {
		if a := col(f.name); a != nil {
			if *f.dst, err = newFloat64Col(src.Column(f.name), a); err != nil {
				return nil, err
			}
		}
	}
	if a := col("bounds"); a != nil {
		if h.bounds, err = newListCol(src.Column("bounds"), a, true); err != nil {
			return nil, err
		}
	}
	if a := col("bucket_counts"); a != nil {
		if h.counts, err = newListCol(src.Column("bucket_counts"), a, false); err != nil {
			return nil, err
		}
	}
	for _, f := range []struct {
		name string
		dst  **int64Col
	}{{"scale", &h.scale}, {"zero_count", &h.zeroCount}, {"positive_offset", &h.posOffset}, {"negative_offset", &h.negOffset}} {
		if a := col(f.name); a != nil {
			if *f.dst, err = newInt64Col(src.Column(f.name), a); err != nil {
				return nil, err
			}
		}
	}
	for _, f := range []struct {
		name string
		dst  **listCol
	}{{"positive_counts", &h.posCounts}, {"negative_counts", &h.negCounts}} {
		if a := col(f.name); a != nil {
			if *f.dst, err = newListCol(src.Column(f.name), a, false); err != nil {
				return nil, err
			}
		}
	}
	return h, nil
}

// readExp reads the exponential columns of row i.
func (h *histCols) readExp(i int, hp *histPoint) error {
	if h.scale == nil || !h.scale.valid(i) {
		return fmt.Errorf("exponential histogram has no scale")
	}
	e := &hist.Exponential{Count: hp.count, Sum: hp.sum, Min: hp.min, Max: hp.max, HasMinMax: hp.hasMinMax}
	sc := h.scale.get(i)
	if sc < -10 || sc > 20 {
		return fmt.Errorf("exponential histogram scale %d is outside [-10, 20]", sc)
	}
	e.Scale = int32(sc)
	if h.zeroCount != nil && h.zeroCount.valid(i) {
		z := h.zeroCount.get(i)
		if z < 0 {
			return fmt.Errorf("exponential histogram zero_count %d is negative", z)
		}
		e.ZeroCount = uint64(z)
	}
	read := func(off *int64Col, counts *listCol, dst *hist.Buckets, name string) error {
		if counts == nil || !counts.valid(i) {
			return nil
		}
		c, ok := counts.uints(i)
		if !ok {
			return fmt.Errorf("exponential histogram %s_counts has a negative count", name)
		}
		dst.Counts = c
		if off != nil && off.valid(i) {
			o := off.get(i)
			if o < math.MinInt32 || o > math.MaxInt32 {
				return fmt.Errorf("exponential histogram %s_offset %d is out of range", name, o)
			}
			dst.Offset = int32(o)
		}
		return nil
	}
	if err := read(h.posOffset, h.posCounts, &e.Positive, "positive"); err != nil {
		return err
	}
	if err := read(h.negOffset, h.negCounts, &e.Negative, "negative"); err != nil {
		return err
	}
	if err := e.Validate(); err != nil {
		return err
	}
	hp.exp = e
	return nil
}

func (h *histCols) read(i int, exponential bool) (histPoint, error) {
	hp := histPoint{min: math.NaN(), max: math.NaN()}
	c := h.count.get(i)
	if c < 0 {
		return hp, fmt.Errorf("histogram count %d is negative", c)
	}
	hp.count = uint64(c)
	if h.sum != nil && h.sum.valid(i) {
		hp.sum = h.sum.get(i)
	}
	if h.min != nil && h.max != nil && h.min.valid(i) && h.max.valid(i) {
		hp.min, hp.max, hp.hasMinMax = h.min.get(i), h.max.get(i), true
	}
	if h.bounds != nil && h.bounds.valid(i) {
		hp.bounds = h.bounds.floats(i)
	}
	if exponential {
		return hp, h.readExp(i, &hp)
	}
	if h.counts != nil && h.counts.valid(i) {
		var ok bool
		if hp.counts, ok = h.counts.uints(i); !ok {
			return hp, fmt.Errorf("histogram bucket_counts has a negative count")
		}
	}
	if len(hp.counts) != len(hp.bounds)+1 {
		return hp, fmt.Errorf("histogram has %d bucket counts for %d bounds; want bounds+1", len(hp.counts), len(hp.bounds))
	}
	return hp, nil
}
