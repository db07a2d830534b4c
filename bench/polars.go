package bench

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/tallyhq/tally/bench/tallyrun"
)

// PolarsVersion is the Polars release the harness installs and measures.
const PolarsVersion = "2.1.0"

//go:embed polars_job.py
var polarsScript []byte

// EnsurePolars returns the Python interpreter of a virtual environment under work that
// has Polars PolarsVersion, creating the environment and installing Polars with pip
// when needed. It fails with a message naming what is missing when Python or pip is
// not available: the Polars comparison is part of the suite, never skipped.
func EnsurePolars(ctx context.Context, work string) (string, error) {
	venv, err := filepath.Abs(filepath.Join(work, "venv"))
	if err != nil {
		return "", err
	}
	py := filepath.Join(venv, "bin", "python")
	if out, err := exec.CommandContext(ctx, py, "-c", "import polars; print(polars.__version__)").Output(); err == nil &&
		strings.TrimSpace(string(out)) == PolarsVersion {
		return py, nil
	}
	sys, err := exec.LookPath("python3")
	if err != nil {
		return "", errors.New("polars engine: python3 is not on PATH; install Python 3 (with venv and pip) so the harness can pip install polars==" + PolarsVersion)
	}
	if err := os.MkdirAll(work, 0o755); err != nil {
		return "", err
	}
	if _, err := os.Stat(py); err != nil {
		if out, err := exec.CommandContext(ctx, sys, "-m", "venv", venv).CombinedOutput(); err != nil {
			return "", fmt.Errorf("polars engine: python3 -m venv %s failed (install the python3-venv package): %v\n%s", venv, err, out)
		}
	}
	if out, err := exec.CommandContext(ctx, py, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "polars=="+PolarsVersion).CombinedOutput(); err != nil {
		return "", fmt.Errorf("polars engine: pip install polars==%s into %s failed: %v\n%s", PolarsVersion, venv, err, out)
	}
	return py, nil
}

// PolarsCommand writes the job and the script under dir and returns the command that
// computes the job with Polars; it prints {"seconds": …} when done.
func PolarsCommand(ctx context.Context, python string, j *Job, dir string) (*exec.Cmd, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	script := filepath.Join(dir, "polars_job.py")
	if err := os.WriteFile(script, polarsScript, 0o644); err != nil {
		return nil, err
	}
	data, err := json.Marshal(j)
	if err != nil {
		return nil, err
	}
	jobFile := filepath.Join(dir, "job.json")
	if err := os.WriteFile(jobFile, data, 0o644); err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, python, script, jobFile)
	cmd.Env = append(os.Environ(), fmt.Sprintf("POLARS_MAX_THREADS=%d", j.Threads))
	return cmd, nil
}

// RunPolars computes the job with Polars in a child process and returns its report.
func RunPolars(ctx context.Context, python string, j *Job, dir string) (tallyrun.ChildReport, error) {
	cmd, err := PolarsCommand(ctx, python, j, dir)
	if err != nil {
		return tallyrun.ChildReport{}, err
	}
	return runChild(cmd)
}

// runChild runs cmd, parses the JSON line it prints last and adds its peak RSS.
func runChild(cmd *exec.Cmd) (tallyrun.ChildReport, error) {
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return tallyrun.ChildReport{}, fmt.Errorf("%s: %v\n%s", strings.Join(cmd.Args, " "), err, tail(stderr.String(), 4000))
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	var rep tallyrun.ChildReport
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &rep); err != nil {
		return tallyrun.ChildReport{}, fmt.Errorf("%s: no report on stdout (%v): %q", strings.Join(cmd.Args, " "), err, tail(stdout.String(), 400))
	}
	if rep.MaxRSSBytes == 0 {
		rep.MaxRSSBytes = tallyrun.MaxRSS(cmd.ProcessState)
	}
	return rep, nil
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}
