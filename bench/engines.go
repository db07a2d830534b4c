package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/tallyhq/tally/bench/tallyrun"
)

// Engines, as named in reports and on the command line.
const (
	EngineTally  = tallyrun.EngineTally
	EngineDecode = tallyrun.EngineDecode
	EngineDuckDB = "duckdb"
	EnginePolars = "polars"
)

// NewJobFor describes workload w's job for the peer engines.
func NewJobFor(w *tallyrun.Workload, work string, threads int, out string) (*Job, error) {
	reg, err := w.ParseRegistry()
	if err != nil {
		return nil, err
	}
	return NewJob(reg, w.LakeDir(work), w.From.UnixMilli(), w.To.UnixMilli(), threads, out)
}

// runDuckDBChild is a DuckDB run inside a child process.
func runDuckDBChild(ctx context.Context, s tallyrun.ChildSpec) (tallyrun.ChildReport, error) {
	if s.Engine != EngineDuckDB {
		return tallyrun.ChildReport{}, fmt.Errorf("engine %q is not run by tallybench (tally runs in tallyrun)", s.Engine)
	}
	w, err := tallyrun.FindWorkload(s.Workload, s.Short)
	if err != nil {
		return tallyrun.ChildReport{}, err
	}
	j, err := NewJobFor(w, s.Work, s.Threads, s.Out)
	if err != nil {
		return tallyrun.ChildReport{}, err
	}
	began := time.Now()
	if err := RunDuckDB(ctx, j); err != nil {
		return tallyrun.ChildReport{}, err
	}
	return tallyrun.ChildReport{Seconds: time.Since(began).Seconds(), MaxRSSBytes: tallyrun.PeakRSS()}, nil
}

// MaybeChild runs the DuckDB run described by the TALLYBENCH_CHILD environment
// variable and exits, when it is set. Call it first in main (or TestMain).
func MaybeChild() { tallyrun.ServeChild(runDuckDBChild) }

// BuildTallyRun builds cmd/tallyrun (tally's side, linking no peer engine) into
// work/bin and returns its path.
func BuildTallyRun(ctx context.Context, work string) (string, error) {
	bin, err := filepath.Abs(filepath.Join(work, "bin", "tallyrun"))
	if err != nil {
		return "", err
	}
	out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/tallyhq/tally/bench/cmd/tallyrun").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("build tallyrun: %v\n%s", err, out)
	}
	return bin, nil
}

// Runner runs engines on workloads, each run in its own process.
type Runner struct {
	// Work is the folder of lakes and outputs.
	Work string
	// Threads is the thread count every engine gets.
	Threads int
	// Short selects the tiny workloads.
	Short bool
	// TallyRun is the tallyrun binary (BuildTallyRun); required for tally and its decode floor.
	TallyRun string
	// Python is the interpreter with Polars (EnsurePolars); required for EnginePolars.
	Python string
}

// OutDir is where an engine writes a workload's output.
func (r *Runner) OutDir(w *tallyrun.Workload, engine string) string {
	return filepath.Join(r.Work, "out", w.Name, engine)
}

// Run runs one engine once on w in a child process, after emptying its output folder.
func (r *Runner) Run(ctx context.Context, w *tallyrun.Workload, engine string) (tallyrun.ChildReport, error) {
	out := r.OutDir(w, engine)
	if err := os.RemoveAll(out); err != nil {
		return tallyrun.ChildReport{}, err
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return tallyrun.ChildReport{}, err
	}
	var exe string
	switch engine {
	case EnginePolars:
		if r.Python == "" {
			return tallyrun.ChildReport{}, fmt.Errorf("polars engine: no Python interpreter (EnsurePolars)")
		}
		j, err := NewJobFor(w, r.Work, r.Threads, out)
		if err != nil {
			return tallyrun.ChildReport{}, err
		}
		return RunPolars(ctx, r.Python, j, filepath.Join(r.Work, "polars-job-"+w.Name))
	case EngineTally, EngineDecode:
		if r.TallyRun == "" {
			return tallyrun.ChildReport{}, fmt.Errorf("%s: no tallyrun binary (BuildTallyRun)", engine)
		}
		exe = r.TallyRun
	case EngineDuckDB:
		var err error
		if exe, err = os.Executable(); err != nil {
			return tallyrun.ChildReport{}, err
		}
	default:
		return tallyrun.ChildReport{}, fmt.Errorf("unknown engine %q: want %s, %s, %s or %s", engine, EngineTally, EngineDecode, EngineDuckDB, EnginePolars)
	}
	spec, _ := json.Marshal(tallyrun.ChildSpec{Engine: engine, Workload: w.Name, Short: r.Short, Work: r.Work, Threads: r.Threads, Out: out})
	cmd := exec.CommandContext(ctx, exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), tallyrun.ChildEnv+"="+string(spec), fmt.Sprintf("GOMAXPROCS=%d", r.Threads))
	return runChild(cmd)
}

// Check compares every aggregation of engine's output on w with tally's output
// (which must have been produced first). It returns nil or a *Mismatch.
func (r *Runner) Check(ctx context.Context, w *tallyrun.Workload, engine string) error {
	reg, err := w.ParseRegistry()
	if err != nil {
		return err
	}
	for _, a := range reg.Aggregations {
		tf, err := tallyrun.TallyOutputs(r.OutDir(w, EngineTally), a.Name)
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
