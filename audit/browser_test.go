//go:build browser

package audit_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tallyhq/tally/audit"
)

// EnvScreenshot, when set, is a directory the browser test copies its screenshots to.
const EnvScreenshot = "TALLY_AUDIT_SCREENSHOTS"

// chromiumPath finds the browser; the test fails (never skips) without it.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"/usr/bin/chromium", "/usr/bin/chromium-browser"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	t.Fatal("chromium is not installed (apt-get install -y chromium); the browser tests need it")
	return ""
}

// runChromium runs headless Chromium on page with extra flags and returns stdout and
// stderr.
func runChromium(t *testing.T, bin, page string, extra ...string) (string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	args := append([]string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir=" + t.TempDir(), "--window-size=1400,1000", "--enable-logging=stderr", "--v=0",
		"--virtual-time-budget=3000"}, extra...)
	args = append(args, "file://"+page)
	cmd := exec.CommandContext(ctx, bin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %v: %v\n%s", extra, err, stderr.String())
	}
	return stdout.String(), stderr.String()
}

// consoleErrors are the lines of Chromium's log that report a script error.
var consoleErrors = regexp.MustCompile(`(?i)(uncaught|CONSOLE\(\d+\).*error|SyntaxError|TypeError|ReferenceError)`)

// TestBrowserRendersReport renders the HTML report of a faulty stream and of a clean
// one in headless Chromium: the script runs to its end without errors (the page's
// own error sink stays empty and the console shows none), and a screenshot is taken.
func TestBrowserRendersReport(t *testing.T) {
	bin := chromiumPath(t)
	clean := *faultyArchiveReport(t)
	clean.Findings, clean.Series, clean.Unexplained, clean.Explained = nil, nil, 0, 0
	clean.Heat = audit.HeatMap{}
	cases := []struct {
		name string
		rep  *audit.Report
	}{
		{"faulty", faultyArchiveReport(t)},
		{"clean", &clean},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			page := filepath.Join(dir, "audit.html")
			var buf bytes.Buffer
			if err := c.rep.WriteHTML(&buf); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(page, buf.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			dom, logs := runChromium(t, bin, page, "--dump-dom")
			if !strings.Contains(dom, `data-ready="1"`) {
				t.Errorf("the page's script did not run to its end (no data-ready=1 on body)")
			}
			if m := regexp.MustCompile(`(?s)<pre id="js-errors"[^>]*>(.*?)</pre>`).FindStringSubmatch(dom); m == nil || strings.TrimSpace(m[1]) != "" {
				t.Errorf("script errors on the page: %v", m)
			}
			if m := consoleErrors.FindAllString(logs, 5); len(m) > 0 {
				t.Errorf("console errors: %v\n%s", m, logs)
			}
			if c.rep.Unexplained > 0 && strings.Count(dom, `class="cell"`) == 0 {
				t.Errorf("the rendered page has no heat map cells")
			}
			shot := filepath.Join(dir, "audit.png")
			_, logs = runChromium(t, bin, page, "--screenshot="+shot, "--hide-scrollbars")
			if m := consoleErrors.FindAllString(logs, 5); len(m) > 0 {
				t.Errorf("console errors while taking the screenshot: %v", m)
			}
			st, err := os.Stat(shot)
			if err != nil || st.Size() < 10_000 {
				t.Fatalf("screenshot %s: %v (size %v)", shot, err, st)
			}
			if out := os.Getenv(EnvScreenshot); out != "" {
				data, _ := os.ReadFile(shot)
				if err := os.WriteFile(filepath.Join(out, "audit-"+c.name+".png"), data, 0o644); err != nil {
					t.Error(err)
				}
				_ = os.WriteFile(filepath.Join(out, "audit-"+c.name+".html"), buf.Bytes(), 0o644)
			}
		})
	}
}
