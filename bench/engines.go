package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// Engines, as named in reports and on the command line.
const (
	EngineTally  = "tally"
	EngineDuckDB = "duckdb"
	EnginePolars = "polars"
	// EngineDecode is tally's reader alone: every row group decoded, nothing else.
	EngineDecode = "tally-decode"
)

// childEnv carries a ChildSpec to a re-executed process.
const childEnv = "TALLYBENCH_CHILD"

// ChildSpec is one engine run in its own process, so that its peak RSS is its own.
type ChildSpec struct {
	Engine   string `json:"engine"`
	Workload string `json:"workload"`
	Short    bool   `json:"short"`
	Work     string `json:"work"`
	Threads  int    `json:"threads"`
	Out      string `json:"out"`
}

// FindWorkload returns the named workload.
func FindWorkload(name string, short bool) (*Workload, error) {
	for _, w := range Workloads(short) {
		if w.Name == name {
			return &w, nil
		}
	}
	return nil, fmt.Errorf("no workload named %q", name)
}

// NewJobFor describes workload w's job for the peer engines.
func NewJobFor(w *Workload, work string, threads int, out string) (*Job, error) {
	reg, err := w.ParseRegistry()
	if err != nil {
		return nil, err
	}
	return NewJob(reg, w.LakeDir(work), w.From.UnixMilli(), w.To.UnixMilli(), threads, out)
}

// RunInProcess runs tally, DuckDB or the decode-only reader in this process and
// reports the job's wall time.
func RunInProcess(ctx context.Context, s ChildSpec) (ChildReport, error) {
	w, err := FindWorkload(s.Workload, s.Short)
	if err != nil {
		return ChildReport{}, err
	}
	reg, err := w.ParseRegistry()
	if err != nil {
		return ChildReport{}, err
	}
	var rep ChildReport
	began := time.Now()
	switch s.Engine {
	case EngineTally:
		sum, err := RunTally(ctx, reg, w.LakeDir(s.Work), w.From, w.To, s.Threads, s.Out)
		if err != nil {
			return rep, fmt.Errorf("tally on %s: %w", w.Name, err)
		}
		rep.Rows = sum.RowsIn
	case EngineDuckDB:
		j, err := NewJobFor(w, s.Work, s.Threads, s.Out)
		if err != nil {
			return rep, err
		}
		began = time.Now()
		if err := RunDuckDB(ctx, j); err != nil {
			return rep, err
		}
	case EngineDecode:
		if rep.Rows, err = DecodeOnly(ctx, reg, w.LakeDir(s.Work), s.Threads); err != nil {
			return rep, err
		}
	default:
		return rep, fmt.Errorf("engine %q does not run in process", s.Engine)
	}
	rep.Seconds = time.Since(began).Seconds()
	return rep, nil
}

// MaybeChild runs the engine described by the TALLYBENCH_CHILD environment variable,
// prints its report as JSON and exits, when the variable is set; otherwise it returns.
// Call it first in main (or TestMain).
func MaybeChild() {
	raw := os.Getenv(childEnv)
	if raw == "" {
		return
	}
	var s ChildSpec
	if err := json.Unmarshal([]byte(raw), &s); err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", childEnv, err)
		os.Exit(2)
	}
	rep, err := RunInProcess(context.Background(), s)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	data, _ := json.Marshal(rep)
	fmt.Println(string(data))
	os.Exit(0)
}

// Runner runs engines on workloads, each run in its own process.
type Runner struct {
	// Work is the folder of lakes, outputs and the Python environment.
	Work string
	// Threads is the thread count every engine gets.
	Threads int
	// Short selects the tiny workloads.
	Short bool
	// Python is the interpreter with Polars (EnsurePolars); required for EnginePolars.
	Python string
}

// OutDir is where an engine writes a workload's output.
func (r *Runner) OutDir(w *Workload, engine string) string {
	return filepath.Join(r.Work, "out", w.Name, engine)
}

// Run runs one engine once on w in a child process, after emptying its output folder.
func (r *Runner) Run(ctx context.Context, w *Workload, engine string) (ChildReport, error) {
	out := r.OutDir(w, engine)
	if err := os.RemoveAll(out); err != nil {
		return ChildReport{}, err
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return ChildReport{}, err
	}
	if engine == EnginePolars {
		if r.Python == "" {
			return ChildReport{}, fmt.Errorf("polars engine: no Python interpreter (EnsurePolars)")
		}
		j, err := NewJobFor(w, r.Work, r.Threads, out)
		if err != nil {
			return ChildReport{}, err
		}
		return RunPolars(ctx, r.Python, j, filepath.Join(r.Work, "polars-job-"+w.Name))
	}
	exe, err := os.Executable()
	if err != nil {
		return ChildReport{}, err
	}
	spec, _ := json.Marshal(ChildSpec{Engine: engine, Workload: w.Name, Short: r.Short, Work: r.Work, Threads: r.Threads, Out: out})
	cmd := exec.CommandContext(ctx, exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+string(spec), fmt.Sprintf("GOMAXPROCS=%d", r.Threads))
	return runChild(cmd)
}

// Check compares every aggregation of engine's output on w with tally's output
// (which must have been produced first). It returns nil or a *Mismatch.
func (r *Runner) Check(ctx context.Context, w *Workload, engine string) error {
	reg, err := w.ParseRegistry()
	if err != nil {
		return err
	}
	for _, a := range reg.Aggregations {
		tf, err := TallyOutputs(r.OutDir(w, EngineTally), a.Name)
		if err != nil {
			return err
		}
		if len(tf) == 0 {
			return fmt.Errorf("%s: tally wrote no rollup of %s", w.Name, a.Name)
		}
		want, err := ReadOutput(ctx, tf, a.GroupBy)
		if err != nil {
			return err
		}
		got, err := ReadOutput(ctx, []string{filepath.Join(r.OutDir(w, engine), a.Name+".parquet")}, a.GroupBy)
		if err != nil {
			return err
		}
		if err := CompareTables(a.Name, want, got); err != nil {
			return fmt.Errorf("%s, %s vs tally: %w", w.Name, engine, err)
		}
	}
	return nil
}
