package main

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// heapUse runs fn and reports the most heap it saw in use (live objects and
// garbage not yet swept) above what was in use before, sampled every
// millisecond, and the bytes allocated meanwhile.
func heapUse(fn func()) (peak, allocated uint64) {
	runtime.GC()
	read := func() (inUse, allocs uint64) {
		s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}, {Name: "/gc/heap/allocs:bytes"}}
		metrics.Read(s)
		return s[0].Value.Uint64(), s[1].Value.Uint64()
	}
	base, allocs0 := read()
	stop, done := make(chan struct{}), make(chan uint64)
	go func() {
		var top uint64
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			if v, _ := read(); v > top {
				top = v
			}
			select {
			case <-stop:
				done <- top
				return
			case <-tick.C:
			}
		}
	}()
	fn()
	close(stop)
	top := <-done
	_, allocs1 := read()
	if top > base {
		peak = top - base
	}
	return peak, allocs1 - allocs0
}

// TestFetchHostileAnswers: answers far larger than --max-input-size, or
// claiming to be, fail fast with an error naming the URL and the limit,
// without holding more than a few times the limit in memory.
func TestFetchHostileAnswers(t *testing.T) {
	const limit = 8 << 20
	const id = "4bf92f3577b34da6a3ce929d0e0e4736"

	// 8 MB of gzip inflating to 8 GiB: one member with the start of an
	// answer, then members of 8 MiB of spaces (concatenated members are one
	// stream to a gzip reader).
	var bomb, member bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&bomb, gzip.BestCompression)
	io.WriteString(zw, `{"result":{"resourceSpans":[`)
	zw.Close()
	zw, _ = gzip.NewWriterLevel(&member, gzip.BestCompression)
	zw.Write(bytes.Repeat([]byte(" "), 8<<20))
	zw.Close()
	for bomb.Len() < 8<<20 {
		bomb.Write(member.Bytes())
	}
	const bombSize = 8 << 30

	var sent atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch strings.Split(r.URL.Path, "/api/")[0] {
		case "/huge": // 2 GiB, generated as it is sent, no Content-Length
			io.WriteString(w, `{"result":{"resourceSpans":[`)
			chunk := bytes.Repeat([]byte(" "), 64<<10)
			for i := 0; i < (2<<30)/len(chunk); i++ {
				n, err := w.Write(chunk)
				sent.Add(int64(n))
				if err != nil {
					return
				}
			}
		case "/liar": // says 2 GiB, sends a few bytes and waits
			w.Header().Set("Content-Length", strconv.Itoa(2<<30))
			io.WriteString(w, `{"result":`)
			w.(http.Flusher).Flush()
			select {
			case <-r.Context().Done():
			case <-time.After(30 * time.Second):
			}
		case "/bomb":
			w.Header().Set("Content-Encoding", "gzip")
			w.Write(bomb.Bytes())
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	dir := t.TempDir()
	out := filepath.Join(dir, "out.json")
	os.WriteFile(out, []byte("previous"), 0o644)

	for _, tc := range []struct {
		path     string
		args     []string
		want     []string
		heapMax  uint64 // peak heap in use
		allocMax uint64 // bytes allocated
	}{
		{
			path: "/huge", args: []string{"--max-input-size", strconv.Itoa(limit)},
			want:    []string{"answer larger than the limit of 8388608 bytes", "(--max-input-size sets the limit)"},
			heapMax: 64 << 20, allocMax: 128 << 20,
		},
		{
			// The default limit (1 GiB) refuses a 2 GiB Content-Length
			// before reading a byte of it.
			path:    "/liar",
			want:    []string{"answer larger than the limit of 1073741824 bytes: Content-Length says 2147483648 (refused before reading)", "(--max-input-size sets the limit)"},
			heapMax: 16 << 20, allocMax: 16 << 20,
		},
		{
			path: "/bomb", args: []string{"--max-input-size", strconv.Itoa(limit)},
			want:    []string{"answer larger than the limit of 8388608 bytes after gzip decompression"},
			heapMax: 64 << 20, allocMax: 128 << 20,
		},
	} {
		t.Run(tc.path[1:], func(t *testing.T) {
			var err error
			start := time.Now()
			peak, allocated := heapUse(func() {
				args := append([]string{"fetch", "-q", "--jaeger", srv.URL + tc.path, "-o", out}, tc.args...)
				_, _, err = run(t, nil, append(args, id)...)
			})
			elapsed := time.Since(start)
			t.Logf("%s: %v, peak heap %d MiB, allocated %d MiB: %v", tc.path, elapsed.Round(time.Millisecond), peak>>20, allocated>>20, err)
			if err == nil {
				t.Fatal("no error")
			}
			// The answer is named by its URL, as the converter names inputs.
			want := append(tc.want, srv.URL+tc.path+"/api/v3/traces/"+id+"?raw_traces=true")
			for _, w := range want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if elapsed > 10*time.Second {
				t.Errorf("took %v", elapsed)
			}
			if peak > tc.heapMax || allocated > tc.allocMax {
				t.Errorf("peak heap %d MiB, allocated %d MiB; want at most %d and %d MiB (the answer is 2 GiB, the bomb inflates to %d GiB)",
					peak>>20, allocated>>20, tc.heapMax>>20, tc.allocMax>>20, bombSize>>30)
			}
			if got, _ := os.ReadFile(out); string(got) != "previous" {
				t.Errorf("-o replaced: %q", got)
			}
		})
	}
	if n := sent.Load(); n > 64<<20 {
		t.Errorf("the server sent %d MiB of the huge answer before the client hung up", n>>20)
	}
}

// TestFetchRedirects: a redirect to another host (here another port) is not
// followed unless --allow-redirects says so, and then the answer is named by
// both URLs; one within the server is followed and named too.
func TestFetchRedirects(t *testing.T) {
	sample, err := os.ReadFile(filepath.Join("..", "..", "examples", "data", "sample.jaeger-v3.json"))
	if err != nil {
		t.Fatal(err)
	}
	const id = "47f03fd436629b3bbd3a80b343c18890"
	var otherHits atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		otherHits.Add(1)
		w.Write(sample)
	}))
	defer other.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasPrefix(r.URL.Path, "/away/"):
			http.Redirect(w, r, other.URL+strings.TrimPrefix(r.URL.RequestURI(), "/away"), http.StatusFound)
		case strings.HasPrefix(r.URL.Path, "/moved/"):
			http.Redirect(w, r, "/here"+strings.TrimPrefix(r.URL.RequestURI(), "/moved"), http.StatusMovedPermanently)
		case strings.HasPrefix(r.URL.Path, "/here/"):
			w.Write(sample)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	req := "/api/v3/traces/" + id + "?raw_traces=true"

	_, _, err = run(t, nil, "fetch", "--jaeger", srv.URL+"/away", id)
	want := "GET " + srv.URL + "/away" + req + ": redirected to " + other.URL + req + ", another host: not followed (--allow-redirects follows redirects to other hosts)"
	if err == nil || err.Error() != want {
		t.Errorf("err = %v\nwant %s", err, want)
	}
	if n := otherHits.Load(); n != 0 {
		t.Errorf("the other host got %d requests", n)
	}

	_, stderr, err := run(t, nil, "fetch", "--allow-redirects", "--jaeger", srv.URL+"/away", id)
	if err != nil {
		t.Fatal(err)
	}
	if want := "otel2chrome: fetched " + srv.URL + "/away" + req + " (redirected to " + other.URL + req + ")"; !strings.Contains(stderr, want) {
		t.Errorf("stderr %q does not name where the answer came from: %q", stderr, want)
	}

	_, stderr, err = run(t, nil, "fetch", "--jaeger", srv.URL+"/moved", id)
	if err != nil {
		t.Fatal(err)
	}
	if want := "otel2chrome: fetched " + srv.URL + "/moved" + req + " (redirected to " + srv.URL + "/here" + req + ")"; !strings.Contains(stderr, want) {
		t.Errorf("stderr %q does not name where the answer came from: %q", stderr, want)
	}
}
