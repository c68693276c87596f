package main

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
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
			srv, err := perfetto.Listen(port, args[0])
			if err != nil {
				if errors.Is(err, syscall.EADDRINUSE) {
					return fmt.Errorf("%w\n(another otel2chrome view may be running; --port 0 picks a free port, but Perfetto UI's ?url= link works only on %d)", err, perfetto.DefaultPort)
				}
				return err
			}
			defer srv.Close()
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "Serving %s on %s (Ctrl-C stops)\n", args[0], srv.Addr())
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
