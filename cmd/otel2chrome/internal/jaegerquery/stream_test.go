package jaegerquery

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"testing/iotest"
	"time"
)

// gzipBomb returns gzip members of doc followed by spaces: n bytes or more
// of gzip that inflate to about 1000 times as much.
func gzipBomb(t testing.TB, doc string, n int) []byte {
	t.Helper()
	var head, member bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&head, gzip.BestCompression)
	zw.Write([]byte(doc))
	zw.Close()
	zw, _ = gzip.NewWriterLevel(&member, gzip.BestCompression)
	zw.Write(bytes.Repeat([]byte(" "), 8<<20))
	zw.Close()
	// Concatenated members are one stream to a gzip reader.
	out := head.Bytes()
	for len(out) < n {
		out = append(out, member.Bytes()...)
	}
	return out
}

func TestAnswerLimits(t *testing.T) {
	const limit = 1 << 20
	bomb := gzipBomb(t, `{"result":{"resourceSpans":[`, 1<<20) // inflates to about 1 GiB
	var gzipped bytes.Buffer
	zw := gzip.NewWriter(&gzipped)
	zw.Write([]byte(v1OK))
	zw.Close()
	big := `{"result":{"resourceSpans":[` + strings.Repeat(`{"resource":{},"scopeSpans":[]},`, 3000) + `{}]}}`

	var acceptEncoding atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		acceptEncoding.Store(r.Header.Get("Accept-Encoding"))
		switch strings.Split(r.URL.Path, "/api/")[0] {
		case "/gzip":
			w.Header().Set("Content-Encoding", "gzip")
			w.Write(gzipped.Bytes())
		case "/big":
			io.WriteString(w, big)
		case "/bomb":
			w.Header().Set("Content-Encoding", "gzip")
			w.Write(bomb)
		case "/endless": // chunked, no Content-Length; ends when the client leaves
			io.WriteString(w, `{"result":{"resourceSpans":[`)
			chunk := bytes.Repeat([]byte(" "), 64<<10)
			for i := 0; i < 1<<14; i++ { // at most 1 GiB
				if _, err := w.Write(chunk); err != nil {
					return
				}
			}
		case "/liar":
			w.Header().Set("Content-Length", strconv.Itoa(2<<30))
			io.WriteString(w, `{"result":`)
			w.(http.Flusher).Flush()
			select {
			case <-r.Context().Done():
			case <-time.After(10 * time.Second):
			}
		case "/brotli":
			w.Header().Set("Content-Encoding", "br")
			io.WriteString(w, v3OK)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()

	for _, tc := range []struct {
		path    string
		want    string // the whole body, or the error
		tooBig  bool
		readErr bool // the error comes from reading the body, not from Trace
	}{
		{path: "/gzip", want: v1OK},
		{path: "/big", want: big},
		{path: "/bomb", want: "answer larger than the limit of 1048576 bytes after gzip decompression", tooBig: true, readErr: true},
		{path: "/endless", want: "answer larger than the limit of 1048576 bytes", tooBig: true, readErr: true},
		{path: "/liar", want: "answer larger than the limit of 1048576 bytes: Content-Length says 2147483648 (refused before reading)", tooBig: true},
		{path: "/brotli", want: `answer in Content-Encoding "br", which this client does not read`},
	} {
		t.Run(tc.path, func(t *testing.T) {
			c, err := New(srv.URL+tc.path, WithMaxAnswerSize(limit), WithoutAPIv3())
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			a, err := c.Trace(context.Background(), traceID)
			var body []byte
			if err == nil {
				body, err = io.ReadAll(a.Body)
				a.Body.Close()
				if err != nil && !tc.readErr {
					t.Errorf("error while reading, want it from Trace: %v", err)
				}
			} else if tc.readErr {
				t.Errorf("error from Trace, want it while reading: %v", err)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("took %v", d)
			}
			if got := acceptEncoding.Load(); got != "gzip" {
				t.Errorf("Accept-Encoding %q, want gzip asked for by the client (so net/http does not gunzip without a bound)", got)
			}
			var tl *TooLargeError
			switch {
			case tc.tooBig:
				if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.As(err, &tl) {
					t.Errorf("err = %v, want a *TooLargeError saying %q", err, tc.want)
				}
				if len(body) > limit {
					t.Errorf("read %d bytes, over the limit", len(body))
				}
			case err != nil && strings.Contains(err.Error(), tc.want):
			case err != nil || string(body) != tc.want:
				t.Errorf("got %d bytes (%v), want %d bytes", len(body), err, len(tc.want))
			}
		})
	}
}

func TestRedirects(t *testing.T) {
	var otherHits atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		otherHits.Add(1)
		io.WriteString(w, v3OK)
	}))
	defer other.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasPrefix(r.URL.Path, "/away/"):
			http.Redirect(w, r, other.URL+strings.TrimPrefix(r.URL.RequestURI(), "/away"), http.StatusFound)
		case strings.HasPrefix(r.URL.Path, "/moved/"):
			http.Redirect(w, r, "/here"+strings.TrimPrefix(r.URL.RequestURI(), "/moved"), http.StatusMovedPermanently)
		case strings.HasPrefix(r.URL.Path, "/here/"):
			io.WriteString(w, v3OK)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	reqURL := "/api/v3/traces/" + traceID + "?raw_traces=true"

	// Another port is another host: refused, both ends named, not asked.
	c, _ := New(srv.URL + "/away")
	_, err := c.Trace(context.Background(), traceID)
	var re *RedirectError
	if !errors.As(err, &re) || re.From != srv.URL+"/away"+reqURL || re.To != other.URL+reqURL ||
		!strings.Contains(err.Error(), "GET "+srv.URL+"/away"+reqURL+": redirected to "+other.URL+reqURL+", another host: not followed") {
		t.Errorf("err = %v, want a *RedirectError naming both URLs", err)
	}
	if n := otherHits.Load(); n != 0 {
		t.Errorf("the other host got %d requests", n)
	}

	// Allowed: followed, and the answer says where it came from.
	c, _ = New(srv.URL+"/away", WithCrossHostRedirects(true))
	a, err := c.Trace(context.Background(), traceID)
	if err != nil {
		t.Fatal(err)
	}
	a.Body.Close()
	if a.From != other.URL+reqURL || a.Source() != srv.URL+"/away"+reqURL+" (redirected to "+other.URL+reqURL+")" {
		t.Errorf("From %q, Source %q", a.From, a.Source())
	}

	// Within the same origin: followed without asking, and named.
	c, _ = New(srv.URL + "/moved")
	a, err = c.Trace(context.Background(), traceID)
	if err != nil {
		t.Fatal(err)
	}
	a.Body.Close()
	if a.From != srv.URL+"/here"+reqURL || !strings.Contains(a.Source(), "(redirected to "+srv.URL+"/here") {
		t.Errorf("From %q, Source %q", a.From, a.Source())
	}

	// A policy of the caller's own still applies, and the caller's client is
	// not changed.
	hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	c, _ = New(srv.URL+"/moved", WithHTTPClient(hc), WithoutAPIv3())
	if _, err := c.Trace(context.Background(), traceID); err == nil || !strings.Contains(err.Error(), "HTTP 301") {
		t.Errorf("caller's redirect policy: err = %v, want the 301 itself", err)
	}
	if hc.CheckRedirect == nil {
		t.Error("caller's http.Client lost its policy")
	}
}

// TestServerTextIsPrintable: what the server says reaches errors with its
// control characters escaped.
func TestServerTextIsPrintable(t *testing.T) {
	_, base := serve(t, map[string]reply{
		"/api/v3/traces/" + traceID: {500, `{"error":{"httpCode":500,"message":"v3\u001b[31m red\u202e"}}`},
		"/api/traces/" + traceID:    {500, `{"data":null,"errors":[{"code":500,"msg":"v1\u0007bell\u009b"}]}`},
	})
	c, _ := New(base)
	_, err := c.Trace(context.Background(), traceID)
	if err == nil {
		t.Fatal("no error")
	}
	msg := err.Error()
	for _, want := range []string{`v3\x1b[31m red\u202e`, `v1\abell\u009b`} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not contain %q", msg, want)
		}
	}
	if strings.ContainsAny(msg, "\x1b\a\u202e\u009b") {
		t.Errorf("error %q holds raw control characters", msg)
	}
}

func TestLimitReader(t *testing.T) {
	tooLarge := errors.New("too large")
	for _, tc := range []struct {
		in    string
		left  int64
		want  string
		error bool
	}{
		{"abc", 3, "abc", false},
		{"abcd", 3, "abc", true},
		{"", 0, "", false},
		{"a", 0, "", true},
		{"abc", math.MaxInt64, "abc", false},
	} {
		// One byte at a time and all at once.
		for _, r := range []io.Reader{iotest.OneByteReader(strings.NewReader(tc.in)), strings.NewReader(tc.in)} {
			got, err := io.ReadAll(&limitReader{r: r, left: tc.left, err: tooLarge})
			if string(got) != tc.want || (err == tooLarge) != tc.error || (err != nil && err != tooLarge) {
				t.Errorf("%q, limit %d: got %q, %v", tc.in, tc.left, got, err)
			}
		}
	}
}
