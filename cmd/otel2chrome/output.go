package main

import (
	"bufio"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// ctxWriter fails every write once its context is done, so an interrupt
// stops the encoder at its next 64 KiB chunk instead of letting it finish
// and replace the output.
type ctxWriter struct {
	ctx context.Context
	w   io.Writer
}

func (c ctxWriter) Write(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.w.Write(p)
}

// tempFiles are the temporary files being written, so that the exit after a
// second Ctrl-C, or after the grace for work that cannot be interrupted,
// removes them too.
type tempFiles struct {
	mu    sync.Mutex
	names map[string]bool
}

// liveTemps holds the temporary files of this process.
var liveTemps tempFiles

func (t *tempFiles) add(name string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.names == nil {
		t.names = make(map[string]bool)
	}
	t.names[name] = true
}

func (t *tempFiles) remove(name string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.names, name)
}

// commit renames tmp to path unless ctx is done, under the lock that abandon
// takes: a run is either interrupted with the old file in place, or it
// renamed before the interrupt and is complete.
func (t *tempFiles) commit(ctx context.Context, tmp, path string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	delete(t.names, tmp)
	return nil
}

// abandon removes every temporary file being written and keeps the lock, so
// nothing is renamed into place before the process exits.
func (t *tempFiles) abandon() {
	t.mu.Lock()
	for name := range t.names {
		os.Remove(name)
	}
}

// tempPattern is os.CreateTemp's pattern for the temporary file of a write
// to a file named base: ".BASE.tmp-" and digits.
func tempPattern(base string) string { return "." + base + ".tmp-*" }

// isTempOf reports whether name is a temporary file of a write to base, as
// tempPattern makes them: CreateTemp puts decimal digits in place of the *.
func isTempOf(name, base string) bool {
	rest, ok := strings.CutPrefix(name, "."+base+".tmp-")
	return ok && rest != "" && strings.Trim(rest, "0123456789") == ""
}

// writeAtomic writes path through a temporary file in the same directory and
// renames it into place, so path is always either the old file or a complete
// new one. A .gz name gzips the content. Once ctx is done, writes fail and
// nothing is renamed; the temporary file is removed on every failure.
//
// A path that exists and is no regular file (/dev/null, a named pipe) is
// written in place: a rename would replace the device or pipe with a plain
// file (as root, /dev/null itself). The caller writes /dev/stdout itself.
func writeAtomic(ctx context.Context, path string, write func(io.Writer) error) (err error) {
	if fi, err := os.Stat(path); err == nil {
		if fi.IsDir() {
			return fmt.Errorf("writing %s: is a directory", path)
		}
		if !fi.Mode().IsRegular() {
			return writeInPlace(ctx, path, write)
		}
	}
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, tempPattern(base))
	if err != nil {
		return fmt.Errorf("creating %s: %w", path, err)
	}
	liveTemps.add(tmp.Name())
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
			liveTemps.remove(tmp.Name())
		}
	}()
	if err = encodeTo(ctx, tmp, path, write); err != nil {
		return err
	}
	if err = tmp.Sync(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	// CreateTemp makes the file private; give it the mode the file it
	// replaces had, or the one a plain create would (0666 less the umask).
	mode := newFileMode()
	if fi, err := os.Stat(path); err == nil {
		mode = fi.Mode().Perm()
	}
	if err = os.Chmod(tmp.Name(), mode); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err = liveTemps.commit(ctx, tmp.Name(), path); err != nil {
		if ctx.Err() != nil {
			return err
		}
		return fmt.Errorf("writing %s: %w", path, err)
	}
	// The rename is durable only once the directory is on disk too; a
	// failure here leaves a complete file in place, so it is not reported.
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// writeInPlace writes path, which exists and is no regular file, directly.
func writeInPlace(ctx context.Context, path string, write func(io.Writer) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		return fmt.Errorf("opening %s: %w", path, err)
	}
	if err := encodeTo(ctx, f, path, write); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// encodeTo runs write into f through a buffer, gzipped when path ends in .gz,
// and flushes it; writes fail once ctx is done.
func encodeTo(ctx context.Context, f *os.File, path string, write func(io.Writer) error) error {
	bw := bufio.NewWriterSize(f, 256<<10)
	var w io.Writer = bw
	var gz *gzip.Writer
	if strings.HasSuffix(path, ".gz") {
		gz = gzip.NewWriter(bw)
		w = gz
	}
	if err := write(ctxWriter{ctx, w}); err != nil {
		return err
	}
	if gz != nil {
		if err := gz.Close(); err != nil {
			return fmt.Errorf("writing %s: %w", path, err)
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// staleTempAge is how old a temporary file must be before a later run
// removes it. A live run rewrites its temporary file every 256 KiB while
// encoding, and before that only lays out the spans, which takes seconds even
// for millions of them; an hour is far beyond that. A run stopped (SIGSTOP, a
// suspended laptop) for longer loses its temporary file and fails at the
// rename, leaving the old output in place.
const staleTempAge = time.Hour

// isSplitTemp reports whether name is a temporary file of --split's
// trace-<id>.json files.
func isSplitTemp(name string) bool {
	i := strings.LastIndex(name, ".tmp-")
	if i < 1 || name[0] != '.' {
		return false
	}
	base := name[1:i]
	id, ok := strings.CutPrefix(strings.TrimSuffix(base, ".json"), "trace-")
	return ok && strings.HasSuffix(base, ".json") && len(id) == 32 &&
		strings.Trim(id, "0123456789abcdef") == "" && isTempOf(name, base)
}

// removeStaleTemps removes the regular files in dir for which isOurs holds
// that were last modified more than staleTempAge before now: temporary files
// of runs that were killed (SIGKILL, power loss) before they could remove
// them. It returns the names removed; errors are ignored, as the files are
// only clutter.
func removeStaleTemps(dir string, isOurs func(name string) bool, now time.Time) []string {
	if dir == "" {
		dir = "."
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var removed []string
	for _, e := range entries {
		if !e.Type().IsRegular() || !isOurs(e.Name()) {
			continue // not symlinks, not directories, not others' files
		}
		fi, err := e.Info()
		if err != nil || now.Sub(fi.ModTime()) <= staleTempAge {
			continue
		}
		if os.Remove(filepath.Join(dir, e.Name())) == nil {
			removed = append(removed, e.Name())
		}
	}
	return removed
}

// cleanStaleTemps removes what removeStaleTemps finds and says so.
func (f *convertFlags) cleanStaleTemps(w io.Writer, dir, pattern string, isOurs func(string) bool) {
	removed := removeStaleTemps(dir, isOurs, time.Now())
	if len(removed) > 0 && !f.quiet {
		fmt.Fprintf(w, "otel2chrome: removed %d temporary files (%s) older than %v, left by runs that were killed\n",
			len(removed), printableName(filepath.Join(dir, pattern)), staleTempAge)
	}
}
