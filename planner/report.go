package planner

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// WriteText writes the plan for a person: range and projection, then every file with
// its row groups kept and pruned, then the tasks, then the totals and notes. With
// verbose false, files whose row groups were all kept are summarized in one line each
// and row groups are not listed.
func (p *Plan) WriteText(w io.Writer, verbose bool) error {
	ew := &errWriter{w: w}
	ew.printf("plan %s → %s  (slice %s, lookback %s)\n", p.From.Format(time.RFC3339), p.To.Format(time.RFC3339), p.Slice, p.Lookback)
	ew.printf("source   %s (%s)\n", p.Source, p.Layout)
	ew.printf("registry %s: %d aggregations\n", p.Registry, len(p.RegistryVersions))
	ew.printf("columns  %s\n\n", strings.Join(p.Columns, ", "))

	ew.printf("files (%d):\n", len(p.Files))
	tw := tabwriter.NewWriter(ew, 2, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "  key\tsize\trows\trow groups kept/all\tbytes needed\n")
	for _, f := range p.Files {
		kept, needed := 0, int64(0)
		for _, rg := range f.RowGroups {
			if rg.Kept {
				kept++
				needed += rg.NeededBytes
			}
		}
		fmt.Fprintf(tw, "  %s\t%s\t%d\t%d/%d\t%s\n", f.Key, Bytes(f.Size), f.Rows, kept, len(f.RowGroups), Bytes(needed))
		if verbose {
			for _, rg := range f.RowGroups {
				fate := "pruned"
				if rg.Kept {
					fate = "kept"
				}
				rng := "no statistics"
				if rg.Min != nil {
					rng = rg.Min.Format(time.RFC3339) + " … " + rg.Max.Format(time.RFC3339)
				}
				fmt.Fprintf(tw, "    rg %d\t%s\t%d\t%s\t%s\n", rg.Index, fate, rg.Rows, rng, Bytes(rg.NeededBytes))
			}
		}
	}
	ew.err = firstErr(ew.err, tw.Flush())

	ew.printf("\ntasks (%d):\n", len(p.Tasks))
	tw = tabwriter.NewWriter(ew, 2, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "  id\tinputs\trow groups\trows\tbytes\tlookback\n")
	for _, t := range p.Tasks {
		rgs := 0
		for _, in := range t.Inputs {
			rgs += len(in.RowGroups)
		}
		fmt.Fprintf(tw, "  %s\t%d\t%d\t%d\t%s\t%s\n", t.ID, len(t.Inputs), rgs, t.Rows, Bytes(t.Bytes), Bytes(t.LookbackBytes))
	}
	ew.err = firstErr(ew.err, tw.Flush())

	s := p.Stats
	ew.printf("\nlisted    %d prefixes, %d objects (%d skipped: not raw segments)\n", s.PrefixesListed, s.ObjectsListed, s.ObjectsSkipped)
	ew.printf("footers   %d read, %s\n", s.FilesRead, Bytes(s.FooterBytes))
	ew.printf("row groups %d kept, %d pruned, %d without time statistics (of %d)\n", s.RowGroupsKept, s.RowGroupsPruned, s.RowGroupsWithoutStats, s.RowGroups)
	ew.printf("to fetch  %s for %d rows (needed %s, read amplification %.3f; lookback adds at most %s)\n",
		Bytes(s.BytesToFetch), s.Rows, Bytes(s.NeededBytes), s.ReadAmplification, Bytes(s.LookbackBytes))
	for _, n := range p.Notes {
		ew.printf("note: %s\n", n)
	}
	return ew.err
}

// Bytes formats a byte count with a binary unit (1.5 MiB).
func Bytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 5; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(b []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(b)
	e.err = err
	return n, err
}

func (e *errWriter) printf(format string, args ...any) { fmt.Fprintf(e, format, args...) }

func firstErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}
