//go:build integration

package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/otel2chrome/otel2chrome/converter/check"
	"github.com/otel2chrome/otel2chrome/converter/check/perfetto"
)

// toolsDir is where .ci/tools.sh and .ci/viewer.sh install the binaries the
// integration tests need.
func toolsDir() string {
	if d := os.Getenv("OTEL2CHROME_TOOLS_DIR"); d != "" {
		return d
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".cache", "otel2chrome", "tools")
}

// needTool skips (loudly, also on stderr) when a tool is missing, or fails
// when CI said every tool must be there (OTEL2CHROME_REQUIRE_TOOLS=1).
func needTool(t *testing.T, path, how string) {
	t.Helper()
	if _, err := os.Stat(path); err == nil {
		return
	}
	msg := path + " is missing; install it with: " + how
	if os.Getenv("OTEL2CHROME_REQUIRE_TOOLS") != "" {
		t.Fatal(msg)
	}
	fmt.Fprintf(os.Stderr, "\n!!! SKIPPING %s: %s\n\n", t.Name(), msg)
	t.Skip("SKIPPED: " + msg)
}

// TestViewerOpensOutput converts the shipped sample, as the README's first
// command does, and opens the result in speedscope, a viewer that imports the
// Chrome Trace Event format, in headless Chromium: the import must succeed
// with no error or warning and show one profile per lane.
func TestViewerOpensOutput(t *testing.T) {
	dir := filepath.Join(toolsDir(), "viewer")
	release := filepath.Join(dir, "node_modules", "speedscope", "dist", "release")
	needTool(t, filepath.Join(release, "index.html"), "bash .ci/viewer.sh")
	needTool(t, "/usr/bin/chromium", "bash .ci/viewer.sh")
	node, err := exec.LookPath("node")
	if err != nil {
		needTool(t, "node", "apt-get install nodejs")
	}

	out := filepath.Join(t.TempDir(), "sample.json")
	if _, _, err := run(t, nil, "-q", "-o", out, "../../examples/data/sample.otlp.jsonl"); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := check.Validate(data)
	if err != nil {
		t.Fatal(err)
	}
	perfetto.Check(t, data, perfetto.AllowDeclaredOmissions())
	lanes := len(rep.Lanes())

	script, _ := filepath.Abs("testdata/speedscope.mjs")
	shot := filepath.Join(t.TempDir(), "speedscope.png")
	cmd := exec.Command(node, script, release, out, shot)
	cmd.Env = append(os.Environ(), "VIEWER_DIR="+dir)
	res, err := cmd.Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("viewer script: %v\n%s", err, stderr)
	}
	var shown struct {
		Title    string   `json:"title"`
		Profiles int      `json:"profiles"`
		Problems []string `json:"problems"`
	}
	if err := json.Unmarshal(res, &shown); err != nil {
		t.Fatalf("viewer script output %q: %v", res, err)
	}
	t.Logf("speedscope: title %q, %d profiles for %d lanes", shown.Title, shown.Profiles, lanes)
	if len(shown.Problems) > 0 {
		t.Errorf("viewer reported problems:\n%s", strings.Join(shown.Problems, "\n"))
	}
	if shown.Profiles != lanes {
		t.Errorf("viewer shows %d thread profiles, the file has %d lanes", shown.Profiles, lanes)
	}
}
