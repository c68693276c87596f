package sdkhook_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	rtrace "runtime/trace"
	"strings"
	"testing"
	"time"

	"github.com/otel2chrome/otel2chrome/converter/gotrace"
	"github.com/otel2chrome/otel2chrome/sdkhook"
)

// TestFlightRecorder captures a slow request's execution-trace window: the
// request span says where it is, the file holds the forked goroutine the
// function span names, blocked about 20 ms on a channel inside the request;
// a fast request gets none, a second slow one within MinInterval is
// rate-limited, and a second recorder is refused.
func TestFlightRecorder(t *testing.T) {
	dir := t.TempDir()
	fr, err := sdkhook.NewFlightRecorder(sdkhook.FlightRecorderConfig{Dir: dir, MinInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer fr.Stop(context.Background())
	if _, err := sdkhook.NewFlightRecorder(sdkhook.FlightRecorderConfig{Dir: dir}); !errors.Is(err, sdkhook.ErrFlightRecorderRunning) {
		t.Fatalf("second recorder: %v, want ErrFlightRecorderRunning", err)
	}
	tr, sr := newProvider(t, sdkhook.WithCapture(sdkhook.CaptureSlowerThan(10*time.Millisecond)), sdkhook.WithFlightRecorder(fr))
	slow := func(ctx context.Context) {
		defer sdkhook.Enter(ctx, "handler").End()
		done := make(chan struct{})
		sdkhook.Go(ctx, func(ctx context.Context) {
			defer close(done)
			defer sdkhook.Enter(ctx, "worker").End()
			ch := make(chan struct{})
			time.AfterFunc(20*time.Millisecond, func() { close(ch) })
			<-ch
		})
		<-done
	}
	request(tr, "fast", func(ctx context.Context) { defer sdkhook.Enter(ctx, "quick").End() })
	request(tr, "slow", slow)
	request(tr, "slow again", slow)
	if err := fr.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	spans := sr.Ended()
	var path string
	var worker int64
	reqs := 0
	for _, s := range spans {
		p, hasPath := attr(s, sdkhook.AttrGoTrace)
		skipped, hasSkip := attr(s, sdkhook.AttrGoTraceSkipped)
		switch s.Name() {
		case "fast":
			if hasPath || hasSkip {
				t.Errorf("a fast request has snapshot attributes %v %v", p, skipped)
			}
		case "slow":
			reqs++
			path = p.AsString()
			want := s.SpanContext().TraceID().String() + "-" + s.SpanContext().SpanID().String() + ".gotrace"
			if filepath.Base(path) != want || filepath.Dir(path) != dir {
				t.Errorf("snapshot path %q, want %s in %s", path, want, dir)
			}
		case "slow again":
			reqs++
			if skipped.AsString() != "rate limit" || hasPath {
				t.Errorf("second slow request: path %q, skipped %q; want skipped for the rate limit", p.AsString(), skipped.AsString())
			}
		case "worker":
			if v, ok := attr(s, sdkhook.AttrGoroutineID); ok && worker == 0 {
				worker = v.AsInt64()
			}
		}
		if s.Name() == "slow" || s.Name() == "handler" {
			if _, ok := attr(s, sdkhook.AttrGoroutineID); !ok {
				t.Errorf("%s carries no goroutine ID", s.Name())
			}
		}
	}
	if reqs != 2 || worker == 0 {
		t.Fatalf("%d slow requests, worker goroutine %d", reqs, worker)
	}
	if st := fr.Stats(); st.Snapshots != 1 || st.Skipped != 1 || st.Failed != 0 || st.LastBytes <= 0 {
		t.Errorf("stats %+v, want one snapshot written and one skipped", st)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries, want the one snapshot (no temporary files)", len(entries))
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	g, err := gotrace.Read(path, f, 0)
	if err != nil {
		t.Fatal(err)
	}
	var blocked time.Duration
	for _, s := range g.Goroutines[worker] {
		if s.Kind == gotrace.Blocked && s.Reason == "chan receive" {
			blocked += time.Duration(s.End - s.Start)
		}
	}
	if blocked < 15*time.Millisecond || blocked > 60*time.Millisecond {
		t.Errorf("worker goroutine %d blocked on chan receive for %v in the snapshot, want about 20ms", worker, blocked)
	}
}

// TestFlightRecorderBounds: snapshots already in the directory count against
// MaxSnapshots, and a recorder started outside sdkhook is detected.
func TestFlightRecorderBounds(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "old.gotrace"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	fr, err := sdkhook.NewFlightRecorder(sdkhook.FlightRecorderConfig{Dir: dir, MaxSnapshots: 1})
	if err != nil {
		t.Fatal(err)
	}
	tr, sr := newProvider(t, sdkhook.WithFlightRecorder(fr))
	request(tr, "r", func(ctx context.Context) { defer sdkhook.Enter(ctx, "f").End() })
	if err := fr.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, s := range sr.Ended() {
		if s.Name() == "r" {
			if v, _ := attr(s, sdkhook.AttrGoTraceSkipped); v.AsString() != "max snapshots" {
				t.Errorf("skipped %q, want max snapshots", v.AsString())
			}
		}
	}

	other := rtrace.NewFlightRecorder(rtrace.FlightRecorderConfig{})
	if err := other.Start(); err != nil {
		t.Fatal(err)
	}
	defer other.Stop()
	_, err = sdkhook.NewFlightRecorder(sdkhook.FlightRecorderConfig{Dir: dir})
	if !errors.Is(err, sdkhook.ErrFlightRecorderRunning) || !strings.Contains(err.Error(), "runtime/trace") {
		t.Fatalf("with another flight recorder running: %v, want ErrFlightRecorderRunning naming runtime/trace", err)
	}
}

// TestFlightRecorderDiskLimit: a snapshot that would take the directory over
// MaxDiskBytes is not kept, even when there was room as the request ended;
// the temporary file a crashed writer left counts as used.
func TestFlightRecorderDiskLimit(t *testing.T) {
	for _, found := range []string{"old.gotrace", ".old.gotrace.tmp-123"} {
		t.Run(found, func(t *testing.T) { testDiskLimit(t, found) })
	}
}

func testDiskLimit(t *testing.T, found string) {
	dir := t.TempDir()
	const maxDisk = 64 << 10
	old := make([]byte, maxDisk-100) // room for 100 bytes: less than any snapshot
	if err := os.WriteFile(filepath.Join(dir, found), old, 0o644); err != nil {
		t.Fatal(err)
	}
	fr, err := sdkhook.NewFlightRecorder(sdkhook.FlightRecorderConfig{Dir: dir, MaxDiskBytes: maxDisk})
	if err != nil {
		t.Fatal(err)
	}
	tr, _ := newProvider(t, sdkhook.WithFlightRecorder(fr))
	request(tr, "r", func(ctx context.Context) { defer sdkhook.Enter(ctx, "f").End() })
	if err := fr.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	var used int64
	for _, e := range entries {
		if fi, err := e.Info(); err == nil {
			used += fi.Size()
		}
	}
	if st := fr.Stats(); used > maxDisk || st.Snapshots != 0 || st.Failed != 1 {
		t.Errorf("directory holds %d bytes in %d files, MaxDiskBytes %d; stats %+v: want the snapshot not kept, counted as failed",
			used, len(entries), maxDisk, st)
	}
}
