// Package check validates Chrome Trace Event JSON written by otel2chrome and
// summarises it, so every test that produces a timeline asserts the same invariants.
//
// [Validate] replays the file as Perfetto's importer reads it (see importer.go)
// and checks:
//   - the file is one JSON object with a traceEvents array and known phases;
//   - every ts and dur is a finite, non-negative number;
//   - the slices of each pid/tid nest properly (no importer drops one), and a
//     slice nested in another descends from it or ran on the same goroutine
//     (thread.id) of the same trace;
//   - every flow end binds to a slice, no arrow ends before it starts, and every
//     arrow joins a parent and its child or two linked spans (never a span event),
//     forward in time; every parent and child on different lanes and every pair of
//     linked spans has one arrow, but for the omissions otherData.flows_omitted
//     declares;
//   - each span appears once, otherData.spans of them; span events lie in their span;
//   - every pid has a process_name and every pid/tid that holds an event has a
//     thread_name;
//   - slices drawn from a Go execution trace (cat go.goroutine, go.runtime)
//     sit on threads without spans.
package check

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"
)

// Event is one trace event as read back from the file.
type Event struct {
	Name string      `json:"name"`
	Cat  string      `json:"cat"`
	Ph   string      `json:"ph"`
	Ts   *float64    `json:"ts"`
	Dur  *float64    `json:"dur"`
	Pid  int64       `json:"pid"`
	Tid  int64       `json:"tid"`
	ID   json.Number `json:"id"`
	BP   string      `json:"bp"`
	S    string      `json:"s"`
	// BindID, FlowIn and FlowOut bind flow ends to a complete event itself.
	BindID  json.RawMessage `json:"bind_id"`
	FlowIn  bool            `json:"flow_in"`
	FlowOut bool            `json:"flow_out"`
	Args    map[string]any  `json:"args"`

	tsNS, durNS int64 // ts and dur in exact nanoseconds, as written
}

// UnmarshalJSON reads an event, keeping ts and dur exactly as well: they are
// decimal microseconds, and far from the origin a float64 rounds away the
// nanoseconds the file holds.
func (e *Event) UnmarshalJSON(b []byte) error {
	type plain Event
	aux := struct {
		*plain
		Ts  *json.Number `json:"ts"`
		Dur *json.Number `json:"dur"`
	}{plain: (*plain)(e)}
	if err := json.Unmarshal(b, &aux); err != nil {
		return err
	}
	var err error
	if aux.Ts != nil {
		if e.Ts, e.tsNS, err = micros(*aux.Ts); err != nil {
			return fmt.Errorf("ts: %w", err)
		}
	}
	if aux.Dur != nil {
		if e.Dur, e.durNS, err = micros(*aux.Dur); err != nil {
			return fmt.Errorf("dur: %w", err)
		}
	}
	return nil
}

// micros parses a decimal number of microseconds as a float and, exactly
// where it has at most three decimals, as nanoseconds.
func micros(n json.Number) (*float64, int64, error) {
	f, err := n.Float64()
	if err != nil {
		return nil, 0, err
	}
	s := string(n)
	whole, frac, _ := strings.Cut(s, ".")
	if len(frac) <= 3 && !strings.ContainsAny(s, "eE") {
		frac += strings.Repeat("0", 3-len(frac))
		if v, err := strconv.ParseInt(whole+frac, 10, 64); err == nil {
			return &f, v, nil
		}
	}
	return &f, int64(math.Round(f * 1000)), nil
}

// Slice is a complete (X) event.
type Slice struct {
	Pid, Tid int64
	Name     string
	Cat      string
	Ts, Dur  float64
	Args     map[string]any
}

// End returns the slice's end timestamp.
func (s Slice) End() float64 { return s.Ts + s.Dur }

// Lane identifies a thread track.
type Lane struct{ Pid, Tid int64 }

// Report summarises a valid file.
type Report struct {
	Events    []Event          // every event, in file order
	Slices    []Slice          // X events, in file order
	Instants  []Event          // i/I events
	Flows     int              // arrows, as an importer binds them
	Arrows    []Arrow          // every arrow, as an importer binds it
	Omitted   int              // arrows between spans the file leaves out (at most otherData.flows_omitted)
	Processes map[int64]string // pid -> process_name
	Threads   map[Lane]string  // lane -> thread_name
	OtherData map[string]any   // the otherData object
	// SpanSlices maps args.span_id to the slice of that span.
	SpanSlices map[string]Slice
}

type file struct {
	TraceEvents     []Event        `json:"traceEvents"`
	DisplayTimeUnit string         `json:"displayTimeUnit"`
	OtherData       map[string]any `json:"otherData"`
}

// Validate parses data as a Chrome Trace Event JSON object and checks the
// invariants listed in the package documentation. The first violation found is
// returned as an error that names the event index.
func Validate(data []byte) (*Report, error) {
	var f file
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("not a Chrome trace JSON object: %w", err)
	}
	if f.TraceEvents == nil {
		return nil, fmt.Errorf("no traceEvents array")
	}
	r := &Report{
		Events:     f.TraceEvents,
		Processes:  map[int64]string{},
		Threads:    map[Lane]string{},
		OtherData:  f.OtherData,
		SpanSlices: map[string]Slice{},
	}
	used := map[Lane]bool{}
	for i, e := range f.TraceEvents {
		if e.Ph == "" {
			return nil, fmt.Errorf("event %d: no ph", i)
		}
		if e.Ph != "M" {
			if e.Ts == nil {
				return nil, fmt.Errorf("event %d (%s %q): no ts", i, e.Ph, e.Name)
			}
			if err := finite(*e.Ts); err != nil {
				return nil, fmt.Errorf("event %d (%s %q): ts %w", i, e.Ph, e.Name, err)
			}
			used[Lane{e.Pid, e.Tid}] = true
		}
		switch e.Ph {
		case "M":
			name, _ := e.Args["name"].(string)
			switch e.Name {
			case "process_name":
				if name == "" {
					return nil, fmt.Errorf("event %d: process_name without args.name", i)
				}
				r.Processes[e.Pid] = name
			case "thread_name":
				if name == "" {
					return nil, fmt.Errorf("event %d: thread_name without args.name", i)
				}
				r.Threads[Lane{e.Pid, e.Tid}] = name
			}
		case "X":
			if e.Dur == nil {
				return nil, fmt.Errorf("event %d (X %q): no dur", i, e.Name)
			}
			if err := finite(*e.Dur); err != nil {
				return nil, fmt.Errorf("event %d (X %q): dur %w", i, e.Name, err)
			}
			if e.Name == "" {
				return nil, fmt.Errorf("event %d: X event without name", i)
			}
			s := Slice{Pid: e.Pid, Tid: e.Tid, Name: e.Name, Cat: e.Cat, Ts: *e.Ts, Dur: *e.Dur, Args: e.Args}
			r.Slices = append(r.Slices, s)
			if id, ok := e.Args["span_id"].(string); ok {
				r.SpanSlices[id] = s
			}
		case "i", "I":
			r.Instants = append(r.Instants, e)
		case "s", "f", "t":
			if e.ID == "" {
				return nil, fmt.Errorf("event %d (%s %q): flow without id", i, e.Ph, e.Name)
			}
		case "B", "E", "b", "e", "n", "C", "P", "O", "N", "D":
			// Valid phases otel2chrome does not write; accepted so the checker
			// can read other producers' files.
		default:
			return nil, fmt.Errorf("event %d: unknown phase %q", i, e.Ph)
		}
	}
	for l := range used {
		if _, ok := r.Processes[l.Pid]; !ok {
			return nil, fmt.Errorf("pid %d has no process_name", l.Pid)
		}
		if _, ok := r.Threads[l]; !ok {
			return nil, fmt.Errorf("pid %d tid %d has no thread_name", l.Pid, l.Tid)
		}
	}
	im := replay(f.TraceEvents)
	if len(im.errs) > 0 {
		return nil, fmt.Errorf("%s", strings.Join(im.errs, "; "))
	}
	if err := r.meaning(im); err != nil {
		return nil, err
	}
	r.Flows = len(r.Arrows)
	return r, nil
}

func linksTo(s Slice, spanID string) bool {
	links, _ := s.Args["links"].([]any)
	for _, l := range links {
		if m, ok := l.(map[string]any); ok && m["span_id"] == spanID {
			return true
		}
	}
	return false
}

// Lanes groups the slices by lane, sorted by start (longest first on ties).
func (r *Report) Lanes() map[Lane][]Slice {
	lanes := map[Lane][]Slice{}
	for _, s := range r.Slices {
		l := Lane{s.Pid, s.Tid}
		lanes[l] = append(lanes[l], s)
	}
	for _, ss := range lanes {
		sort.SliceStable(ss, func(i, j int) bool {
			if ss[i].Ts != ss[j].Ts {
				return ss[i].Ts < ss[j].Ts
			}
			return ss[i].Dur > ss[j].Dur
		})
	}
	return lanes
}

// Contains reports whether outer encloses inner on the timeline (not necessarily
// on the same lane).
func Contains(outer, inner Slice) bool {
	return inner.Ts+eps >= outer.Ts && inner.End() <= outer.End()+eps
}

func checkNesting(l Lane, ss []Slice) error {
	var stack []Slice
	for _, s := range ss {
		for len(stack) > 0 && stack[len(stack)-1].End() <= s.Ts+eps {
			stack = stack[:len(stack)-1]
		}
		if n := len(stack); n > 0 && s.End() > stack[n-1].End()+eps {
			p := stack[n-1]
			return fmt.Errorf("pid %d tid %d: slice %q [%v, %v] partially overlaps %q [%v, %v]",
				l.Pid, l.Tid, s.Name, s.Ts, s.End(), p.Name, p.Ts, p.End())
		}
		stack = append(stack, s)
	}
	return nil
}

// eps absorbs float rounding of ts+dur: otel2chrome writes nanosecond
// precision (3 decimals of a microsecond), so half a nanosecond is below it.
const eps = 0.0005

func finite(v float64) error {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return fmt.Errorf("is not finite: %v", v)
	}
	if v < 0 {
		return fmt.Errorf("is negative: %v", v)
	}
	return nil
}

// ValidateFile reads a Chrome trace file, gunzipping it when its name ends in
// ".gz", and validates it as Validate does; errors name the file.
func ValidateFile(path string) (*Report, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if strings.HasSuffix(path, ".gz") {
		zr, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if data, err = io.ReadAll(zr); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
	}
	r, err := Validate(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return r, nil
}
