// Package check validates Chrome Trace Event JSON written by otel2chrome and
// summarises it, so every test that produces a timeline asserts the same invariants.
//
// Invariants checked by [Validate]:
//   - the file is one JSON object with a traceEvents array and known phases;
//   - every ts and dur is a finite, non-negative number;
//   - the complete (X) events of each pid/tid nest properly: two slices on one lane
//     are either disjoint or one contains the other;
//   - every flow start (s) has exactly one finish (f) with the same id, and both
//     fall inside a slice on their own lane; where slices carry span IDs, the
//     slices the two ends bind to (the innermost open at their time) are a
//     parent and its child, or linked;
//   - every pid has a process_name and every pid/tid that holds an event has a
//     thread_name.
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
	"strings"
)

// Event is one trace event as read back from the file.
type Event struct {
	Name string         `json:"name"`
	Cat  string         `json:"cat"`
	Ph   string         `json:"ph"`
	Ts   *float64       `json:"ts"`
	Dur  *float64       `json:"dur"`
	Pid  int64          `json:"pid"`
	Tid  int64          `json:"tid"`
	ID   json.Number    `json:"id"`
	BP   string         `json:"bp"`
	S    string         `json:"s"`
	Args map[string]any `json:"args"`
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
	Flows     int              // matched s/f pairs
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
	type flowEnd struct {
		idx int
		ev  Event
	}
	starts := map[string]*flowEnd{}
	finishes := map[string]*flowEnd{}
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
		case "s", "f":
			if e.ID == "" {
				return nil, fmt.Errorf("event %d (%s %q): flow without id", i, e.Ph, e.Name)
			}
			key := e.Cat + "\x00" + e.Name + "\x00" + string(e.ID)
			m := starts
			if e.Ph == "f" {
				m = finishes
				if e.BP != "e" {
					return nil, fmt.Errorf("event %d: flow finish %s without bp:\"e\"", i, e.ID)
				}
			}
			if fe := m[key]; fe != nil {
				return nil, fmt.Errorf("event %d: flow %s has two %q events (first at event %d)", i, e.ID, e.Ph, fe.idx)
			}
			m[key] = &flowEnd{idx: i, ev: e}
		case "B", "E", "b", "e", "n", "C", "t", "P", "O", "N", "D":
			// Valid phases otel2chrome does not write; accepted so the checker
			// can read other producers' files.
		default:
			return nil, fmt.Errorf("event %d: unknown phase %q", i, e.Ph)
		}
	}
	for key, s := range starts {
		if finishes[key] == nil {
			return nil, fmt.Errorf("event %d: flow start %s has no finish", s.idx, s.ev.ID)
		}
	}
	for key, f := range finishes {
		if starts[key] == nil {
			return nil, fmt.Errorf("event %d: flow finish %s has no start", f.idx, f.ev.ID)
		}
	}
	r.Flows = len(starts)
	for l := range used {
		if _, ok := r.Processes[l.Pid]; !ok {
			return nil, fmt.Errorf("pid %d has no process_name", l.Pid)
		}
		if _, ok := r.Threads[l]; !ok {
			return nil, fmt.Errorf("pid %d tid %d has no thread_name", l.Pid, l.Tid)
		}
	}
	lanes := r.Lanes()
	for l, ss := range lanes {
		if err := checkNesting(l, ss); err != nil {
			return nil, err
		}
	}
	bound := func(fe *flowEnd) (Slice, error) {
		l := Lane{fe.ev.Pid, fe.ev.Tid}
		s, ok := innermost(lanes[l], *fe.ev.Ts)
		if !ok {
			return s, fmt.Errorf("event %d: flow %s %q at ts %v is not inside a slice on pid %d tid %d",
				fe.idx, fe.ev.ID, fe.ev.Ph, *fe.ev.Ts, l.Pid, l.Tid)
		}
		return s, nil
	}
	for key, st := range starts {
		from, err := bound(st)
		if err != nil {
			return nil, err
		}
		fin := finishes[key]
		to, err := bound(fin)
		if err != nil {
			return nil, err
		}
		// When the slices carry span IDs (otel2chrome's do), the arrow must
		// join a parent and its child, or a span and the span it links to.
		fromID, _ := from.Args["span_id"].(string)
		toID, _ := to.Args["span_id"].(string)
		if fromID == "" || toID == "" {
			continue
		}
		if to.Args["parent_span_id"] == fromID || linksTo(to, fromID) {
			continue
		}
		return nil, fmt.Errorf("event %d: flow %s binds %q (span %s) to %q (span %s, parent %v), which are neither parent and child nor linked",
			st.idx, st.ev.ID, from.Name, fromID, to.Name, toID, to.Args["parent_span_id"])
	}
	return r, nil
}

// innermost returns the slice a viewer binds a flow event at ts to: the
// deepest slice on the lane open at ts, boundaries included (so an event on a
// boundary counts as ambiguous and binds to the nested slice).
func innermost(ss []Slice, ts float64) (Slice, bool) {
	var best Slice
	found := false
	for _, s := range ss {
		if s.Ts > ts+eps {
			break // ss is sorted by start
		}
		if ts <= s.End()+eps && (!found || s.Ts >= best.Ts) {
			best, found = s, true
		}
	}
	return best, found
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
