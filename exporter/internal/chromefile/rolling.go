package chromefile

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otel2chrome/otel2chrome/converter"
)

// RollingConfig configures a Rolling sink.
type RollingConfig struct {
	Path string
	// MaxSize is the uncompressed size in bytes at which the file is rotated; it
	// also bounds the spans held in memory. Zero never rotates.
	MaxSize int64
	// MaxBackups is how many rotated files are kept; zero keeps all.
	MaxBackups int
	// FlushInterval is how often the file is rewritten with the spans added
	// since; zero writes only at Flush and Shutdown.
	FlushInterval time.Duration
	Gzip          bool
	// FileMode is the permission of the files; zero means DefaultFileMode.
	FileMode fs.FileMode
	// WrapWriter is FileOptions.WrapWriter, for tests.
	WrapWriter func(io.Writer) io.Writer
	Converter  []converter.Option
	// OnError receives errors of writes that have no caller to return them to:
	// background flushes, and a write forced by MaxSize after its spans were
	// stored. Nil discards them.
	OnError func(error)
	Now     func() time.Time
}

// Rolling writes all spans into one Chrome trace file at Path, rotated by size.
//
// A Chrome trace is one JSON object, so it cannot be appended to and stay
// valid. Instead the spans of the current file are held (compactly, by the
// converter) and the whole file is rewritten atomically at every flush; when it
// has reached MaxSize it is renamed to "<name>-<UTC time><ext>" and a new one is
// started, keeping MaxBackups of them. Path always holds a complete file or is
// absent (just after a rotation).
//
// While writing fails (disk full, permissions) the spans stay held and the
// write is retried at every flush. Once the spans held reach MaxSize and the
// last write failed, Add refuses new spans with an error instead of storing
// them, so memory stays bounded and the caller (the collector's queue and retry
// sender) holds the backlog.
type Rolling struct {
	cfg       RollingConfig
	dir, base string // base is the file name without ext
	ext       string

	mu       sync.Mutex
	conv     *converter.Converter
	dirty    bool
	perSpn   float64 // bytes per span in the last file written, to rotate before memory grows past MaxSize
	writeErr error   // of the last write or rotation, nil once one succeeds
	bg       bool    // a background loop retries writes

	cancel context.CancelFunc // stops the background loop and its write
	done   chan struct{}

	files, rotations atomic.Int64
}

// NewRolling returns a Rolling sink for cfg. It creates the directory and, when
// Path exists from an earlier run, rotates it out of the way first so it is
// never overwritten.
func NewRolling(cfg RollingConfig) (*Rolling, error) {
	if cfg.Path == "" {
		return nil, errors.New("rolling output: no path")
	}
	if err := CheckRollingPath(cfg.Path, cfg.Gzip); err != nil {
		return nil, fmt.Errorf("rolling output: %w", err)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.OnError == nil {
		cfg.OnError = func(error) {}
	}
	dir, name := filepath.Split(cfg.Path)
	if dir == "" {
		dir = "."
	}
	ext := filepath.Ext(name)
	if strings.HasSuffix(name, ".json.gz") {
		ext = ".json.gz"
	}
	r := &Rolling{
		cfg:    cfg,
		dir:    dir,
		base:   strings.TrimSuffix(name, ext),
		ext:    ext,
		conv:   converter.New(cfg.Converter...),
		perSpn: 600,
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("rolling output: %w", err)
	}
	RemoveStaleTemp(dir, cfg.Now().Add(-time.Hour))
	if _, err := os.Lstat(cfg.Path); err == nil {
		if err := r.rotate(); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// CheckRollingPath reports a path whose name disagrees with the compression of
// the file: a ".gz" name holding plain JSON, or gzip under a name that says
// JSON, misleads every program that opens the file.
func CheckRollingPath(path string, gz bool) error {
	named := strings.HasSuffix(strings.ToLower(path), ".gz")
	switch {
	case gz && !named:
		return fmt.Errorf("path %q does not end in .gz but the file is gzipped", path)
	case !gz && named:
		return fmt.Errorf("path %q ends in .gz but the file is not gzipped", path)
	}
	return nil
}

// Start rewrites the file every FlushInterval until Shutdown.
func (r *Rolling) Start() {
	if r.cfg.FlushInterval <= 0 {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	r.mu.Lock()
	r.bg = true
	r.mu.Unlock()
	r.cancel = cancel
	r.done = make(chan struct{})
	go func() {
		defer close(r.done)
		t := time.NewTicker(r.cfg.FlushInterval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				// A write cut short by Shutdown is not an error: Shutdown
				// writes the file itself.
				if err := r.Flush(ctx); err != nil && ctx.Err() == nil {
					r.cfg.OnError(err)
				}
			}
		}
	}()
}

// Add stores the spans of td (td is not retained). When the spans held are
// estimated to reach MaxSize, the file is written and rotated right away, so
// memory stays bounded between flushes. If that write fails the spans stay
// stored (the error goes to OnError), and later calls return an error without
// storing anything until a write succeeds.
func (r *Rolling) Add(td ptrace.Traces) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fullLocked() && r.writeErr != nil {
		err := r.writeErr
		if !r.bg {
			// No background loop retries the write, so this call does.
			err = r.flushLocked(context.Background())
		}
		if err != nil {
			return fmt.Errorf("rolling output %s: %d spans not stored: %d spans held reach max size and writing them failed: %w",
				r.cfg.Path, td.SpanCount(), r.conv.Len(), err)
		}
	}
	r.conv.AddTraces(td)
	r.dirty = true
	if r.fullLocked() {
		// The spans are stored, so this is not the caller's error: returning
		// it would have them sent again.
		if err := r.flushLocked(context.Background()); err != nil {
			r.cfg.OnError(err)
		}
	}
	return nil
}

// fullLocked reports whether the spans held are estimated to reach MaxSize.
func (r *Rolling) fullLocked() bool {
	return r.cfg.MaxSize > 0 && float64(r.conv.Len())*r.perSpn >= float64(r.cfg.MaxSize)
}

// Flush writes the file now if spans were added since the last write. A write
// still under way when ctx is done stops, leaving the previous file in place.
func (r *Rolling) Flush(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.flushLocked(ctx)
}

func (r *Rolling) flushLocked(ctx context.Context) error {
	if !r.dirty {
		return nil
	}
	err := r.writeLocked(ctx)
	if ctx.Err() == nil {
		// A write stopped by ctx says nothing about the disk.
		r.writeErr = err
	}
	return err
}

func (r *Rolling) writeLocked(ctx context.Context) error {
	opt := FileOptions{Gzip: r.cfg.Gzip, Mode: r.cfg.FileMode, WrapWriter: r.cfg.WrapWriter}
	n, err := WriteFile(ctx, r.cfg.Path, opt, func(w io.Writer) error {
		_, err := r.conv.Encode(w)
		return err
	})
	if err != nil {
		return fmt.Errorf("write %s: %w", r.cfg.Path, err)
	}
	r.files.Add(1)
	r.dirty = false
	if spans := r.conv.Len(); spans > 0 {
		r.perSpn = float64(n) / float64(spans)
	}
	if r.cfg.MaxSize > 0 && n >= r.cfg.MaxSize {
		if err := r.rotate(); err != nil {
			// Path holds the spans; the next write retries the rotation.
			r.dirty = true
			return err
		}
		r.conv = converter.New(r.cfg.Converter...)
	}
	return nil
}

// rotate renames the current file to a backup name that sorts by time and
// removes the oldest backups beyond MaxBackups.
func (r *Rolling) rotate() error {
	stamp := r.cfg.Now().UTC().Format("2006-01-02T15-04-05.000")
	base := r.base + "-" + stamp
	for part := 1; part < maxParts; part++ {
		dst := filepath.Join(r.dir, PartName(base, r.ext, part))
		err := linkNoClobber(r.cfg.Path, dst)
		if errors.Is(err, errExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("rotate %s: %w", r.cfg.Path, err)
		}
		// After a hard link both names hold the file; dropping the old one
		// leaves Path absent until the next write, never half-written.
		if err := os.Remove(r.cfg.Path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("rotate %s: %w", r.cfg.Path, err)
		}
		syncDir(r.dir)
		r.rotations.Add(1)
		r.prune()
		return nil
	}
	return fmt.Errorf("rotate %s: %d backup names taken", r.cfg.Path, maxParts)
}

// Backups lists the rotated files, oldest first.
func (r *Rolling) Backups() []string {
	entries, err := os.ReadDir(r.dir)
	if err != nil {
		return nil
	}
	prefix := r.base + "-"
	var out []string
	for _, e := range entries {
		n := e.Name()
		if !e.Type().IsRegular() || !strings.HasPrefix(n, prefix) || !strings.HasSuffix(n, r.ext) {
			continue
		}
		// Only names this sink made: pruning must never remove a file of the
		// user's that merely shares the prefix.
		if backupStamp.MatchString(n[len(prefix) : len(n)-len(r.ext)]) {
			out = append(out, filepath.Join(r.dir, n))
		}
	}
	slices.Sort(out) // the stamp is fixed-width UTC, so name order is time order
	return out
}

// backupStamp matches the time stamp (and optional part number) of a backup name.
var backupStamp = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d\.\d{3}(\.\d+)?$`)

func (r *Rolling) prune() {
	if r.cfg.MaxBackups <= 0 {
		return
	}
	b := r.Backups()
	for len(b) > r.cfg.MaxBackups {
		if err := os.Remove(b[0]); err != nil {
			r.cfg.OnError(fmt.Errorf("remove old backup: %w", err))
		}
		b = b[1:]
	}
}

// Shutdown stops the background loop and writes what is held. It returns
// ctx's error when ctx is done first; a rewrite under way then stops at its next
// write, leaving the previous file in place.
func (r *Rolling) Shutdown(ctx context.Context) error {
	if r.cancel != nil {
		r.cancel()
		select {
		case <-r.done:
		case <-ctx.Done():
			return fmt.Errorf("rolling output %s: spans not written: %w", r.cfg.Path, ctx.Err())
		}
		r.cancel = nil
	}
	if err := r.Flush(ctx); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("rolling output %s: spans not written: %w", r.cfg.Path, err)
		}
		return err
	}
	return nil
}

// Stats reports files written and rotations.
func (r *Rolling) Stats() (files, rotations int64) {
	return r.files.Load(), r.rotations.Load()
}
