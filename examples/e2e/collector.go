package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// buildCollector builds cmd/otelcol-chrome of the module this program lives
// in into dir.
func buildCollector(ctx context.Context, dir string) (string, error) {
	gomod, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("finding the module root: %w", err)
	}
	root := filepath.Dir(strings.TrimSpace(string(gomod)))
	bin := filepath.Join(dir, "otelcol-chrome")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/otelcol-chrome")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/otelcol-chrome: %w\n%s", err, out)
	}
	return bin, nil
}

// configTemplate receives OTLP/gRPC on loopback and writes one Chrome trace
// file per trace. The collector's own metrics are off so that no second port
// is opened and runs never collide.
const configTemplate = `receivers:
  otlp:
    protocols:
      grpc:
        endpoint: %s
processors:
  batch:
    timeout: 200ms
exporters:
  chrome:
    mode: per_trace
    directory: %s
    trace_idle_timeout: 1s
service:
  telemetry:
    metrics:
      level: none
    logs:
      level: warn
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [chrome]
`

type collector struct {
	cmd      *exec.Cmd
	otlpAddr string
	logs     *logBuffer
	done     chan error
}

// logBuffer collects the collector's output; it is written by exec's copying
// goroutine and read for error messages while the process may still run.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func freePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

func startCollector(ctx context.Context, bin, out string, stderr io.Writer) (*collector, error) {
	addr, err := freePort()
	if err != nil {
		return nil, err
	}
	absOut, err := filepath.Abs(out)
	if err != nil {
		return nil, err
	}
	cfg := filepath.Join(os.TempDir(), fmt.Sprintf("otel2chrome-e2e-%d.yaml", os.Getpid()))
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(configTemplate, addr, absOut)), 0o644); err != nil {
		return nil, err
	}
	c := &collector{otlpAddr: addr, logs: &logBuffer{}, done: make(chan error, 1)}
	c.cmd = exec.Command(bin, "--config", cfg)
	c.cmd.Stdout = c.logs
	c.cmd.Stderr = c.logs
	if err := c.cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", bin, err)
	}
	go func() {
		c.done <- c.cmd.Wait()
		os.Remove(cfg)
	}()
	// Wait, bounded, for the receiver to accept connections.
	deadline := time.Now().Add(30 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			conn.Close()
			return c, nil
		}
		select {
		case err := <-c.done:
			return nil, fmt.Errorf("collector exited before listening (%v):\n%s", err, c.logs)
		case <-ctx.Done():
			c.kill()
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			c.kill()
			return nil, fmt.Errorf("collector not listening on %s after 30s:\n%s", addr, c.logs)
		}
	}
}

// stop asks the collector to shut down (SIGTERM), which flushes the chrome
// exporter, and waits for it.
func (c *collector) stop(timeout time.Duration) error {
	if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return err
	}
	select {
	case err := <-c.done:
		c.done <- err // for kill
		if err != nil {
			return fmt.Errorf("collector: %w\n%s", err, c.logs)
		}
		return nil
	case <-time.After(timeout):
		c.kill()
		return errors.New("collector did not stop within " + timeout.String())
	}
}

func (c *collector) kill() {
	select {
	case err := <-c.done:
		c.done <- err
	default:
		c.cmd.Process.Kill()
	}
}
