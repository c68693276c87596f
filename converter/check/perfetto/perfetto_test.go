package perfetto_test

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/otel2chrome/otel2chrome/converter/check/perfetto"
)

// The tests below are tiny hand-written Chrome files in otel2chrome's shape:
// one request through two services,
//
//	frontend (pid 1, tid 1): "GET /a" [0,100) > "call" [10,70), client
//	backend  (pid 2, tid 1): "serve" [20,60), server, child of "call"
//	                         > "query" [25,35); instant "cache.miss" at 22
//
// so the spans call for exactly one arrow: "call" -> "serve" (the only
// parent and child on different threads).

const trace = "0af7651916cd43dd8448eb211c80319c"

// span writes one X event for a span, with extra JSON members appended.
func span(name string, pid, tid int, ts, dur float64, id, parent, kind, extra string) string {
	return spanLinks(name, pid, tid, ts, dur, id, parent, kind, nil, extra)
}

// spanLinks is span with args.links, each a span ID in the same trace.
func spanLinks(name string, pid, tid int, ts, dur float64, id, parent, kind string, links []string, extra string) string {
	p := ""
	if parent != "" {
		p = fmt.Sprintf(`,"parent_span_id":%q`, parent)
	}
	if len(links) > 0 {
		var l []string
		for _, to := range links {
			l = append(l, fmt.Sprintf(`{"trace_id":%q,"span_id":%q}`, trace, to))
		}
		p += `,"links":[` + strings.Join(l, ",") + "]"
	}
	return fmt.Sprintf(`{"ph":"X","name":%q,"cat":"test","pid":%d,"tid":%d,"ts":%.3f,"dur":%.3f,`+
		`"args":{"trace_id":%q,"span_id":%q,"kind":%q,"status":"unset"%s}%s}`,
		name, pid, tid, ts, dur, trace, id, kind, p, extra)
}

func file(otherData string, events ...string) []byte {
	head := `{"ph":"M","name":"process_name","pid":1,"tid":0,"args":{"name":"frontend"}},
{"ph":"M","name":"process_name","pid":2,"tid":0,"args":{"name":"backend"}},
{"ph":"M","name":"process_name","pid":3,"tid":0,"args":{"name":"worker"}},
{"ph":"M","name":"thread_name","pid":1,"tid":1,"args":{"name":"lane 1"}},
{"ph":"M","name":"thread_name","pid":2,"tid":1,"args":{"name":"lane 1"}},
{"ph":"M","name":"thread_name","pid":3,"tid":1,"args":{"name":"lane 1"}}`
	if otherData == "" {
		otherData = `{"generator":"test"}`
	}
	return []byte(`{"displayTimeUnit":"ns","otherData":` + otherData + `,"traceEvents":[` + "\n" +
		head + ",\n" + strings.Join(events, ",\n") + "\n]}\n")
}

// request is the two-service request; callExtra and serveExtra are appended
// to the "call" and "serve" events (flow ends), more are further events.
func request(callExtra, serveExtra string, more ...string) []string {
	return append([]string{
		span("GET /a", 1, 1, 0, 100, "0000000000000001", "", "server", ""),
		span("call", 1, 1, 10, 60, "0000000000000002", "0000000000000001", "client", callExtra),
		span("serve", 2, 1, 20, 40, "0000000000000003", "0000000000000002", "server", serveExtra),
		span("query", 2, 1, 25, 10, "0000000000000004", "0000000000000003", "internal", ""),
		`{"ph":"i","s":"t","name":"cache.miss","cat":"test","pid":2,"tid":1,"ts":22.000,"args":{"span_id":"0000000000000003"}}`,
	}, more...)
}

// dropped is the request with "call" filtered out (converter.WithMinDuration):
// "serve" hangs from "GET /a", named in args.timeline_parent_span_id.
func dropped(getExtra, serveExtra string) []string {
	return []string{
		span("GET /a", 1, 1, 0, 100, "0000000000000001", "", "server", getExtra),
		strings.Replace(span("serve", 2, 1, 20, 40, "0000000000000003", "0000000000000002", "server", serveExtra),
			`"kind"`, `"timeline_parent_span_id":"0000000000000001","kind"`, 1),
	}
}

const (
	v2Out = `,"bind_id":"0x10","flow_out":true`
	v2In  = `,"bind_id":"0x10","flow_in":true`
)

// v1 writes a flow start (s) and a finish (f, binding to the enclosing slice).
func v1(id int, pidS int, tsS float64, pidF int, tsF float64) []string {
	return []string{
		fmt.Sprintf(`{"ph":"s","name":"flow","cat":"flow","id":%d,"pid":%d,"tid":1,"ts":%.3f}`, id, pidS, tsS),
		fmt.Sprintf(`{"ph":"f","bp":"e","name":"flow","cat":"flow","id":%d,"pid":%d,"tid":1,"ts":%.3f}`, id, pidF, tsF),
	}
}

func TestVerifyPasses(t *testing.T) {
	perfetto.Require(t)
	for _, tc := range []struct {
		name string
		data []byte
		opts []perfetto.Option
		want perfetto.Result // the counts compared
	}{{
		name: "v2 bind_id flow_out/flow_in",
		data: file("", request(v2Out, v2In)...),
		want: perfetto.Result{Events: 5, Slices: 5, Spans: 4, Instants: 1, Flows: 1, Intended: 1, Tracks: 2, Processes: 2},
	}, {
		name: "v1 s/f binding call and serve, and a link",
		data: file("", append(request("", "",
			// "consume" links to "serve": a second arrow, serve -> consume.
			spanLinks("consume", 3, 1, 80, 10, "0000000000000005", "", "consumer", []string{"0000000000000003"}, "")),
			append(v1(1, 1, 11, 2, 21), v1(2, 2, 21, 3, 85)...)...)...),
		want: perfetto.Result{Events: 6, Slices: 6, Spans: 5, Instants: 1, Flows: 2, Intended: 2, Tracks: 3, Processes: 3},
	}, {
		name: "v1 s in the later slice, f in the earlier: the importer turns the arrow round",
		data: file("", request("", "", v1(1, 2, 21, 1, 30)...)...),
		want: perfetto.Result{Events: 5, Slices: 5, Spans: 4, Instants: 1, Flows: 1, Intended: 1, Tracks: 2, Processes: 2},
	}, {
		name: "Zipkin shared span: client and server halves with one ID",
		data: file("",
			span("GET /a", 1, 1, 0, 100, "0000000000000001", "", "server", ""),
			span("call", 1, 1, 10, 60, "0000000000000002", "0000000000000001", "client", v2Out),
			span("serve", 2, 1, 20, 40, "0000000000000002", "0000000000000001", "server", v2In),
			span("query", 2, 1, 25, 10, "0000000000000004", "0000000000000002", "internal", "")),
		want: perfetto.Result{Events: 4, Slices: 4, Spans: 4, Flows: 1, Intended: 1, Tracks: 2, Processes: 2},
	}, {
		name: "parent filtered out: the arrow comes from the kept ancestor",
		data: file("", dropped(v2Out, v2In)...),
		want: perfetto.Result{Events: 2, Slices: 2, Spans: 2, Flows: 1, Intended: 1, Tracks: 2, Processes: 2},
	}, {
		name: "missing arrow within AllowMissing",
		data: file("", request("", "")...),
		opts: []perfetto.Option{perfetto.AllowMissing(1)},
		want: perfetto.Result{Events: 5, Slices: 5, Spans: 4, Instants: 1, Intended: 1, Tracks: 2, Processes: 2, AllowMissing: 1},
	}, {
		name: "missing arrow the file declares in otherData.flows_omitted",
		data: file(`{"flows_omitted":"1"}`, request("", "")...),
		opts: []perfetto.Option{perfetto.AllowDeclaredOmissions()},
		want: perfetto.Result{Events: 5, Slices: 5, Spans: 4, Instants: 1, Intended: 1, Tracks: 2, Processes: 2, Declared: 1, AllowMissing: 1},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := perfetto.Verify(t.Context(), tc.data, tc.opts...)
			if err != nil {
				t.Fatal(err)
			}
			got := *r
			got.Missing, got.Stats = nil, nil
			if got.Events != tc.want.Events || got.Slices != tc.want.Slices || got.Spans != tc.want.Spans ||
				got.Instants != tc.want.Instants || got.Flows != tc.want.Flows || got.Intended != tc.want.Intended ||
				got.Tracks != tc.want.Tracks || got.Processes != tc.want.Processes ||
				got.Declared != tc.want.Declared || got.AllowMissing != tc.want.AllowMissing {
				t.Errorf("result\n got %+v\nwant %+v", got, tc.want)
			}
			if wantMissing := tc.want.Intended - tc.want.Flows; len(r.Missing) != wantMissing {
				t.Errorf("%d missing arrows accepted, want %d: %v", len(r.Missing), wantMissing, r.Missing)
			}
		})
	}
}

func TestVerifyFails(t *testing.T) {
	perfetto.Require(t)
	for _, tc := range []struct {
		name string
		data []byte
		opts []perfetto.Option
		want []string // each must appear in the error
	}{{
		// The f at 25 binds to "query", the slice begun last on serve's
		// thread, not to "serve".
		name: "v1 arrow bound to the child",
		data: file("", request("", "", v1(1, 1, 11, 2, 25)...)...),
		want: []string{
			`misbound or extra arrow "call" (span 0000000000000002, ts 10.000µs, frontend/lane 1) -> "query" (span 0000000000000004, ts 25.000µs, backend/lane 1)`,
			`missing arrow "call" (span 0000000000000002, ts 10.000µs, frontend/lane 1) -> "serve" (span 0000000000000003, ts 20.000µs, backend/lane 1) (parent -> child on another thread)`,
		},
	}, {
		name: "misbound arrow not excused by AllowMissing",
		data: file("", request("", "", v1(1, 1, 11, 2, 25)...)...),
		opts: []perfetto.Option{perfetto.AllowMissing(5)},
		want: []string{`misbound or extra arrow "call"`},
	}, {
		name: "arrow bound to an instant",
		data: file("", request("", "", v1(1, 1, 11, 2, 22)...)...),
		want: []string{`bound to "cache.miss", which is not a span`, `missing arrow "call"`},
	}, {
		name: "missing arrow",
		data: file("", request("", "")...),
		want: []string{`missing arrow "call" (span 0000000000000002, ts 10.000µs, frontend/lane 1) -> "serve"`},
	}, {
		name: "missing arrow from the kept ancestor",
		data: file("", dropped("", "")...),
		want: []string{`missing arrow "GET /a" (span 0000000000000001, ts 0.000µs, frontend/lane 1) -> "serve"`},
	}, {
		name: "missing arrows beyond otherData.flows_omitted",
		data: file(`{"flows_omitted":0}`, request("", "")...),
		opts: []perfetto.Option{perfetto.AllowDeclaredOmissions()},
		want: []string{`missing arrow "call"`},
	}, {
		name: "missing arrow not declared: the declaration is opt-in",
		data: file(`{"flows_omitted":1}`, request("", "")...),
		want: []string{`missing arrow "call"`},
	}, {
		// flow_in on the earlier slice, flow_out on the later: the importer
		// meets the end first and drops the arrow.
		name: "backward v2 arrow",
		data: file("", request(v2In, v2Out)...),
		want: []string{"importer stat flow_end_without_start=1", `missing arrow "call"`},
	}, {
		name: "an arrow too many",
		data: file("", request(v2Out, v2In, v1(2, 1, 1, 2, 40)...)...),
		want: []string{`misbound or extra arrow "GET /a"`},
	}, {
		// "overlap" [30,70) partly overlaps "serve" [20,60) on its thread.
		name: "dropped event",
		data: file("", request(v2Out, v2In,
			`{"ph":"X","name":"overlap","pid":2,"tid":1,"ts":30,"dur":40}`)...),
		want: []string{
			"importer stat slice_drop_overlapping_complete_event=1",
			"the importer holds 5 slices for the file's 6 X, B, i and I events (-1)",
		},
	}, {
		name: "two server spans with one ID",
		data: file("",
			span("a", 1, 1, 0, 10, "0000000000000001", "", "server", ""),
			span("b", 2, 1, 0, 10, "0000000000000001", "", "server", "")),
		want: []string{"span 0000000000000001 of trace " + trace + " is held by 2 slices"},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := perfetto.Verify(t.Context(), tc.data, tc.opts...)
			var perr *perfetto.Error
			if !errors.As(err, &perr) {
				t.Fatalf("err = %v, want a *perfetto.Error", err)
			}
			if r == nil {
				t.Fatal("no Result with the error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
}

func TestVerifyFileGzip(t *testing.T) {
	perfetto.Require(t)
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(file("", request(v2Out, v2In)...))
	zw.Close()
	path := filepath.Join(t.TempDir(), "trace.json.gz")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := perfetto.VerifyFile(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	if r.Slices != 5 || r.Flows != 1 {
		t.Errorf("%d slices, %d flows; want 5 and 1", r.Slices, r.Flows)
	}
}

func TestVerifyRejectsInput(t *testing.T) {
	perfetto.Require(t)
	for name, data := range map[string]string{
		"not JSON":      "hello",
		"truncated":     `{"traceEvents":[{"ph":"X","pid":1,"tid":1,"ts":0,"dur":1,"name":"a"},{"ph":`,
		"bad omissions": `{"otherData":{"flows_omitted":"some"},"traceEvents":[]}`,
	} {
		if _, err := perfetto.Verify(t.Context(), []byte(data)); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if _, err := perfetto.VerifyFile(t.Context(), filepath.Join(t.TempDir(), "absent.json")); err == nil {
		t.Error("absent file: no error")
	}
}

// fakeTB records what Require and Check tell a test.
type fakeTB struct {
	testing.TB
	logs, errors, fatals, skips int
}

func (f *fakeTB) Helper()           {}
func (f *fakeTB) Log(args ...any)   { f.logs++ }
func (f *fakeTB) Error(args ...any) { f.errors++ }
func (f *fakeTB) Fatal(args ...any) { f.fatals++ }
func (f *fakeTB) Skip(args ...any)  { f.skips++ }

// TestWithoutTool: no tpq means a skip, or a failure when CI requires the
// tools; Check warns once per test and lets the test go on.
func TestWithoutTool(t *testing.T) {
	t.Setenv("OTEL2CHROME_TOOLS_DIR", t.TempDir())
	t.Setenv("OTEL2CHROME_REQUIRE_TOOLS", "")
	if _, ok := perfetto.Available(); ok {
		t.Fatal("Available in an empty tools directory")
	}
	f := &fakeTB{TB: t}
	perfetto.Require(f)
	if r := perfetto.Check(f, []byte("{}")); r != nil {
		t.Error("Check returned a Result without the tool")
	}
	perfetto.Check(f, []byte("{}"))
	if f.skips != 1 || f.logs != 1 || f.errors+f.fatals != 0 {
		t.Errorf("without the tool: %+v; want one skip, one warning", *f)
	}
	t.Setenv("OTEL2CHROME_REQUIRE_TOOLS", "1")
	f = &fakeTB{TB: t}
	perfetto.Require(f)
	perfetto.Check(f, []byte("{}"))
	if f.fatals != 2 || f.skips != 0 {
		t.Errorf("tools required: %+v; want two fatal errors", *f)
	}
	if _, err := perfetto.Verify(t.Context(), []byte(`{"traceEvents":[]}`)); !errors.Is(err, perfetto.ErrNoTool) {
		t.Errorf("Verify without the tool: %v, want ErrNoTool", err)
	}
}
