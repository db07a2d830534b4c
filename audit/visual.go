package audit

import (
	"math"
	"sort"
	"time"

	"github.com/tallyhq/tally/exec"
	"github.com/tallyhq/tally/specs"
)

// Heat map shape.
const (
	// heatBuckets is the number of time buckets the heat map aims for.
	heatBuckets = 48
	// heatRows bounds the rows of the heat map; the rest are folded into "other".
	heatRows = 40
	// clusterDimension is the dimension that names the heat map's rows besides the tenant.
	clusterDimension = "cluster"
)

// heatMap counts findings per tenant/cluster and time bucket.
func heatMap(cfg *Config, aggs []*specs.Aggregation, findings []Finding) HeatMap {
	minW := aggs[0].Window
	for _, a := range aggs {
		minW = min(minW, a.Window)
	}
	span := cfg.To.Sub(cfg.From)
	width := (span + heatBuckets - 1) / heatBuckets
	if r := width % minW; r != 0 {
		width += minW - r
	}
	width = max(width, minW)
	n := int((span + width - 1) / width)
	h := HeatMap{BucketWidth: width.String()}
	for i := 0; i < n; i++ {
		h.Buckets = append(h.Buckets, cfg.From.Add(time.Duration(i)*width).UTC())
	}
	type cell struct{ u, e []int }
	rows := map[string]*cell{}
	total := map[string]int{}
	for i := range findings {
		f := &findings[i]
		label := f.HeatRow
		c := rows[label]
		if c == nil {
			c = &cell{u: make([]int, n), e: make([]int, n)}
			rows[label] = c
		}
		b := int(f.WindowStart.Sub(cfg.From) / width)
		if b < 0 || b >= n {
			continue
		}
		if f.Explained {
			c.e[b]++
		} else {
			c.u[b]++
			total[label] += 1000 // unexplained rank first
		}
		total[label]++
	}
	labels := make([]string, 0, len(rows))
	for l := range rows {
		labels = append(labels, l)
	}
	sort.Slice(labels, func(i, j int) bool {
		if total[labels[i]] != total[labels[j]] {
			return total[labels[i]] > total[labels[j]]
		}
		return labels[i] < labels[j]
	})
	if len(labels) > heatRows {
		other := &cell{u: make([]int, n), e: make([]int, n)}
		for _, l := range labels[heatRows-1:] {
			for b := 0; b < n; b++ {
				other.u[b] += rows[l].u[b]
				other.e[b] += rows[l].e[b]
			}
		}
		labels = append(labels[:heatRows-1], "(other)")
		rows["(other)"] = other
	}
	sort.Strings(labels)
	for _, l := range labels {
		h.Rows = append(h.Rows, l)
		h.Unexplained = append(h.Unexplained, rows[l].u)
		h.Explained = append(h.Explained, rows[l].e)
	}
	return h
}

// rowLabel names a heat map row: the tenant and cluster of a finding.
func rowLabel(dims []DimVal, tenantDim string) string {
	var tenant, cluster string
	for _, d := range dims {
		switch d.Name {
		case tenantDim:
			tenant = d.Value
		case clusterDimension:
			cluster = d.Value
		}
	}
	if cluster == "" {
		return tenant
	}
	return tenant + "/" + cluster
}

// worstSeries picks the series with the most unexplained findings (then explained,
// then the largest difference) and returns their batch and stream values over time.
func worstSeries(cfg *Config, byName map[string]*specs.Aggregation, findings []Finding, batch map[Key]*entry, eff map[Key]*Observed) []SeriesPlot {
	type score struct {
		s           series
		unexplained int
		explained   int
		worst       float64
		fn          string
		fnRel       float64
	}
	scores := map[series]*score{}
	for i := range findings {
		f := &findings[i]
		s := f.key.series()
		sc := scores[s]
		if sc == nil {
			sc = &score{s: s}
			scores[s] = sc
		}
		if f.Explained {
			sc.explained++
		} else {
			sc.unexplained++
		}
		sc.worst = math.Max(sc.worst, f.Severity)
		for _, d := range f.Diffs {
			if plottable(byName[f.Aggregation], d.Function) && (sc.fn == "" || d.Relative > sc.fnRel) {
				sc.fn, sc.fnRel = d.Function, d.Relative
			}
		}
	}
	list := make([]*score, 0, len(scores))
	for _, sc := range scores {
		list = append(list, sc)
	}
	sort.Slice(list, func(i, j int) bool {
		a, b := list[i], list[j]
		if a.unexplained != b.unexplained {
			return a.unexplained > b.unexplained
		}
		if a.explained != b.explained {
			return a.explained > b.explained
		}
		if a.worst != b.worst {
			return a.worst > b.worst
		}
		if a.s.Aggregation != b.s.Aggregation {
			return a.s.Aggregation < b.s.Aggregation
		}
		return a.s.Dims < b.s.Dims
	})
	var out []SeriesPlot
	for _, sc := range list[:min(len(list), cfg.WorstSeries)] {
		agg := byName[sc.s.Aggregation]
		fn := sc.fn
		if fn == "" {
			fn = defaultPlotFunction(agg)
		}
		if fn == "" {
			continue
		}
		p := SeriesPlot{Aggregation: agg.Name, Function: fn, Unexplained: sc.unexplained, Explained: sc.explained,
			Dims: dimVals(agg, Key{Aggregation: agg.Name, Dims: sc.s.Dims})}
		classes := map[int64]*Finding{}
		for i := range findings {
			if findings[i].key.series() == sc.s {
				classes[findings[i].key.WindowStart] = &findings[i]
			}
		}
		w := agg.Window.Milliseconds()
		for t := cfg.From.UnixMilli(); t < cfg.To.UnixMilli(); t += w {
			k := Key{Aggregation: agg.Name, Dims: sc.s.Dims, WindowStart: t}
			b, s := batch[k], eff[k]
			if b == nil && s == nil {
				continue
			}
			pt := SeriesPoint{WindowStart: time.UnixMilli(t).UTC(), Class: Match}
			if b != nil {
				pt.Batch = plotValue(agg, &b.row, fn)
			}
			if s != nil {
				pt.Stream = plotValue(agg, &s.Row, fn)
			}
			if f := classes[t]; f != nil {
				pt.Class, pt.Explained = f.Class, f.Explained
			}
			p.Points = append(p.Points, pt)
		}
		out = append(out, p)
	}
	return out
}

// plottable reports whether fn is a scalar function of agg.
func plottable(agg *specs.Aggregation, fn string) bool {
	if fn == specs.FnCount {
		return true
	}
	for _, f := range agg.ValueFunctions() {
		if f == fn {
			return true
		}
	}
	return false
}

// defaultPlotFunction is the function plotted for a series whose findings name none.
func defaultPlotFunction(agg *specs.Aggregation) string {
	if vf := agg.ValueFunctions(); len(vf) > 0 {
		return vf[0]
	}
	if agg.Has(specs.FnCount) {
		return specs.FnCount
	}
	return ""
}

func plotValue(agg *specs.Aggregation, r *exec.Row, fn string) *float64 {
	v, ok := r.Value(agg, fn)
	if !ok || math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return &v
}
