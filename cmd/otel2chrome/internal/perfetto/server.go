package perfetto

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

const (
	// UIOrigin is Perfetto UI's origin: the one origin allowed to read the
	// trace across origins, and the one the hand-off page posts it to.
	UIOrigin = "https://ui.perfetto.dev"
	// DefaultPort is the port whose http:// URLs Perfetto UI's content
	// security policy lets it fetch, so ?url= deep links work only on it.
	DefaultPort = 9001
	// TracePath is the path the trace is served at.
	TracePath = "/trace.json"
)

// shutdownGrace bounds how long Serve waits for requests in flight (a large
// trace still downloading) after its context ends.
const shutdownGrace = 2 * time.Second

// Option configures a Server.
type Option func(*config)

type config struct {
	title    string
	uiOrigin string
}

// WithTitle sets the title Perfetto UI shows for the trace (default: the
// file's base name).
func WithTitle(title string) Option { return func(c *config) { c.title = title } }

// WithUIOrigin hands the trace to a Perfetto UI served from origin instead of
// UIOrigin, such as a self-hosted UI (default UIOrigin).
func WithUIOrigin(origin string) Option { return func(c *config) { c.uiOrigin = origin } }

// Server serves one trace file and the page that opens it in Perfetto UI, on
// 127.0.0.1 only. Create it with Listen, run it with Serve.
type Server struct {
	ln       net.Listener
	srv      *http.Server
	uiOrigin string
}

// Listen checks that path is a readable file and binds 127.0.0.1:port (port 0
// picks a free port) to serve it. The file is read anew for every request, so
// rewriting it and reloading the UI shows the new trace.
func Listen(port int, path string, opts ...Option) (*Server, error) {
	h, err := NewHandler(path, opts...)
	if err != nil {
		return nil, err
	}
	if port < 0 || port > 65535 {
		return nil, fmt.Errorf("port %d: want 0 to 65535", port)
	}
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return nil, fmt.Errorf("serving %s: %w", path, err)
	}
	return &Server{
		ln:       ln,
		uiOrigin: h.uiOrigin,
		srv:      &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second},
	}, nil
}

// Addr is the address the server listens on, 127.0.0.1:port.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// PageURL is the hand-off page: opening it in a browser opens the trace in
// Perfetto UI.
func (s *Server) PageURL() string { return "http://" + s.Addr() + "/" }

// TraceURL is where the trace itself is served.
func (s *Server) TraceURL() string { return "http://" + s.Addr() + TracePath }

// DeepLink is the Perfetto UI link that makes the UI fetch the trace itself;
// it works only when the server listens on DefaultPort.
func (s *Server) DeepLink() string { return s.uiOrigin + "/#!/?url=" + s.TraceURL() }

// Serve answers requests until ctx ends, then shuts down, giving requests in
// flight a short grace period. It returns nil after ctx ends.
func (s *Server) Serve(ctx context.Context) error {
	done := make(chan error, 1)
	go func() { done <- s.srv.Serve(s.ln) }()
	select {
	case err := <-done:
		return fmt.Errorf("serving on %s: %w", s.Addr(), err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownGrace)
	defer cancel()
	err := s.srv.Shutdown(sctx)
	if errors.Is(err, context.DeadlineExceeded) {
		err = s.srv.Close()
	}
	if serr := <-done; !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	return err
}

// Close stops a server that is not serving, or stops serving at once.
func (s *Server) Close() error {
	err := s.srv.Close()
	if cerr := s.ln.Close(); err == nil && cerr != nil && !errors.Is(cerr, net.ErrClosed) {
		err = cerr
	}
	return err
}

// Handler answers the hand-off page at "/", the trace at TracePath and 404
// for every other path.
type Handler struct {
	path     string
	title    string
	uiOrigin string
}

// NewHandler returns the handler for the file at path, which must be a
// readable regular file. Listen uses it; it is exported for tests and for
// mounting under another server.
func NewHandler(path string, opts ...Option) (*Handler, error) {
	c := config{title: filepath.Base(path), uiOrigin: UIOrigin}
	for _, o := range opts {
		o(&c)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err // names the file
	}
	st, err := f.Stat()
	f.Close()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file", path)
	}
	// Fail now, not on the first request, if the page cannot be rendered.
	if _, err := renderPage(c.title, c.uiOrigin, "127.0.0.1"); err != nil {
		return nil, err
	}
	return &Handler{path: path, title: c.title, uiOrigin: c.uiOrigin}, nil
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// Only loopback names: a page whose DNS name is rebound to 127.0.0.1
	// sends its own name as Host and gets nothing.
	host, _, err := net.SplitHostPort(r.Host)
	if err != nil {
		host = r.Host
	}
	if host != "127.0.0.1" && host != "localhost" {
		http.Error(w, "forbidden host "+strconv.Quote(r.Host), http.StatusMisdirectedRequest)
		return
	}
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	switch r.URL.Path {
	case "/":
		h.servePage(w, r)
	case TracePath:
		h.serveTrace(w, r)
	default:
		http.NotFound(w, r)
	}
}

func (h *Handler) servePage(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	page, err := renderPage(h.title, h.uiOrigin, r.Host)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", pageCSP)
	w.Header().Set("X-Frame-Options", "DENY")
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(page))
}

func (h *Handler) serveTrace(w http.ResponseWriter, r *http.Request) {
	w.Header().Add("Vary", "Origin")
	origin := r.Header.Get("Origin")
	self := "http://" + r.Host
	switch origin {
	case "", self:
	case h.uiOrigin:
		w.Header().Set("Access-Control-Allow-Origin", origin)
	default:
		http.Error(w, "cross-origin requests are allowed from "+h.uiOrigin+" only", http.StatusForbidden)
		return
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
	case http.MethodOptions:
		// CORS preflight, including Chrome's for requests from a public
		// origin to a private address (Private Network Access).
		w.Header().Set("Access-Control-Allow-Methods", "GET, HEAD")
		if hdrs := r.Header.Get("Access-Control-Request-Headers"); hdrs != "" {
			w.Header().Set("Access-Control-Allow-Headers", "Range")
		}
		if r.Header.Get("Access-Control-Request-Private-Network") == "true" && origin == h.uiOrigin {
			w.Header().Set("Access-Control-Allow-Private-Network", "true")
		}
		w.Header().Set("Access-Control-Max-Age", "600")
		w.WriteHeader(http.StatusNoContent)
		return
	default:
		w.Header().Set("Allow", "GET, HEAD, OPTIONS")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	f, err := os.Open(h.path)
	if err != nil {
		http.Error(w, "trace file unavailable", http.StatusNotFound)
		return
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		http.Error(w, "trace file unavailable", http.StatusInternalServerError)
		return
	}
	// Perfetto recognises the format from the content (gzip included), so
	// the bytes go out unchanged; only the type says what they are.
	var magic [2]byte
	if n, _ := io.ReadFull(f, magic[:]); n == 2 && magic == [2]byte{0x1f, 0x8b} {
		w.Header().Set("Content-Type", "application/gzip")
	} else {
		w.Header().Set("Content-Type", "application/json")
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		http.Error(w, "trace file unavailable", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Disposition", mime.FormatMediaType("inline", map[string]string{"filename": h.title}))
	http.ServeContent(w, r, "", st.ModTime(), f)
}
