package converter

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otel2chrome/otel2chrome/converter/check"
	"github.com/otel2chrome/otel2chrome/converter/check/perfetto"
)

// traceGen makes random traces of the shapes that break timelines:
// concurrent requests of one service, thread ids reused by other requests,
// goroutines forked by a call that outlive it, calls to other services (some
// with Zipkin-style shared span IDs, some with clock skew), overlapping
// siblings, children that start at their parent's very nanosecond, span
// events (some outside their span), and links forward and backward in time,
// across traces too.
type traceGen struct {
	r      *rand.Rand
	specs  []spec
	events map[uint64][]time.Duration // span id -> event offsets
	links  map[uint64][]spec          // span id -> linked spans
	next   uint64
	quant  bool // times at microsecond precision, as Jaeger keeps them
	pad    string
}

func (g *traceGen) id() uint64 { g.next++; return g.next }

func (g *traceGen) at(d time.Duration) time.Duration {
	if g.quant {
		return d / time.Microsecond * time.Microsecond
	}
	return d
}

// within returns a random sub-interval of [lo, hi], sometimes starting
// exactly at lo.
func (g *traceGen) within(lo, hi time.Duration) (time.Duration, time.Duration) {
	if hi <= lo {
		return lo, lo
	}
	s := lo
	if g.r.IntN(4) > 0 {
		s = lo + time.Duration(g.r.Int64N(int64(hi-lo)))
	}
	e := s + time.Duration(g.r.Int64N(int64(hi-s)+1))
	return g.at(s), g.at(e)
}

func (g *traceGen) add(s spec) spec {
	if g.pad != "" {
		if s.attrs == nil {
			s.attrs = map[string]any{}
		}
		s.attrs["pad"] = g.pad
	}
	g.specs = append(g.specs, s)
	if g.r.IntN(5) == 0 {
		d := s.end - s.start
		for n := g.r.IntN(3); n >= 0; n-- {
			var off time.Duration
			switch g.r.IntN(4) {
			case 0: // at the start
			case 1:
				off = d + time.Millisecond // after the end
			default:
				if d > 0 {
					off = time.Duration(g.r.Int64N(int64(d)))
				}
			}
			g.events[s.id] = append(g.events[s.id], off)
		}
	}
	return s
}

// calls adds up to three calls on goroutine tid under parent, inside
// [lo, hi]; a call may nest more calls, fork a goroutine or call a service.
func (g *traceGen) calls(trace, parent uint64, service string, tid int64, lo, hi time.Duration, depth int) {
	n := g.r.IntN(4)
	step := (hi - lo) / time.Duration(n+1)
	for k := 0; k < n; k++ {
		s, e := g.within(lo+time.Duration(k)*step, lo+time.Duration(k+1)*step)
		c := g.add(spec{trace: trace, id: g.id(), parent: parent, service: service,
			name: fmt.Sprintf("f%d", depth), start: s, end: e,
			attrs: map[string]any{"thread.id": tid}})
		switch g.r.IntN(6) {
		case 0:
			if depth < 4 {
				g.calls(trace, c.id, service, tid, s, e, depth+1)
			}
		case 1: // fork: the goroutine may outlive the call
			ws, we := g.within(s, hi)
			g.calls(trace, c.id, service, tid+10+int64(g.r.IntN(3)), ws, we, depth+1)
		case 2:
			g.remote(trace, c, "back")
		}
	}
}

// remote adds a server span in service for client span c, sometimes with the
// client's span ID (Zipkin style) or a skewed clock, and its own calls.
func (g *traceGen) remote(trace uint64, c spec, service string) {
	g.specs[len(g.specs)-1].kind = ptrace.SpanKindClient
	s, e := g.within(c.start, c.end)
	if g.r.IntN(5) == 0 {
		skew := time.Duration(g.r.IntN(3000)) * time.Microsecond
		s, e = s-skew, e-skew
	}
	id, parent := g.id(), c.id
	if g.r.IntN(4) == 0 {
		id, parent = c.id, c.parent // shared ID
	}
	g.add(spec{trace: trace, id: id, parent: parent, service: service, name: "serve",
		start: s, end: e, kind: ptrace.SpanKindServer})
	g.calls(trace, id, service, 1+int64(g.r.IntN(2)), s, e, 1)
}

// generate makes a few concurrent requests.
func (g *traceGen) generate() {
	for t := uint64(1); t <= uint64(1+g.r.IntN(4)); t++ {
		start := g.at(time.Duration(g.r.IntN(20)) * time.Millisecond)
		end := start + g.at(time.Duration(1+g.r.IntN(30))*time.Millisecond)
		root := g.add(spec{trace: t, id: g.id(), service: "front", name: "request",
			start: start, end: end, kind: ptrace.SpanKindServer})
		// Thread ids come from a small pool, so concurrent requests share them.
		g.calls(t, root.id, "front", 1+int64(g.r.IntN(2)), start, end, 1)
		for n := g.r.IntN(3); n > 0; n-- { // overlapping siblings
			s, e := g.within(start, end)
			g.add(spec{trace: t, id: g.id(), parent: root.id, service: "front", name: "async", start: s, end: e})
		}
	}
	for _, s := range g.specs {
		if g.r.IntN(8) == 0 {
			o := g.specs[g.r.IntN(len(g.specs))]
			g.links[s.id] = append(g.links[s.id], o)
		}
	}
}

// inputs splits the spans into up to three inputs, some spans repeated.
func (g *traceGen) inputs() []ptrace.Traces {
	n := 1 + g.r.IntN(3)
	builders := make([]*tb, n)
	for k := range builders {
		builders[k] = newTB()
	}
	for _, s := range g.specs {
		targets := []int{g.r.IntN(n)}
		if g.r.IntN(10) == 0 {
			targets = append(targets, g.r.IntN(n)) // a duplicate
		}
		for _, k := range targets {
			sp := builders[k].add(s)
			for _, off := range g.events[s.id] {
				ev := sp.Events().AppendEmpty()
				ev.SetName("ev")
				ev.SetTimestamp(sp.StartTimestamp() + pcommon.Timestamp(off))
			}
			for _, o := range g.links[s.id] {
				l := sp.Links().AppendEmpty()
				l.SetTraceID(traceID(o.trace))
				l.SetSpanID(spanID(o.id))
			}
		}
	}
	out := make([]ptrace.Traces, n)
	for k, b := range builders {
		out[k] = b.td
	}
	return out
}

// verifyWithImporter loads a timeline into Perfetto's own importer, when
// present, and checks it binds every arrow as intended. Without the importer
// it says so (once) and, in CI, fails.
func verifyWithImporter(t *testing.T, name string, data []byte) {
	t.Helper()
	if _, ok := perfetto.Available(); !ok {
		if !t.Failed() {
			perfetto.Check(t, data) // logs the warning, or fails in CI
		}
		return
	}
	if _, err := perfetto.Verify(t.Context(), data, perfetto.AllowDeclaredOmissions()); err != nil {
		t.Errorf("%s: Perfetto's importer: %v", name, err)
	}
}

// TestPropertyTimelines converts random traces fed as pdata, OTLP protobuf
// and OTLP JSON, in random order, and checks every timeline against the
// checker's rules (an importer's binding of every arrow, truthful nesting,
// each span once); the three encodings must give the same bytes.
func TestPropertyTimelines(t *testing.T) {
	cases := 400
	if testing.Short() || raceEnabled {
		cases = 60
	}
	var spans, arrows, omitted, flowsWritten int
	for seed := 0; seed < cases; seed++ {
		g := &traceGen{r: rand.New(rand.NewPCG(uint64(seed), 7)), events: map[uint64][]time.Duration{}, links: map[uint64][]spec{}}
		g.quant = seed%3 == 1
		if seed%25 == 24 {
			g.pad = strings.Repeat("x", 2048) // messages beyond the decoder's batch size
		}
		g.generate()
		ins := g.inputs()
		order := g.r.Perm(len(ins))
		var outs [3][]byte
		for enc := range outs {
			c := New()
			for _, k := range order {
				if ins[k].SpanCount() == 0 {
					continue
				}
				switch enc {
				case 0:
					c.AddTraces(ins[k])
				case 1:
					data, err := (&ptrace.ProtoMarshaler{}).MarshalTraces(ins[k])
					if err != nil {
						t.Fatal(err)
					}
					if err := c.Decode(fmt.Sprintf("seed%d.pb", seed), bytes.NewReader(data)); err != nil {
						t.Fatalf("seed %d: %v", seed, err)
					}
				case 2:
					data, err := (&ptrace.JSONMarshaler{}).MarshalTraces(ins[k])
					if err != nil {
						t.Fatal(err)
					}
					if err := c.Decode(fmt.Sprintf("seed%d.json", seed), bytes.NewReader(data)); err != nil {
						t.Fatalf("seed %d: %v", seed, err)
					}
				}
			}
			if err := ownKeysIndexed(c.model); err != nil {
				t.Errorf("seed %d: %v", seed, err)
			}
			var buf bytes.Buffer
			st, err := c.Encode(&buf)
			if err != nil {
				t.Fatal(err)
			}
			outs[enc] = buf.Bytes()
			if enc == 0 {
				flowsWritten += st.Flows
			}
		}
		if !bytes.Equal(outs[0], outs[1]) || !bytes.Equal(outs[0], outs[2]) {
			t.Errorf("seed %d: pdata, protobuf and JSON inputs give different output", seed)
		}
		r, err := check.Validate(outs[0])
		if err != nil {
			t.Errorf("seed %d: %v", seed, err)
			continue
		}
		verifyWithImporter(t, fmt.Sprintf("seed %d", seed), outs[0])
		spans += len(r.SpanSlices)
		arrows += len(r.Arrows)
		omitted += r.Omitted
	}
	t.Logf("%d cases: %d spans, %d arrows bound as intended, %d left out (%.2f%%)",
		cases, spans, arrows, omitted, 100*float64(omitted)/float64(max(1, arrows+omitted)))
	// The generator is adversarial: a quarter of the children begin at
	// their parent's nanosecond and a third of the cases keep microseconds
	// only, so many slices share a start with a slice nested in them.
	// The 60 cases of -short or -race runs leave out up to about 4%.
	if omitted*100 > 6*(arrows+omitted) {
		t.Errorf("%d of %d arrows left out: more than 6%%", omitted, arrows+omitted)
	}
}

// TestPropertyAbsoluteTime: with epoch timestamps viewers read as doubles,
// every arrow drawn must still bind as intended in Perfetto's importer; the
// ones that cannot are declared.
func TestPropertyAbsoluteTime(t *testing.T) {
	cases := 120
	if testing.Short() || raceEnabled {
		cases = 20
	}
	for seed := 0; seed < cases; seed++ {
		g := &traceGen{r: rand.New(rand.NewPCG(uint64(seed), 11)), events: map[uint64][]time.Duration{}, links: map[uint64][]spec{}}
		g.quant = seed%3 == 1
		g.generate()
		c := New(WithAbsoluteTime(true))
		for _, in := range g.inputs() {
			c.AddTraces(in)
		}
		var out bytes.Buffer
		if _, err := c.Encode(&out); err != nil {
			t.Fatal(err)
		}
		if _, err := check.Validate(out.Bytes()); err != nil {
			t.Errorf("seed %d: %v", seed, err)
			continue
		}
		verifyWithImporter(t, fmt.Sprintf("absolute time, seed %d", seed), out.Bytes())
	}
}

// ownKeysIndexed checks what the layout's lookups within a chunk of spans
// rely on: every record's own trace and span ID name that record in the
// model's index, whatever duplicates and shared IDs did to it.
func ownKeysIndexed(m *model) error {
	for i := int32(0); i < int32(m.spans.len()); i++ {
		r := m.spans.at(i)
		if g, ok := m.index.get(keyOf(r.trace, r.id)); !ok || g != i {
			return fmt.Errorf("record %d (trace %s span %s): the index names record %d (%v)", i, r.trace, r.id, g, ok)
		}
	}
	return nil
}
