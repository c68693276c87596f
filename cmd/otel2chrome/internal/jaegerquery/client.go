package jaegerquery

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/otel2chrome/otel2chrome/cmd/otel2chrome/internal/safetext"
)

// Defaults of the client's options and of a Query's unset fields.
const (
	// DefaultTimeout bounds each request to the query service.
	DefaultTimeout = 30 * time.Second
	// DefaultMaxAnswerSize bounds the size of one answer, as sent and after
	// decompression; it is the converter's default limit on one document.
	DefaultMaxAnswerSize int64 = 1 << 30
	// DefaultLimit is how many traces a search returns when Query.Limit is 0.
	DefaultLimit = 20
	// DefaultLookback is how far back a search looks when Query.Start is zero.
	DefaultLookback = time.Hour
)

// API names one of the query service's HTTP APIs.
type API string

const (
	// APIv3 is /api/v3/traces: OTLP JSON in {"result":{"resourceSpans":…}},
	// times in nanoseconds.
	APIv3 API = "api_v3"
	// APIv1 is /api/traces, the UI's API: {"data":[{"spans":…}]}, times in µs.
	APIv1 API = "api"
)

// ErrNotFound is wrapped by the errors of Trace when Jaeger does not know the
// trace and of Search when no trace matches.
var ErrNotFound = errors.New("not found")

// StatusError is an answer with an HTTP status other than 200 OK (or 404 for
// an unknown trace, which is ErrNotFound).
type StatusError struct {
	URL    string // the request
	Status int    // the HTTP status code
	// Message is Jaeger's error message when the answer held one, else the
	// start of the body.
	Message string
}

// Error reports the request, the status and what Jaeger said.
func (e *StatusError) Error() string {
	return fmt.Sprintf("GET %s: HTTP %d %s: %s", e.URL, e.Status, http.StatusText(e.Status), e.Message)
}

// Answer is one JSON answer of the query service. Body streams it as it
// arrives, gzip removed and bounded by the client's limit, so an answer is
// never held whole by the client; its read errors say what went wrong
// (timeout, too large, connection lost) and leave naming the answer to the
// reader: Source says where it came from. The caller must Close Body.
type Answer struct {
	URL  string // the request that produced it
	From string // the URL that answered: URL, or where a followed redirect led
	API  API    // which API answered, so which JSON shape Body has
	// Size is the answer's length as sent (Content-Length, compressed if the
	// server gzipped it), or -1 when the server did not say.
	Size int64
	Body io.ReadCloser
}

// Source names the answer for messages: the request and, when it was
// redirected, where it was answered.
func (a Answer) Source() string {
	if a.From == "" || a.From == a.URL {
		return a.URL
	}
	return a.URL + " (redirected to " + a.From + ")"
}

// Query selects traces to search for. Only Service is required.
type Query struct {
	Service   string    // service.name of a span in the trace
	Operation string    // span name in that service; "" for any
	Start     time.Time // traces that started at or after this; zero: End - DefaultLookback
	End       time.Time // and before this; zero: now
	Limit     int       // at most this many traces; 0: DefaultLimit
}

// Client fetches traces from one Jaeger query service. It uses both HTTP APIs:
// api_v3 (/api/v3/traces: OTLP JSON, ns times) first, then the UI's /api/traces
// (µs times) when api_v3 is missing or fails — Jaeger 1.76 with its memory
// store answers api_v3 searches without a trace limit with HTTP 500, for
// example. Its errors name the URL and say whether the server was unreachable,
// too slow, did not know the trace, or answered something that is not a
// Jaeger answer. A Client is safe for concurrent use.
type Client struct {
	base      string // URL without trailing slash
	hc        *http.Client
	timeout   time.Duration
	maxAnswer int64
	adjust    bool
	v3        bool
	crossHost bool // follow redirects to another scheme, host or port
	now       func() time.Time
}

// Option configures a Client.
type Option func(*Client)

// WithTimeout bounds each request (default DefaultTimeout; 0 means no bound
// beyond the context's).
func WithTimeout(d time.Duration) Option { return func(c *Client) { c.timeout = d } }

// WithHTTPClient sends the requests through hc instead of a default client.
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.hc = hc } }

// WithMaxAnswerSize refuses answers larger than n bytes (default
// DefaultMaxAnswerSize): from their Content-Length before reading, or once
// more than n bytes have arrived, counted after gzip decompression. The
// errors wrap a *TooLargeError.
func WithMaxAnswerSize(n int64) Option { return func(c *Client) { c.maxAnswer = n } }

// WithCrossHostRedirects follows redirects to another scheme, host or port.
// By default only redirects within the query service's own origin are
// followed, and the others fail with a *RedirectError: the answer would come
// from a server the user did not name.
func WithCrossHostRedirects(on bool) Option { return func(c *Client) { c.crossHost = on } }

// WithAdjusters lets Jaeger apply its adjusters (clock skew, duplicate span
// IDs, …) to the traces it returns. By default the client asks for the raw
// stored spans, so the converter sees what the services sent and does its own,
// reported, clock-skew correction.
func WithAdjusters(on bool) Option { return func(c *Client) { c.adjust = on } }

// WithoutAPIv3 uses only /api/traces, for servers whose api_v3 is broken or
// slow to fail.
func WithoutAPIv3() Option { return func(c *Client) { c.v3 = false } }

// New returns a client for the query service at baseURL, such as
// http://127.0.0.1:16686 or https://tracing.example.com/jaeger.
func New(baseURL string, opts ...Option) (*Client, error) {
	if !strings.Contains(baseURL, "://") {
		return nil, fmt.Errorf("Jaeger URL %q: want http://host:port or https://host[/path]", baseURL)
	}
	u, err := url.Parse(baseURL)
	if err != nil {
		return nil, fmt.Errorf("Jaeger URL %q: %w", baseURL, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("Jaeger URL %q: want http://host:port or https://host[/path]", baseURL)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return nil, fmt.Errorf("Jaeger URL %q: want no query, fragment or user info", baseURL)
	}
	c := &Client{
		base:      strings.TrimRight(u.String(), "/"),
		hc:        http.DefaultClient,
		timeout:   DefaultTimeout,
		maxAnswer: DefaultMaxAnswerSize,
		v3:        true,
		now:       time.Now,
	}
	for _, o := range opts {
		o(c)
	}
	if c.maxAnswer <= 0 {
		return nil, fmt.Errorf("answer size limit %d: must be positive", c.maxAnswer)
	}
	// A copy, so the redirect policy applies to this client's requests only.
	hc := *c.hc
	hc.CheckRedirect = c.checkRedirect(c.hc.CheckRedirect)
	c.hc = &hc
	return c, nil
}

// URL is the base URL of the query service.
func (c *Client) URL() string { return c.base }

// Trace fetches one trace by its hex ID (up to 32 digits; shorter IDs are
// zero-padded as Jaeger does). It asks api_v3 first and falls back to
// /api/traces when api_v3 is missing or fails. An unknown trace is an error
// wrapping ErrNotFound.
func (c *Client) Trace(ctx context.Context, id string) (Answer, error) {
	tid, err := NormalizeTraceID(id)
	if err != nil {
		return Answer{}, fmt.Errorf("trace ID %q: %w", id, err)
	}
	var v3err error
	if c.v3 {
		u := c.base + "/api/v3/traces/" + tid
		if !c.adjust {
			u += "?raw_traces=true"
		}
		a, err := c.getV3(ctx, u)
		if err == nil || errors.Is(err, ErrNotFound) || !fallback(err) {
			if errors.Is(err, ErrNotFound) {
				err = fmt.Errorf("trace %s: %w in Jaeger at %s", tid, ErrNotFound, c.base)
			}
			return a, err
		}
		v3err = err
	}
	u := c.base + "/api/traces/" + tid
	if !c.adjust {
		u += "?raw=true"
	}
	a, err := c.getV1(ctx, u)
	if errors.Is(err, ErrNotFound) {
		return a, fmt.Errorf("trace %s: %w in Jaeger at %s", tid, ErrNotFound, c.base)
	}
	if err != nil && v3err != nil {
		err = fmt.Errorf("%w (and api_v3: %v)", err, v3err)
	}
	return a, err
}

// Search finds the traces that match q, as one answer holding all of them.
// It asks api_v3 first and falls back to /api/traces when api_v3 fails. No
// match is an error wrapping ErrNotFound.
func (c *Client) Search(ctx context.Context, q Query) (Answer, error) {
	if strings.TrimSpace(q.Service) == "" {
		return Answer{}, errors.New("search: a service name is required")
	}
	if q.Limit < 0 {
		return Answer{}, fmt.Errorf("search: limit %d: must not be negative", q.Limit)
	}
	if q.Limit == 0 {
		q.Limit = DefaultLimit
	}
	if q.End.IsZero() {
		q.End = c.now()
	}
	if q.Start.IsZero() {
		q.Start = q.End.Add(-DefaultLookback)
	}
	if !q.End.After(q.Start) {
		return Answer{}, fmt.Errorf("search: end %s is not after start %s", q.End.Format(time.RFC3339), q.Start.Format(time.RFC3339))
	}
	notFound := func() error {
		what := fmt.Sprintf("service %q", q.Service)
		if q.Operation != "" {
			what += fmt.Sprintf(", operation %q", q.Operation)
		}
		return fmt.Errorf("search: no traces of %s between %s and %s: %w in Jaeger at %s",
			what, q.Start.Format(time.RFC3339), q.End.Format(time.RFC3339), ErrNotFound, c.base)
	}

	var v3err error
	if c.v3 {
		v := url.Values{}
		v.Set("query.service_name", q.Service)
		if q.Operation != "" {
			v.Set("query.operation_name", q.Operation)
		}
		v.Set("query.start_time_min", q.Start.UTC().Format(time.RFC3339Nano))
		v.Set("query.start_time_max", q.End.UTC().Format(time.RFC3339Nano))
		v.Set("query.num_traces", strconv.Itoa(q.Limit))
		if !c.adjust {
			v.Set("query.raw_traces", "true")
		}
		a, err := c.getV3(ctx, c.base+"/api/v3/traces?"+v.Encode())
		switch {
		case errors.Is(err, ErrNotFound):
			return a, notFound()
		case err == nil || !fallback(err):
			return a, err
		}
		v3err = err
	}
	v := url.Values{}
	v.Set("service", q.Service)
	if q.Operation != "" {
		v.Set("operation", q.Operation)
	}
	v.Set("start", strconv.FormatInt(q.Start.UnixMicro(), 10))
	v.Set("end", strconv.FormatInt(q.End.UnixMicro(), 10))
	v.Set("limit", strconv.Itoa(q.Limit))
	if !c.adjust {
		v.Set("raw", "true")
	}
	a, err := c.getV1(ctx, c.base+"/api/traces?"+v.Encode())
	if errors.Is(err, ErrNotFound) {
		return a, notFound()
	}
	if err != nil && v3err != nil {
		err = fmt.Errorf("%w (and api_v3: %v)", err, v3err)
	}
	return a, err
}

// Services lists the service names Jaeger knows, to help when a search finds
// nothing.
func (c *Client) Services(ctx context.Context) ([]string, error) {
	s, err := c.open(ctx, c.base+"/api/services")
	if err != nil {
		return nil, err
	}
	body, err := s.readAll(min(c.maxAnswer, maxServicesAnswer))
	if err != nil {
		return nil, err
	}
	var ans v1Answer[[]string]
	if jerr := json.Unmarshal(body, &ans); jerr != nil {
		return nil, badAnswer(s.where(), body, `{"data":[…]}`)
	}
	if s.status != http.StatusOK || len(ans.Errors) > 0 {
		return nil, &StatusError{URL: s.where(), Status: s.status, Message: ans.message(body)}
	}
	return ans.Data, nil
}

// v1Answer is the envelope of every /api answer.
type v1Answer[T any] struct {
	Data   T `json:"data"`
	Errors []struct {
		Code int    `json:"code"`
		Msg  string `json:"msg"`
	} `json:"errors"`
}

func (a *v1Answer[T]) message(body []byte) string {
	if len(a.Errors) == 0 {
		return excerpt(body)
	}
	msgs := make([]string, len(a.Errors))
	for i, e := range a.Errors {
		msgs[i] = printable(e.Msg)
	}
	return strings.Join(msgs, "; ")
}

// v3Answer is the envelope of every api_v3 answer: a result or an error.
type v3Answer struct {
	Result *struct {
		ResourceSpans []json.RawMessage `json:"resourceSpans"`
	} `json:"result"`
	Error *struct {
		HTTPCode int    `json:"httpCode"`
		Message  string `json:"message"`
	} `json:"error"`
}

// errNoAPI marks failures after which the other API is worth a try: the
// server answered, but not as a working api_v3.
type errNoAPI struct{ err error }

func (e errNoAPI) Error() string { return e.err.Error() }
func (e errNoAPI) Unwrap() error { return e.err }

func fallback(err error) bool {
	var e errNoAPI
	return errors.As(err, &e)
}

// getV3 fetches an api_v3 answer. Its errors are errNoAPI unless the server
// was unreachable, slow, or said authoritatively that nothing matches.
func (c *Client) getV3(ctx context.Context, u string) (Answer, error) {
	return c.fetch(ctx, u, APIv3, func(where string, status int, body []byte) error {
		var ans v3Answer
		if jerr := json.Unmarshal(body, &ans); jerr != nil || (ans.Result == nil && ans.Error == nil) {
			if status == http.StatusOK {
				return errNoAPI{badAnswer(where, body, `{"result":{"resourceSpans":…}}`)}
			}
			return errNoAPI{&StatusError{URL: where, Status: status, Message: excerpt(body)}}
		}
		switch {
		case ans.Error != nil && status == http.StatusNotFound:
			return fmt.Errorf("GET %s: %s: %w", where, printable(ans.Error.Message), ErrNotFound)
		case ans.Error != nil || status != http.StatusOK:
			msg := excerpt(body)
			if ans.Error != nil {
				msg = printable(ans.Error.Message)
			}
			return errNoAPI{&StatusError{URL: where, Status: status, Message: msg}}
		case len(ans.Result.ResourceSpans) == 0:
			return fmt.Errorf("GET %s: empty result: %w", where, ErrNotFound)
		}
		return nil
	})
}

// getV1 fetches an /api answer.
func (c *Client) getV1(ctx context.Context, u string) (Answer, error) {
	return c.fetch(ctx, u, APIv1, func(where string, status int, body []byte) error {
		var ans v1Answer[[]json.RawMessage]
		if jerr := json.Unmarshal(body, &ans); jerr != nil {
			if status != http.StatusOK {
				return &StatusError{URL: where, Status: status, Message: excerpt(body)}
			}
			return badAnswer(where, body, `{"data":[…]}`)
		}
		switch {
		case status == http.StatusNotFound:
			return fmt.Errorf("GET %s: %s: %w", where, ans.message(body), ErrNotFound)
		case status != http.StatusOK:
			return &StatusError{URL: where, Status: status, Message: ans.message(body)}
		case len(ans.Data) == 0 && len(ans.Errors) > 0:
			return &StatusError{URL: where, Status: status, Message: ans.message(body)}
		case len(ans.Data) == 0:
			return fmt.Errorf("GET %s: no traces in the answer: %w", where, ErrNotFound)
		}
		return nil
	})
}

// fetch sends one GET and checks the answer with check, which gets the
// request's name for errors, the status and the body. Error answers and
// answers up to headSize bytes are checked whole; a larger 200 answer is only
// seen to start like JSON and is then streamed, whatever else is wrong with
// it being for its reader to find.
func (c *Client) fetch(ctx context.Context, u string, api API, check func(where string, status int, body []byte) error) (Answer, error) {
	s, err := c.open(ctx, u)
	if err != nil {
		return Answer{}, err
	}
	head, whole, err := s.head()
	if err != nil {
		s.Close()
		return Answer{}, fmt.Errorf("GET %s: %w", s.where(), err)
	}
	a := Answer{URL: u, From: s.from, API: api, Size: s.size, Body: s}
	if whole || s.status != http.StatusOK || !startsLikeJSON(head) {
		// check sees a truncated body when the answer is larger; that is
		// enough to report an error answer or one that is not JSON.
		head = bytes.Clone(head)
		s.Close()
		if err := check(s.where(), s.status, head); err != nil {
			return Answer{}, err
		}
		if !whole {
			return Answer{}, fmt.Errorf("GET %s: HTTP %d with a body larger than %d bytes", s.where(), s.status, headSize)
		}
		a.Body = io.NopCloser(bytes.NewReader(head))
	}
	return a, nil
}

// startsLikeJSON reports whether b starts (after whitespace or a byte order
// mark) with a JSON object, as every answer of both APIs does.
func startsLikeJSON(b []byte) bool {
	b = bytes.TrimLeft(bytes.TrimPrefix(b, []byte("\xef\xbb\xbf")), " \t\r\n")
	return len(b) > 0 && b[0] == '{'
}

func (c *Client) transportError(ctx context.Context, u string, err error) error {
	var (
		nerr net.Error
		oerr *net.OpError
		rerr *RedirectError
	)
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded) || (errors.As(err, &nerr) && nerr.Timeout()):
		return fmt.Errorf("GET %s: no complete answer within %v: %w", u, c.timeout, context.DeadlineExceeded)
	case ctx.Err() != nil:
		return fmt.Errorf("GET %s: %w", u, ctx.Err())
	case errors.As(err, &rerr):
		return rerr
	case errors.As(err, &oerr) && oerr.Op == "dial":
		return fmt.Errorf("Jaeger query service at %s unreachable: %w", c.base, err)
	}
	return fmt.Errorf("GET %s: %w", u, err)
}

// NormalizeTraceID checks a hex trace ID of 1 to 32 digits and returns it as
// 32 lowercase digits.
func NormalizeTraceID(id string) (string, error) {
	id = strings.ToLower(strings.TrimSpace(id))
	if id == "" || len(id) > 32 {
		return "", errors.New("want 1 to 32 hex digits")
	}
	id = strings.Repeat("0", 32-len(id)) + id
	if _, err := hex.DecodeString(id); err != nil {
		return "", errors.New("not hex")
	}
	return id, nil
}

func badAnswer(u string, body []byte, want string) error {
	return fmt.Errorf("GET %s: not a Jaeger answer (want JSON %s): %q", u, want, excerpt(body))
}

// printable escapes what a terminal would act on in text from the server.
func printable(s string) string { return safetext.Escape(s, false) }

// excerpt returns the start of an answer, fit for an error message.
func excerpt(body []byte) string {
	const max = 200
	s := strings.TrimSpace(string(body))
	cut := len(s) > max
	if cut {
		s = s[:max]
	}
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, strings.ToValidUTF8(s, "?"))
	if s == "" {
		return "(empty body)"
	}
	if cut {
		s += "…"
	}
	return s
}
