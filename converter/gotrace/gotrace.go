package gotrace

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/exp/trace"
)

// Kind is what a goroutine is doing during a [State].
type Kind uint8

// Goroutine states, as drawn.
const (
	Running  Kind = iota + 1 // on a P, running Go code
	Runnable                 // ready, waiting for a P (the scheduler)
	Blocked                  // waiting: channel, select, mutex, sleep, network, ...
	Syscall                  // in a system call
	GCAssist                 // running, but assisting the garbage collector
)

var kindNames = [...]string{Running: "running", Runnable: "runnable", Blocked: "blocked", Syscall: "syscall", GCAssist: "GC assist"}

// String returns the state's name as drawn ("running", "blocked", ...).
func (k Kind) String() string {
	if int(k) < len(kindNames) && kindNames[k] != "" {
		return kindNames[k]
	}
	return "unknown"
}

// State is one interval of a goroutine's life. Start and End are trace times
// (nanoseconds on the trace's clock, see [Trace.Wall]).
type State struct {
	Start, End int64
	Kind       Kind
	Reason     string // why it blocked or became runnable ("chan receive", "sync", "sleep", ...)
	Stack      string // where it blocked or entered the syscall, one frame a line
}

// Interval is a process-wide runtime activity: a GC mark phase or a
// stop-the-world pause.
type Interval struct {
	Start, End int64
	Name       string
}

// Sample is a metric value at a trace time.
type Sample struct {
	Time  int64
	Value uint64
}

// CPUSample is a CPU profile sample taken on a goroutine.
type CPUSample struct {
	Time      int64
	Goroutine int64
	Stack     string
}

// Log is a runtime/trace.Log record.
type Log struct {
	Time      int64
	Goroutine int64
	Category  string
	Message   string
}

// Trace is what one execution trace says. Its slices are in time order.
type Trace struct {
	Name       string
	Start, End int64 // trace times of the first and last event
	// Goroutines holds each goroutine's states, by goroutine ID.
	Goroutines map[int64][]State
	GC         []Interval // GC mark phases
	STW        []Interval // stop-the-world pauses, named after their reason
	Heap       []Sample   // live heap bytes (/memory/classes/heap/objects:bytes)
	HeapGoal   []Sample   // the GC's heap goal (/gc/heap/goal:bytes)
	CPU        []CPUSample
	Logs       []Log
	Events     int // events read

	clock []clockPoint // wall = trace time + offset, from each point on
}

type clockPoint struct {
	trace, offset int64
}

// HasClock reports whether the trace carries clock snapshots (Go 1.25+), so
// that [Trace.Wall] gives wall-clock times.
func (t *Trace) HasClock() bool { return len(t.clock) > 0 }

// Wall returns trace time ts in Unix nanoseconds, using the clock snapshot
// taken last before ts (the first one for earlier times): the wall clock may
// be stepped or slewed between generations, the trace clock never is. Without
// a clock it returns ts.
func (t *Trace) Wall(ts int64) int64 {
	if len(t.clock) == 0 {
		return ts
	}
	i := sort.Search(len(t.clock), func(i int) bool { return t.clock[i].trace > ts })
	return ts + t.clock[max(i-1, 0)].offset
}

// headerPrefix starts every Go execution trace: "go 1.NN trace\x00\x00\x00".
var headerPrefix = []byte("go 1.")

// IsTrace reports whether head, the first 16 bytes of an input or more,
// starts a Go execution trace.
func IsTrace(head []byte) bool {
	if !bytes.HasPrefix(head, headerPrefix) || len(head) < 16 {
		return false
	}
	i := bytes.Index(head[:16], []byte(" trace\x00"))
	return i > len(headerPrefix)
}

// HeaderLen is how many bytes IsTrace needs to see.
const HeaderLen = 16

// maxStackFrames bounds the frames kept of a blocking stack.
const maxStackFrames = 32

// ErrTooLarge is returned when an input is over the limit given to Read.
var ErrTooLarge = errors.New("execution trace is larger than the limit")

// Read parses the execution trace in r, reading at most max bytes (max <= 0:
// no limit). Errors say where the input went wrong as closely as the parser
// lets one know: it reads a generation (up to megabytes) before handing out
// its events, so an error gives the events handed out before it, the bytes
// read so far (the parser reads ahead by at most 4 KiB) and the parser's
// message. name is used in error messages only.
func Read(name string, r io.Reader, max int64) (t *Trace, err error) {
	cr := &countReader{r: r}
	var src io.Reader = cr
	if max > 0 {
		src = io.LimitReader(cr, max+1)
	}
	defer func() {
		// The parser is another module's: whatever it does with hostile
		// input, a bad file must be an error, never a crash.
		if p := recover(); p != nil {
			t, err = nil, fmt.Errorf("Go execution trace: at byte %d: parser failed: %v", cr.n, p)
		}
		if max > 0 && cr.n > max {
			t, err = nil, fmt.Errorf("Go execution trace: %w of %d bytes", ErrTooLarge, max)
		}
	}()
	// No buffer of ours: the parser buffers 4 KiB itself, so the bytes
	// counted stay close to where it stopped.
	tr, err := trace.NewReader(src)
	if err != nil {
		return nil, fmt.Errorf("Go execution trace: header: %w", err)
	}
	p := newParser(name)
	for {
		e, err := tr.ReadEvent()
		if err == io.EOF {
			break
		}
		if err != nil {
			if cr.eof || errors.Is(err, io.ErrUnexpectedEOF) {
				return nil, fmt.Errorf("Go execution trace: truncated: input ends at byte %d, after event %d: %w", cr.n, p.t.Events, err)
			}
			return nil, fmt.Errorf("Go execution trace: after event %d, within the first %d bytes: %w", p.t.Events, cr.n, err)
		}
		p.event(e)
	}
	return p.finish()
}

type countReader struct {
	r   io.Reader
	n   int64
	eof bool // the input ended: a parse error then means it was cut short
}

func (c *countReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n += int64(n)
	c.eof = c.eof || err == io.EOF
	return n, err
}

// gstate is what the parser knows of a goroutine now.
type gstate struct {
	open   bool
	kind   Kind
	since  int64
	reason string
	stack  string
	assist bool
}

type parser struct {
	t      *Trace
	gs     map[int64]*gstate
	stacks map[trace.Stack]string
	ranges map[string]int64 // open global ranges and STWs, by name + scope
	first  bool
	last   int64
	syncs  int
}

func newParser(name string) *parser {
	return &parser{
		t:      &Trace{Name: name, Goroutines: map[int64][]State{}},
		gs:     map[int64]*gstate{},
		stacks: map[trace.Stack]string{},
		ranges: map[string]int64{},
		first:  true,
	}
}

func (p *parser) stack(s trace.Stack) string {
	if s == trace.NoStack {
		return ""
	}
	if v, ok := p.stacks[s]; ok {
		return v
	}
	var b strings.Builder
	n := 0
	for f := range s.Frames() {
		if n == maxStackFrames {
			b.WriteString("...\n")
			break
		}
		b.WriteString(f.Func)
		b.WriteByte(' ')
		b.WriteString(f.File)
		b.WriteByte(':')
		b.WriteString(strconv.FormatUint(f.Line, 10))
		b.WriteByte('\n')
		n++
	}
	v := strings.TrimSuffix(b.String(), "\n")
	p.stacks[s] = v
	return v
}

func (p *parser) event(e trace.Event) {
	ts := int64(e.Time())
	p.t.Events++
	if p.first {
		p.t.Start, p.first = ts, false
	}
	p.last = max(p.last, ts)
	switch e.Kind() {
	case trace.EventSync:
		p.syncs++
		if cs := e.Sync().ClockSnapshot; cs != nil {
			p.t.clock = append(p.t.clock, clockPoint{trace: int64(cs.Trace), offset: cs.Wall.UnixNano() - int64(cs.Trace)})
		}
	case trace.EventStateTransition:
		st := e.StateTransition()
		if st.Resource.Kind != trace.ResourceGoroutine {
			return
		}
		from, to := st.Goroutine()
		_ = from
		g := int64(st.Resource.Goroutine())
		stk := st.Stack
		if stk == trace.NoStack && e.Goroutine() == st.Resource.Goroutine() {
			stk = e.Stack()
		}
		reason := st.Reason
		var k Kind
		switch to {
		case trace.GoRunning:
			k = Running
		case trace.GoRunnable:
			k = Runnable
		case trace.GoWaiting:
			k = Blocked
		case trace.GoSyscall:
			k = Syscall
		default: // not existing, or a state added later: nothing drawn
		}
		s := ""
		if k == Blocked || k == Syscall {
			s = p.stack(stk)
		}
		p.move(g, ts, k, reason, s)
	case trace.EventRangeBegin, trace.EventRangeActive, trace.EventRangeEnd:
		p.rangeEvent(e, ts)
	case trace.EventMetric:
		m := e.Metric()
		if m.Value.Kind() != trace.ValueUint64 {
			return
		}
		switch m.Name {
		case "/memory/classes/heap/objects:bytes":
			p.t.Heap = append(p.t.Heap, Sample{ts, m.Value.Uint64()})
		case "/gc/heap/goal:bytes":
			p.t.HeapGoal = append(p.t.HeapGoal, Sample{ts, m.Value.Uint64()})
		}
	case trace.EventStackSample:
		if g := e.Goroutine(); g != trace.NoGoroutine {
			p.t.CPU = append(p.t.CPU, CPUSample{Time: ts, Goroutine: int64(g), Stack: p.stack(e.Stack())})
		}
	case trace.EventLog:
		l := e.Log()
		p.t.Logs = append(p.t.Logs, Log{Time: ts, Goroutine: int64(e.Goroutine()), Category: l.Category, Message: l.Message})
	}
}

// move ends goroutine g's current state at ts and starts state k (none when
// k is 0).
func (p *parser) move(g, ts int64, k Kind, reason, stack string) {
	s := p.gs[g]
	if s == nil {
		s = &gstate{}
		p.gs[g] = s
	}
	p.close(g, s, ts)
	if k == 0 {
		s.assist = false
		return
	}
	*s = gstate{open: true, kind: k, since: ts, reason: reason, stack: stack, assist: s.assist}
}

func (p *parser) close(g int64, s *gstate, ts int64) {
	if !s.open {
		return
	}
	s.open = false
	if ts <= s.since {
		return // an instant state: nothing to draw
	}
	k := s.kind
	if k == Running && s.assist {
		k = GCAssist
	}
	st := State{Start: s.since, End: ts, Kind: k, Stack: s.stack}
	if k == Blocked || k == Runnable {
		st.Reason = s.reason
	}
	p.t.Goroutines[g] = append(p.t.Goroutines[g], st)
}

// assist switches goroutine g's GC-assist flag at ts, splitting its running
// interval there.
func (p *parser) assist(g, ts int64, on bool) {
	s := p.gs[g]
	if s == nil {
		s = &gstate{}
		p.gs[g] = s
	}
	if s.assist == on {
		return
	}
	if s.open {
		cur := *s
		p.close(g, s, ts)
		*s = cur
		s.since = ts
	}
	s.assist = on
}

func (p *parser) rangeEvent(e trace.Event, ts int64) {
	r := e.Range()
	name := r.Name
	switch {
	case name == "GC mark assist":
		if r.Scope.Kind == trace.ResourceGoroutine {
			g := r.Scope.Goroutine()
			if g == trace.NoGoroutine {
				g = e.Goroutine()
			}
			p.assist(int64(g), ts, e.Kind() != trace.EventRangeEnd)
		}
		return
	case strings.HasPrefix(name, "GC concurrent mark"), strings.HasPrefix(name, "stop-the-world"):
	default:
		return
	}
	key := name
	if e.Kind() != trace.EventRangeEnd {
		if _, open := p.ranges[key]; !open {
			p.ranges[key] = ts
		}
		return
	}
	start, open := p.ranges[key]
	if !open {
		start = p.t.Start // begun before the window
	}
	delete(p.ranges, key)
	p.addRange(name, start, ts)
}

func (p *parser) addRange(name string, start, end int64) {
	if end <= start {
		return
	}
	if strings.HasPrefix(name, "stop-the-world") {
		p.t.STW = append(p.t.STW, Interval{start, end, name})
	} else {
		p.t.GC = append(p.t.GC, Interval{start, end, "GC"})
	}
}

func (p *parser) finish() (*Trace, error) {
	t := p.t
	if t.Events == 0 || p.syncs == t.Events {
		return nil, errors.New("Go execution trace: no events")
	}
	t.End = p.last
	ids := make([]int64, 0, len(p.gs))
	for g := range p.gs {
		ids = append(ids, g)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	for _, g := range ids {
		p.close(g, p.gs[g], t.End)
	}
	names := make([]string, 0, len(p.ranges))
	for n := range p.ranges {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		p.addRange(n, p.ranges[n], t.End) // still going when the window ends
	}
	sort.SliceStable(t.GC, func(i, j int) bool { return t.GC[i].Start < t.GC[j].Start })
	sort.SliceStable(t.STW, func(i, j int) bool { return t.STW[i].Start < t.STW[j].Start })
	return t, nil
}
