package converter

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otel2chrome/otel2chrome/converter/gotrace"
)

// Converter collects spans from any number of inputs and writes them as one
// Chrome Trace Event timeline. A Converter is not safe for concurrent use.
type Converter struct {
	cfg   config
	model *model
	notes [][2]string // SetOtherData's fields, in key order
	// goTraces are the Go execution traces read, drawn beside the spans
	// of the process they belong to (encode_gotrace.go).
	goTraces []*gotrace.Trace
}

// New returns a Converter configured by opts.
func New(opts ...Option) *Converter {
	cfg := newConfig(opts)
	return &Converter{cfg: cfg, model: newModel(&cfg)}
}

// AddTraces adds every span of td that passes the configured filters.
// td is not retained: the Converter keeps a compact copy of what it needs.
func (c *Converter) AddTraces(td ptrace.Traces) {
	c.model.addTraces(td)
}

// Decode reads one input, detects its format from its content (gzip and zstd are
// unwrapped first) and adds its spans. name is used in error messages only.
// Errors name the input, the format and the position where decoding failed.
func (c *Converter) Decode(name string, r io.Reader) error {
	return decodeModel(name, r, &c.cfg, c.model, c.addGoTrace)
}

// Len reports the number of spans collected so far.
func (c *Converter) Len() int { return c.model.len() }

// TraceIDs returns the IDs of the traces collected so far, in ascending order.
func (c *Converter) TraceIDs() []pcommon.TraceID { return c.model.traceIDs() }

// Encode lays out every collected span and writes the Chrome Trace Event JSON
// object to w. The output is the same, byte for byte, for the same spans.
func (c *Converter) Encode(w io.Writer) (Stats, error) {
	return c.write(w, nil)
}

// EncodeTrace is like Encode but writes only the spans of trace id.
func (c *Converter) EncodeTrace(w io.Writer, id pcommon.TraceID) (Stats, error) {
	return c.write(w, &id)
}

// SetOtherData sets a string field of the otherData object that Encode and
// EncodeTrace write, after the converter's own fields: facts about the spans
// that only the caller knows, such as how many a limit dropped before they
// reached the Converter. Keys the converter writes itself are refused; fields
// are written in key order, so the output stays deterministic.
func (c *Converter) SetOtherData(key, value string) error {
	if reservedOtherData[key] {
		return fmt.Errorf("otherData key %q is the converter's own", key)
	}
	i, found := slices.BinarySearchFunc(c.notes, key, func(n [2]string, k string) int { return strings.Compare(n[0], k) })
	if found {
		c.notes[i][1] = value
		return nil
	}
	c.notes = slices.Insert(c.notes, i, [2]string{key, value})
	return nil
}

// reservedOtherData are the otherData keys the converter writes.
var reservedOtherData = map[string]bool{
	"generator": true, "time_base": true, "origin_unix_nano": true, "origin": true, "spans": true,
	"traces": true, "clock_skew_shifts": true, "flows": true, "flows_omitted": true,
	"duplicate_spans_merged": true, "conflicting_spans_dropped": true, "spans_without_start": true,
	"go_execution_traces": true, "go_alignment": true,
}

// Stats describes what a write produced.
type Stats struct {
	Spans     int // complete (X) slices written
	Processes int // distinct pids
	Threads   int // distinct (pid, tid) lanes
	Flows     int // flow arrows written
	// FlowsOmitted counts arrows left out because no placement of their ends
	// binds exactly to their two slices in importers (see the README).
	FlowsOmitted int
	Instants     int     // span events written as instant events
	Shifts       []Shift // clock-skew corrections applied
	NoStart      int     // spans left out for having no start time (all inputs so far)
	SharedIDs    int     // span IDs two services shared, split as Jaeger does (all inputs so far)
	// Duplicates counts spans seen again with the same content (the same
	// trace from two inputs, say): merged into one slice (all inputs so far).
	Duplicates int
	// Conflicts counts spans whose trace and span ID were seen again with
	// other content (name, kind or times): one copy is kept, chosen by
	// content, the others are dropped (all inputs so far).
	Conflicts int
	// GoTraces describes each Go execution trace drawn (see GoTraceStats).
	GoTraces []GoTraceStats
}

// Shift reports one clock-skew correction: a server span that started before its
// client parent in another service was moved by Delta (nanoseconds), along with
// its whole subtree.
type Shift struct {
	TraceID pcommon.TraceID
	SpanID  pcommon.SpanID
	Service string
	Delta   int64
}
