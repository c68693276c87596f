package main

import (
	"bufio"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"golang.org/x/term"

	"github.com/otel2chrome/otel2chrome/converter"
)

// version is set at link time (-ldflags "-X main.version=v1.2.3"); otherwise the
// module version from the build info is used.
var version = ""

func buildVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}

// input is one source of trace data for the converter, opened when its turn
// comes: a file then, and a fetched answer is requested only then, so it
// streams into the decoder instead of waiting in memory.
type input func(ctx context.Context) (source, error)

// source is an opened input.
type source struct {
	// name is shown in errors and progress: a file name, made printable,
	// or where a fetched answer came from.
	name string
	r    io.Reader
	// done is called once decoding is over, with its error.
	done func(err error)
}

// ctxReader stops a conversion between reads once its context is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// Stat passes a file's size through to the converter, which then reads a
// JSON document into one buffer of the right size instead of growing one.
func (c ctxReader) Stat() (os.FileInfo, error) {
	if f, ok := c.r.(interface{ Stat() (os.FileInfo, error) }); ok {
		return f.Stat()
	}
	return nil, errors.ErrUnsupported
}

// fileInputs turns command-line arguments into inputs; none or "-" is stdin.
// Reading a terminal is almost always a mistake, so it says what it waits for.
func fileInputs(args []string, stdin io.Reader, stderr io.Writer) []input {
	if len(args) == 0 {
		args = []string{"-"}
		if f, ok := stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
			fmt.Fprintln(stderr, "otel2chrome: reading traces from the terminal (stdin); give a FILE, or see otel2chrome --help")
		}
	}
	inputs := make([]input, 0, len(args))
	for _, a := range args {
		if a == "-" {
			inputs = append(inputs, func(context.Context) (source, error) {
				return source{name: "<stdin>", r: stdin, done: func(error) {}}, nil
			})
			continue
		}
		inputs = append(inputs, func(context.Context) (source, error) {
			f, err := os.Open(a)
			if err != nil {
				return source{}, err // names the file
			}
			return source{name: printableName(a), r: f, done: func(error) { f.Close() }}, nil
		})
	}
	return inputs
}

// convertFlags are the flags every converting command shares: output, filters
// and time base.
type convertFlags struct {
	output       string
	split        string
	traceIDs     []string
	services     []string
	minDuration  time.Duration
	start, end   string
	absoluteTime bool
	noSkewFix    bool
	maxAttrLen   int
	maxInput     int64
	quiet        bool
}

func (f *convertFlags) register(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.StringVarP(&f.output, "output", "o", "", "write the trace to `FILE` (a .gz name compresses it); default stdout")
	fs.StringVar(&f.split, "split", "", "write one file per trace into `DIR` (trace-<id>.json) instead of one timeline")
	fs.StringSliceVar(&f.traceIDs, "trace-id", nil, "keep only these traces (hex `ID`; repeat or comma-separate)")
	fs.StringSliceVar(&f.services, "service", nil, "keep only spans of these service.name values (repeat or comma-separate)")
	fs.DurationVar(&f.minDuration, "min-duration", 0, "drop spans shorter than this (e.g. 1ms)")
	fs.StringVar(&f.start, "start", "", "drop spans that end before this `TIME` (RFC 3339)")
	fs.StringVar(&f.end, "end", "", "drop spans that start at or after this `TIME` (RFC 3339)")
	fs.BoolVar(&f.absoluteTime, "absolute-time", false, "write timestamps as µs since the Unix epoch instead of since the first span (loses sub-µs precision in viewers)")
	fs.BoolVar(&f.noSkewFix, "no-skew-fix", false, "do not correct clock skew between services")
	fs.IntVar(&f.maxAttrLen, "max-attr-len", converter.DefaultMaxAttributeLen, "truncate attribute values longer than this many bytes (0 keeps them whole)")
	fs.Int64Var(&f.maxInput, "max-input-size", converter.DefaultMaxInputSize, "refuse a JSON document or protobuf message larger than this many bytes (after decompression)")
	fs.BoolVarP(&f.quiet, "quiet", "q", false, "print only errors on stderr")
}

// options turns the flags into converter options.
func (f *convertFlags) options() ([]converter.Option, error) {
	if f.split != "" && f.output != "" {
		return nil, fmt.Errorf("-o and --split do not go together: --split writes one file per trace into its directory")
	}
	if f.maxInput <= 0 {
		return nil, fmt.Errorf("--max-input-size %d: must be positive", f.maxInput)
	}
	// The decoder reads one byte past its limit to see whether an input is
	// over it, which overflows at math.MaxInt64.
	f.maxInput = min(f.maxInput, math.MaxInt64-1)
	opts := []converter.Option{
		converter.WithMaxAttributeLen(f.maxAttrLen),
		converter.WithMaxInputSize(f.maxInput),
		converter.WithAbsoluteTime(f.absoluteTime),
	}
	if f.noSkewFix {
		opts = append(opts, converter.WithoutSkewCorrection())
	}
	if len(f.traceIDs) > 0 {
		ids := make([]pcommon.TraceID, 0, len(f.traceIDs))
		for _, s := range f.traceIDs {
			id, err := parseTraceID(s)
			if err != nil {
				return nil, fmt.Errorf("--trace-id %q: %w", s, err)
			}
			ids = append(ids, id)
		}
		opts = append(opts, converter.WithTraceIDs(ids...))
	}
	if len(f.services) > 0 {
		opts = append(opts, converter.WithServices(f.services...))
	}
	if f.minDuration < 0 {
		return nil, fmt.Errorf("--min-duration %v: must not be negative", f.minDuration)
	}
	if f.minDuration > 0 {
		opts = append(opts, converter.WithMinDuration(f.minDuration))
	}
	var start, end time.Time
	var err error
	if f.start != "" {
		if start, err = time.Parse(time.RFC3339Nano, f.start); err != nil {
			return nil, fmt.Errorf("--start: %w", err)
		}
	}
	if f.end != "" {
		if end, err = time.Parse(time.RFC3339Nano, f.end); err != nil {
			return nil, fmt.Errorf("--end: %w", err)
		}
	}
	if !start.IsZero() || !end.IsZero() {
		if !start.IsZero() && !end.IsZero() && !end.After(start) {
			return nil, fmt.Errorf("--end %s is not after --start %s", f.end, f.start)
		}
		opts = append(opts, converter.WithTimeWindow(start, end))
	}
	return opts, nil
}

// parseTraceID reads a trace ID of up to 32 hex digits (shorter IDs, as Jaeger
// writes them, are left-padded with zeros).
func parseTraceID(s string) (pcommon.TraceID, error) {
	var id pcommon.TraceID
	s = strings.TrimSpace(s)
	if s == "" || len(s) > 32 {
		return id, fmt.Errorf("want 1 to 32 hex digits")
	}
	s = strings.Repeat("0", 32-len(s)) + s
	if _, err := hex.Decode(id[:], []byte(s)); err != nil {
		return id, fmt.Errorf("not hex")
	}
	return id, nil
}

// run converts inputs into one timeline and writes it as the flags say.
func (f *convertFlags) run(cmd *cobra.Command, inputs []input, extra ...converter.Option) error {
	opts, err := f.options()
	if err != nil {
		return err
	}
	stderr := cmd.ErrOrStderr()
	prog := newProgress(stderr, f.quiet)
	opts = append(opts, converter.WithProgress(prog.update))
	opts = append(opts, extra...)
	c := converter.New(opts...)
	ctx := cmd.Context()
	if f.output != "" && f.output != "-" && !isStdout(f.output) {
		dir, base := filepath.Split(f.output)
		f.cleanStaleTemps(stderr, dir, tempPattern(base), func(name string) bool { return isTempOf(name, base) })
	}
	for _, open := range inputs {
		if err := ctx.Err(); err != nil {
			return err
		}
		src, err := open(ctx)
		if err != nil {
			return err
		}
		err = c.Decode(src.name, ctxReader{ctx, src.r})
		prog.done(src.name) // clears the progress line before done may print
		src.done(err)
		if err != nil {
			return err
		}
	}
	if c.Len() == 0 {
		if len(f.traceIDs) > 0 || len(f.services) > 0 || f.minDuration > 0 || f.start != "" || f.end != "" {
			return fmt.Errorf("no spans left after the filters (%d input(s) read)", len(inputs))
		}
		return fmt.Errorf("no spans in the input (%d input(s) read)", len(inputs))
	}
	if f.split != "" {
		return f.writeSplit(cmd, c)
	}
	var st converter.Stats
	if f.output == "" || f.output == "-" || isStdout(f.output) {
		w := bufio.NewWriterSize(cmd.OutOrStdout(), 256<<10)
		if st, err = c.Encode(ctxWriter{ctx, w}); err == nil {
			err = w.Flush()
		}
	} else {
		err = writeAtomic(ctx, f.output, func(w io.Writer) error {
			var err error
			st, err = c.Encode(w)
			return err
		})
	}
	if err != nil {
		return err
	}
	f.report(stderr, f.output, st)
	return nil
}

func (f *convertFlags) writeSplit(cmd *cobra.Command, c *converter.Converter) error {
	if err := os.MkdirAll(f.split, 0o755); err != nil {
		return err
	}
	f.cleanStaleTemps(cmd.ErrOrStderr(), f.split, ".trace-*.json.tmp-*", isSplitTemp)
	for _, id := range c.TraceIDs() {
		path := filepath.Join(f.split, "trace-"+id.String()+".json")
		var st converter.Stats
		if err := writeAtomic(cmd.Context(), path, func(w io.Writer) error {
			var err error
			st, err = c.EncodeTrace(w, id)
			return err
		}); err != nil {
			return err
		}
		f.report(cmd.ErrOrStderr(), path, st)
	}
	return nil
}

// report prints what was written and every clock-skew correction.
func (f *convertFlags) report(w io.Writer, path string, st converter.Stats) {
	if f.quiet {
		return
	}
	const maxShown = 10
	for i, s := range st.Shifts {
		if i == maxShown {
			fmt.Fprintf(w, "otel2chrome: ... and %d more clock-skew corrections\n", len(st.Shifts)-maxShown)
			break
		}
		fmt.Fprintf(w, "otel2chrome: clock skew: moved span %s of %q (trace %s) by %+v to fit its parent\n",
			s.SpanID, s.Service, s.TraceID, time.Duration(s.Delta))
	}
	if st.NoStart > 0 {
		fmt.Fprintf(w, "otel2chrome: left out %d spans without a start time\n", st.NoStart)
	}
	if st.Duplicates > 0 {
		fmt.Fprintf(w, "otel2chrome: merged %d duplicate spans (the same span given again)\n", st.Duplicates)
	}
	if st.Conflicts > 0 {
		fmt.Fprintf(w, "otel2chrome: dropped %d spans whose trace and span ID were already taken by a span with other content; one copy of each is kept\n", st.Conflicts)
	}
	if st.SharedIDs > 0 {
		fmt.Fprintf(w, "otel2chrome: %d span IDs were shared by a client and a server (Zipkin style); the server halves got IDs of their own\n", st.SharedIDs)
	}
	if st.FlowsOmitted > 0 {
		fmt.Fprintf(w, "otel2chrome: left out %d of %d arrows that no placement binds exactly in viewers "+
			"(a span with a nested slice beginning at its very nanosecond carries one arrow end only); counted in otherData.flows_omitted\n",
			st.FlowsOmitted, st.Flows+st.FlowsOmitted)
	}
	reportGoTraces(w, st.GoTraces)
	if path == "" || path == "-" {
		path = "stdout"
	}
	path = printableName(path)
	fmt.Fprintf(w, "otel2chrome: wrote %s: %d spans, %d services, %d lanes, %d flows, %d events\n",
		path, st.Spans, st.Processes, st.Threads, st.Flows, st.Instants)
}

func newRootCmd() *cobra.Command {
	var flags convertFlags
	cmd := &cobra.Command{
		Use:   "otel2chrome [flags] [FILE|-]...",
		Short: "Convert OpenTelemetry traces to Chrome Trace Event files",
		Long: `otel2chrome turns OpenTelemetry traces into a Chrome Trace Event file that
Perfetto UI (ui.perfetto.dev) and chrome://tracing open as one timeline:
services as processes, requests and functions as nested slices, calls between
services as flow arrows.

Inputs are detected from their content: OTLP protobuf (one message, or the
collector file exporter's length-prefixed stream), OTLP JSON, JSON Lines or
the file exporter's length-prefixed zstd frames of JSON,
Jaeger JSON (UI download, /api/traces, /api/v3/traces), each optionally gzip
or zstd compressed. With no FILE, or FILE "-", it reads stdin. Several inputs
merge into one timeline.`,
		Example: `  otel2chrome trace.otlp > out.json
  otel2chrome -o out.json.gz traces.jsonl jaeger-export.json
  otel2chrome --service checkout --min-duration 1ms -o slow.json spans.pb
  otel2chrome --split traces/ collector-dump.pb.zst
  otel2chrome fetch --jaeger http://127.0.0.1:16686 4bf92f3577b34da6a3ce929d0e0e4736 -o t.json
  otel2chrome view out.json`,
		Version:       buildVersion(),
		Args:          cobra.ArbitraryArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			return flags.run(cmd, fileInputs(args, cmd.InOrStdin(), cmd.ErrOrStderr()))
		},
	}
	flags.register(cmd)
	cmd.AddCommand(newFetchCmd(), newViewCmd())
	return cmd
}

// isStdout reports whether path names the standard output (written as it is,
// appending where the shell opened it so, never renamed over).
func isStdout(path string) bool {
	switch filepath.Clean(path) {
	case "/dev/stdout", "/dev/fd/1", "/proc/self/fd/1":
		return true
	}
	return false
}
