package converter

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	rtrace "runtime/trace"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otel2chrome/otel2chrome/converter/check"
)

// goTraceSeed is a real execution trace (runtime/trace.Start around a
// channel wait and a GC), kept in testdata so every fuzz worker starts from
// the same bytes; UPDATE_GOTRACE_SEED=1 go test -run TestWriteGoTraceSeed writes it anew.
const goTraceSeed = "testdata/gotrace/seed.gotrace"

// FuzzDecodeGoTrace feeds execution traces, real and mutated, to the
// decoder: no panic, a bounded run, an error naming the input, and when one
// decodes, a timeline with spans on its goroutines that passes the checker.
func FuzzDecodeGoTrace(f *testing.F) {
	seed, err := os.ReadFile(goTraceSeed)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Add(seed[:len(seed)/2])
	f.Add(seed[:40])
	f.Fuzz(func(t *testing.T, data []byte) {
		watchdog := time.AfterFunc(5*time.Second, func() {
			buf := make([]byte, 1<<20)
			panic(fmt.Sprintf("decode of %d bytes still running after 5s:\n%s", len(data), buf[:runtime.Stack(buf, true)]))
		})
		defer watchdog.Stop()
		c := New(WithMaxInputSize(1 << 20))
		if err := c.Decode("fuzz.gotrace", bytes.NewReader(data)); err != nil {
			if !bytes.HasPrefix([]byte(err.Error()), []byte("fuzz.gotrace")) {
				t.Fatalf("error does not name the input: %v", err)
			}
			return
		}
		if len(c.goTraces) == 0 {
			return // another format, fuzzed elsewhere
		}
		// One request per goroutine of the trace, over the whole trace.
		g := c.goTraces[0]
		td := ptrace.NewTraces()
		rs := td.ResourceSpans().AppendEmpty()
		rs.Resource().Attributes().PutStr("service.name", "fuzz")
		ss := rs.ScopeSpans().AppendEmpty().Spans()
		n := 0
		for id := range g.Goroutines {
			if n++; n > 8 {
				break
			}
			sp := ss.AppendEmpty()
			sp.SetTraceID(pcommon.TraceID{byte(n)})
			sp.SetSpanID(pcommon.SpanID{byte(n)})
			sp.SetName("request")
			sp.SetStartTimestamp(pcommon.Timestamp(max(g.Wall(g.Start), 1)))
			sp.SetEndTimestamp(pcommon.Timestamp(max(g.Wall(g.End), 1)))
			sp.Attributes().PutInt("go.goroutine.id", id)
		}
		if n == 0 {
			return
		}
		c.AddTraces(td)
		var out bytes.Buffer
		if _, err := c.Encode(&out); err != nil {
			t.Fatal(err)
		}
		if _, err := check.Validate(out.Bytes()); err != nil {
			t.Fatalf("invariant violated: %v", err)
		}
	})
}

// TestWriteGoTraceSeed rewrites the fuzz seed when asked to.
func TestWriteGoTraceSeed(t *testing.T) {
	if os.Getenv("UPDATE_GOTRACE_SEED") == "" {
		t.Skip("set UPDATE_GOTRACE_SEED=1 to rewrite " + goTraceSeed)
	}
	var buf bytes.Buffer
	if err := rtrace.Start(&buf); err != nil {
		t.Fatal(err)
	}
	ch := make(chan struct{})
	go func() { time.Sleep(2 * time.Millisecond); close(ch) }()
	<-ch
	runtime.GC()
	rtrace.Stop()
	if err := os.MkdirAll(filepath.Dir(goTraceSeed), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(goTraceSeed, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}
