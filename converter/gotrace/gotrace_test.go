package gotrace_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"runtime"
	"runtime/pprof"
	rtrace "runtime/trace"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/otel2chrome/otel2chrome/converter/gotrace"
)

// record runs fn under the execution tracer and returns the trace.
func record(t *testing.T, fn func()) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := rtrace.Start(&buf); err != nil {
		t.Fatal(err)
	}
	fn()
	rtrace.Stop()
	return buf.Bytes()
}

func TestReadChanWaitAndGC(t *testing.T) {
	var goid int64
	var logWall int64
	data := record(t, func() {
		ch := make(chan struct{})
		done := make(chan struct{})
		ids := make(chan int64, 1)
		go func() {
			defer close(done)
			ids <- currentGoroutine()
			<-ch
		}()
		goid = <-ids
		time.Sleep(20 * time.Millisecond)
		close(ch)
		<-done
		logWall = time.Now().UnixNano()
		rtrace.Log(context.Background(), "test", "mark")
		runtime.GC()
	})
	tr, err := gotrace.Read("test.trace", bytes.NewReader(data), 0)
	if err != nil {
		t.Fatal(err)
	}
	var blocked time.Duration
	for _, s := range tr.Goroutines[goid] {
		if s.Kind == gotrace.Blocked && s.Reason == "chan receive" {
			blocked += time.Duration(s.End - s.Start)
			if !strings.Contains(s.Stack, "TestReadChanWaitAndGC") {
				t.Errorf("blocking stack does not name the test: %q", s.Stack)
			}
		}
	}
	if blocked < 15*time.Millisecond || blocked > 60*time.Millisecond {
		t.Errorf("goroutine %d blocked on chan receive for %v, want about 20ms; states %+v", goid, blocked, tr.Goroutines[goid])
	}
	if len(tr.GC) == 0 || len(tr.STW) == 0 {
		t.Errorf("runtime.GC left %d GC phases and %d stop-the-world pauses, want both", len(tr.GC), len(tr.STW))
	}
	if len(tr.Heap) == 0 {
		t.Error("no heap samples")
	}
	if !tr.HasClock() {
		t.Fatal("no clock snapshot in a go1.26 trace")
	}
	var found bool
	for _, l := range tr.Logs {
		if l.Category == "test" && l.Message == "mark" {
			found = true
			if d := time.Duration(tr.Wall(l.Time) - logWall); d < -100*time.Microsecond || d > 100*time.Microsecond {
				t.Errorf("log on the wall clock is %v from time.Now before it, want under 100µs", d)
			}
		}
	}
	if !found {
		t.Error("the test's log record is missing")
	}
}

// TestReadCPUSamples: with the CPU profiler on, the trace holds samples
// with the goroutine and stack that burned the CPU.
func TestReadCPUSamples(t *testing.T) {
	var goid int64
	data := record(t, func() {
		if err := pprof.StartCPUProfile(io.Discard); err != nil {
			t.Skip("CPU profiler busy:", err)
		}
		defer pprof.StopCPUProfile()
		goid = currentGoroutine()
		for start := time.Now(); time.Since(start) < 150*time.Millisecond; {
			spin()
		}
	})
	tr, err := gotrace.Read("cpu.trace", bytes.NewReader(data), 0)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, c := range tr.CPU {
		if c.Goroutine == goid && strings.Contains(c.Stack, "TestReadCPUSamples") {
			n++
		}
	}
	if n == 0 {
		t.Errorf("no CPU sample of goroutine %d in the test among %d samples", goid, len(tr.CPU))
	}
}

//go:noinline
func spin() int {
	s := 0
	for i := range 10000 {
		s += i * i
	}
	return s
}

func TestReadBadInput(t *testing.T) {
	good := record(t, func() { time.Sleep(time.Millisecond) })
	for _, tc := range []struct {
		name, in, want string
	}{
		{"truncated", string(good[:len(good)/2]), "Go execution trace: truncated: input ends at byte"},
		{"wrong version", "go 1.99 trace\x00\x00\x00\x01\x02\x03", "unsupported trace version go 1.99"},
		{"old version", "go 1.11 trace\x00\x00\x00\x01\x02\x03", "Go execution trace"},
		{"garbage", "go 1.26 trace\x00\x00\x00" + strings.Repeat("\xff\x13garbage", 50), "Go execution trace"},
		{"header only", "go 1.26 trace\x00\x00\x00", "no events"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := gotrace.Read("x", strings.NewReader(tc.in), 0)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
	if _, err := gotrace.Read("x", bytes.NewReader(good), int64(len(good)-1)); !errors.Is(err, gotrace.ErrTooLarge) {
		t.Errorf("over the limit: %v, want ErrTooLarge", err)
	}
	if _, err := gotrace.Read("x", bytes.NewReader(good), int64(len(good))); err != nil {
		t.Errorf("at the limit: %v", err)
	}
}

func TestIsTrace(t *testing.T) {
	for in, want := range map[string]bool{
		"go 1.26 trace\x00\x00\x00": true,
		"go 1.22 trace\x00\x00\x00": true,
		"go 1.26 trac":              false,
		`{"resourceSpans":[]}`:      false,
		"go 1.26 tracer is great!!": false,
	} {
		if got := gotrace.IsTrace([]byte(in)); got != want {
			t.Errorf("IsTrace(%q) = %v, want %v", in, got, want)
		}
	}
}

// currentGoroutine parses the goroutine ID from the stack header, as tests may.
func currentGoroutine() int64 {
	var b [64]byte
	s := strings.TrimPrefix(string(b[:runtime.Stack(b[:], false)]), "goroutine ")
	n, _ := strconv.ParseInt(s[:strings.IndexByte(s, ' ')], 10, 64)
	return n
}
