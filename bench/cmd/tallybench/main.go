// Command tallybench generates the benchmark lakes, runs tally, its decode-only floor,
// DuckDB and Polars on them (each run in its own process), checks every peer's output
// against tally's and writes docs/benchmarks.md.
//
//	go run ./cmd/tallybench -runs 5 -report ../docs/benchmarks.md
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"time"

	"github.com/tallyhq/tally/bench"
	"github.com/tallyhq/tally/bench/tallyrun"
)

func main() {
	bench.MaybeChild()
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "tallybench:", err)
		os.Exit(1)
	}
}

func run() error {
	work := flag.String("work", "work", "folder for lakes, outputs and the Python environment")
	runs := flag.Int("runs", 5, "runs per engine and workload (the median is reported)")
	threads := flag.Int("threads", 2, "threads every engine may use")
	only := flag.String("workloads", "W1,W2,W3,W4", "comma-separated workloads to run")
	engines := flag.String("engines", "duckdb,polars", "comma-separated peer engines")
	report := flag.String("report", "", "write the Markdown report here (e.g. ../docs/benchmarks.md)")
	short := flag.Bool("short", false, "tiny workloads (a harness check, not a benchmark)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	started := time.Now()
	peers := strings.Split(*engines, ",")
	r := &bench.Runner{Work: *work, Threads: *threads, Short: *short}
	var err error
	if r.TallyRun, err = bench.BuildTallyRun(ctx, *work); err != nil {
		return err
	}
	meta := bench.ReportMeta{Command: "make bench", Threads: *threads, Runs: *runs, Started: started}
	for _, p := range peers {
		if p == bench.EnginePolars {
			py, err := bench.EnsurePolars(ctx, *work)
			if err != nil {
				return err
			}
			r.Python = py
			out, err := exec.CommandContext(ctx, py, "-c", "import polars; print(polars.__version__)").Output()
			if err != nil {
				return fmt.Errorf("polars version: %w", err)
			}
			meta.Polars = strings.TrimSpace(string(out))
		}
	}
	v, err := bench.DuckDBVersion(ctx)
	if err != nil {
		return err
	}
	meta.DuckDB = v
	logf := func(format string, args ...any) {
		fmt.Fprintf(os.Stderr, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
	}
	var results []*bench.WorkloadResult
	for _, name := range strings.Split(*only, ",") {
		w, err := tallyrun.FindWorkload(strings.TrimSpace(name), *short)
		if err != nil {
			return err
		}
		logf("%s: generating or reusing the lake (%s)", w.Name, w.Title)
		res, err := r.Bench(ctx, w, peers, *runs, logf)
		if err != nil {
			return err
		}
		results = append(results, res)
		if *report != "" {
			meta.Elapsed = time.Since(started)
			if err := writeReport(*report, meta, results); err != nil {
				return err
			}
		}
	}
	if *report == "" {
		meta.Elapsed = time.Since(started)
		return bench.WriteReport(os.Stdout, meta, results, "\n")
	}
	return nil
}

// writeReport rewrites the report, keeping its hand-written tail.
func writeReport(path string, meta bench.ReportMeta, results []*bench.WorkloadResult) error {
	keep := bench.KeptTail(path)
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	if err := bench.WriteReport(f, meta, results, keep); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
