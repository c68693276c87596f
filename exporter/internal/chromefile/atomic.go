package chromefile

import (
	"bufio"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// tempPrefix marks temporary files so that a crash leaves only names no reader
// mistakes for a trace, and so that they can be recognised and removed.
const tempPrefix = ".otel2chrome-tmp-"

// maxParts bounds the probing for a free "<base>.<n><ext>" name.
const maxParts = 10000

// errExist reports that a no-clobber write found its name taken.
var errExist = fs.ErrExist

// DefaultFileMode is the permission of the files written when none is set:
// readable by other users, like the files of most tools. os.CreateTemp makes
// 0600 files, so without an explicit mode traces would be private and a
// rewrite would narrow a file that was readable before.
const DefaultFileMode fs.FileMode = 0o644

// FileOptions says how a file is written.
type FileOptions struct {
	// Gzip compresses the file.
	Gzip bool
	// Mode is the file's permission bits. It is set with chmod, so the umask
	// does not narrow it. Zero means DefaultFileMode.
	Mode fs.FileMode
	// WrapWriter, when set, wraps the writer the file's bytes go through
	// (before compression). Tests use it to simulate a slow or failing disk.
	WrapWriter func(io.Writer) io.Writer
}

func (o FileOptions) mode() fs.FileMode {
	if o.Mode == 0 {
		return DefaultFileMode
	}
	return o.Mode & fs.ModePerm
}

// writeTemp writes the output of fill into a new temporary file in dir, as opt
// says, and syncs it. It returns the temporary file's path and the uncompressed
// byte count. It stops with ctx's error at the first write after ctx is done.
// On error nothing is left behind.
func writeTemp(ctx context.Context, dir string, opt FileOptions, fill func(io.Writer) error) (tmp string, n int64, err error) {
	if err := ctx.Err(); err != nil {
		return "", 0, err
	}
	f, err := os.CreateTemp(dir, tempPrefix+"*")
	if err != nil {
		return "", 0, fmt.Errorf("create temporary file in %s: %w", dir, err)
	}
	name := f.Name() // not tmp: the return statements below clear it
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(name)
		}
	}()
	// The mode is set on the temporary file, before any rename or link, so
	// the file appears under its name with its final permissions.
	if err = f.Chmod(opt.mode()); err != nil {
		return "", 0, fmt.Errorf("chmod %s: %w", name, err)
	}
	bw := bufio.NewWriterSize(f, 256<<10)
	var zw *gzip.Writer
	var w io.Writer = bw
	if opt.Gzip {
		zw = gzip.NewWriter(bw)
		w = zw
	}
	if opt.WrapWriter != nil {
		w = opt.WrapWriter(w)
	}
	cw := &countWriter{ctx: ctx, w: w}
	if err = fill(cw); err != nil {
		return "", 0, err
	}
	if err = ctx.Err(); err != nil {
		return "", 0, err
	}
	if zw != nil {
		if err = zw.Close(); err != nil {
			return "", 0, fmt.Errorf("write %s: %w", name, err)
		}
	}
	if err = bw.Flush(); err != nil {
		return "", 0, fmt.Errorf("write %s: %w", name, err)
	}
	// Sync before rename: without it a crash after the rename can leave the new
	// name pointing at a file whose blocks never reached the disk.
	if err = f.Sync(); err != nil {
		return "", 0, fmt.Errorf("sync %s: %w", name, err)
	}
	if err = f.Close(); err != nil {
		return "", 0, fmt.Errorf("close %s: %w", name, err)
	}
	return name, cw.n, nil
}

// WriteFile replaces path with the output of fill, atomically: readers see the
// old file or the new one, never a mix, and a failed or interrupted write leaves
// the old file in place. The file is written as opt says; a write still under
// way when ctx is done stops with ctx's error. It returns the uncompressed byte
// count.
func WriteFile(ctx context.Context, path string, opt FileOptions, fill func(io.Writer) error) (int64, error) {
	dir := filepath.Dir(path)
	tmp, n, err := writeTemp(ctx, dir, opt, fill)
	if err != nil {
		return 0, err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return 0, fmt.Errorf("rename %s to %s: %w", tmp, path, err)
	}
	syncDir(dir)
	return n, nil
}

// CreateFile writes the output of fill to a new file in dir named base+ext, or,
// when that name is taken, base.2+ext, base.3+ext and so on. An existing file is
// never replaced: it may hold spans this process no longer has. It returns the
// name chosen (without dir), its part number and the uncompressed byte count.
// first is the part number to try first (1 for base+ext). opt and ctx are as
// for WriteFile.
func CreateFile(ctx context.Context, dir, base, ext string, first int, opt FileOptions, fill func(io.Writer) error) (name string, part int, n int64, err error) {
	tmp, n, err := writeTemp(ctx, dir, opt, fill)
	if err != nil {
		return "", 0, 0, err
	}
	defer os.Remove(tmp) // after a successful link the temporary name is redundant
	for part := max(first, 1); part < maxParts; part++ {
		name := PartName(base, ext, part)
		err := linkNoClobber(tmp, filepath.Join(dir, name))
		if errors.Is(err, errExist) {
			continue
		}
		if err != nil {
			return "", 0, 0, err
		}
		syncDir(dir)
		return name, part, n, nil
	}
	return "", 0, 0, fmt.Errorf("create %s%s in %s: %d names taken", base, ext, dir, maxParts)
}

// PartName returns the file name of part n of base: base+ext for the first part,
// base.<n>+ext after it.
func PartName(base, ext string, n int) string {
	if n <= 1 {
		return base + ext
	}
	return fmt.Sprintf("%s.%d%s", base, n, ext)
}

// linkNoClobber gives the complete file tmp the name dst, failing with errExist
// when dst exists. A hard link is atomic and never replaces its target; on file
// systems without hard links it falls back to a check followed by a rename,
// which can only lose a race with another writer of the same name.
func linkNoClobber(tmp, dst string) error {
	err := os.Link(tmp, dst)
	if err == nil || errors.Is(err, fs.ErrExist) {
		return err
	}
	if _, serr := os.Lstat(dst); serr == nil {
		return errExist
	}
	if rerr := os.Rename(tmp, dst); rerr != nil {
		return fmt.Errorf("link %s to %s: %w (rename: %v)", tmp, dst, err, rerr)
	}
	return nil
}

// syncDir makes a rename durable. Errors are ignored: some platforms and file
// systems cannot sync a directory, and the rename itself already succeeded.
func syncDir(dir string) {
	d, err := os.Open(dir)
	if err != nil {
		return
	}
	_ = d.Sync()
	d.Close()
}

// RemoveStaleTemp removes temporary files that a crashed writer left in dir and
// that were last modified before cutoff, and reports how many it removed. The
// cutoff keeps it from removing the file of a live writer sharing the directory.
func RemoveStaleTemp(dir string, cutoff time.Time) int {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0
	}
	n := 0
	for _, e := range entries {
		if !e.Type().IsRegular() || !strings.HasPrefix(e.Name(), tempPrefix) {
			continue
		}
		info, err := e.Info()
		if err != nil || !info.ModTime().Before(cutoff) {
			continue
		}
		if os.Remove(filepath.Join(dir, e.Name())) == nil {
			n++
		}
	}
	return n
}

// countWriter counts the bytes written through it and stops a write once its
// context is done, so that a large file does not hold up a shutdown past its
// deadline.
type countWriter struct {
	ctx context.Context
	w   io.Writer
	n   int64
}

// Write counts the bytes written through to w, or fails with the context's error.
func (c *countWriter) Write(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
