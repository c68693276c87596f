package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/otel2chrome/otel2chrome/cmd/otel2chrome/internal/perfetto"
)

// newViewCmd is "otel2chrome view": serve a trace file to Perfetto UI.
func newViewCmd() *cobra.Command {
	var (
		port   int
		noOpen bool
	)
	cmd := &cobra.Command{
		Use:   "view [--port N] [--no-open] FILE",
		Short: "Open a Chrome trace file in Perfetto UI",
		Long: `view serves FILE on 127.0.0.1 with a small page that opens Perfetto UI
(ui.perfetto.dev) in the browser and hands the trace to it; the trace stays on
this machine. It prints the page's link and, on port 9001 (the default), the
ui.perfetto.dev/#!/?url= link as well, opens the page in a browser unless
--no-open is given, and serves until Ctrl-C.

Only the page and the trace are served, only on 127.0.0.1, and only Perfetto
UI may read the trace from another origin. The file is read anew for every
request: convert again, then reload.`,
		Example: `  otel2chrome -o out.json trace.otlp && otel2chrome view out.json
  otel2chrome view --no-open --port 0 out.json.gz`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := notConverted(args[0]); err != nil {
				return err
			}
			srv, err := perfetto.Listen(port, args[0])
			if err != nil {
				if errors.Is(err, syscall.EADDRINUSE) {
					return fmt.Errorf("%w\n(another otel2chrome view may be running; --port 0 picks a free port, but Perfetto UI's ?url= link works only on %d)", err, perfetto.DefaultPort)
				}
				return err
			}
			defer srv.Close()
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "Serving %s on %s (Ctrl-C stops)\n", printableName(args[0]), srv.Addr())
			fmt.Fprintf(out, "  open in Perfetto UI:  %s\n", srv.PageURL())
			if port == perfetto.DefaultPort {
				fmt.Fprintf(out, "  or directly:          %s\n", srv.DeepLink())
			}
			fmt.Fprintf(out, "  trace file:           %s\n", srv.TraceURL())
			if !noOpen {
				if err := openBrowser(cmd.Context(), srv.PageURL()); err != nil {
					fmt.Fprintf(cmd.ErrOrStderr(), "otel2chrome: could not open a browser (%v); open the link above\n", err)
				}
			}
			return srv.Serve(cmd.Context())
		},
	}
	fs := cmd.Flags()
	fs.IntVar(&port, "port", perfetto.DefaultPort, "serve on 127.0.0.1:`N` (0 picks a free port)")
	fs.BoolVar(&noOpen, "no-open", false, "only print the links; do not start a browser")
	return cmd
}

// unconvertedJSON matches the start of OTLP JSON and Jaeger JSON, which
// Perfetto UI cannot open.
var unconvertedJSON = regexp.MustCompile(`^(\xef\xbb\xbf)?\s*\{\s*"(resourceSpans|data|result)"\s*:`)

// notConverted returns an error that says how to convert path when it holds
// OTLP or Jaeger JSON rather than a trace Perfetto UI opens. Anything else
// (Chrome JSON, Perfetto protobuf, unreadable files) is left to the server
// and the UI to judge.
func notConverted(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	br := bufio.NewReader(f)
	var r io.Reader = br
	if magic, _ := br.Peek(2); bytes.Equal(magic, []byte{0x1f, 0x8b}) {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil
		}
		defer zr.Close()
		r = zr
	}
	head := make([]byte, 512)
	n, _ := io.ReadFull(r, head)
	if unconvertedJSON.Match(head[:n]) {
		return fmt.Errorf("%s holds OTLP or Jaeger JSON, which Perfetto UI cannot open; convert it first:\n  otel2chrome -o out.json %s && otel2chrome view out.json", printableName(path), printableName(path))
	}
	return nil
}

// openBrowser starts the desktop's URL opener on u and reaps it in the
// background; the opener returns at once, so the goroutine ends soon.
func openBrowser(ctx context.Context, u string) error {
	var c *exec.Cmd
	switch runtime.GOOS {
	case "darwin":
		c = exec.CommandContext(ctx, "open", u)
	case "windows":
		c = exec.CommandContext(ctx, "rundll32", "url.dll,FileProtocolHandler", u)
	default:
		c = exec.CommandContext(ctx, "xdg-open", u)
	}
	if err := c.Start(); err != nil {
		return err
	}
	go c.Wait()
	return nil
}
