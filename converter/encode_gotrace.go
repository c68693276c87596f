package converter

import (
	"cmp"
	"encoding/hex"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/otel2chrome/otel2chrome/converter/gotrace"
)

// Go execution traces are drawn in the process whose spans they recorded:
// per goroutine that ran a recorded call (the spans' go.goroutine.id), a
// "G<id> state" thread beside the call's lane with one slice per state
// (running, runnable, blocked: <reason>, syscall, GC assist); per process, a
// GC thread (mark phases, and the heap as counters) and a stop-the-world
// thread. Everything is cut to the time range of that process's spans (of
// all spans, for a trace that matched none), and moved with them when the
// clock-skew fix moved them.

// GoTraceStats describes how one Go execution trace was drawn.
type GoTraceStats struct {
	Name string // the input
	// Service names the process it was drawn in; empty when it matched no
	// process of the spans and got one of its own.
	Service string
	// Goroutines, States, GC, STW and CPUSamples count what was written in
	// that process, from every execution trace drawn there (overlapping
	// snapshots are drawn once): goroutines given a state thread, their
	// state slices, GC mark phases, stop-the-world pauses, CPU samples.
	Goroutines, States, GC, STW, CPUSamples int
	// Clock says how trace time was put on the spans' wall clock: "clock
	// snapshot" (the trace's own, Go 1.25+), "span logs" (an offset fitted
	// to sdkhook's log records, for older traces), or "none": not drawn.
	Clock string
	// Shift is the clock-skew correction the trace was moved by, that of
	// its process's spans (Stats.Shifts): the duration-weighted median
	// shift of the requests whose starts it logged, else of the spans of
	// its process it overlaps.
	Shift time.Duration
	// AlignedSpans request spans were found in the trace as sdkhook's log
	// records written when they started; AlignMedian and AlignMax are the
	// median and largest distance between such a record, on the wall
	// clock, and its span's start. They bound the alignment error (the
	// record follows the span's clock reading by the SDK's own work). With
	// Clock "span logs" the offset is fitted to these very records: the
	// median is then about 0 by construction, and only AlignMax, their
	// spread, says something.
	AlignedSpans          int
	AlignMedian, AlignMax time.Duration
	// AlignMin is the smallest such distance: the tightest bound on how
	// far the clocks disagree, as each record adds the SDK's work and any
	// scheduling delay (the first record of a trace also the runtime's
	// setup of its string table) to that disagreement.
	AlignMin time.Duration
}

// Categories of the slices drawn from execution traces; the checker knows
// them as not spans.
const (
	catGoroutine = "go.goroutine"
	catRuntime   = "go.runtime"
	catCPU       = "go.cpu"
)

type wallState struct {
	start, end int64
	st         *gotrace.State
}

type wallInterval struct {
	start, end int64
	name       string
}

type goProc struct {
	proc    int // index into layout.procs; -1 for a process of its own
	pid     int64
	name    string
	lo, hi  int64 // the spans' time range, wall ns
	baseTid int64
	lanes   map[int64]int // goroutine -> layout lane of its first recorded call
	gs      map[int64][]wallState
	cpu     map[int64][]gotrace.CPUSample // times on the wall clock
	gc, stw []wallInterval
	heap    [2][]gotrace.Sample // live, goal; times on the wall clock
	stats   []*GoTraceStats
}

type goPlan struct {
	procs []*goProc
	stats []GoTraceStats
}

// planGo places each execution trace in a process and puts its events on
// the spans' clock.
func (cw *chromeWriter) planGo() *goPlan {
	if len(cw.gos) == 0 {
		return nil
	}
	m, l := cw.m, cw.l
	gp := &goPlan{stats: make([]GoTraceStats, len(cw.gos))}
	byProc := map[int]*goProc{}
	get := func(proc int) *goProc {
		if p := byProc[proc]; p != nil {
			return p
		}
		p := &goProc{proc: proc, lanes: map[int64]int{}, gs: map[int64][]wallState{}, cpu: map[int64][]gotrace.CPUSample{}}
		byProc[proc] = p
		return p
	}
	// The spans' ranges (as drawn: clock-skew shifts applied) and
	// goroutines, per process and over all.
	type procSpans struct {
		lo, hi int64
		spans  []int32           // local indices
		goids  map[int64][]int32 // goroutine -> its spans (local indices)
	}
	spansOf := map[int]*procSpans{}
	bySpan := map[spanKey]int32{}
	allLo, allHi := int64(math.MaxInt64), int64(math.MinInt64)
	for _, i := range l.sel {
		r := l.rec(i)
		ln := l.lane[i]
		proc := l.lanes[ln].proc
		start, end := r.start+l.shift[i], r.end+l.shift[i]
		ps := spansOf[proc]
		if ps == nil {
			ps = &procSpans{lo: start, hi: end, goids: map[int64][]int32{}}
			spansOf[proc] = ps
		}
		ps.lo, ps.hi = min(ps.lo, start), max(ps.hi, end)
		allLo, allHi = min(allLo, start), max(allHi, end)
		ps.spans = append(ps.spans, i)
		k := keyOf(r.trace, r.id)
		bySpan[k] = i
		if g := m.goids[k]; g > 0 {
			ps.goids[g] = append(ps.goids[g], i)
		}
	}
	nextPid := int64(1)
	for _, p := range l.procs {
		nextPid = max(nextPid, p.pid+1)
	}
	for ti, tr := range cw.gos {
		st := &gp.stats[ti]
		st.Name = tr.Name
		// Records of request starts, matched to the spans.
		type match struct {
			span int32
			at   int64 // trace time
		}
		var matches []match
		for _, lg := range tr.Logs {
			if lg.Category != goSpanLog {
				continue
			}
			if i, ok := bySpan[parseSpanLog(lg.Message)]; ok {
				matches = append(matches, match{i, lg.Time})
			}
		}
		offset := int64(0)
		switch {
		case tr.HasClock():
			st.Clock = "clock snapshot"
		case len(matches) > 0:
			st.Clock = "span logs"
			d := make([]int64, len(matches))
			for k, mt := range matches {
				d[k] = l.rec(mt.span).start - mt.at
			}
			slices.Sort(d)
			offset = d[len(d)/2]
		default:
			st.Clock = "none"
			continue
		}
		raw := func(ts int64) int64 { return tr.Wall(ts) + offset } // the process's own clock
		if len(matches) > 0 {
			d := make([]int64, len(matches))
			for k, mt := range matches {
				d[k] = raw(mt.at) - l.rec(mt.span).start
				if d[k] < 0 {
					d[k] = -d[k]
				}
			}
			slices.Sort(d)
			st.AlignedSpans = len(d)
			st.AlignMedian, st.AlignMax, st.AlignMin = time.Duration(d[len(d)/2]), time.Duration(d[len(d)-1]), time.Duration(d[0])
		}
		// The process: the one whose request starts the trace recorded,
		// else the one whose goroutines it holds while their calls ran,
		// else the only one.
		from, to := raw(tr.Start), raw(tr.End)
		proc, best := -1, 0
		votes := map[int]int{}
		for _, mt := range matches {
			votes[l.lanes[l.lane[mt.span]].proc]++
		}
		if len(votes) == 0 {
			for pi, ps := range spansOf {
				for g, spans := range ps.goids {
					if _, ok := tr.Goroutines[g]; !ok {
						continue
					}
					for _, i := range spans {
						if r := l.rec(i); r.end >= from && r.start <= to {
							votes[pi]++
						}
					}
				}
			}
		}
		for pi, n := range votes {
			if n > best || n == best && pi < proc {
				proc, best = pi, n
			}
		}
		if proc < 0 && len(l.procs) == 1 {
			proc = 0
		}
		// The trace moves with its process's spans when the clock-skew fix
		// moved them. It can follow only one shift, and requests of one
		// process may have been moved apart (each by its own parent): it
		// follows most of their time, the duration-weighted median shift
		// of the requests whose starts it logged, else of the spans of
		// that process it overlaps.
		var shifts []int32
		for _, mt := range matches {
			if l.lanes[l.lane[mt.span]].proc == proc {
				shifts = append(shifts, mt.span)
			}
		}
		if ps := spansOf[proc]; len(shifts) == 0 && proc >= 0 && ps != nil {
			for _, i := range ps.spans {
				if r := l.rec(i); r.end >= from && r.start <= to {
					shifts = append(shifts, i)
				}
			}
		}
		shift := l.weightedShift(shifts)
		st.Shift = time.Duration(shift)
		wall := func(ts int64) int64 { return raw(ts) + shift }
		var p *goProc
		if proc >= 0 {
			p = get(proc)
			p.pid = l.procs[proc].pid
			st.Service = m.procs[l.procs[proc].rec].service
			ps := spansOf[proc]
			p.lo, p.hi = ps.lo, ps.hi
			for g, spans := range ps.goids {
				if _, ok := tr.Goroutines[g]; !ok {
					continue
				}
				if _, ok := p.lanes[g]; !ok {
					p.lanes[g] = int(l.lane[spans[0]])
				}
			}
		} else {
			p = get(-1 - ti)
			p.pid, nextPid = nextPid, nextPid+1
			p.name = "Go runtime (" + tr.Name + ")"
			// Cut to the time range of all spans: a trace of another
			// time must not stretch the timeline.
			p.lo, p.hi = allLo, allHi
		}
		p.lo = max(p.lo, l.origin)
		p.stats = append(p.stats, st)
		for g := range p.lanes {
			for k := range tr.Goroutines[g] {
				s := &tr.Goroutines[g][k]
				p.gs[g] = append(p.gs[g], wallState{wall(s.Start), wall(s.End), s})
			}
		}
		for _, c := range tr.CPU {
			if _, ok := p.lanes[c.Goroutine]; ok {
				c.Time = wall(c.Time)
				p.cpu[c.Goroutine] = append(p.cpu[c.Goroutine], c)
			}
		}
		for _, iv := range tr.GC {
			p.gc = append(p.gc, wallInterval{wall(iv.Start), wall(iv.End), iv.Name})
		}
		for _, iv := range tr.STW {
			p.stw = append(p.stw, wallInterval{wall(iv.Start), wall(iv.End), iv.Name})
		}
		for k, samples := range [2][]gotrace.Sample{tr.Heap, tr.HeapGoal} {
			for _, s := range samples {
				p.heap[k] = append(p.heap[k], gotrace.Sample{Time: wall(s.Time), Value: s.Value})
			}
		}
	}
	for _, p := range byProc {
		gp.procs = append(gp.procs, p)
	}
	sort.Slice(gp.procs, func(i, j int) bool { return gp.procs[i].pid < gp.procs[j].pid })
	for _, p := range gp.procs {
		p.cut()
		p.baseTid = 0
		for _, ln := range l.lanes {
			if ln.proc == p.proc && ln.tid > p.baseTid {
				p.baseTid = ln.tid
			}
		}
	}
	return gp
}

// weightedShift returns the clock-skew shift that most of the time of spans
// (local indices) was moved by: their median shift, weighted by duration.
func (l *layout) weightedShift(spans []int32) int64 {
	if len(spans) == 0 {
		return 0
	}
	slices.SortFunc(spans, func(a, b int32) int { return cmp.Compare(l.shift[a], l.shift[b]) })
	total := 0.0 // float: a sum of hostile durations must not overflow
	for _, i := range spans {
		r := l.rec(i)
		total += float64(max(r.end-r.start, 1))
	}
	acc := 0.0
	for _, i := range spans {
		r := l.rec(i)
		if acc += float64(max(r.end-r.start, 1)); 2*acc >= total {
			return l.shift[i]
		}
	}
	return l.shift[spans[len(spans)-1]]
}

// parseSpanLog reads sdkhook's "<trace id> <span id>" log message.
func parseSpanLog(msg string) spanKey {
	var k spanKey
	t, s, ok := strings.Cut(msg, " ")
	if !ok || len(t) != 32 || len(s) != 16 {
		return k
	}
	if _, err := hex.Decode(k[:16], []byte(t)); err != nil {
		return spanKey{}
	}
	if _, err := hex.Decode(k[16:], []byte(s)); err != nil {
		return spanKey{}
	}
	return k
}

// cut keeps what lies in [lo, hi], and of overlapping copies (two snapshots
// of one moment) the first: every thread then holds slices that never
// overlap.
func (p *goProc) cut() {
	clipStates := func(ss []wallState) []wallState {
		sort.SliceStable(ss, func(i, j int) bool { return ss[i].start < ss[j].start })
		out := ss[:0]
		last := p.lo
		for _, s := range ss {
			s.start, s.end = max(s.start, last, p.lo), min(s.end, p.hi)
			if s.end > s.start {
				out = append(out, s)
				last = s.end
			}
		}
		return out
	}
	for g, ss := range p.gs {
		p.gs[g] = clipStates(ss)
	}
	clip := func(ivs []wallInterval) []wallInterval {
		sort.SliceStable(ivs, func(i, j int) bool { return ivs[i].start < ivs[j].start })
		out := ivs[:0]
		last := p.lo
		for _, iv := range ivs {
			iv.start, iv.end = max(iv.start, last, p.lo), min(iv.end, p.hi)
			if iv.end > iv.start {
				out = append(out, iv)
				last = iv.end
			}
		}
		return out
	}
	p.gc, p.stw = clip(p.gc), clip(p.stw)
	for k, samples := range p.heap {
		sort.SliceStable(samples, func(i, j int) bool { return samples[i].Time < samples[j].Time })
		out := samples[:0]
		for i, s := range samples {
			switch {
			case s.Time < p.lo:
				// The value at lo is the last one before it.
				if i+1 < len(samples) && samples[i+1].Time <= p.lo {
					continue
				}
				s.Time = p.lo
			case s.Time > p.hi:
				continue
			}
			if len(out) > 0 && out[len(out)-1].Time == s.Time {
				out[len(out)-1] = s
				continue
			}
			out = append(out, s)
		}
		p.heap[k] = out
	}
	for g, cs := range p.cpu {
		sort.SliceStable(cs, func(i, j int) bool { return cs[i].Time < cs[j].Time })
		out := cs[:0]
		for _, c := range cs {
			if c.Time >= p.lo && c.Time <= p.hi && (len(out) == 0 || out[len(out)-1].Time != c.Time) {
				out = append(out, c)
			}
		}
		p.cpu[g] = out
	}
}

// goNotes writes the otherData fields of the execution traces.
func (cw *chromeWriter) goNotes(gp *goPlan) {
	if gp == nil {
		return
	}
	e := &cw.enc
	e.rawKey("go_execution_traces")
	e.str(itoa(int64(len(gp.stats))))
	var parts []string
	for _, st := range gp.stats {
		s := st.Name + ": " + st.Clock
		if st.AlignedSpans > 0 {
			s += fmt.Sprintf(", error median %dns max %dns min %dns over %d spans",
				st.AlignMedian.Nanoseconds(), st.AlignMax.Nanoseconds(), st.AlignMin.Nanoseconds(), st.AlignedSpans)
		}
		parts = append(parts, s)
	}
	e.rawKey("go_alignment")
	e.str(strings.Join(parts, "; "))
}

// Thread tids after a process's lanes, and sort indices after its lanes'.
const (
	goTidGC       = 1
	goTidSTW      = 2
	goTidFirstG   = 3
	goRuntimeSort = 1 << 20
)

// goEvents writes the threads and events of the execution traces.
func (cw *chromeWriter) goEvents(gp *goPlan) []GoTraceStats {
	if gp == nil {
		return nil
	}
	e, l := &cw.enc, cw.l
	threadMeta := func(pid, tid int64, name string, sortIndex int) {
		cw.meta("thread_name", pid, tid)
		e.str(name)
		cw.closeMeta()
		cw.begin()
		e.buf = append(e.buf, `{"ph":"M","name":"thread_sort_index","pid":`...)
		e.int(pid)
		e.buf = append(e.buf, `,"tid":`...)
		e.int(tid)
		e.buf = append(e.buf, `,"args":{"sort_index":`...)
		e.int(int64(sortIndex))
		e.buf = append(e.buf, "}}"...)
	}
	head := func(ph, name, cat string, pid, tid, ts int64) {
		cw.begin()
		e.buf = append(e.buf, `{"ph":"`...)
		e.buf = append(e.buf, ph...)
		e.buf = append(e.buf, `","name":`...)
		e.str(name)
		if cat != "" {
			e.buf = append(e.buf, `,"cat":`...)
			e.str(cat)
		}
		e.buf = append(e.buf, `,"pid":`...)
		e.int(pid)
		e.buf = append(e.buf, `,"tid":`...)
		e.int(tid)
		e.buf = append(e.buf, `,"ts":`...)
		e.micros(ts - l.origin)
	}
	for _, p := range gp.procs {
		if p.proc < 0 && len(p.gc)+len(p.stw)+len(p.heap[0])+len(p.heap[1]) == 0 {
			continue // a process of its own with nothing in the spans' time range
		}
		if p.proc < 0 {
			cw.meta("process_name", p.pid, 0)
			e.str(p.name)
			cw.closeMeta()
		}
		gcTid, stwTid := p.baseTid+goTidGC, p.baseTid+goTidSTW
		threadMeta(p.pid, gcTid, "Go runtime: GC and heap", goRuntimeSort)
		threadMeta(p.pid, stwTid, "Go runtime: stop-the-world", goRuntimeSort+1)
		for _, iv := range p.gc {
			head("X", iv.name, catRuntime, p.pid, gcTid, iv.start)
			e.buf = append(e.buf, `,"dur":`...)
			e.micros(iv.end - iv.start)
			e.buf = append(e.buf, '}')
		}
		for _, iv := range p.stw {
			head("X", iv.name, catRuntime, p.pid, stwTid, iv.start)
			e.buf = append(e.buf, `,"dur":`...)
			e.micros(iv.end - iv.start)
			e.buf = append(e.buf, '}')
		}
		for k, samples := range p.heap {
			name, arg := "Go heap", "live bytes"
			if k == 1 {
				name, arg = "Go heap goal", "goal bytes"
			}
			for _, s := range samples {
				head("C", name, catRuntime, p.pid, gcTid, s.Time)
				e.buf = append(e.buf, `,"args":{`...)
				e.str(arg)
				e.buf = append(e.buf, ':')
				e.int(int64(s.Value))
				e.buf = append(e.buf, "}}"...)
			}
		}
		goids := make([]int64, 0, len(p.lanes))
		for g := range p.lanes {
			goids = append(goids, g)
		}
		slices.Sort(goids)
		states, cpu := 0, 0
		for k, g := range goids {
			tid := p.baseTid + goTidFirstG + int64(k)
			threadMeta(p.pid, tid, fmt.Sprintf("G%d state", g), l.lanes[p.lanes[g]].sort)
			for _, s := range p.gs[g] {
				name := s.st.Kind.String()
				if s.st.Kind == gotrace.Blocked && s.st.Reason != "" {
					name += ": " + s.st.Reason
				}
				head("X", name, catGoroutine, p.pid, tid, s.start)
				e.buf = append(e.buf, `,"dur":`...)
				e.micros(s.end - s.start)
				e.buf = append(e.buf, `,"args":{"goroutine":`...)
				e.int(g)
				if s.st.Reason != "" {
					e.rawKey("reason")
					e.str(s.st.Reason)
				}
				if s.st.Stack != "" {
					e.rawKey("stack")
					e.str(s.st.Stack)
				}
				e.buf = append(e.buf, "}}"...)
				states++
			}
			for _, c := range p.cpu[g] {
				head("i", "CPU sample", catCPU, p.pid, tid, c.Time)
				e.buf = append(e.buf, `,"s":"t","args":{"stack":`...)
				e.str(c.Stack)
				e.buf = append(e.buf, "}}"...)
				cpu++
			}
		}
		for _, st := range p.stats {
			st.Goroutines, st.States, st.GC, st.STW, st.CPUSamples = len(goids), states, len(p.gc), len(p.stw), cpu
		}
		if cw.err != nil {
			break
		}
	}
	return gp.stats
}
