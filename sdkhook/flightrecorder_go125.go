//go:build go1.25

package sdkhook

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	rtrace "runtime/trace"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/trace"
)

// flightRunning is set while a FlightRecorder of this package runs.
var flightRunning atomic.Bool

// FlightRecorder keeps the last seconds of the Go execution trace in memory
// (runtime/trace.FlightRecorder) and saves the window covering a request when
// a processor made WithFlightRecorder captures it. Snapshots are rate-limited
// and bounded in count, size and disk use, and written atomically. One may
// run per process.
type FlightRecorder struct {
	cfg  FlightRecorderConfig
	fr   *rtrace.FlightRecorder
	jobs chan string // paths to write
	done chan struct{}

	mu      sync.Mutex
	stopped bool
	last    time.Time
	files   int   // snapshot files in Dir, reserved ones included
	disk    int64 // their bytes
	stats   FlightRecorderStats
}

// NewFlightRecorder starts the runtime's flight recorder and a goroutine that
// writes snapshots into cfg.Dir. It fails with ErrFlightRecorderRunning when a
// flight recorder already runs in the process. Stop it with Stop.
func NewFlightRecorder(cfg FlightRecorderConfig) (*FlightRecorder, error) {
	if cfg.Dir == "" {
		return nil, fmt.Errorf("sdkhook: FlightRecorderConfig.Dir is empty")
	}
	cfg = cfg.withDefaults()
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("sdkhook: flight recorder: %w", err)
	}
	f := &FlightRecorder{cfg: cfg, jobs: make(chan string, 1), done: make(chan struct{})}
	// Snapshots found in Dir count against the bounds, so they hold across
	// restarts; so do the temporary files a crash left behind (on disk
	// use: they are not snapshots, and may be another process's).
	if entries, err := os.ReadDir(cfg.Dir); err == nil {
		for _, e := range entries {
			snap := strings.HasSuffix(e.Name(), snapshotExt)
			temp := strings.HasPrefix(e.Name(), ".") && strings.Contains(e.Name(), snapshotExt+tempInfix)
			if (snap || temp) && e.Type().IsRegular() {
				if fi, err := e.Info(); err == nil {
					if snap {
						f.files++
					}
					f.disk += fi.Size()
				}
			}
		}
	}
	if !flightRunning.CompareAndSwap(false, true) {
		return nil, fmt.Errorf("sdkhook: %w: another sdkhook.FlightRecorder", ErrFlightRecorderRunning)
	}
	f.fr = rtrace.NewFlightRecorder(rtrace.FlightRecorderConfig{MinAge: cfg.Window, MaxBytes: cfg.MaxBytes})
	if err := f.fr.Start(); err != nil {
		flightRunning.Store(false)
		return nil, fmt.Errorf("sdkhook: %w: runtime/trace says %v", ErrFlightRecorderRunning, err)
	}
	go f.run()
	return f, nil
}

const (
	snapshotExt = ".gotrace"
	tempInfix   = ".tmp-" // a snapshot being written: .<name>.gotrace.tmp-<random>
)

// Stop stops the recorder after writing the snapshot in progress, if any,
// unless ctx ends first. The runtime's recorder stops in any case.
func (f *FlightRecorder) Stop(ctx context.Context) error {
	f.mu.Lock()
	if f.stopped {
		f.mu.Unlock()
		return nil
	}
	f.stopped = true
	close(f.jobs)
	f.mu.Unlock()
	var err error
	select {
	case <-f.done:
	case <-ctx.Done():
		err = ctx.Err()
	}
	f.fr.Stop() // a snapshot still being written then fails
	flightRunning.Store(false)
	return err
}

// Stats returns what the recorder did so far.
func (f *FlightRecorder) Stats() FlightRecorderStats {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.stats
}

// request reserves a snapshot for the request span sc that just ended and
// returns its path, or why there is none.
func (f *FlightRecorder) request(sc trace.SpanContext) (path, skipped string) {
	if f == nil {
		return "", ""
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	now := time.Now()
	switch {
	case f.stopped:
		skipped = "stopped"
	case f.files >= f.cfg.MaxSnapshots:
		skipped = "max snapshots"
	case f.disk >= f.cfg.MaxDiskBytes:
		skipped = "disk limit"
	case !f.last.IsZero() && now.Sub(f.last) < f.cfg.MinInterval:
		skipped = "rate limit"
	}
	if skipped == "" {
		path = filepath.Join(f.cfg.Dir, sc.TraceID().String()+"-"+sc.SpanID().String()+snapshotExt)
		select {
		case f.jobs <- path:
			f.files++
			f.last = now
			return path, ""
		default:
			skipped = "busy"
		}
	}
	f.stats.Skipped++
	return "", skipped
}

func (f *FlightRecorder) run() {
	defer close(f.done)
	for path := range f.jobs {
		start := time.Now()
		// Only this goroutine writes, so the room left on disk is known
		// now: a snapshot that would take Dir over MaxDiskBytes is not
		// kept, like one over MaxSnapshotBytes.
		f.mu.Lock()
		limit := min(f.cfg.MaxSnapshotBytes, f.cfg.MaxDiskBytes-f.disk)
		f.mu.Unlock()
		n, err := f.write(path, limit)
		cost := time.Since(start)
		f.mu.Lock()
		if err != nil {
			f.stats.Failed++
			f.files--
		} else {
			f.stats.Snapshots++
			f.stats.Bytes += n
			f.stats.LastBytes, f.stats.LastCost = n, cost
			f.stats.Cost += cost
			f.disk += n
		}
		f.mu.Unlock()
	}
}

// errSnapshotTooLarge stops a snapshot over MaxSnapshotBytes, or over the
// room MaxDiskBytes leaves.
var errSnapshotTooLarge = fmt.Errorf("snapshot over the size limit")

// write saves the recorder's window at path: into a temporary file beside it,
// synced, then renamed, so path is either absent or a whole snapshot of at
// most limit bytes.
func (f *FlightRecorder) write(path string, limit int64) (int64, error) {
	if limit <= 0 {
		return 0, errSnapshotTooLarge
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+tempInfix)
	if err != nil {
		return 0, err
	}
	ok := false
	defer func() {
		if !ok {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	n, err := f.fr.WriteTo(&limitWriter{w: tmp, left: limit})
	if err != nil {
		return n, err
	}
	// fsync before rename: otherwise a crash can leave the new name
	// pointing at an empty or partial file.
	if err := tmp.Sync(); err != nil {
		return n, err
	}
	if err := tmp.Close(); err != nil {
		return n, err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return n, err
	}
	ok = true
	// fsync the directory so the rename itself survives a crash.
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return n, nil
}

type limitWriter struct {
	w    io.Writer
	left int64
}

func (l *limitWriter) Write(p []byte) (int, error) {
	if int64(len(p)) > l.left {
		return 0, errSnapshotTooLarge
	}
	n, err := l.w.Write(p)
	l.left -= int64(n)
	return n, err
}

// String describes the recorder, for logs.
func (f *FlightRecorder) String() string {
	return "FlightRecorder{dir=" + strconv.Quote(f.cfg.Dir) + ", window=" + f.cfg.Window.String() + "}"
}
