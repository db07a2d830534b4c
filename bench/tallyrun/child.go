package tallyrun

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"runtime/pprof"
	"time"
)

// Engines run by this package.
const (
	EngineTally = "tally"
	// EngineDecode is tally's reader alone: every row group decoded, nothing else.
	EngineDecode = "tally-decode"
)

// ChildEnv carries a ChildSpec to a process started to run one engine once.
const ChildEnv = "TALLYBENCH_CHILD"

// CPUProfileEnv, when set in a tallyrun child's environment, names the file that
// receives a CPU profile of the run (go tool pprof).
const CPUProfileEnv = "TALLYBENCH_CPUPROFILE"

// ChildSpec is one engine run in its own process, so that its peak RSS is its own.
type ChildSpec struct {
	Engine   string `json:"engine"`
	Workload string `json:"workload"`
	Short    bool   `json:"short"`
	Work     string `json:"work"`
	Threads  int    `json:"threads"`
	Out      string `json:"out"`
}

// ChildReport is what one engine run in its own process reports on its last line of
// standard output, as JSON.
type ChildReport struct {
	// Seconds is the job's wall time measured inside the process (start-up excluded).
	Seconds float64 `json:"seconds"`
	// Rows is the number of raw rows the engine reports having read (tally, decode).
	Rows int64 `json:"rows,omitempty"`
	// MaxRSSBytes is the child's peak resident set size: VmHWM of /proc/self/status read
	// by the child when it is done (getrusage's maximum would include the parent's
	// resident set at fork time, which Linux carries across exec).
	MaxRSSBytes int64 `json:"max_rss_bytes"`
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

// RunInProcess runs tally's backfill or the decode-only reader on the spec's workload
// in this process and reports the job's wall time and this process's peak RSS.
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
	if path := os.Getenv(CPUProfileEnv); path != "" {
		f, err := os.Create(path)
		if err != nil {
			return rep, fmt.Errorf("%s: %w", CPUProfileEnv, err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return rep, fmt.Errorf("%s: %w", CPUProfileEnv, err)
		}
		defer pprof.StopCPUProfile()
	}
	began := time.Now()
	switch s.Engine {
	case EngineTally:
		sum, err := RunTally(ctx, reg, w.LakeDir(s.Work), w.From, w.To, s.Threads, s.Out)
		if err != nil {
			return rep, fmt.Errorf("tally on %s: %w", w.Name, err)
		}
		rep.Rows = sum.RowsIn
	case EngineDecode:
		if rep.Rows, err = DecodeOnly(ctx, reg, w.LakeDir(s.Work), s.Threads); err != nil {
			return rep, err
		}
	default:
		return rep, fmt.Errorf("engine %q is not run by tallyrun", s.Engine)
	}
	rep.Seconds = time.Since(began).Seconds()
	rep.MaxRSSBytes = PeakRSS()
	return rep, nil
}

// ServeChild runs the engine described by the ChildEnv environment variable with run,
// prints its report as JSON and exits, when the variable is set; otherwise it returns.
// Call it first in main (or TestMain).
func ServeChild(run func(context.Context, ChildSpec) (ChildReport, error)) {
	raw := os.Getenv(ChildEnv)
	if raw == "" {
		return
	}
	var s ChildSpec
	if err := json.Unmarshal([]byte(raw), &s); err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", ChildEnv, err)
		os.Exit(2)
	}
	rep, err := run(context.Background(), s)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	data, _ := json.Marshal(rep)
	fmt.Println(string(data))
	os.Exit(0)
}
