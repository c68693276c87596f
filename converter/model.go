package converter

import (
	"bytes"
	"encoding/binary"
	"hash/fnv"
	"sort"
	"strings"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// The model keeps one compact record per span. Strings are interned and the
// span's attributes are encoded once, at add time, as the JSON object that will
// appear in the output, so memory stays close to the size of the output and no
// pdata structure is retained.

// spanKey identifies a span across inputs: trace ID then span ID.
type spanKey [24]byte

func keyOf(t pcommon.TraceID, s pcommon.SpanID) spanKey {
	var k spanKey
	copy(k[:16], t[:])
	copy(k[16:], s[:])
	return k
}

func (k spanKey) id() pcommon.SpanID { return pcommon.SpanID(k[16:]) }

type spanRec struct {
	trace     pcommon.TraceID
	id        pcommon.SpanID
	parent    pcommon.SpanID
	start     int64  // unix ns
	end       int64  // unix ns, >= start
	tid       int64  // thread.id attribute, when hasTID
	attrs     ref    // the encoded attributes object in model.arena
	name      uint32 // display name
	scope     uint32 // instrumentation scope name (cat)
	proc      uint32 // index into model.procs
	statusMsg uint32
	tname     uint32 // thread.name attribute
	events    int32  // first index into model.events
	nEvents   int32
	links     int32 // first index into model.links
	nLinks    int32
	kind      ptrace.SpanKind
	status    ptrace.StatusCode
	hasTID    bool
}

type eventRec struct {
	ts    int64
	name  uint32
	attrs ref
}

type linkRec struct {
	trace pcommon.TraceID
	id    pcommon.SpanID
}

// procRec is one service instance: the Chrome process.
type procRec struct {
	key     string // service.name + identifying resource attributes
	service string
	labels  string // comma-separated, for process_labels
}

type model struct {
	cfg    *config
	strs   []string
	strIdx map[string]uint32
	spans  spanStore
	index  spanIndex
	events []eventRec
	links  []linkRec
	procs  []procRec
	pidx   map[string]uint32
	arena  arena
	prep   *preparer // for spans added from pdata on the model's goroutine

	byTrace  map[pcommon.TraceID][]int32 // see traceSpans
	byTraceN int                         // spans.len() when byTrace was built

	// dropped maps spans WithMinDuration left out to their parents.
	dropped map[spanKey]pcommon.SpanID

	noStart   int // spans left out for having no start time
	dupSame   int // spans seen again, identical: merged
	dupOther  int // spans whose ID was seen again with other content: one kept
	sharedIDs int // span IDs shared by two services, split in two

	// The server halves of span IDs shared by two services, and server
	// spans by parent, so a shared span given twice is kept once however
	// it was split. Both are keyed by the shared (parent) ID and the
	// server's instance.
	halves  map[halfKey]half
	servers map[halfKey]int32 // built on first use from serverLog
	// serverLog lists the server spans added with a parent, in order, until
	// servers is built: most inputs never need it, and appending costs less
	// than a map of every server span.
	serverLog []serverAt

	// goids holds the go.goroutine.id attribute of the spans that have one
	// (sdkhook's, while the execution tracer ran): it ties lanes to the
	// goroutines of a Go execution trace (encode_gotrace.go).
	goids map[spanKey]int64
}

func newModel(cfg *config) *model {
	m := &model{
		cfg:    cfg,
		strIdx: map[string]uint32{},
		pidx:   map[string]uint32{},
		halves: map[halfKey]half{},
	}
	m.index = newSpanIndex(&m.spans)
	m.prep = newPreparer(cfg)
	m.str("") // index 0 is the empty string
	return m
}

func (m *model) str(s string) uint32 {
	if i, ok := m.strIdx[s]; ok {
		return i
	}
	i := uint32(len(m.strs))
	s = strings.Clone(s) // do not pin the decoded input
	m.strs = append(m.strs, s)
	m.strIdx[s] = i
	return i
}

func (m *model) len() int { return m.spans.len() }

// traceSpans returns the model indices of the spans of trace t. The index by
// trace is built on first use and rebuilt only after spans were added.
func (m *model) traceSpans(t pcommon.TraceID) []int32 {
	if m.byTrace == nil || m.byTraceN != m.spans.len() {
		m.byTrace = map[pcommon.TraceID][]int32{}
		for i := int32(0); i < int32(m.spans.len()); i++ {
			id := m.spans.at(i).trace
			m.byTrace[id] = append(m.byTrace[id], i)
		}
		m.byTraceN = m.spans.len()
	}
	return m.byTrace[t]
}

func (m *model) traceIDs() []pcommon.TraceID {
	seen := map[pcommon.TraceID]struct{}{}
	var ids []pcommon.TraceID
	for i := int32(0); i < int32(m.spans.len()); i++ {
		t := m.spans.at(i).trace
		if _, ok := seen[t]; !ok {
			seen[t] = struct{}{}
			ids = append(ids, t)
		}
	}
	sort.Slice(ids, func(i, j int) bool { return bytes.Compare(ids[i][:], ids[j][:]) < 0 })
	return ids
}

// Resource attributes that tell service instances apart, in label order.
var instanceKeys = []string{"service.instance.id", "host.name", "process.pid", "k8s.pod.name", "container.id"}

// Resource attributes shown as process labels besides the instance keys.
var labelKeys = []string{"service.namespace", "service.version", "deployment.environment.name", "deployment.environment", "telemetry.sdk.language"}

// proc returns the index of the service instance p describes, adding it
// when new.
func (m *model) proc(p procRec) uint32 {
	if i, ok := m.pidx[p.key]; ok {
		return i
	}
	i := uint32(len(m.procs))
	m.procs = append(m.procs, p)
	m.pidx[p.key] = i
	return i
}

// addTraces adds every span of td that passes the filters.
func (m *model) addTraces(td ptrace.Traces) {
	m.prep.traces(td)
	m.commit(m.prep.b)
	m.prep.reset()
}

// insert adds the record r of span key, merging it with a record of the
// same span seen before.
func (m *model) insert(key spanKey, r spanRec) {
	idx, dup := m.index.get(key)
	if !dup {
		if r.kind == ptrace.SpanKindServer && !r.parent.IsEmpty() && r.parent != r.id {
			hk := halfKey{keyOf(r.trace, r.parent), r.proc}
			if h, ok := m.halves[hk]; ok && m.sameSpan(m.spans.at(h.idx), &r) {
				// The server half of a shared ID that Jaeger's deduper
				// already split (and gave an ID of its own): the span is
				// here already, split by us from another input.
				m.mergeHalf(hk, h, &r)
				return
			}
			i := m.spans.push(r)
			m.index.set(key, i)
			if m.servers == nil {
				m.serverLog = append(m.serverLog, serverAt{hk, i})
			} else if _, ok := m.servers[hk]; !ok {
				m.servers[hk] = i
			}
			return
		}
		m.index.set(key, m.spans.push(r))
		return
	}
	old := m.spans.at(idx)
	if old.proc == r.proc && !clientServer(old, &r) {
		// The same span twice (an OTLP dump and a Jaeger export of the same
		// trace, say): one is kept, chosen by content, not by arrival, so the
		// output does not depend on the order of the inputs.
		if m.sameSpan(old, &r) {
			m.dupSame++
		} else {
			m.dupOther++
		}
		if m.better(&r, old) {
			m.replace(idx, r)
		}
		return
	}
	// Two services' spans with one ID: Zipkin-style instrumentation shares a
	// span between client and server, and Jaeger keeps it so in its raw
	// traces. As Jaeger's deduper does, the server side gets an ID of its
	// own and becomes the client's child; both are kept.
	server, other := &r, old
	if old.kind == ptrace.SpanKindServer && r.kind != ptrace.SpanKindServer ||
		old.kind == r.kind && m.procs[old.proc].key > m.procs[r.proc].key {
		server, other = old, &r
	}
	if server.kind == ptrace.SpanKindServer && other.kind == ptrace.SpanKindClient {
		server.parent = other.id
	}
	hk := halfKey{key, server.proc}
	h, seen := m.halves[hk]
	if !seen {
		// Jaeger's deduper may have split this span in an input read
		// before: its server half sits under the shared ID, with an ID
		// of its own.
		if j, ok := m.server(hk); ok && j != idx && m.sameSpan(m.spans.at(j), server) {
			m.sharedIDs++
			h, seen = half{idx: j}, true
			m.halves[hk] = h
		}
	}
	if seen {
		// This half is here already: the same input read twice, or an
		// OTLP and a Jaeger copy of one trace. mergeHalf changes the
		// record it is given: a stored one would be found by other IDs
		// than its own meanwhile.
		s := *server
		switch {
		case server != old:
			m.mergeHalf(hk, h, &s)
		case h.idx != idx:
			// The record that held the server half now holds the
			// client; the IDs it had (old may have been found by an
			// alias) name the half after the merge, so it goes first.
			m.replace(idx, r)
			m.mergeHalf(hk, h, &s)
		default:
			m.mergeHalf(hk, h, &s)
			m.replace(idx, r)
		}
		return
	}
	m.sharedIDs++
	fresh := m.freshID(server.trace, server.id, m.procs[server.proc].key)
	if server == old {
		s := *old
		s.id = fresh
		m.replace(idx, s)
		m.index.set(keyOf(s.trace, fresh), idx)
		m.index.set(key, m.spans.push(r))
		m.halves[hk] = half{idx: idx, madeUp: true}
	} else {
		r.id = fresh
		i := m.spans.push(r)
		m.index.set(keyOf(r.trace, r.id), i)
		m.halves[hk] = half{idx: i, madeUp: true}
	}
}

// serverAt is a server span added with a parent: the halfKey of its
// parent ID and its instance, and its record.
type serverAt struct {
	hk  halfKey
	idx int32
}

// server returns the first server span added under the parent ID and
// instance hk names.
func (m *model) server(hk halfKey) (int32, bool) {
	if m.servers == nil {
		m.servers = make(map[halfKey]int32, len(m.serverLog))
		for _, s := range m.serverLog {
			if _, ok := m.servers[s.hk]; !ok {
				m.servers[s.hk] = s.idx
			}
		}
		m.serverLog = nil
	}
	j, ok := m.servers[hk]
	return j, ok
}

// halfKey names one side of a span ID that two services shared: the trace
// and shared ID, and the service instance of that side.
type halfKey struct {
	span spanKey
	proc uint32
}

// half locates the server half of a shared span ID in the store.
type half struct {
	idx    int32
	madeUp bool // its ID is one freshID made, not one from the input
}

// sameSpan reports whether a and b are one span seen twice: what the inputs
// say of it matches, at the microsecond precision of Jaeger's exports.
func (m *model) sameSpan(a, b *spanRec) bool {
	if a.trace != b.trace || a.proc != b.proc || a.kind != b.kind || a.name != b.name {
		return false
	}
	if a.start%1000 != 0 && b.start%1000 != 0 {
		// Both have nanoseconds: neither went through Jaeger's
		// microseconds, so they are one span only if their times agree.
		return a.start == b.start && a.end == b.end
	}
	return a.start/1000 == b.start/1000 && (a.end-a.start)/1000 == (b.end-b.start)/1000
}

// clientServer reports whether a and b are a client and a server: one span
// ID they share is a Zipkin-style call, even within one service instance (a
// service calling itself), not the same span twice.
func clientServer(a, b *spanRec) bool {
	return a.kind == ptrace.SpanKindClient && b.kind == ptrace.SpanKindServer ||
		a.kind == ptrace.SpanKindServer && b.kind == ptrace.SpanKindClient
}

// mergeHalf keeps one record of a shared span's server half seen twice (r and
// the one at h). The ID kept is one the input gave, if any (its children
// refer to it), the lowest if two did; every ID seen finds the record.
func (m *model) mergeHalf(hk halfKey, h half, r *spanRec) {
	m.dupSame++
	kept := m.spans.at(h.idx)
	id := kept.id
	if r.id != hk.span.id() {
		// r has an ID of its own (Jaeger's deduper gave it one).
		if h.madeUp || bytes.Compare(r.id[:], id[:]) < 0 {
			id = r.id
		}
		m.index.set(keyOf(r.trace, r.id), h.idx)
		m.halves[hk] = half{idx: h.idx}
	}
	r.id = id
	s := *kept
	if m.better(r, kept) {
		s = *r
	}
	s.id = id
	m.replace(h.idx, s)
	m.index.set(keyOf(s.trace, id), h.idx)
}

// replace stores r as record i. The IDs the record had keep naming it, as
// every record's own IDs do (ownKeysIndexed): children and links may use
// them. A stored record's IDs change only here, so the index never meets
// one halfway through a change.
func (m *model) replace(i int32, r spanRec) {
	old := m.spans.at(i)
	was := keyOf(old.trace, old.id)
	*old = r
	if keyOf(r.trace, r.id) != was {
		m.index.set(was, i)
	}
}

// better reports whether a should be kept over b, two records of one span:
// finer timestamps first (Jaeger keeps microseconds, OTLP nanoseconds), then
// more content, then a fixed order on the rest.
func (m *model) better(a, b *spanRec) bool {
	prec := func(r *spanRec) int {
		n := 0
		if r.start%1000 != 0 {
			n++
		}
		if r.end%1000 != 0 {
			n++
		}
		return n
	}
	if pa, pb := prec(a), prec(b); pa != pb {
		return pa > pb
	}
	if a.attrs.len != b.attrs.len {
		return a.attrs.len > b.attrs.len
	}
	if a.nEvents != b.nEvents {
		return a.nEvents > b.nEvents
	}
	if a.nLinks != b.nLinks {
		return a.nLinks > b.nLinks
	}
	if a.start != b.start {
		return a.start < b.start
	}
	if a.end != b.end {
		return a.end < b.end
	}
	if c := strings.Compare(m.strs[a.name], m.strs[b.name]); c != 0 {
		return c < 0
	}
	if c := bytes.Compare(m.arena.get(a.attrs), m.arena.get(b.attrs)); c != 0 {
		return c < 0
	}
	if c := strings.Compare(m.strs[a.scope], m.strs[b.scope]); c != 0 {
		return c < 0
	}
	if a.status != b.status {
		return a.status < b.status
	}
	if a.kind != b.kind {
		return a.kind < b.kind
	}
	for k := int32(0); k < a.nEvents; k++ { // nEvents are equal here
		ea, eb := &m.events[a.events+k], &m.events[b.events+k]
		if ea.ts != eb.ts {
			return ea.ts < eb.ts
		}
		if c := strings.Compare(m.strs[ea.name], m.strs[eb.name]); c != 0 {
			return c < 0
		}
		if c := bytes.Compare(m.arena.get(ea.attrs), m.arena.get(eb.attrs)); c != 0 {
			return c < 0
		}
	}
	if c := bytes.Compare(a.parent[:], b.parent[:]); c != 0 {
		return c < 0
	}
	if c := strings.Compare(m.strs[a.statusMsg], m.strs[b.statusMsg]); c != 0 {
		return c < 0
	}
	for k := int32(0); k < a.nLinks; k++ { // nLinks are equal here
		la, lb := &m.links[a.links+k], &m.links[b.links+k]
		if c := bytes.Compare(la.trace[:], lb.trace[:]); c != 0 {
			return c < 0
		}
		if c := bytes.Compare(la.id[:], lb.id[:]); c != 0 {
			return c < 0
		}
	}
	return false
}

// freshID derives a span ID for the server half of a shared span: a hash of
// the ID and the service instance, changed until it is unused in the trace.
func (m *model) freshID(t pcommon.TraceID, id pcommon.SpanID, salt string) pcommon.SpanID {
	h := fnv.New64a()
	h.Write(id[:])
	h.Write([]byte(salt))
	var out pcommon.SpanID
	for n := uint64(h.Sum64()); ; n++ {
		binary.BigEndian.PutUint64(out[:], n)
		if _, used := m.index.get(keyOf(t, out)); !used && !out.IsEmpty() {
			return out
		}
	}
}

// noteGoroutine records the go.goroutine.id of span k; the side map exists
// only once a span carries one, so inputs without them pay nothing.
func (m *model) noteGoroutine(k spanKey, g int64) {
	if m.goids == nil {
		m.goids = map[spanKey]int64{}
	}
	m.goids[k] = g
}

// picked holds the attributes the layout rules read, found while the span's
// attributes are encoded so the map is walked once.
type picked struct {
	route, urlPath, target, urlFull string
	goid                            int64 // go.goroutine.id
}

// maxTime bounds timestamps (year 2116) so that no sum of a time and a
// clock-skew shift can overflow; only corrupt input comes near it.
const maxTime = 1 << 62

func clampTime(t pcommon.Timestamp) int64 {
	if t > maxTime {
		return maxTime
	}
	return int64(t)
}

var httpMethods = map[string]bool{
	"GET": true, "POST": true, "PUT": true, "DELETE": true, "PATCH": true,
	"HEAD": true, "OPTIONS": true, "CONNECT": true, "TRACE": true,
}

// displayName makes terse HTTP span names readable: otelhttp names spans just
// "GET" or "HTTP GET"; the route (or else the URL path) says which request it was.
func displayName(name string, p *picked) string {
	method := strings.TrimPrefix(name, "HTTP ")
	if !httpMethods[method] {
		if name == "" {
			return "(unnamed span)"
		}
		return name
	}
	for _, v := range []string{p.route, p.urlPath, p.target} {
		if v != "" {
			if i := strings.IndexAny(v, "?#"); i >= 0 {
				v = v[:i]
			}
			return name + " " + truncate(v, 256)
		}
	}
	if v := p.urlFull; v != "" {
		if i := strings.IndexAny(v, "?#"); i >= 0 {
			v = v[:i]
		}
		return name + " " + truncate(v, 256)
	}
	return name
}

// eventName names an instant: exceptions carry their type and message so they
// are readable without opening the args.
func eventName(e ptrace.SpanEvent) string {
	if e.Name() != "exception" {
		return eventTitle(e.Name(), "", "")
	}
	get := func(k string) string {
		if v, ok := e.Attributes().Get(k); ok {
			return v.AsString()
		}
		return ""
	}
	return eventTitle(e.Name(), get("exception.type"), get("exception.message"))
}

// eventTitle names an event from its name and, for an exception, the
// exception.type and exception.message attributes ("" when absent).
func eventTitle(name, typ, msg string) string {
	if name != "exception" {
		if name == "" {
			return "(unnamed event)"
		}
		return name
	}
	var parts []string
	for _, s := range []string{typ, msg} {
		if s != "" {
			parts = append(parts, s)
		}
	}
	if len(parts) == 0 {
		return name
	}
	return "exception: " + truncate(strings.Join(parts, ": "), 200)
}

// truncate cuts s to at most n bytes on a UTF-8 boundary, marking the cut.
func truncate(s string, n int) string {
	if n <= 0 || len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && cut < len(s) && s[cut]&0xC0 == 0x80 {
		cut--
	}
	return s[:cut] + "…"
}
