package perfetto

import (
	"bytes"
	"cmp"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
)

// Option changes what [Verify] accepts. Without options it accepts nothing
// short of every intended arrow.
type Option func(*config)

type config struct {
	allowMissing int
	declared     bool
}

// AllowMissing accepts up to n intended arrows that the importer does not
// have; they are listed in [Result.Missing]. Misbound, extra and backward
// arrows are never accepted.
func AllowMissing(n int) Option { return func(c *config) { c.allowMissing += n } }

// AllowDeclaredOmissions accepts as many missing arrows as the file itself
// declares it left out, in otherData.flows_omitted (a number or a decimal
// string), on top of [AllowMissing].
func AllowDeclaredOmissions() Option { return func(c *config) { c.declared = true } }

// Result is what the importer made of a file.
type Result struct {
	Events       int      // X, B, i and I events in the input: the slices it calls for
	Slices       int      // rows of the importer's slice table
	Spans        int      // slices carrying args.trace_id and args.span_id
	Instants     int      // zero-duration slices without args.trace_id (span events)
	Flows        int      // rows of the importer's flow table
	Intended     int      // arrows the spans call for
	Tracks       int      // tracks holding slices
	Processes    int      // processes owning those tracks
	Declared     int      // otherData.flows_omitted, 0 when absent
	AllowMissing int      // how many missing arrows were acceptable
	Missing      []Arrow  // intended arrows the importer lacks, when acceptable
	Stats        []string // importer stats counted as errors, "name[idx]=value"
}

// Error lists every way the importer's reading of a file departs from what
// the file calls for.
type Error struct {
	Problems []string
}

// maxListed bounds the problems Error's message spells out.
const maxListed = 40

func (e *Error) Error() string {
	var b strings.Builder
	ways := "ways"
	if len(e.Problems) == 1 {
		ways = "way"
	}
	fmt.Fprintf(&b, "perfetto: the importer disagrees with the file in %d %s:", len(e.Problems), ways)
	for i, p := range e.Problems {
		if i == maxListed {
			fmt.Fprintf(&b, "\n  ... and %d more", len(e.Problems)-maxListed)
			break
		}
		b.WriteString("\n  - ")
		b.WriteString(p)
	}
	return b.String()
}

// SpanRef names a span: a trace ID and a span ID, lower-case hex.
type SpanRef struct{ TraceID, SpanID string }

// Slice is one row of the importer's slice table with the span arguments
// otel2chrome writes (args.trace_id, span_id, parent_span_id, kind, links).
type Slice struct {
	ID                 int64  // slice.id
	Name               string // slice.name
	Ts, Dur            int64  // nanoseconds, as the importer holds them
	Process, Thread    string // names, or pid/tid when unnamed
	TraceID, SpanID    string
	ParentSpanID, Kind string
	// TimelineParentSpanID is the span this one hangs from when it is not
	// ParentSpanID: a filter dropped the parent (converter.WithMinDuration),
	// the parent is the client half of a shared span ID, or (all zeros) the
	// span is drawn as a root because its parent chain loops.
	TimelineParentSpanID string
	Links                []SpanRef

	track int64 // utid, or -1-track_id for a slice on no thread's track
}

func (s *Slice) isSpan() bool { return s.TraceID != "" && s.SpanID != "" }

func (s *Slice) String() string {
	id := "no span"
	switch {
	case s.isSpan():
		id = "span " + s.SpanID
	case s.SpanID != "":
		id = "not a span; span_id " + s.SpanID
	}
	return fmt.Sprintf("%q (%s, ts %d.%03dµs, %s/%s)", s.Name, id, s.Ts/1000, abs(s.Ts%1000), s.Process, s.Thread)
}

func abs(n int64) int64 {
	if n < 0 {
		return -n
	}
	return n
}

// Arrow is a flow arrow between two slices.
type Arrow struct {
	From, To *Slice
	Why      string // "parent -> child on another thread" or "link"
}

func (a Arrow) String() string { return a.From.String() + " -> " + a.To.String() }

// VerifyFile is [Verify] on the file at path.
func VerifyFile(ctx context.Context, path string, opts ...Option) (*Result, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("perfetto: %w", err)
	}
	r, err := Verify(ctx, data, opts...)
	if err != nil {
		return r, fmt.Errorf("%s: %w", path, err)
	}
	return r, nil
}

// Verify loads data, Chrome Trace Event JSON (gzipped or not), into
// Perfetto's importer and checks the tables it built: no error stats, a slice
// for every X, B, i and I event, and exactly the intended flow arrows.
//
// The intended arrows are read from the slices' args. A slice with
// args.trace_id and args.span_id is a span; others (otel2chrome's instants,
// which carry only their span's span_id) are never an arrow's end. The spans
// call for an arrow from parent to child wherever the parent is in the file
// and the two sit on different threads (the parent is
// args.timeline_parent_span_id where the converter hangs it from another span
// (a filter dropped the real one, or it is the server half of a shared ID), else
// args.parent_span_id), and one between a span and each
// span it links to (args.links[k]) that is in the file, itself excepted; one
// arrow per pair of spans, running from the earlier ts to the later (on a tie
// either way). Two spans with one trace and span ID, a client and a server
// (Zipkin's shared spans), are read as Jaeger's deduper reads them: the
// server half is the client half's child, and references to the ID (parents,
// links) mean the server half. Any other shared ID is reported, as the
// arrows to it cannot be judged.
//
// The importer's flows must be those arrows exactly: each missing, extra,
// duplicate, misbound or backward arrow is a problem, all listed in an
// [*Error], returned with the Result.
func Verify(ctx context.Context, data []byte, opts ...Option) (*Result, error) {
	var cfg config
	for _, o := range opts {
		o(&cfg)
	}
	if len(data) >= 2 && data[0] == 0x1f && data[1] == 0x8b {
		zr, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			return nil, fmt.Errorf("perfetto: gunzip: %w", err)
		}
		if data, err = io.ReadAll(zr); err != nil {
			return nil, fmt.Errorf("perfetto: gunzip: %w", err)
		}
	}
	in, err := scanInput(data)
	if err != nil {
		return nil, err
	}
	f, err := os.CreateTemp("", "otel2chrome-perfetto-*.json")
	if err != nil {
		return nil, fmt.Errorf("perfetto: %w", err)
	}
	defer os.Remove(f.Name())
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("perfetto: %w", err)
	}
	tables, err := query(ctx, f.Name(), statsSQL, slicesSQL, linksSQL, flowsSQL)
	if err != nil {
		return nil, err
	}
	a := &analysis{res: &Result{Events: in.events, Declared: in.declared}}
	a.res.AllowMissing = cfg.allowMissing
	if cfg.declared {
		a.res.AllowMissing += in.declared
	}
	if err := a.load(tables); err != nil {
		return nil, err
	}
	a.checkStats(tables[0])
	a.checkCount()
	a.checkFlows()
	if len(a.problems) > 0 {
		return a.res, &Error{Problems: a.problems}
	}
	return a.res, nil
}

// input is what Verify reads from the file itself.
type input struct {
	events   int // X, B, i and I events
	declared int // otherData.flows_omitted
}

func scanInput(data []byte) (input, error) {
	type event struct {
		Ph string `json:"ph"`
	}
	var doc struct {
		TraceEvents []event `json:"traceEvents"`
		OtherData   struct {
			FlowsOmitted json.RawMessage `json:"flows_omitted"`
		} `json:"otherData"`
	}
	var err error
	if t := bytes.TrimLeft(data, " \t\r\n"); len(t) > 0 && t[0] == '[' {
		err = json.Unmarshal(data, &doc.TraceEvents) // the JSON array format
	} else {
		err = json.Unmarshal(data, &doc)
	}
	if err != nil {
		return input{}, fmt.Errorf("perfetto: reading the input's events: %w", err)
	}
	var in input
	for _, e := range doc.TraceEvents {
		switch e.Ph {
		case "X", "B", "i", "I":
			in.events++
		}
	}
	if raw := doc.OtherData.FlowsOmitted; len(raw) > 0 {
		s := string(raw)
		if uq, err := strconv.Unquote(s); err == nil {
			s = uq
		}
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return input{}, fmt.Errorf("perfetto: otherData.flows_omitted is %s, not a count", raw)
		}
		in.declared = n
	}
	return in, nil
}

// The queries, answered in this order. Stats named here are severity info in
// trace processor but each is an arrow the importer threw away.
const (
	statsSQL = `select name, idx, value from stats
where value > 0 and (severity in ('error', 'data_loss')
  or name in ('flow_end_without_start', 'flow_step_without_start'))
order by name, idx`
	slicesSQL = `select s.id, s.ts, s.dur, s.name, s.track_id, t.utid,
  th.name, th.tid, p.name, p.pid, p.upid,
  extract_arg(s.arg_set_id, 'args.trace_id'),
  extract_arg(s.arg_set_id, 'args.span_id'),
  extract_arg(s.arg_set_id, 'args.parent_span_id'),
  extract_arg(s.arg_set_id, 'args.kind'),
  extract_arg(s.arg_set_id, 'args.timeline_parent_span_id')
from slice s
left join thread_track t on t.id = s.track_id
left join thread th on th.utid = t.utid
left join process p on p.upid = th.upid
order by s.id`
	// The importer flattens args.links[k].span_id to the flat key
	// args.links.span_id; the key keeps the index.
	linksSQL = `select s.id, a.key, a.display_value
from slice s join args a on a.arg_set_id = s.arg_set_id
where a.flat_key in ('args.links.trace_id', 'args.links.span_id')
order by s.id`
	flowsSQL = `select slice_out, slice_in from flow order by id`
)

type analysis struct {
	res      *Result
	slices   []*Slice
	byID     map[int64]*Slice
	flows    [][2]int64 // slice_out, slice_in
	problems []string
}

func (a *analysis) problem(format string, args ...any) {
	a.problems = append(a.problems, fmt.Sprintf(format, args...))
}

func str(c *string) string {
	if c == nil {
		return ""
	}
	return *c
}

func num(c *string) (int64, bool) {
	if c == nil {
		return 0, false
	}
	n, err := strconv.ParseInt(*c, 10, 64)
	return n, err == nil
}

func (a *analysis) load(tables []table) error {
	if got := len(tables[1].Columns); got != 16 {
		return fmt.Errorf("perfetto: the slice query answered %d columns, want 16", got)
	}
	a.byID = make(map[int64]*Slice, len(tables[1].Rows))
	tracks, procs := map[int64]bool{}, map[int64]bool{}
	for _, r := range tables[1].Rows {
		s := &Slice{Name: str(r[3]), TraceID: str(r[11]), SpanID: str(r[12]), ParentSpanID: str(r[13]), Kind: str(r[14]),
			TimelineParentSpanID: str(r[15])}
		var ok bool
		if s.ID, ok = num(r[0]); !ok {
			return fmt.Errorf("perfetto: slice row without an id")
		}
		s.Ts, _ = num(r[1])
		s.Dur, _ = num(r[2])
		track, _ := num(r[4])
		tracks[track] = true
		if utid, ok := num(r[5]); ok {
			s.track = utid
		} else {
			s.track = -1 - track
		}
		if s.Thread = str(r[6]); s.Thread == "" {
			s.Thread = "tid " + str(r[7])
		}
		if s.Process = str(r[8]); s.Process == "" {
			s.Process = "pid " + str(r[9])
		}
		if upid, ok := num(r[10]); ok {
			procs[upid] = true
		}
		a.slices = append(a.slices, s)
		a.byID[s.ID] = s
		switch {
		case s.isSpan():
			a.res.Spans++
		case s.Dur == 0 && s.TraceID == "":
			a.res.Instants++
		}
	}
	a.res.Slices, a.res.Tracks, a.res.Processes = len(a.slices), len(tracks), len(procs)

	// Links: keys args.links[k].trace_id and args.links[k].span_id.
	type linkKey struct {
		slice int64
		k     int
	}
	links := map[linkKey]*SpanRef{}
	var order []linkKey
	for _, r := range tables[2].Rows {
		id, _ := num(r[0])
		key := str(r[1])
		open, close := strings.IndexByte(key, '['), strings.IndexByte(key, ']')
		if open < 0 || close < open {
			continue
		}
		k, err := strconv.Atoi(key[open+1 : close])
		if err != nil {
			continue
		}
		lk := linkKey{id, k}
		ref := links[lk]
		if ref == nil {
			ref = &SpanRef{}
			links[lk] = ref
			order = append(order, lk)
		}
		if strings.HasSuffix(key, ".trace_id") {
			ref.TraceID = str(r[2])
		} else {
			ref.SpanID = str(r[2])
		}
	}
	slices.SortFunc(order, func(x, y linkKey) int {
		return cmp.Or(cmp.Compare(x.slice, y.slice), cmp.Compare(x.k, y.k))
	})
	for _, lk := range order {
		if s := a.byID[lk.slice]; s != nil {
			s.Links = append(s.Links, *links[lk])
		}
	}

	for _, r := range tables[3].Rows {
		out, ok1 := num(r[0])
		in, ok2 := num(r[1])
		if !ok1 || !ok2 {
			return fmt.Errorf("perfetto: flow row without both ends")
		}
		a.flows = append(a.flows, [2]int64{out, in})
	}
	a.res.Flows = len(a.flows)
	return nil
}
