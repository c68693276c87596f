package jaegerquery

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	v3OK    = `{"result":{"resourceSpans":[{"resource":{},"scopeSpans":[]}]}}`
	v1OK    = `{"data":[{"traceID":"4bf92f3577b34da6a3ce929d0e0e4736","spans":[],"processes":{}}],"total":0,"limit":0,"offset":0,"errors":null}`
	v1404   = `{"data":null,"total":0,"limit":0,"offset":0,"errors":[{"code":404,"msg":"trace not found"}]}`
	v3404   = `{"error":{"httpCode":404,"message":"No traces found"}}`
	v3500   = `{"error":{"httpCode":500,"message":"search depth must be greater than 0 and less than max traces"}}`
)

// reply is a canned answer of the fake query service.
type reply struct {
	status int
	body   string
}

// fakeJaeger answers by path and records the requests it got.
type fakeJaeger struct {
	t       *testing.T
	replies map[string]reply // by URL path
	mu      sync.Mutex
	got     []*url.URL
}

func (f *fakeJaeger) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.got = append(f.got, r.URL)
	f.mu.Unlock()
	rep, ok := f.replies[r.URL.Path]
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.WriteHeader(rep.status)
	w.Write([]byte(rep.body))
}

func (f *fakeJaeger) paths() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var p []string
	for _, u := range f.got {
		p = append(p, u.Path)
	}
	return p
}

func serve(t *testing.T, replies map[string]reply) (*fakeJaeger, string) {
	t.Helper()
	f := &fakeJaeger{t: t, replies: replies}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv.URL
}

func TestTrace(t *testing.T) {
	v3Path := "/api/v3/traces/" + traceID
	v1Path := "/api/traces/" + traceID
	for _, tc := range []struct {
		name      string
		replies   map[string]reply
		opts      []Option
		wantAPI   API
		wantErr   string // substring; "" for success
		notFound  bool
		wantPaths []string
	}{
		{
			name:      "api_v3",
			replies:   map[string]reply{v3Path: {200, v3OK}},
			wantAPI:   APIv3,
			wantPaths: []string{v3Path},
		},
		{
			name:      "api_v3 fails, /api/traces answers",
			replies:   map[string]reply{v3Path: {500, v3500}, v1Path: {200, v1OK}},
			wantAPI:   APIv1,
			wantPaths: []string{v3Path, v1Path},
		},
		{
			name:      "no api_v3 (plain 404), /api/traces answers",
			replies:   map[string]reply{v1Path: {200, v1OK}},
			wantAPI:   APIv1,
			wantPaths: []string{v3Path, v1Path},
		},
		{
			name:      "api_v3 path answered by a UI page",
			replies:   map[string]reply{v3Path: {200, "<!doctype html><title>Jaeger UI</title>"}, v1Path: {200, v1OK}},
			wantAPI:   APIv1,
			wantPaths: []string{v3Path, v1Path},
		},
		{
			name:      "api_v3 says unknown trace: no fallback",
			replies:   map[string]reply{v3Path: {404, v3404}, v1Path: {200, v1OK}},
			wantErr:   "trace " + traceID + ": not found in Jaeger at",
			notFound:  true,
			wantPaths: []string{v3Path},
		},
		{
			name:      "unknown trace on both APIs",
			replies:   map[string]reply{v1Path: {404, v1404}},
			wantErr:   "trace " + traceID + ": not found",
			notFound:  true,
			wantPaths: []string{v3Path, v1Path},
		},
		{
			name:     "/api/traces answers no data",
			replies:  map[string]reply{v1Path: {200, `{"data":[],"errors":null}`}},
			opts:     []Option{WithoutAPIv3()},
			wantErr:  "not found",
			notFound: true,
		},
		{
			name:    "non-JSON answer",
			replies: map[string]reply{v1Path: {200, "hello\x00world"}},
			opts:    []Option{WithoutAPIv3()},
			wantErr: `not a Jaeger answer (want JSON {"data":[…]}): "hello world"`,
		},
		{
			name:    "HTTP error with text body",
			replies: map[string]reply{v1Path: {502, "bad gateway: upstream down"}},
			opts:    []Option{WithoutAPIv3()},
			wantErr: "HTTP 502 Bad Gateway: bad gateway: upstream down",
		},
		{
			name:    "Jaeger error answer",
			replies: map[string]reply{v1Path: {500, `{"data":null,"errors":[{"code":500,"msg":"storage is down"}]}`}},
			opts:    []Option{WithoutAPIv3()},
			wantErr: "HTTP 500 Internal Server Error: storage is down",
		},
		{
			name:    "both APIs fail: both reported",
			replies: map[string]reply{v3Path: {500, v3500}, v1Path: {503, "overloaded"}},
			wantErr: "overloaded (and api_v3: GET",
		},
		{
			name:    "answer too large",
			replies: map[string]reply{v3Path: {200, v3OK}},
			opts:    []Option{WithMaxAnswerSize(10)},
			wantErr: "answer larger than the limit of 10 bytes: Content-Length says 62 (refused before reading)",
		},
		{
			name:      "adjusted traces",
			replies:   map[string]reply{v3Path: {200, v3OK}},
			opts:      []Option{WithAdjusters(true)},
			wantAPI:   APIv3,
			wantPaths: []string{v3Path},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, base := serve(t, tc.replies)
			c, err := New(base+"/", tc.opts...)
			if err != nil {
				t.Fatal(err)
			}
			a, err := c.Trace(context.Background(), strings.ToUpper(traceID))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tc.wantErr)
				}
				if errors.Is(err, ErrNotFound) != tc.notFound {
					t.Errorf("errors.Is(err, ErrNotFound) = %v, want %v", !tc.notFound, tc.notFound)
				}
			} else if err != nil {
				t.Fatal(err)
			} else {
				body, err := io.ReadAll(a.Body)
				a.Body.Close()
				if err != nil || a.API != tc.wantAPI || string(body) != tc.replies[strings.TrimPrefix(strings.Split(a.URL, "?")[0], base)].body || !strings.HasPrefix(a.URL, base+"/api/") {
					t.Errorf("answer = %s %s (%q, %v), want API %s", a.API, a.URL, body, err, tc.wantAPI)
				}
				if a.From != a.URL || a.Source() != a.URL {
					t.Errorf("answer from %s, source %s; want %s", a.From, a.Source(), a.URL)
				}
				raw := strings.Contains(a.URL, "raw")
				if raw == c.adjust {
					t.Errorf("URL %s: raw traces requested = %v with adjusters = %v", a.URL, raw, c.adjust)
				}
			}
			if tc.wantPaths != nil && strings.Join(f.paths(), " ") != strings.Join(tc.wantPaths, " ") {
				t.Errorf("requests = %v, want %v", f.paths(), tc.wantPaths)
			}
		})
	}
}

func TestTraceIDs(t *testing.T) {
	f, base := serve(t, map[string]reply{"/api/v3/traces/000000000000000000000000000000ab": {200, v3OK}})
	c, _ := New(base)
	if _, err := c.Trace(context.Background(), "AB"); err != nil {
		t.Errorf("short ID: %v (requests %v)", err, f.paths())
	}
	for _, id := range []string{"", "xyz", strings.Repeat("a", 33)} {
		if _, err := c.Trace(context.Background(), id); err == nil || !strings.Contains(err.Error(), "trace ID") {
			t.Errorf("ID %q: err = %v", id, err)
		}
	}
}

func TestSearch(t *testing.T) {
	end := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	start := end.Add(-30 * time.Minute)
	for _, tc := range []struct {
		name     string
		replies  map[string]reply
		query    Query
		wantAPI  API
		wantErr  string
		notFound bool
		check    func(t *testing.T, q url.Values)
	}{
		{
			name:    "api_v3",
			replies: map[string]reply{"/api/v3/traces": {200, v3OK}},
			query:   Query{Service: "frontend", Operation: "GET /checkout", Start: start, End: end, Limit: 5},
			wantAPI: APIv3,
			check: func(t *testing.T, q url.Values) {
				want := url.Values{
					"query.service_name":   {"frontend"},
					"query.operation_name": {"GET /checkout"},
					"query.start_time_min": {"2026-11-23T08:30:00Z"},
					"query.start_time_max": {"2026-11-23T09:00:00Z"},
					"query.num_traces":     {"5"},
					"query.raw_traces":     {"true"},
				}
				if q.Encode() != want.Encode() {
					t.Errorf("query = %s, want %s", q.Encode(), want.Encode())
				}
			},
		},
		{
			name:    "api_v3 search broken (memory store), /api/traces answers",
			replies: map[string]reply{"/api/v3/traces": {500, v3500}, "/api/traces": {200, v1OK}},
			query:   Query{Service: "frontend", Start: start, End: end},
			wantAPI: APIv1,
			check: func(t *testing.T, q url.Values) {
				want := url.Values{
					"service": {"frontend"},
					"start":   {"1795422600000000"},
					"end":     {"1795424400000000"},
					"limit":   {"20"},
					"raw":     {"true"},
				}
				if q.Encode() != want.Encode() {
					t.Errorf("query = %s, want %s", q.Encode(), want.Encode())
				}
			},
		},
		{
			name:     "api_v3 finds nothing",
			replies:  map[string]reply{"/api/v3/traces": {404, v3404}, "/api/traces": {200, v1OK}},
			query:    Query{Service: "frontend", Operation: "GET /x", Start: start, End: end},
			wantErr:  `search: no traces of service "frontend", operation "GET /x" between 2026-11-23T08:30:00Z and 2026-11-23T09:00:00Z: not found in Jaeger at`,
			notFound: true,
		},
		{
			name:     "/api/traces finds nothing",
			replies:  map[string]reply{"/api/traces": {200, `{"data":[],"total":0,"errors":null}`}},
			query:    Query{Service: "frontend", Start: start, End: end},
			wantErr:  `no traces of service "frontend"`,
			notFound: true,
		},
		{
			name:    "no service",
			query:   Query{Start: start, End: end},
			wantErr: "a service name is required",
		},
		{
			name:    "end before start",
			query:   Query{Service: "a", Start: end, End: start},
			wantErr: "is not after start",
		},
		{
			name:    "negative limit",
			query:   Query{Service: "a", Limit: -1},
			wantErr: "limit -1",
		},
		{
			name:    "default window is the last hour",
			replies: map[string]reply{"/api/v3/traces": {200, v3OK}},
			query:   Query{Service: "a"},
			wantAPI: APIv3,
			check: func(t *testing.T, q url.Values) {
				if q.Get("query.start_time_min") != "2026-11-23T08:00:00Z" || q.Get("query.start_time_max") != "2026-11-23T09:00:00Z" {
					t.Errorf("window = %s .. %s", q.Get("query.start_time_min"), q.Get("query.start_time_max"))
				}
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, base := serve(t, tc.replies)
			c, err := New(base)
			if err != nil {
				t.Fatal(err)
			}
			c.now = func() time.Time { return end }
			a, err := c.Search(context.Background(), tc.query)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tc.wantErr)
				}
				if errors.Is(err, ErrNotFound) != tc.notFound {
					t.Errorf("errors.Is(err, ErrNotFound) = %v, want %v", !tc.notFound, tc.notFound)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if a.API != tc.wantAPI {
				t.Errorf("API = %s, want %s", a.API, tc.wantAPI)
			}
			if tc.check != nil {
				f.mu.Lock()
				last := f.got[len(f.got)-1]
				f.mu.Unlock()
				tc.check(t, last.Query())
			}
		})
	}
}

func TestServices(t *testing.T) {
	_, base := serve(t, map[string]reply{"/api/services": {200, `{"data":["frontend","pricing"],"total":2,"errors":null}`}})
	c, _ := New(base)
	got, err := c.Services(context.Background())
	if err != nil || strings.Join(got, ",") != "frontend,pricing" {
		t.Errorf("Services = %v, %v", got, err)
	}
}

func TestUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	ln.Close()
	c, _ := New(base)
	_, err = c.Trace(context.Background(), traceID)
	if err == nil || !strings.Contains(err.Error(), "Jaeger query service at "+base+" unreachable") {
		t.Errorf("err = %v, want it to name %s as unreachable", err, base)
	}
}

func TestTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer srv.Close()
	defer close(release)
	c, _ := New(srv.URL, WithTimeout(50*time.Millisecond))
	startT := time.Now()
	_, err := c.Trace(context.Background(), traceID)
	if err == nil || !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "no complete answer within 50ms") {
		t.Errorf("err = %v, want a timeout naming the limit", err)
	}
	if d := time.Since(startT); d > 5*time.Second {
		t.Errorf("took %v", d)
	}
	// A cancelled caller is reported as such, not as a timeout.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.Trace(ctx, traceID); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: err = %v", err)
	}
}

func TestNew(t *testing.T) {
	for _, tc := range []struct {
		in, want, err string
	}{
		{in: "http://127.0.0.1:16686", want: "http://127.0.0.1:16686"},
		{in: "https://tracing.example.com/jaeger/", want: "https://tracing.example.com/jaeger"},
		{in: "127.0.0.1:16686", err: "want http://host:port"},
		{in: "ftp://x", err: "want http://host:port"},
		{in: "http://x/?a=b", err: "want no query"},
		{in: "http://[::1", err: "Jaeger URL"},
	} {
		c, err := New(tc.in)
		switch {
		case tc.err != "":
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("New(%q): err = %v, want %q", tc.in, err, tc.err)
			}
		case err != nil:
			t.Errorf("New(%q): %v", tc.in, err)
		case c.URL() != tc.want:
			t.Errorf("New(%q).URL() = %q, want %q", tc.in, c.URL(), tc.want)
		}
	}
}
