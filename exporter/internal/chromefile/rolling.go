package chromefile

import (
	"context"
	"errors"
	"fmt"
	"io"
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
	Converter     []converter.Option
	OnError       func(error)
	Now           func() time.Time
}

// Rolling writes all spans into one Chrome trace file at Path, rotated by size.
//
// A Chrome trace is one JSON object, so it cannot be appended to and stay
// valid. Instead the spans of the current file are held (compactly, by the
// converter) and the whole file is rewritten atomically at every flush; when it
// has reached MaxSize it is renamed to "<name>-<UTC time><ext>" and a new one is
// started, keeping MaxBackups of them. Path always holds a complete file or is
// absent (just after a rotation).
type Rolling struct {
	cfg       RollingConfig
	dir, base string // base is the file name without ext
	ext       string

	mu     sync.Mutex
	conv   *converter.Converter
	dirty  bool
	perSpn float64 // bytes per span in the last file written, to rotate before memory grows past MaxSize

	stop chan struct{}
	done chan struct{}

	files, rotations atomic.Int64
}

// NewRolling returns a Rolling sink for cfg. It creates the directory and, when
// Path exists from an earlier run, rotates it out of the way first so it is
// never overwritten.
func NewRolling(cfg RollingConfig) (*Rolling, error) {
	if cfg.Path == "" {
		return nil, errors.New("rolling output: no path")
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

// Start rewrites the file every FlushInterval until Shutdown.
func (r *Rolling) Start() {
	if r.cfg.FlushInterval <= 0 {
		return
	}
	r.stop = make(chan struct{})
	r.done = make(chan struct{})
	go func() {
		defer close(r.done)
		t := time.NewTicker(r.cfg.FlushInterval)
		defer t.Stop()
		for {
			select {
			case <-r.stop:
				return
			case <-t.C:
				if err := r.Flush(context.Background()); err != nil {
					r.cfg.OnError(err)
				}
			}
		}
	}()
}

// Add stores the spans of td (td is not retained). When the spans held are
// estimated to reach MaxSize, the file is written and rotated right away, so
// memory stays bounded between flushes.
func (r *Rolling) Add(td ptrace.Traces) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.conv.AddTraces(td)
	r.dirty = true
	if r.cfg.MaxSize > 0 && float64(r.conv.Len())*r.perSpn >= float64(r.cfg.MaxSize) {
		return r.flushLocked()
	}
	return nil
}

// Flush writes the file now if spans were added since the last write. The
// write itself is not interruptible; ctx is checked before it starts.
func (r *Rolling) Flush(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.flushLocked()
}

func (r *Rolling) flushLocked() error {
	if !r.dirty {
		return nil
	}
	n, err := WriteFile(r.cfg.Path, r.cfg.Gzip, func(w io.Writer) error {
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

// Shutdown stops the background loop and writes what is held.
func (r *Rolling) Shutdown(ctx context.Context) error {
	if r.stop != nil {
		close(r.stop)
		<-r.done
		r.stop = nil
	}
	return r.Flush(ctx)
}

// Stats reports files written and rotations.
func (r *Rolling) Stats() (files, rotations int64) {
	return r.files.Load(), r.rotations.Load()
}
