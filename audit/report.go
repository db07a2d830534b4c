package audit

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
)

// ReportVersion is the version of the report's JSON form (docs/audit.md).
const ReportVersion = 1

// Class is what the audit found for one key.
type Class string

// Classes of a key. Every key of the batch or the stream gets exactly one.
const (
	// Match: one stream record (or the latest tally correction) equals the batch row.
	Match Class = "match"
	// ValueMismatch: one stream record whose functions differ from the batch row.
	ValueMismatch Class = "value_mismatch"
	// MissingInStream: the batch has the key, the stream has not.
	MissingInStream Class = "missing_in_stream"
	// ExtraInStream: the stream has the key, the batch has not.
	ExtraInStream Class = "extra_in_stream"
	// DuplicateConflicting: the stream published the key more than once with
	// different values; consumers saw different answers.
	DuplicateConflicting Class = "duplicate_conflicting"
	// DuplicateIdentical: the stream published the key more than once with the same
	// values (a harmless duplicate publish when the value is right).
	DuplicateIdentical Class = "duplicate_identical"
)

// Classes lists every class in report order.
var Classes = []Class{Match, ValueMismatch, MissingInStream, ExtraInStream, DuplicateConflicting, DuplicateIdentical}

// Explanations of a finding.
const (
	// ExplainedLate: recomputing the batch with the stream's lateness rule (points
	// arriving after window end + grace dropped) gives the stream's value (or, for a
	// missing key, no row at all).
	ExplainedLate = "late_data"
	// ExplainedHarmlessDuplicate: the key was published twice with the right value.
	ExplainedHarmlessDuplicate = "harmless_duplicate"
	// ExplainedMissingInput: the stream has the key but the lake holds no data of its
	// tenant in that window: an input segment is missing from the lake.
	ExplainedMissingInput = "missing_input"
)

// Finding is one key that is not a plain match.
type Finding struct {
	Class       Class     `json:"class"`
	Aggregation string    `json:"aggregation"`
	Dims        []DimVal  `json:"dims"`
	WindowStart time.Time `json:"window_start"`
	WindowEnd   time.Time `json:"window_end"`
	// Explained is true when Explanation accounts for the difference.
	Explained   bool   `json:"explained"`
	Explanation string `json:"explanation,omitempty"`
	// Diffs are the functions that differ between the batch and the stream's
	// effective (latest) record.
	Diffs []Diff `json:"diffs,omitempty"`
	// HeatRow is the finding's row in the heat map (tenant/cluster).
	HeatRow string `json:"heat_row"`
	// Records are where the stream's records of the key are (in publish order).
	Records []string `json:"records,omitempty"`
	// Repairable is true when the stream's effective value is wrong or missing and
	// the batch has the right one: tally repair would publish it.
	Repairable bool `json:"repairable"`
	// Severity ranks findings: unexplained before explained, then the largest
	// relative difference.
	Severity float64 `json:"severity"`

	key Key
}

// DimVal is one group_by dimension of a finding.
type DimVal struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Key returns the finding's key.
func (f *Finding) Key() Key { return f.key }

// ClassCounts counts keys per class.
type ClassCounts map[Class]int

// AggregationSummary is the audit of one aggregation.
type AggregationSummary struct {
	Name        string      `json:"name"`
	Counts      ClassCounts `json:"counts"`
	Explained   int         `json:"explained"`
	Unexplained int         `json:"unexplained"`
	// RawDuplicates and ConflictingRawDuplicates count duplicate raw points the
	// batch dropped (exec stats): the stream must drop them too.
	RawDuplicates            int64 `json:"raw_duplicates"`
	ConflictingRawDuplicates int64 `json:"conflicting_raw_duplicates"`
	// LatePoints counts the points the stream's lateness rule drops.
	LatePoints int64 `json:"late_points"`
}

// SeriesPlot is one series plotted in the report: batch and stream values of one
// function over the audited range.
type SeriesPlot struct {
	Aggregation string        `json:"aggregation"`
	Dims        []DimVal      `json:"dims"`
	Function    string        `json:"function"`
	Points      []SeriesPoint `json:"points"`
	Unexplained int           `json:"unexplained"`
	Explained   int           `json:"explained"`
}

// SeriesPoint is one window of a plotted series; nil means no value.
type SeriesPoint struct {
	WindowStart time.Time `json:"window_start"`
	Batch       *float64  `json:"batch"`
	Stream      *float64  `json:"stream"`
	Class       Class     `json:"class"`
	Explained   bool      `json:"explained"`
}

// InputGap is a slice of the range for which the lake had no input segment.
type InputGap struct {
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
	Task string    `json:"task"`
}

// Report is the outcome of an audit.
type Report struct {
	Version   int       `json:"version"`
	Generated time.Time `json:"generated"`
	From      time.Time `json:"from"`
	To        time.Time `json:"to"`
	Stream    string    `json:"stream"`
	// Batch is the rollup URL of the batch side, or "computed from <lake>".
	Batch     string    `json:"batch"`
	Grace     string    `json:"grace"`
	Tolerance Tolerance `json:"tolerance"`
	// Keys is the number of distinct keys on either side; StreamRecords the records read.
	Keys          int         `json:"keys"`
	StreamRecords int         `json:"stream_records"`
	Counts        ClassCounts `json:"counts"`
	Explained     int         `json:"explained"`
	Unexplained   int         `json:"unexplained"`
	// Superseded counts stream records replaced by a later tally correction.
	Superseded   int                  `json:"superseded"`
	Aggregations []AggregationSummary `json:"aggregations"`
	// Findings are every key that is not a plain match, worst first.
	Findings []Finding `json:"findings"`
	// Series are the worst series, batch against stream over time.
	Series []SeriesPlot `json:"series"`
	// Heat is the mismatch heat map: cluster × time bucket.
	Heat HeatMap `json:"heat"`
	// InputGaps are the slices of the range without any input segment in the lake.
	InputGaps []InputGap `json:"input_gaps,omitempty"`
	// Undecodable lists stream records that do not follow the record contract (the
	// first few); UndecodableCount counts them all. They count as unexplained.
	Undecodable      []string `json:"undecodable,omitempty"`
	UndecodableCount int      `json:"undecodable_count"`
	// LateSimulated says whether the lateness rule could be re-simulated (the lake
	// maps ingest_time); without it nothing is explained by late data.
	LateSimulated bool     `json:"late_simulated"`
	Notes         []string `json:"notes,omitempty"`
}

// HeatMap counts findings per row (tenant/cluster) and time bucket.
type HeatMap struct {
	Rows    []string    `json:"rows"`
	Buckets []time.Time `json:"buckets"`
	// BucketWidth is the width of every bucket.
	BucketWidth string `json:"bucket_width"`
	// Unexplained[r][b] and Explained[r][b] count findings of row r in bucket b.
	Unexplained [][]int `json:"unexplained"`
	Explained   [][]int `json:"explained"`
}

// OK reports whether nothing unexplained was found.
func (r *Report) OK() bool { return r.Unexplained == 0 }

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// maxTextFindings bounds the findings the text summary lists.
const maxTextFindings = 10

// WriteText writes the terminal summary: counts per class and per aggregation, and
// the worst offenders.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	verdict := "OK: everything matches or is explained"
	if !r.OK() {
		verdict = fmt.Sprintf("FAIL: %d unexplained", r.Unexplained)
	}
	fmt.Fprintf(&b, "audit %s → %s  [%s, %s)  grace %s\n", r.Batch, r.Stream,
		r.From.Format(time.RFC3339), r.To.Format(time.RFC3339), r.Grace)
	fmt.Fprintf(&b, "%s\n", verdict)
	fmt.Fprintf(&b, "  keys %d, stream records %d, explained %d, unexplained %d", r.Keys, r.StreamRecords, r.Explained, r.Unexplained)
	if r.Superseded > 0 {
		fmt.Fprintf(&b, ", %d records superseded by tally corrections", r.Superseded)
	}
	b.WriteString("\n\n")
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	fmt.Fprint(tw, "aggregation")
	for _, c := range Classes {
		fmt.Fprintf(tw, "\t%s", c)
	}
	fmt.Fprint(tw, "\texplained\tunexplained\n")
	for _, a := range r.Aggregations {
		fmt.Fprint(tw, a.Name)
		for _, c := range Classes {
			fmt.Fprintf(tw, "\t%d", a.Counts[c])
		}
		fmt.Fprintf(tw, "\t%d\t%d\n", a.Explained, a.Unexplained)
	}
	fmt.Fprint(tw, "total")
	for _, c := range Classes {
		fmt.Fprintf(tw, "\t%d", r.Counts[c])
	}
	fmt.Fprintf(tw, "\t%d\t%d\n", r.Explained, r.Unexplained)
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(r.Findings) > 0 {
		fmt.Fprintf(&b, "\nworst offenders (%d of %d findings):\n", min(maxTextFindings, len(r.Findings)), len(r.Findings))
		for i := range r.Findings[:min(maxTextFindings, len(r.Findings))] {
			f := &r.Findings[i]
			why := "UNEXPLAINED"
			if f.Explained {
				why = "explained: " + f.Explanation
			}
			fmt.Fprintf(&b, "  %-22s %s %s@%s  %s", f.Class, f.Aggregation, dimString(f.Dims), f.WindowStart.Format(time.RFC3339), why)
			for _, d := range f.Diffs[:min(2, len(f.Diffs))] {
				fmt.Fprintf(&b, "  %s batch=%s stream=%s", d.Function, d.Batch, d.Stream)
			}
			b.WriteString("\n")
		}
	}
	for _, g := range r.InputGaps {
		fmt.Fprintf(&b, "  input gap: no segment in the lake for [%s, %s) (task %s)\n", g.From.Format(time.RFC3339), g.To.Format(time.RFC3339), g.Task)
	}
	if r.UndecodableCount > 0 {
		fmt.Fprintf(&b, "  %d stream records do not decode; first: %s\n", r.UndecodableCount, r.Undecodable[0])
	}
	if !r.LateSimulated {
		b.WriteString("  note: lateness was not re-simulated (see notes); nothing is explained by late data\n")
	}
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "  note: %s\n", n)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func dimString(dims []DimVal) string {
	parts := make([]string, len(dims))
	for i, d := range dims {
		parts[i] = d.Name + "=" + d.Value
	}
	return "{" + strings.Join(parts, ",") + "}"
}

// sortFindings orders findings worst first: unexplained, then by severity, then key.
func sortFindings(fs []Finding) {
	sort.SliceStable(fs, func(i, j int) bool {
		a, b := &fs[i], &fs[j]
		if a.Explained != b.Explained {
			return !a.Explained
		}
		if a.Severity != b.Severity {
			return a.Severity > b.Severity
		}
		if a.key.Aggregation != b.key.Aggregation {
			return a.key.Aggregation < b.key.Aggregation
		}
		if a.key.Dims != b.key.Dims {
			return a.key.Dims < b.key.Dims
		}
		return a.key.WindowStart < b.key.WindowStart
	})
}
