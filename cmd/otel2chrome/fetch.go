package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/otel2chrome/otel2chrome/cmd/otel2chrome/internal/jaegerquery"
)

// fetchFlags are the flags of "otel2chrome fetch" beyond the converting ones.
type fetchFlags struct {
	jaeger    string
	timeout   time.Duration
	operation string
	since     time.Duration
	limit     int
	adjusted  bool
	// allowRedirects follows redirects to another scheme, host or port.
	allowRedirects bool
}

// searchFlags are the flags that only make sense with --service.
var searchFlags = []string{"operation", "since", "limit", "start", "end"}

// newFetchCmd is "otel2chrome fetch": get traces from a Jaeger query service
// and convert them like local files.
func newFetchCmd() *cobra.Command {
	var (
		flags convertFlags
		ff    fetchFlags
	)
	cmd := &cobra.Command{
		Use:   "fetch [flags] TRACE_ID... | fetch --service NAME [flags]",
		Short: "Fetch traces from a Jaeger query service and convert them",
		Long: `fetch gets traces from a Jaeger query service — by trace ID, or by searching
a service's traces — and converts them into one Chrome Trace Event file, as
otel2chrome does with files.

It asks Jaeger's api_v3 (/api/v3/traces, nanosecond times) first and falls back
to /api/traces (the UI's API, microsecond times) when api_v3 is missing or
fails, as Jaeger 1.76's memory store does for some searches. Spans come as
stored (Jaeger's "raw" traces): otel2chrome corrects clock skew itself and
reports every correction; --jaeger-adjust asks Jaeger to adjust them instead.

Each answer streams into the converter as it arrives, under the limits files
have: --max-input-size bounds it as sent (a larger Content-Length is refused
before reading) and after gzip decompression. Redirects are followed only
within the --jaeger server's scheme, host and port unless --allow-redirects
is given; messages name the URL that answered.

With --service, --start/--end (or --since) choose the window in which traces
started and --operation/--limit narrow the search; the traces found are kept
whole, every service in them. The other filters (--trace-id, --min-duration)
apply to the spans, as in the main command.`,
		Example: `  otel2chrome fetch 4bf92f3577b34da6a3ce929d0e0e4736 > trace.json
  otel2chrome fetch --jaeger https://jaeger.example.com -o t.json.gz 4bf92f35 a3ce929d
  otel2chrome fetch --service checkout --since 15m --limit 5 --split traces/
  otel2chrome fetch --service frontend --operation "GET /checkout" \
      --start 2026-11-23T09:00:00Z --end 2026-11-23T09:05:00Z -o slow.json`,
		Args:          cobra.ArbitraryArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			return ff.run(cmd, &flags, args)
		},
	}
	flags.register(cmd)
	fs := cmd.Flags()
	// The shared --service, --start and --end select traces to fetch here.
	fs.Lookup("service").Usage = "search Jaeger for the traces of this `SERVICE` (repeat or comma-separate to search several); whole traces are kept"
	fs.Lookup("start").Usage = "with --service: traces that started at or after this `TIME` (RFC 3339); default: --since before --end"
	fs.Lookup("end").Usage = "with --service: traces that started before this `TIME` (RFC 3339); default: now"
	fs.StringVar(&ff.jaeger, "jaeger", "http://127.0.0.1:16686", "base `URL` of the Jaeger query service")
	fs.DurationVar(&ff.timeout, "timeout", jaegerquery.DefaultTimeout, "give up on each request to Jaeger after this long")
	fs.StringVar(&ff.operation, "operation", "", "with --service: only traces with a span of this `NAME` in that service")
	fs.DurationVar(&ff.since, "since", jaegerquery.DefaultLookback, "with --service: search the traces that started this long before --end")
	fs.IntVar(&ff.limit, "limit", jaegerquery.DefaultLimit, "with --service: at most this many traces per service")
	fs.BoolVar(&ff.allowRedirects, "allow-redirects", false, "follow redirects to another host, port or scheme (by default only the --jaeger server's own are followed)")
	fs.BoolVar(&ff.adjusted, "jaeger-adjust", false, "let Jaeger adjust the traces (clock skew, …) instead of fetching the spans as stored")
	return cmd
}

// run fetches the answers, then converts them with the shared flags.
func (ff *fetchFlags) run(cmd *cobra.Command, flags *convertFlags, ids []string) error {
	fs := cmd.Flags()
	services := flags.services
	if len(ids) == 0 && len(services) == 0 {
		return errors.New("fetch: give trace IDs or --service NAME (see otel2chrome fetch --help)")
	}
	for _, name := range searchFlags {
		if fs.Changed(name) && len(services) == 0 {
			return fmt.Errorf("fetch: --%s needs --service", name)
		}
	}
	if fs.Changed("since") && fs.Changed("start") {
		return errors.New("fetch: give --since or --start, not both")
	}
	if ff.since <= 0 {
		return fmt.Errorf("fetch: --since %v: must be positive", ff.since)
	}
	if ff.limit <= 0 {
		return fmt.Errorf("fetch: --limit %d: must be positive", ff.limit)
	}
	if flags.maxInput <= 0 {
		return fmt.Errorf("fetch: --max-input-size %d: must be positive", flags.maxInput)
	}
	q := jaegerquery.Query{Operation: ff.operation, Limit: ff.limit}
	var err error
	if flags.start != "" {
		if q.Start, err = time.Parse(time.RFC3339Nano, flags.start); err != nil {
			return fmt.Errorf("fetch: --start: %w", err)
		}
	}
	if flags.end != "" {
		if q.End, err = time.Parse(time.RFC3339Nano, flags.end); err != nil {
			return fmt.Errorf("fetch: --end: %w", err)
		}
	}
	if len(services) > 0 {
		if q.End.IsZero() {
			q.End = time.Now()
		}
		if q.Start.IsZero() {
			q.Start = q.End.Add(-ff.since)
		}
	}

	for _, id := range ids {
		if _, err := jaegerquery.NormalizeTraceID(id); err != nil {
			return fmt.Errorf("fetch: trace ID %q: %w", id, err)
		}
	}

	client, err := jaegerquery.New(ff.jaeger, jaegerquery.WithTimeout(ff.timeout), jaegerquery.WithAdjusters(ff.adjusted),
		jaegerquery.WithMaxAnswerSize(flags.maxInput), jaegerquery.WithCrossHostRedirects(ff.allowRedirects))
	if err != nil {
		return fmt.Errorf("fetch: --jaeger: %w", err)
	}
	// Each answer is requested when the converter gets to it and streams
	// into the decoder, under the limits files have.
	stderr := cmd.ErrOrStderr()
	inputs := make([]input, 0, len(ids)+len(services))
	for _, id := range ids {
		inputs = append(inputs, func(ctx context.Context) (source, error) {
			a, err := client.Trace(ctx, id)
			if err != nil {
				return source{}, err
			}
			return answerSource(a, stderr, flags.quiet), nil
		})
	}
	for _, svc := range services {
		q := q
		q.Service = svc
		inputs = append(inputs, func(ctx context.Context) (source, error) {
			a, err := client.Search(ctx, q)
			if errors.Is(err, jaegerquery.ErrNotFound) {
				// Say which services Jaeger knows when the name looks wrong.
				if known, kerr := client.Services(ctx); kerr == nil && !slices.Contains(known, svc) {
					for i, k := range known {
						known[i] = strconv.Quote(k)
					}
					err = fmt.Errorf("%w; Jaeger knows no service %q, only: %s", err, svc, strings.Join(known, ", "))
				}
			}
			if err != nil {
				return source{}, err
			}
			return answerSource(a, stderr, flags.quiet), nil
		})
	}
	// The search flags chose the traces; they must not filter their spans.
	flags.services, flags.start, flags.end = nil, "", ""
	return fetchError(flags.run(cmd, inputs))
}

// answerSource names an answer by where it came from and, once it is
// decoded, says so with its size after decompression.
func answerSource(a jaegerquery.Answer, stderr io.Writer, quiet bool) source {
	cr := &countingReader{r: a.Body}
	return source{
		name: "jaeger " + a.Source(),
		r:    cr,
		done: func(err error) {
			a.Body.Close()
			if err == nil && !quiet {
				fmt.Fprintf(stderr, "otel2chrome: fetched %s (%d bytes)\n", a.Source(), cr.n)
			}
		},
	}
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// fetchError adds to err the flag that would have let the request through.
func fetchError(err error) error {
	var (
		redirect *jaegerquery.RedirectError
		tooLarge *jaegerquery.TooLargeError
	)
	switch {
	case errors.As(err, &redirect):
		return fmt.Errorf("%w (--allow-redirects follows redirects to other hosts)", err)
	case errors.As(err, &tooLarge):
		return fmt.Errorf("%w (--max-input-size sets the limit)", err)
	}
	return err
}
