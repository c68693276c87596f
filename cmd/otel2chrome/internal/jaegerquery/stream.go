package jaegerquery

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
)

// headSize is how much of an answer is read before it is handed on: an
// answer that fits is checked whole (error envelopes, empty results); a
// larger one is checked by its first byte and streamed, so no answer is
// ever held whole here.
const headSize = 64 << 10

// maxServicesAnswer bounds the service list, which is read whole.
const maxServicesAnswer = 16 << 20

// TooLargeError reports an answer larger than the client's limit (see
// WithMaxAnswerSize), refused from its Content-Length before reading, or cut
// off once more than the limit had arrived.
type TooLargeError struct {
	Limit int64
	// ContentLength is what the server announced; 0 when the answer was cut
	// off while reading.
	ContentLength int64
	// Gzip is set when the limit was crossed after decompression.
	Gzip bool
}

// Error says which limit the answer crossed and how that was seen.
func (e *TooLargeError) Error() string {
	switch {
	case e.ContentLength > 0:
		return fmt.Sprintf("answer larger than the limit of %d bytes: Content-Length says %d (refused before reading)", e.Limit, e.ContentLength)
	case e.Gzip:
		return fmt.Sprintf("answer larger than the limit of %d bytes after gzip decompression", e.Limit)
	}
	return fmt.Sprintf("answer larger than the limit of %d bytes", e.Limit)
}

// RedirectError reports a redirect to another origin (scheme, host or port)
// that the client did not follow; see WithCrossHostRedirects.
type RedirectError struct {
	From string // the request that was redirected
	To   string // where the server sent it
}

// Error names both ends of the redirect.
func (e *RedirectError) Error() string {
	return fmt.Sprintf("GET %s: redirected to %s, another host: not followed", e.From, e.To)
}

// sameOrigin reports whether b is on a's scheme, host and port.
func sameOrigin(a, b *url.URL) bool {
	return strings.EqualFold(a.Scheme, b.Scheme) && strings.EqualFold(a.Host, b.Host)
}

// checkRedirect refuses redirects to another origin unless they are allowed,
// then applies next (the caller's http.Client policy) or net/http's default
// of at most 10 redirects.
func (c *Client) checkRedirect(next func(*http.Request, []*http.Request) error) func(*http.Request, []*http.Request) error {
	return func(req *http.Request, via []*http.Request) error {
		if !c.crossHost && !sameOrigin(via[0].URL, req.URL) {
			return &RedirectError{From: via[len(via)-1].URL.String(), To: req.URL.String()}
		}
		if next != nil {
			return next(req, via)
		}
		if len(via) >= 10 {
			return errors.New("stopped after 10 redirects")
		}
		return nil
	}
}

// stream is an answer as it arrives: decompressed, bounded, its read errors
// saying what went wrong (the reader names the input). Close releases the
// connection and the request's timeout.
type stream struct {
	status int
	url    string // the request
	from   string // the URL that answered, after redirects
	size   int64  // Content-Length, -1 when unknown
	br     *bufio.Reader
	closer func()
}

func (s *stream) Read(p []byte) (int, error) { return s.br.Read(p) }

func (s *stream) Close() error {
	if s.closer != nil {
		s.closer()
		s.closer = nil
	}
	return nil
}

// where names the request in errors, and where it was redirected to if it was.
func (s *stream) where() string {
	if s.from == s.url {
		return s.url
	}
	return s.url + " (redirected to " + s.from + ")"
}

// head returns the start of the answer, up to headSize bytes, and whether
// that is all of it. The bytes stay unread in s.
func (s *stream) head() ([]byte, bool, error) {
	b, err := s.br.Peek(headSize)
	switch {
	case err == nil:
		return b, false, nil
	case errors.Is(err, io.EOF):
		return b, true, nil
	}
	return nil, false, err
}

// open sends one GET and returns the answer as a stream. Its errors say
// whether the server was unreachable, too slow, redirected elsewhere, or
// announced an answer over the limit.
func (c *Client) open(ctx context.Context, u string) (*stream, error) {
	cancel := context.CancelFunc(func() {})
	if c.timeout > 0 {
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("GET %s: %w", u, err)
	}
	req.Header.Set("Accept", "application/json")
	// Asking for gzip ourselves turns off net/http's transparent
	// decompression, which has no bound (an 8 MB bomb inflates to GBs):
	// the answer is gunzipped below and counted after decompression.
	req.Header.Set("Accept-Encoding", "gzip")
	resp, err := c.hc.Do(req)
	if err != nil {
		err = c.transportError(ctx, u, err) // before cancel, which it would report
		cancel()
		return nil, err
	}
	s := &stream{status: resp.StatusCode, url: u, from: resp.Request.URL.String(), size: resp.ContentLength}
	fail := func(err error) (*stream, error) {
		resp.Body.Close()
		cancel()
		return nil, fmt.Errorf("GET %s: %w", s.where(), err)
	}
	if resp.ContentLength > c.maxAnswer {
		return fail(&TooLargeError{Limit: c.maxAnswer, ContentLength: resp.ContentLength})
	}
	var r io.Reader = resp.Body
	closeZ := func() {}
	gz := false
	switch enc := strings.ToLower(strings.TrimSpace(resp.Header.Get("Content-Encoding"))); enc {
	case "", "identity":
	case "gzip", "x-gzip":
		zr, err := gzip.NewReader(resp.Body)
		switch {
		case errors.Is(err, io.EOF):
			r = bytes.NewReader(nil) // an empty body, whatever its header says
		case err != nil:
			return fail(fmt.Errorf("gzip: %w", bodyError(ctx, c, err)))
		default:
			r, gz = zr, true
			closeZ = func() { zr.Close() }
		}
	default:
		return fail(fmt.Errorf("answer in Content-Encoding %q, which this client does not read", enc))
	}
	r = &limitReader{r: &errReader{r: r, ctx: ctx, c: c}, left: c.maxAnswer, err: &TooLargeError{Limit: c.maxAnswer, Gzip: gz}}
	s.br = bufio.NewReaderSize(r, headSize)
	s.closer = func() {
		closeZ()
		resp.Body.Close()
		cancel()
	}
	return s, nil
}

// limitReader passes on at most left bytes and fails with err, instead of a
// quiet end of input, once there are more.
type limitReader struct {
	r    io.Reader
	left int64
	err  error
}

func (l *limitReader) Read(p []byte) (int, error) {
	if int64(len(p))-1 > l.left { // not left+1: left may be math.MaxInt64
		p = p[:l.left+1]
	}
	n, err := l.r.Read(p)
	if int64(n) > l.left {
		n = int(l.left)
		l.left = 0
		return n, l.err
	}
	l.left -= int64(n)
	return n, err
}

// errReader turns the transport's read errors into ones that say what
// happened: the timeout, a cancellation, or a broken or corrupt answer.
type errReader struct {
	r   io.Reader
	ctx context.Context
	c   *Client
}

func (e *errReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && err != io.EOF {
		err = bodyError(e.ctx, e.c, err)
	}
	return n, err
}

// bodyError is transportError for reads of an answer, which the reader
// already names.
func bodyError(ctx context.Context, c *Client, err error) error {
	var nerr net.Error
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded) || (errors.As(err, &nerr) && nerr.Timeout()):
		return fmt.Errorf("no complete answer within %v: %w", c.timeout, context.DeadlineExceeded)
	case ctx.Err() != nil:
		return ctx.Err()
	}
	return fmt.Errorf("reading the answer: %w", err)
}

// readAll reads a whole answer of at most max bytes and closes it.
func (s *stream) readAll(max int64) ([]byte, error) {
	defer s.Close()
	b, err := io.ReadAll(io.LimitReader(s, max+1))
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", s.where(), err)
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("GET %s: %w", s.where(), &TooLargeError{Limit: max})
	}
	return b, nil
}
