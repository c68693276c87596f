//go:build integration && unix

package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/otel2chrome/otel2chrome/cmd/otel2chrome/internal/perfetto"
)

// fakeUI stands in for Perfetto UI's side of the postMessage hand-off: it
// answers PING with PONG and reports the {perfetto: {buffer, title}} message
// it then gets.
const fakeUI = `<!doctype html><title>fake Perfetto UI</title><script>
window.addEventListener('message', function (e) {
  if (e.data === 'PING') { e.source.postMessage('PONG', e.origin); return; }
  if (e.data && e.data.perfetto) {
    var p = e.data.perfetto;
    fetch('/report', {method: 'POST', body: JSON.stringify({
      origin: e.origin, title: p.title, size: p.buffer.byteLength,
      text: new TextDecoder().decode(p.buffer)})});
  }
});
</script>`

// TestViewHandoffInChromium opens the hand-off page in headless Chromium with
// a fake Perfetto UI on another origin, and checks that the page opens the UI,
// completes PING/PONG and posts the trace bytes and title — the protocol
// Perfetto UI documents, run by a real browser under the page's CSP.
func TestViewHandoffInChromium(t *testing.T) {
	var browser string
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			browser = p
			break
		}
	}
	if browser == "" {
		msg := "no chromium in PATH: install it with `bash .ci/viewer.sh` (or apt-get install chromium)"
		if os.Getenv("OTEL2CHROME_REQUIRE_TOOLS") != "" {
			t.Fatal(msg)
		}
		t.Skip("SKIPPING: " + msg)
	}

	type report struct {
		Origin, Title, Text string
		Size                int
	}
	reports := make(chan report, 1)
	ui := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/":
			w.Header().Set("Content-Type", "text/html")
			io.WriteString(w, fakeUI)
		case "/report":
			var rep report
			if err := json.NewDecoder(r.Body).Decode(&rep); err == nil {
				select {
				case reports <- rep:
				default:
				}
			}
		default:
			http.NotFound(w, r)
		}
	}))
	defer ui.Close()

	const trace = `{"traceEvents":[{"ph":"X","name":"handoff","pid":1,"tid":1,"ts":0,"dur":1}]}`
	file := filepath.Join(t.TempDir(), "handoff.json")
	os.WriteFile(file, []byte(trace), 0o644)
	// The UI's origin must differ from the page's: the fake UI answers on
	// localhost, the page on 127.0.0.1.
	uiOrigin := strings.Replace(ui.URL, "127.0.0.1", "localhost", 1)
	srv, err := perfetto.Listen(0, file, perfetto.WithUIOrigin(uiOrigin), perfetto.WithTitle("hand-off test"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx) }()

	profile := t.TempDir()
	cmd := exec.CommandContext(ctx, browser, "--headless=new", "--no-sandbox", "--disable-gpu",
		"--disable-popup-blocking", "--no-first-run", "--user-data-dir="+profile, srv.PageURL())
	var out lockedBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	// Chromium starts helper processes; its own process group lets the
	// test stop them all.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", browser, err)
	}
	defer func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		cmd.Wait()
	}()

	select {
	case rep := <-reports:
		if rep.Text != trace || rep.Size != len(trace) || rep.Title != "hand-off test" || rep.Origin != "http://"+srv.Addr() {
			t.Errorf("fake UI got %+v; want the %d trace bytes titled %q from http://%s", rep, len(trace), "hand-off test", srv.Addr())
		}
	case <-time.After(45 * time.Second):
		t.Fatalf("the fake Perfetto UI got no trace within 45s; browser output:\n%s", out.String())
	}
	cancel()
	if err := <-served; err != nil {
		t.Errorf("Serve: %v", err)
	}
}
