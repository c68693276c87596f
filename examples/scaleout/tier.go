package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/otel2chrome/otel2chrome/internal/listenwait"
)

// proc is one collector process of the tier: its binary, configuration file
// and environment, so that it can be killed and started again as it was.
type proc struct {
	name   string
	bin    string
	config string
	env    []string
	log    string
	cmd    *exec.Cmd
	exited chan error
	// addrs must accept connections before the process counts as started.
	addrs []string
}

// start runs the process and waits up to a minute for its addresses.
func (p *proc) start() error {
	logFile, err := os.OpenFile(p.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	p.cmd = exec.Command(p.bin, "--config", p.config)
	p.cmd.Env = append(os.Environ(), p.env...)
	p.cmd.Stdout, p.cmd.Stderr = logFile, logFile
	if err := p.cmd.Start(); err != nil {
		logFile.Close()
		return fmt.Errorf("%s: %w", p.name, err)
	}
	p.exited = make(chan error, 1)
	go func(cmd *exec.Cmd, exited chan<- error) {
		exited <- cmd.Wait()
		logFile.Close()
	}(p.cmd, p.exited)
	if err := listenwait.Wait(p.exited, time.Minute, p.addrs...); err != nil {
		p.kill()
		return fmt.Errorf("%s (log %s): %w", p.name, p.log, err)
	}
	return nil
}

// stop sends SIGTERM and waits for the process to drain and exit.
func (p *proc) stop(timeout time.Duration) error {
	if p.cmd == nil {
		return nil
	}
	defer func() { p.cmd = nil }()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return fmt.Errorf("%s: %w", p.name, err)
	}
	select {
	case err := <-p.exited:
		if err != nil {
			return fmt.Errorf("%s exited: %w (log %s)", p.name, err, p.log)
		}
		return nil
	case <-time.After(timeout):
		p.cmd.Process.Kill()
		<-p.exited
		return fmt.Errorf("%s did not exit within %v of SIGTERM (log %s)", p.name, timeout, p.log)
	}
}

// kill sends SIGKILL and waits for the process to be gone.
func (p *proc) kill() {
	if p.cmd == nil {
		return
	}
	p.cmd.Process.Kill()
	<-p.exited
	p.cmd = nil
}

// tier is a load-balancing collector in front of otelcol-chrome backends, all
// on 127.0.0.1.
type tier struct {
	balancer *proc
	backends []*proc
	dirs     []string // each backend's output directory
	// grpcAddr and httpAddr are the balancer's OTLP receivers.
	grpcAddr, httpAddr string
	metrics            []string // balancer's, then each backend's /metrics address
	addrs              []string // each backend's OTLP/gRPC address
	configDir, work    string
}

// tierConfig says what to run and where.
type tierConfig struct {
	balancerBin, backendBin string
	// configDir holds balancer.yaml and backend.yaml.
	configDir string
	work      string // logs and backend directories go here
	backends  int
	// ring is how many of the backends, the first ones, the balancer's
	// static resolver lists at the start; 0 means all.
	ring int
	idle time.Duration // the backends' trace_idle_timeout
	// retention is the backends' trace_retention; 0 means their default.
	retention time.Duration
}

// startTier starts the backends, then the balancer in front of them, its
// static resolver listing the first c.ring backends (see ringConfig).
func startTier(c tierConfig) (*tier, error) {
	if c.backends < 1 {
		return nil, fmt.Errorf("backends: %d, want at least one", c.backends)
	}
	if c.ring <= 0 || c.ring > c.backends {
		c.ring = c.backends
	}
	if err := os.MkdirAll(c.work, 0o755); err != nil {
		return nil, err
	}
	t := &tier{configDir: c.configDir, work: c.work}
	ports, err := freePorts(2 + 2*c.backends + 1)
	if err != nil {
		return nil, err
	}
	next := func() string { p := ports[0]; ports = ports[1:]; return p }
	for i := range c.backends {
		dir := filepath.Join(c.work, fmt.Sprintf("backend-%d", i+1))
		grpcAddr, metrics := next(), next()
		_, mport, _ := net.SplitHostPort(metrics)
		b := &proc{
			name: fmt.Sprintf("backend-%d", i+1), bin: c.backendBin,
			config: filepath.Join(c.configDir, "backend.yaml"),
			env: []string{"BACKEND_GRPC=" + grpcAddr, "BACKEND_DIR=" + dir,
				"TRACE_IDLE_TIMEOUT=" + c.idle.String(), "METRICS_PORT=" + mport},
			log:   filepath.Join(c.work, fmt.Sprintf("backend-%d.log", i+1)),
			addrs: []string{grpcAddr},
		}
		t.backends = append(t.backends, b)
		t.dirs = append(t.dirs, dir)
		if c.retention > 0 {
			b.env = append(b.env, "TRACE_RETENTION="+c.retention.String())
		}
		t.metrics = append(t.metrics, metrics)
		t.addrs = append(t.addrs, grpcAddr)
	}
	t.grpcAddr, t.httpAddr = next(), next()
	metrics := next()
	_, mport, _ := net.SplitHostPort(metrics)
	t.metrics = append([]string{metrics}, t.metrics...)
	config, err := t.ringConfig(t.addrs[:c.ring])
	if err != nil {
		return nil, err
	}
	t.balancer = &proc{
		name: "balancer", bin: c.balancerBin, config: config,
		env:   []string{"BALANCER_GRPC=" + t.grpcAddr, "BALANCER_HTTP=" + t.httpAddr, "METRICS_PORT=" + mport},
		log:   filepath.Join(c.work, "balancer.log"),
		addrs: []string{t.grpcAddr, t.httpAddr},
	}
	for _, p := range append(append([]*proc(nil), t.backends...), t.balancer) {
		if err := p.start(); err != nil {
			t.kill()
			return nil, err
		}
	}
	return t, nil
}

// ringConfig writes a copy of balancer.yaml whose static resolver lists
// addrs, in place of the BACKEND_n entries, and returns its path.
func (t *tier) ringConfig(addrs []string) (string, error) {
	data, err := os.ReadFile(filepath.Join(t.configDir, "balancer.yaml"))
	if err != nil {
		return "", err
	}
	var out []string
	listed := false
	for line := range strings.SplitSeq(string(data), "\n") {
		trimmed := strings.TrimSpace(line)
		if !strings.HasPrefix(trimmed, "- ${env:BACKEND_") {
			out = append(out, line)
			continue
		}
		if !listed {
			indent := line[:len(line)-len(strings.TrimLeft(line, " "))]
			for _, a := range addrs {
				out = append(out, indent+"- "+a)
			}
			listed = true
		}
	}
	if !listed {
		return "", fmt.Errorf("%s: no static resolver hostnames (- ${env:BACKEND_n…})", filepath.Join(t.configDir, "balancer.yaml"))
	}
	path := filepath.Join(t.work, fmt.Sprintf("balancer-ring%d.yaml", len(addrs)))
	for n := 2; ; n++ {
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			break
		}
		path = filepath.Join(t.work, fmt.Sprintf("balancer-ring%d-%d.yaml", len(addrs), n))
	}
	return path, os.WriteFile(path, []byte(strings.Join(out, "\n")), 0o644)
}

// changeRing restarts the balancer with its static resolver listing the
// backends ring (indexes into t.backends): on 127.0.0.1 the only way to
// change the load_balancing exporter's ring, as the static resolver never
// changes and DNS needs /etc/hosts. The old balancer drains its queues into
// the old ring; senders retry while neither listens. It returns when the new
// balancer listens, and reports how long that took from the old one's SIGTERM.
func (t *tier) changeRing(ring []int, timeout time.Duration) (time.Duration, error) {
	var addrs []string
	for _, i := range ring {
		addrs = append(addrs, t.addrs[i])
	}
	config, err := t.ringConfig(addrs)
	if err != nil {
		return 0, err
	}
	begin := time.Now()
	if err := t.balancer.stop(timeout); err != nil {
		return 0, err
	}
	t.balancer.config = config
	if err := t.balancer.start(); err != nil {
		return 0, err
	}
	return time.Since(begin), nil
}

// stop shuts the tier down front to back: the balancer first, so that it
// drains its queues into the backends, then the backends, which write every
// trace they hold.
func (t *tier) stop(timeout time.Duration) error {
	errs := []error{t.balancer.stop(timeout)}
	for _, b := range t.backends {
		errs = append(errs, b.stop(timeout))
	}
	return errors.Join(errs...)
}

// kill ends every process at once, for error paths.
func (t *tier) kill() {
	t.balancer.kill()
	for _, b := range t.backends {
		b.kill()
	}
}

// freePorts returns n distinct free 127.0.0.1 addresses. Another process may
// take one before it is used; the start then fails and says so.
func freePorts(n int) ([]string, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	var out []string
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		out = append(out, l.Addr().String())
	}
	return out, nil
}

// buildCollector builds cmd/otelcol-chrome into dir.
func buildCollector(ctx context.Context, dir string) (string, error) {
	bin := filepath.Join(dir, "otelcol-chrome")
	out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/otel2chrome/otel2chrome/cmd/otelcol-chrome").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build ./cmd/otelcol-chrome: %w\n%s", err, out)
	}
	return bin, nil
}

// toolsDir is where .ci/tools.sh puts the balancer and telemetrygen.
func toolsDir() string {
	if d := os.Getenv("OTEL2CHROME_TOOLS_DIR"); d != "" {
		return d
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".cache", "otel2chrome", "tools")
}

// findTool returns the named binary from the tools directory or $PATH.
func findTool(name string) (string, error) {
	p := filepath.Join(toolsDir(), name)
	if _, err := os.Stat(p); err == nil {
		return p, nil
	}
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("%s not found in %s or $PATH: run `bash .ci/tools.sh`", name, toolsDir())
}
