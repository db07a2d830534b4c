package gen

import (
	"math"
	"time"
)

const (
	hourNS = int64(time.Hour)
	dayNS  = int64(24 * time.Hour)
)

// row is one generated data point (one Parquet row) in nanosecond times.
type row struct {
	s        *seriesDesc
	k        int64 // interval index: t = k*Interval + phase
	t        int64
	start    int64 // start_time, valid when hasStart
	ingest   int64
	hasStart bool
	value    float64 // null for histograms
	hist     histogram
	// Quirk flags.
	late, dup, displaced, reset, nan bool
}

// histogram is one explicit-bucket histogram point.
type histogram struct {
	count         int64
	sum, min, max float64
	buckets       [numBuckets]int64
}

// epoch is one life of a cumulative counter: it counts from start, and its first
// point is at interval index k0.
type epoch struct {
	start int64
	k0    int64
}

// epochCache holds the counter epochs of one series for the hour of one file.
type epochCache struct {
	known  bool
	in     epoch // the reset within the hour, when inOK
	inOK   bool
	prev   epoch // the epoch in force when the hour began, when prevOK
	prevOK bool
}

// generator computes points of a validated configuration; it is immutable and
// shared by every file being written.
type generator struct {
	cfg      *Config
	fleet    *fleet
	interval int64 // ns
	res      int64 // ns, resolution of the time unit
}

func newGenerator(c *Config) *generator {
	return &generator{cfg: c, fleet: newFleet(c), interval: int64(c.Interval), res: int64(unitResolution[c.TimeUnit])}
}

// slotTime is the event time of the series' point in interval k.
func (g *generator) slotTime(s *seriesDesc, k int64) int64 { return k*g.interval + s.phase }

// firstSlotAtOrAfter is the first interval index whose point is at or after t.
func (g *generator) firstSlotAtOrAfter(s *seriesDesc, t int64) int64 {
	return ceilDiv(t-s.phase, g.interval)
}

// yearStart is 00:00 UTC on January 1 of t's year. Every counter starts there:
// it bounds how far back a reset is looked for.
func yearStart(t int64) int64 {
	y := time.Unix(0, t).UTC().Year()
	return time.Date(y, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()
}

// resetIn reports the counter reset of series s in the hour starting at h, if any.
// A drawn reset restarts the counter at a point of that hour; its start_time is
// half an interval before that point. The first hour of a year always restarts it.
func (g *generator) resetIn(s *seriesDesc, h int64) (epoch, bool) {
	if h == yearStart(h) {
		return epoch{start: h, k0: g.firstSlotAtOrAfter(s, h)}, true
	}
	p := g.cfg.ResetProbability
	hourIdx := h / hourNS
	if p == 0 || s.drawUnit(hourIdx, drawReset) >= p {
		return epoch{}, false
	}
	first := g.firstSlotAtOrAfter(s, h)
	n := g.firstSlotAtOrAfter(s, h+hourNS) - first // >= 1 because Interval <= 1h
	k0 := first + int64(s.draw64(hourIdx, drawResetPoint)%uint64(n))
	back := (g.interval / 2) / g.res * g.res
	return epoch{start: g.slotTime(s, k0) - back, k0: k0}, true
}

// epochBefore is the counter epoch in force just before the hour starting at h.
func (g *generator) epochBefore(s *seriesDesc, h int64) epoch {
	ys := yearStart(h - 1)
	if g.cfg.ResetProbability > 0 {
		for x := h - hourNS; x > ys; x -= hourNS {
			if e, ok := g.resetIn(s, x); ok {
				return e
			}
		}
	}
	e, _ := g.resetIn(s, ys)
	return e
}

// counterEpoch is the epoch of counter s at interval k, which lies in the hour at h.
func (g *generator) counterEpoch(c *epochCache, s *seriesDesc, h, k int64) epoch {
	if !c.known {
		c.in, c.inOK = g.resetIn(s, h)
		c.known = true
	}
	if c.inOK && k >= c.in.k0 {
		return c.in
	}
	if !c.prevOK {
		c.prev, c.prevOK = g.epochBefore(s, h), true
	}
	return c.prev
}

// fill computes the point of series s at interval k (time t, in the hour at h),
// quirks included, into r.
func (g *generator) fill(r *row, s *seriesDesc, k, t, h int64, ec *epochCache) {
	*r = row{s: s, k: k, t: t}
	cfg := g.cfg
	delay := (int64(100*time.Millisecond) + int64(s.drawUnit(k, drawIngest)*float64(2900*time.Millisecond))) / g.res * g.res
	r.ingest = t + delay
	if cfg.LateFraction > 0 && s.drawUnit(k, drawLate) < cfg.LateFraction {
		r.late = true
		r.ingest = t + int64(cfg.LateBy)
	}
	u := s.drawUnit(k, drawValue)
	secOfDay := float64(mod(t, dayNS)) / 1e9
	dayAngle := 2 * math.Pi * secOfDay / 86400
	switch metricDefs[s.metric].model {
	case modelCPU:
		v := s.a + s.b*math.Sin(dayAngle+s.c) + 6*(u-0.5)
		r.value = math.Round(math.Min(100, math.Max(0, v))*100) / 100
	case modelMemory:
		r.value = math.Floor((s.a + s.b*math.Sin(dayAngle+s.c) + 0.01*(u-0.5)) * memoryBytes)
	case modelDisk:
		r.value = math.Floor((s.a + s.b*secOfDay/86400 + 0.002*(u-0.5)) * diskBytes)
	case modelCounter:
		e := g.counterEpoch(ec, s, h, k)
		r.start, r.hasStart = e.start, true
		r.reset = k == e.k0
		r.value = float64(s.rate*(k-e.k0) + int64(s.draw64(k, drawValue2)%uint64(s.jitter+1)))
	case modelErrors:
		if u < s.a {
			r.value = float64(1 + s.draw64(k, drawValue2)%5)
		}
	case modelLatency:
		g.fillLatency(r, s, k, u)
	}
	if metricDefs[s.metric].typ == TypeGauge && cfg.NaNFraction > 0 && s.drawUnit(k, drawNaN) < cfg.NaNFraction {
		r.nan = true
		r.value = math.NaN()
		if s.drawUnit(k, drawInf) < 0.1 {
			r.value = math.Inf(1)
		}
	}
}

// fillLatency draws a latency histogram whose count, sum, min and max agree with
// its buckets: min lies in the lowest non-empty bucket, max in the highest, and
// count*min <= sum <= count*max.
func (g *generator) fillLatency(r *row, s *seriesDesc, k int64, u float64) {
	h := &r.hist
	n := s.a * (0.7 + 0.6*u)
	var reps [numBuckets]float64
	lowest, highest := -1, -1
	for i := range numBuckets {
		d := s.draw64(k, drawBucket+uint64(i))
		c := int64(math.Floor(n*s.hist[i]*(0.6+0.8*unit32(uint32(d))) + 0.5))
		lo, hi := bucketRange(i)
		reps[i] = round3(lo + (hi-lo)*(0.25+0.5*unit32(uint32(d>>32))))
		h.buckets[i] = c
	}
	mode := 0
	for i := range numBuckets {
		if s.hist[i] > s.hist[mode] {
			mode = i
		}
	}
	for i := range numBuckets {
		h.count += h.buckets[i]
	}
	if h.count == 0 {
		h.buckets[mode], h.count = 1, 1
	}
	for i := range numBuckets {
		if h.buckets[i] > 0 {
			if lowest < 0 {
				lowest = i
			}
			highest = i
			h.sum += float64(h.buckets[i]) * reps[i]
		}
	}
	h.sum = round3(h.sum)
	if h.count == 1 {
		h.min, h.max = reps[lowest], reps[lowest]
		return
	}
	lo, _ := bucketRange(lowest)
	h.min = round3(lo + (reps[lowest]-lo)*(0.05+0.95*s.drawUnit(k, drawMin)))
	_, hi := bucketRange(highest)
	h.max = round3(reps[highest] + (hi-reps[highest])*s.drawUnit(k, drawMax))
	// Rounding may leave min a hair above a rep or max below; clamp to keep the bounds exact.
	h.min = math.Min(h.min, reps[lowest])
	h.max = math.Max(h.max, reps[highest])
}

// bucketRange is the value range (lo, hi] of latency bucket i; the open-ended
// last bucket is drawn up to twice the last bound.
func bucketRange(i int) (lo, hi float64) {
	if i > 0 {
		lo = latencyBounds[i-1]
	}
	if i < len(latencyBounds) {
		return lo, latencyBounds[i]
	}
	return lo, 2 * lo
}

func round3(x float64) float64 { return math.Round(x*1000) / 1000 }

func unit32(x uint32) float64 { return float64(x) / (1 << 32) }

// ceilDiv is ⌈a/b⌉ for b > 0 and any sign of a.
func ceilDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && a > 0 {
		q++
	}
	return q
}

// floorDiv is ⌊a/b⌋ for b > 0 and any sign of a.
func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}

// mod is a mod b in [0, b) for b > 0.
func mod(a, b int64) int64 { return a - floorDiv(a, b)*b }
