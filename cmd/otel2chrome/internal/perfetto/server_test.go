package perfetto

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

const traceJSON = `{"traceEvents":[{"ph":"X","name":"a","pid":1,"tid":1,"ts":0,"dur":1}]}`

func writeTrace(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestHandler(t *testing.T) {
	h, err := NewHandler(writeTrace(t, "out.json", []byte(traceJSON)))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		method  string
		path    string
		host    string // default 127.0.0.1:9001
		headers map[string]string
		status  int
		want    map[string]string // response headers; "" means absent
		body    string            // substring
	}{
		{
			name: "page", method: "GET", path: "/", status: 200,
			want: map[string]string{"Content-Type": "text/html; charset=utf-8", "Access-Control-Allow-Origin": ""},
			body: `<button id="open">Open in Perfetto UI</button>`,
		},
		{
			name: "page on 9001 offers the deep link", method: "GET", path: "/", status: 200,
			body: `href="https://ui.perfetto.dev/#!/?url=http://127.0.0.1:9001/trace.json"`,
		},
		{
			name: "trace, same origin", method: "GET", path: "/trace.json", status: 200,
			want: map[string]string{"Content-Type": "application/json", "Access-Control-Allow-Origin": "", "Content-Disposition": `inline; filename=out.json`},
			body: traceJSON,
		},
		{
			name: "trace, Perfetto UI", method: "GET", path: "/trace.json", status: 200,
			headers: map[string]string{"Origin": "https://ui.perfetto.dev"},
			want:    map[string]string{"Access-Control-Allow-Origin": "https://ui.perfetto.dev", "Vary": "Origin"},
			body:    traceJSON,
		},
		{
			name: "trace, our own page", method: "GET", path: "/trace.json", status: 200,
			headers: map[string]string{"Origin": "http://127.0.0.1:9001"},
			want:    map[string]string{"Access-Control-Allow-Origin": ""},
		},
		{
			name: "trace, another origin", method: "GET", path: "/trace.json", status: 403,
			headers: map[string]string{"Origin": "https://evil.example"},
			want:    map[string]string{"Access-Control-Allow-Origin": ""},
		},
		{
			name: "trace, look-alike origin", method: "GET", path: "/trace.json", status: 403,
			headers: map[string]string{"Origin": "https://ui.perfetto.dev.evil.example"},
		},
		{
			name: "preflight from Perfetto UI with private network access", method: "OPTIONS", path: "/trace.json", status: 204,
			headers: map[string]string{
				"Origin":                                 "https://ui.perfetto.dev",
				"Access-Control-Request-Method":          "GET",
				"Access-Control-Request-Private-Network": "true",
			},
			want: map[string]string{
				"Access-Control-Allow-Origin":          "https://ui.perfetto.dev",
				"Access-Control-Allow-Methods":         "GET, HEAD",
				"Access-Control-Allow-Private-Network": "true",
			},
		},
		{
			name: "preflight from another origin", method: "OPTIONS", path: "/trace.json", status: 403,
			headers: map[string]string{"Origin": "https://evil.example", "Access-Control-Request-Private-Network": "true"},
			want:    map[string]string{"Access-Control-Allow-Private-Network": "", "Access-Control-Allow-Origin": ""},
		},
		{
			name: "range request", method: "GET", path: "/trace.json", status: 206,
			headers: map[string]string{"Range": "bytes=0-13"},
			body:    `{"traceEvents"`,
		},
		{name: "HEAD trace", method: "HEAD", path: "/trace.json", status: 200},
		{name: "POST trace", method: "POST", path: "/trace.json", status: 405, want: map[string]string{"Allow": "GET, HEAD, OPTIONS"}},
		{name: "PUT page", method: "PUT", path: "/", status: 405},
		{name: "other path", method: "GET", path: "/etc/passwd", status: 404},
		{name: "the file by its own name", method: "GET", path: "/out.json", status: 404},
		{name: "traversal", method: "GET", path: "/../out.json", status: 404},
		{name: "index.html", method: "GET", path: "/index.html", status: 404},
		{name: "localhost host", method: "GET", path: "/trace.json", host: "localhost:9001", status: 200},
		{name: "rebound DNS name", method: "GET", path: "/trace.json", host: "attacker.example:9001", status: 421},
		{name: "rebound DNS name, page", method: "GET", path: "/", host: "attacker.example", status: 421},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(tc.method, "http://127.0.0.1:9001"+tc.path, nil)
			r.Host = "127.0.0.1:9001"
			if tc.host != "" {
				r.Host = tc.host
			}
			for k, v := range tc.headers {
				r.Header.Set(k, v)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tc.status {
				t.Fatalf("status %d, want %d (body %q)", w.Code, tc.status, w.Body.String())
			}
			for k, v := range tc.want {
				if got := w.Header().Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
			if !strings.Contains(w.Body.String(), tc.body) {
				t.Errorf("body does not contain %q:\n%s", tc.body, w.Body.String())
			}
		})
	}
}

// TestPage checks the hand-off page: the CSP lets its script run (hash of
// the exact inline text), the script speaks Perfetto's PING/PONG protocol
// to the UI origin, and the title is escaped.
func TestPage(t *testing.T) {
	h, err := NewHandler(writeTrace(t, `a<b>"c".json`, []byte(traceJSON)))
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest("GET", "/", nil)
	r.Host = "127.0.0.1:12345"
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	page := w.Body.String()
	csp := w.Header().Get("Content-Security-Policy")
	scripts := regexp.MustCompile(`(?s)<script>(.*?)</script>`).FindAllStringSubmatch(page, -1)
	if len(scripts) != 1 {
		t.Fatalf("%d executable inline scripts, want 1", len(scripts))
	}
	if !strings.Contains(csp, "script-src "+hash(scripts[0][1])+";") {
		t.Errorf("CSP %q does not allow the page's script", csp)
	}
	styles := regexp.MustCompile(`(?s)<style>(.*?)</style>`).FindAllStringSubmatch(page, -1)
	if len(styles) != 1 || !strings.Contains(csp, "style-src "+hash(styles[0][1])+";") {
		t.Errorf("CSP %q does not allow the page's style", csp)
	}
	for _, want := range []string{"default-src 'none'", "connect-src 'self'", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	for _, want := range []string{"window.open(cfg.ui)", "postMessage('PING', cfg.ui)", "evt.data !== 'PONG'", "evt.origin !== cfg.ui", "{perfetto: {buffer: buf, title: cfg.title"} {
		if !strings.Contains(page, want) {
			t.Errorf("page script lacks %q", want)
		}
	}
	if !strings.Contains(page, `"ui":"https://ui.perfetto.dev","trace":"/trace.json"`) {
		t.Errorf("page config missing:\n%s", page)
	}
	if strings.Contains(page, `a<b>`) || !strings.Contains(page, `a&lt;b&gt;`) {
		t.Errorf("title not escaped:\n%s", page)
	}
	if strings.Contains(page, "#!/?url=") {
		t.Errorf("deep link offered on a port other than 9001")
	}
}

func TestGzipTrace(t *testing.T) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write([]byte(traceJSON))
	zw.Close()
	h, err := NewHandler(writeTrace(t, "out.json.gz", buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest("GET", "/trace.json", nil)
	r.Host = "127.0.0.1"
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Header().Get("Content-Type") != "application/gzip" || w.Header().Get("Content-Encoding") != "" || !bytes.Equal(w.Body.Bytes(), buf.Bytes()) {
		t.Errorf("gzip file not served unchanged as application/gzip: %v", w.Header())
	}
}

func TestNewHandlerErrors(t *testing.T) {
	if _, err := NewHandler(filepath.Join(t.TempDir(), "missing.json")); err == nil || !strings.Contains(err.Error(), "missing.json") {
		t.Errorf("missing file: err = %v", err)
	}
	if _, err := NewHandler(t.TempDir()); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("directory: err = %v", err)
	}
	if _, err := Listen(70000, writeTrace(t, "t.json", nil)); err == nil {
		t.Error("port 70000 accepted")
	}
}

// TestServe runs a real server: it binds 127.0.0.1 only, serves over TCP,
// and stops when its context ends.
func TestServe(t *testing.T) {
	srv, err := Listen(0, writeTrace(t, "out.json", []byte(traceJSON)))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	host, port, _ := net.SplitHostPort(srv.Addr())
	if host != "127.0.0.1" || port == "0" {
		t.Fatalf("listening on %s, want 127.0.0.1:<free port>", srv.Addr())
	}
	if srv.PageURL() != "http://"+srv.Addr()+"/" || srv.TraceURL() != "http://"+srv.Addr()+"/trace.json" ||
		srv.DeepLink() != "https://ui.perfetto.dev/#!/?url=http://"+srv.Addr()+"/trace.json" {
		t.Errorf("links: %s %s %s", srv.PageURL(), srv.TraceURL(), srv.DeepLink())
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()

	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get(srv.TraceURL())
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != traceJSON {
		t.Errorf("GET %s: %d %q", srv.TraceURL(), resp.StatusCode, body)
	}
	// Not reachable on other local addresses than 127.0.0.1.
	if addrs, _ := net.InterfaceAddrs(); len(addrs) > 0 {
		for _, a := range addrs {
			ipn, ok := a.(*net.IPNet)
			if !ok || ipn.IP.Equal(net.IPv4(127, 0, 0, 1)) || ipn.IP.To4() == nil {
				continue
			}
			c, err := net.DialTimeout("tcp", net.JoinHostPort(ipn.IP.String(), port), time.Second)
			if err == nil {
				c.Close()
				t.Errorf("server reachable on %s:%s", ipn.IP, port)
			}
		}
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve after cancel: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after its context ended")
	}
	if _, err := client.Get(srv.TraceURL()); err == nil {
		t.Error("server still answers after shutdown")
	}
}

func TestListenPortInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	if _, err := Listen(port, writeTrace(t, "t.json", nil)); err == nil || !strings.Contains(err.Error(), "t.json") {
		t.Errorf("port in use: err = %v", err)
	}
}
