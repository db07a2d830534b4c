package audit

import (
	"bytes"
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"math"
	"strings"
	"time"
)

// maxHTMLFindings bounds the findings listed in the HTML report's table.
const maxHTMLFindings = 500

//go:embed report.html.tmpl
var reportTemplate string

//go:embed report.css
var reportCSS string

//go:embed report.js
var reportJS string

var htmlTmpl = template.Must(template.New("report").Funcs(template.FuncMap{
	"time": func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04") },
	"dims": dimString,
	"css":  func() template.CSS { return template.CSS(reportCSS) },
	"js":   func() template.JS { return template.JS(reportJS) },
}).Parse(reportTemplate))

// htmlPage is what the template renders.
type htmlPage struct {
	R         *Report
	Classes   []Class
	Heat      heatSVG
	Series    []seriesSVG
	Findings  []Finding
	MoreCount int
}

// heatSVG is the heat map laid out for SVG.
type heatSVG struct {
	Width, Height int
	Cells         []heatCell
	RowLabels     []svgLabel
	TimeLabels    []svgLabel
	Empty         bool
}

type heatCell struct {
	X, Y, W, H  int
	Fill        string
	Row         string
	Bucket      string
	Unexplained int
	Explained   int
}

type svgLabel struct {
	X, Y int
	Text string
}

// seriesSVG is one plotted series laid out for SVG.
type seriesSVG struct {
	P                   *SeriesPlot
	Width, Height       int
	BatchPath           string
	StreamPath          string
	Marks               []svgMark
	YLabels, XLabels    []svgLabel
	PlotLeft, PlotRight int
	PlotTop, PlotBottom int
	PlotWidth           int
	PlotHeight          int
}

type svgMark struct {
	X, Y      float64
	Class     string
	Explained bool
	Title     string
}

// Layout of the SVG figures, in pixels.
const (
	heatLabelWidth = 150
	heatCellW      = 18
	heatCellH      = 16
	heatTop        = 8
	plotWidth      = 640
	plotHeight     = 220
	plotLeft       = 70
	plotRight      = 16
	plotTop        = 12
	plotBottom     = 36
)

// WriteHTML writes the report as one self-contained HTML page: inline CSS, script and
// SVG, nothing fetched from the network.
func (r *Report) WriteHTML(w io.Writer) error {
	page := htmlPage{R: r, Classes: Classes, Heat: layoutHeat(&r.Heat)}
	for i := range r.Series {
		page.Series = append(page.Series, layoutSeries(&r.Series[i]))
	}
	page.Findings = r.Findings[:min(len(r.Findings), maxHTMLFindings)]
	page.MoreCount = len(r.Findings) - len(page.Findings)
	var buf bytes.Buffer
	if err := htmlTmpl.Execute(&buf, page); err != nil {
		return fmt.Errorf("render HTML report: %w", err)
	}
	_, err := w.Write(buf.Bytes())
	return err
}

func layoutHeat(h *HeatMap) heatSVG {
	out := heatSVG{Width: heatLabelWidth + len(h.Buckets)*heatCellW + 10, Height: heatTop + len(h.Rows)*heatCellH + 40}
	if len(h.Rows) == 0 {
		out.Empty = true
		return out
	}
	maxU := 1
	for _, row := range h.Unexplained {
		for _, n := range row {
			maxU = max(maxU, n)
		}
	}
	for r, label := range h.Rows {
		y := heatTop + r*heatCellH
		out.RowLabels = append(out.RowLabels, svgLabel{X: heatLabelWidth - 6, Y: y + heatCellH - 4, Text: label})
		for b, start := range h.Buckets {
			u, e := h.Unexplained[r][b], h.Explained[r][b]
			fill := "#e8efe8"
			switch {
			case u > 0:
				// Red, darker with more unexplained findings.
				f := 0.35 + 0.65*math.Sqrt(float64(u)/float64(maxU))
				fill = fmt.Sprintf("rgb(%d,%d,%d)", 255-int(60*f), int(200*(1-f)), int(190*(1-f)))
			case e > 0:
				fill = "#f3c969"
			}
			out.Cells = append(out.Cells, heatCell{X: heatLabelWidth + b*heatCellW, Y: y, W: heatCellW - 2, H: heatCellH - 2,
				Fill: fill, Row: label, Bucket: start.UTC().Format(time.RFC3339), Unexplained: u, Explained: e})
		}
	}
	step := max(1, len(h.Buckets)/8)
	for b := 0; b < len(h.Buckets); b += step {
		out.TimeLabels = append(out.TimeLabels, svgLabel{X: heatLabelWidth + b*heatCellW, Y: heatTop + len(h.Rows)*heatCellH + 16,
			Text: h.Buckets[b].UTC().Format("01-02 15:04")})
	}
	return out
}

func layoutSeries(p *SeriesPlot) seriesSVG {
	s := seriesSVG{P: p, Width: plotWidth, Height: plotHeight, PlotLeft: plotLeft, PlotRight: plotWidth - plotRight,
		PlotTop: plotTop, PlotBottom: plotHeight - plotBottom,
		PlotWidth: plotWidth - plotRight - plotLeft, PlotHeight: plotHeight - plotBottom - plotTop}
	if len(p.Points) == 0 {
		return s
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, pt := range p.Points {
		for _, v := range []*float64{pt.Batch, pt.Stream} {
			if v != nil {
				lo, hi = math.Min(lo, *v), math.Max(hi, *v)
			}
		}
	}
	if math.IsInf(lo, 0) {
		lo, hi = 0, 1
	}
	if hi == lo {
		hi, lo = hi+1, lo-1
	}
	pad := (hi - lo) * 0.05
	lo, hi = lo-pad, hi+pad
	t0 := p.Points[0].WindowStart
	span := p.Points[len(p.Points)-1].WindowStart.Sub(t0)
	if span <= 0 {
		span = time.Second
	}
	x := func(t time.Time) float64 {
		return float64(s.PlotLeft) + float64(t.Sub(t0))/float64(span)*float64(s.PlotRight-s.PlotLeft)
	}
	y := func(v float64) float64 {
		return float64(s.PlotBottom) - (v-lo)/(hi-lo)*float64(s.PlotBottom-s.PlotTop)
	}
	var bp, sp strings.Builder
	path := func(b *strings.Builder, pts []SeriesPoint, get func(SeriesPoint) *float64) {
		pen := "M"
		for _, pt := range pts {
			v := get(pt)
			if v == nil {
				pen = "M"
				continue
			}
			fmt.Fprintf(b, "%s%.1f,%.1f ", pen, x(pt.WindowStart), y(*v))
			pen = "L"
		}
	}
	path(&bp, p.Points, func(pt SeriesPoint) *float64 { return pt.Batch })
	path(&sp, p.Points, func(pt SeriesPoint) *float64 { return pt.Stream })
	s.BatchPath, s.StreamPath = strings.TrimSpace(bp.String()), strings.TrimSpace(sp.String())
	for _, pt := range p.Points {
		if pt.Class == Match {
			continue
		}
		v := pt.Batch
		if v == nil {
			v = pt.Stream
		}
		if v == nil {
			continue
		}
		title := fmt.Sprintf("%s %s: batch %s, stream %s", pt.WindowStart.UTC().Format("2006-01-02 15:04"), pt.Class, fmtPtr(pt.Batch), fmtPtr(pt.Stream))
		if pt.Explained {
			title += " (explained)"
		}
		s.Marks = append(s.Marks, svgMark{X: x(pt.WindowStart), Y: y(*v), Class: string(pt.Class), Explained: pt.Explained, Title: title})
	}
	for i := 0; i <= 4; i++ {
		v := lo + (hi-lo)*float64(i)/4
		s.YLabels = append(s.YLabels, svgLabel{X: s.PlotLeft - 6, Y: int(y(v)) + 4, Text: formatAxis(v)})
	}
	for i := 0; i <= 4; i++ {
		t := t0.Add(span * time.Duration(i) / 4)
		s.XLabels = append(s.XLabels, svgLabel{X: int(x(t)), Y: s.PlotBottom + 18, Text: t.UTC().Format("15:04")})
	}
	return s
}

func fmtPtr(v *float64) string {
	if v == nil {
		return "none"
	}
	return formatFloat(*v)
}

func formatAxis(v float64) string {
	a := math.Abs(v)
	switch {
	case a >= 1e6 || (a < 1e-2 && a != 0):
		return fmt.Sprintf("%.2e", v)
	case a >= 100:
		return fmt.Sprintf("%.0f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}
