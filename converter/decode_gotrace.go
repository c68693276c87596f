package converter

import (
	"bufio"
	"fmt"

	"github.com/otel2chrome/otel2chrome/converter/gotrace"
)

// goroutineIDKey is the span attribute that names the goroutine a span's
// calls ran on (sdkhook.AttrGoroutineID): it ties lanes to the goroutines of
// a Go execution trace.
const goroutineIDKey = "go.goroutine.id"

// goSpanLog is the runtime/trace.Log category sdkhook writes when a request
// span starts while the execution tracer runs; the message is "<trace
// id> <span id>" in hex. It places the trace among the spans and measures how
// well the two clocks agree.
const goSpanLog = "otel2chrome.span"

// decodeGoTrace reads a Go execution trace; it is handed on when the input
// has been read (handOnGo).
func (d *decoder) decodeGoTrace(name string, br *bufio.Reader) error {
	t, err := gotrace.Read(name, br, d.max)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	d.goTraces = append(d.goTraces, t)
	return nil
}

func (d *decoder) handOnGo(addGo func(*gotrace.Trace)) error {
	if len(d.goTraces) == 0 {
		return nil
	}
	if addGo == nil {
		return fmt.Errorf("%s: a Go execution trace holds no spans", d.name)
	}
	for _, t := range d.goTraces {
		addGo(t)
	}
	return nil
}

func (c *Converter) addGoTrace(t *gotrace.Trace) { c.goTraces = append(c.goTraces, t) }
