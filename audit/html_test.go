package audit_test

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"golang.org/x/net/html"

	"github.com/tallyhq/tally/audit"
)

var (
	faultyOnce   sync.Once
	faultyReport *audit.Report
	faultyErr    error
)

// faultyArchiveReport audits an archive with a value bug and late drops, once.
func faultyArchiveReport(t *testing.T) *audit.Report {
	t.Helper()
	faultyOnce.Do(func() {
		url := "file://" + filepath.ToSlash(t.TempDir()) // kept: the report does not refer to it afterwards
		archiveStream(t, url)
		faultyReport, faultyErr = audit.Run(context.Background(), auditConfig(registry(t, "unused"), url))
	})
	if faultyErr != nil {
		t.Fatal(faultyErr)
	}
	return faultyReport
}

func attr(n *html.Node, key string) (string, bool) {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val, true
		}
	}
	return "", false
}

func hasClass(n *html.Node, c string) bool {
	v, _ := attr(n, "class")
	for _, f := range strings.Fields(v) {
		if f == c {
			return true
		}
	}
	return false
}

func walk(n *html.Node, fn func(*html.Node)) {
	fn(n)
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		walk(c, fn)
	}
}

// TestHTMLReportStructure renders the report of a faulty stream and checks the page:
// self-contained, a heat map with one cell per row and bucket whose counts add up to
// the findings, and a batch and a stream line for every plotted series.
func TestHTMLReportStructure(t *testing.T) {
	rep := faultyArchiveReport(t)
	var buf bytes.Buffer
	if err := rep.WriteHTML(&buf); err != nil {
		t.Fatal(err)
	}
	doc, err := html.Parse(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	var (
		cells, unexplained, explained int
		plots, findingsRows, scripts  int
		heatmaps                      int
	)
	walk(doc, func(n *html.Node) {
		if n.Type != html.ElementNode {
			return
		}
		for _, a := range n.Attr {
			if (a.Key == "src" || a.Key == "href") && a.Val != "" {
				t.Errorf("<%s %s=%q>: the page must not load anything", n.Data, a.Key, a.Val)
			}
		}
		switch {
		case n.Data == "link":
			t.Errorf("<link> in a self-contained page")
		case n.Data == "script":
			scripts++
			if n.FirstChild == nil || !strings.Contains(n.FirstChild.Data, "data-ready") {
				t.Errorf("the script is not inline")
			}
		case n.Data == "svg" && hasClass(n, "series"):
			plots++
			var batch, stream string
			walk(n, func(c *html.Node) {
				if c.Type == html.ElementNode && c.Data == "path" {
					d, _ := attr(c, "d")
					if hasClass(c, "batch") {
						batch = d
					}
					if hasClass(c, "stream") {
						stream = d
					}
				}
			})
			if strings.Count(batch, "L") < 2 || strings.Count(stream, "L") < 2 {
				t.Errorf("series %v: batch path %q, stream path %q: want both plotted over several windows", n.Attr, batch, stream)
			}
		case n.Data == "svg":
			if id, _ := attr(n, "id"); id == "heatmap" {
				heatmaps++
			}
		case n.Data == "rect" && hasClass(n, "cell"):
			cells++
			u, _ := attr(n, "data-unexplained")
			e, _ := attr(n, "data-explained")
			nu, err1 := strconv.Atoi(u)
			ne, err2 := strconv.Atoi(e)
			if err1 != nil || err2 != nil {
				t.Fatalf("cell counts %q %q", u, e)
			}
			unexplained += nu
			explained += ne
		case n.Data == "tr":
			if v, ok := attr(n, "data-window"); ok && v != "" {
				findingsRows++
			}
		}
	})
	if heatmaps != 1 || scripts != 1 {
		t.Errorf("%d heat maps and %d scripts, want one of each", heatmaps, scripts)
	}
	if want := len(rep.Heat.Rows) * len(rep.Heat.Buckets); cells != want || cells == 0 {
		t.Errorf("%d heat map cells, want %d rows × %d buckets", cells, len(rep.Heat.Rows), len(rep.Heat.Buckets))
	}
	if unexplained != rep.Unexplained || explained != rep.Explained {
		t.Errorf("heat map counts %d unexplained, %d explained; the report %d, %d", unexplained, explained, rep.Unexplained, rep.Explained)
	}
	if plots == 0 || plots != len(rep.Series) {
		t.Errorf("%d plots for %d series", plots, len(rep.Series))
	}
	if findingsRows != min(len(rep.Findings), 500) {
		t.Errorf("%d finding rows for %d findings", findingsRows, len(rep.Findings))
	}
	// The worst series are the value-bug ones: unexplained first.
	if rep.Series[0].Unexplained == 0 || rep.Series[0].Aggregation != "cluster_request_errors_5m" || rep.Series[0].Function != "sum" {
		t.Errorf("worst series = %s %s with %d unexplained; want the buggy cluster_request_errors_5m sum", rep.Series[0].Aggregation, rep.Series[0].Function, rep.Series[0].Unexplained)
	}
}

// TestTextAndJSONReports checks the terminal summary and the JSON form.
func TestTextAndJSONReports(t *testing.T) {
	rep := faultyArchiveReport(t)
	var text bytes.Buffer
	if err := rep.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	out := text.String()
	for _, want := range []string{"FAIL: " + strconv.Itoa(rep.Unexplained) + " unexplained", "cluster_request_errors_5m", "worst offenders", "UNEXPLAINED", "explained " + strconv.Itoa(rep.Explained), "value_mismatch"} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
	var js bytes.Buffer
	if err := rep.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var back struct {
		Version     int            `json:"version"`
		Counts      map[string]int `json:"counts"`
		Unexplained int            `json:"unexplained"`
		Findings    []struct {
			Class     string `json:"class"`
			Explained bool   `json:"explained"`
		} `json:"findings"`
	}
	if err := json.Unmarshal(js.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if back.Version != audit.ReportVersion || back.Unexplained != rep.Unexplained || len(back.Findings) != len(rep.Findings) ||
		back.Counts[string(audit.ValueMismatch)] != rep.Counts[audit.ValueMismatch] {
		t.Errorf("JSON round trip: %+v", back)
	}
}
