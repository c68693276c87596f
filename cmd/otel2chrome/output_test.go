package main

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestTempNames(t *testing.T) {
	for _, tc := range []struct {
		name, base string
		ours       bool
	}{
		{".out.json.tmp-123456", "out.json", true},
		{".out.json.gz.tmp-9", "out.json.gz", true},
		{".out.json.tmp-", "out.json", false},
		{".out.json.tmp-12a", "out.json", false},
		{".out.json.tmp-123.bak", "out.json", false},
		{"out.json.tmp-123", "out.json", false},
		{".out.json.gz.tmp-123", "out.json", false},
		{".other.json.tmp-123", "out.json", false},
		{".otel2chrome-tmp-123", "out.json", false}, // the exporter's
	} {
		if got := isTempOf(tc.name, tc.base); got != tc.ours {
			t.Errorf("isTempOf(%q, %q) = %v, want %v", tc.name, tc.base, got, tc.ours)
		}
	}
	id := "0102030405060708090a0b0c0d0e0f10"
	for name, ours := range map[string]bool{
		".trace-" + id + ".json.tmp-42":                      true,
		".trace-" + id + ".json.tmp-x":                       false,
		".trace-" + id[2:] + ".json.tmp-42":                  false,
		".trace-" + id + ".jsonl.tmp-42":                     false,
		"trace-" + id + ".json.tmp-42":                       false,
		".trace-" + id + ".json":                             false,
		".trace-ABCDEF0123456789ABCDEF012345678.json.tmp-42": false,
	} {
		if got := isSplitTemp(name); got != ours {
			t.Errorf("isSplitTemp(%q) = %v, want %v", name, got, ours)
		}
	}
}

// TestStaleTempsRemoved: a run writing -o PATH removes the temporary files
// killed runs left for PATH once they are over an hour old, and nothing
// else: not fresh ones (a run may be writing them), not other targets',
// not look-alikes, directories or symlinks.
func TestStaleTempsRemoved(t *testing.T) {
	dir := t.TempDir()
	pb, _ := writeTrace(t, t.TempDir())
	outDir := filepath.Join(dir, "out")
	os.Mkdir(outDir, 0o755)
	elsewhere := filepath.Join(dir, "precious")
	os.WriteFile(elsewhere, []byte("not ours"), 0o644)

	old := time.Now().Add(-2 * time.Hour)
	stale := []string{".trace.json.tmp-1", ".trace.json.tmp-2209876543"}
	kept := []string{
		".trace.json.tmp-3",     // fresh: a run may be writing it
		".trace.json.tmp-4.bak", // not the pattern
		".trace.json.tmp-x",
		".other.json.tmp-5", // another target's
		"trace.json.tmp-6",
		"notes.txt",
	}
	for _, name := range append(slices.Clone(stale), kept...) {
		p := filepath.Join(outDir, name)
		if err := os.WriteFile(p, []byte("partial"), 0o600); err != nil {
			t.Fatal(err)
		}
		if name != ".trace.json.tmp-3" {
			os.Chtimes(p, old, old)
		}
	}
	// Old, and named like ours, but a directory and a symlink (to an old
	// file: the age is of the link itself, which is fresh, but a link is
	// skipped whatever its age).
	os.Mkdir(filepath.Join(outDir, ".trace.json.tmp-7"), 0o755)
	os.Chtimes(filepath.Join(outDir, ".trace.json.tmp-7"), old, old)
	os.Chtimes(elsewhere, old, old)
	os.Symlink(elsewhere, filepath.Join(outDir, ".trace.json.tmp-8"))
	kept = append(kept, ".trace.json.tmp-7", ".trace.json.tmp-8")

	out := filepath.Join(outDir, "trace.json")
	_, stderr, err := run(t, nil, "-o", out, pb)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stderr, "otel2chrome: removed 2 temporary files ("+filepath.Join(outDir, ".trace.json.tmp-*")+") older than 1h0m0s") {
		t.Errorf("stderr %q does not report the removal", stderr)
	}
	entries, _ := os.ReadDir(outDir)
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	want := append(slices.Clone(kept), "trace.json")
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("left %v\nwant %v", got, want)
	}
	if b, _ := os.ReadFile(elsewhere); string(b) != "not ours" {
		t.Errorf("symlink target changed: %q", b)
	}

	// --split cleans its directory of its own temporary files.
	split := filepath.Join(dir, "split")
	os.Mkdir(split, 0o755)
	id := "01020300000000000000000000000000"
	for _, name := range []string{".trace-" + id + ".json.tmp-11", ".trace-ffff0300000000000000000000000000.json.tmp-12", ".trace.json.tmp-13"} {
		p := filepath.Join(split, name)
		os.WriteFile(p, nil, 0o600)
		os.Chtimes(p, old, old)
	}
	if _, _, err := run(t, nil, "-q", "--split", split, pb); err != nil {
		t.Fatal(err)
	}
	entries, _ = os.ReadDir(split)
	got = got[:0]
	for _, e := range entries {
		got = append(got, e.Name())
	}
	if want := []string{".trace.json.tmp-13", "trace-" + id + ".json"}; !slices.Equal(got, want) {
		t.Errorf("--split left %v, want %v", got, want)
	}
}

// TestWriteAtomicInterrupted: once the context is done nothing is renamed
// into place and the temporary file is gone, whether the interrupt comes
// while writing or after.
func TestWriteAtomicInterrupted(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out.json")
	os.WriteFile(path, []byte("old"), 0o644)
	for _, when := range []string{"while writing", "after writing"} {
		ctx, cancel := context.WithCancel(context.Background())
		err := writeAtomic(ctx, path, func(w io.Writer) error {
			if _, err := w.Write([]byte("new, part one")); err != nil {
				return err
			}
			cancel()
			if when == "after writing" {
				return nil
			}
			_, err := w.Write([]byte("new, part two"))
			return err
		})
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s: err = %v, want context.Canceled", when, err)
		}
		if b, _ := os.ReadFile(path); string(b) != "old" {
			t.Errorf("%s: file is %q", when, b)
		}
		if entries, _ := os.ReadDir(dir); len(entries) != 1 {
			t.Errorf("%s: %d files in the directory, want only out.json", when, len(entries))
		}
	}
	liveTemps.mu.Lock()
	n := len(liveTemps.names)
	liveTemps.mu.Unlock()
	if n != 0 {
		t.Errorf("%d temporary files still registered", n)
	}
}

// TestAbandonRemovesTemps: the forced exit (second signal, or the grace
// after the first one runs out) removes the temporary files being written.
func TestAbandonRemovesTemps(t *testing.T) {
	dir := t.TempDir()
	var temps tempFiles
	var names []string
	for i := 0; i < 3; i++ {
		f, err := os.CreateTemp(dir, tempPattern("out.json"))
		if err != nil {
			t.Fatal(err)
		}
		f.Close()
		temps.add(f.Name())
		names = append(names, f.Name())
	}
	temps.remove(names[2]) // renamed into place: not a temporary file any more
	temps.abandon()
	for i, n := range names {
		if _, err := os.Stat(n); (err == nil) != (i == 2) {
			t.Errorf("%s: stat err = %v", filepath.Base(n), err)
		}
	}
}

// TestWriteAtomicKeepsSpecialFiles: an output that exists and is no regular
// file is written in place, not replaced by a renamed temporary file (as
// root, `-o /dev/null` had turned /dev/null into a plain file). A named pipe
// stands in for the device here; a directory is refused.
func TestWriteAtomicKeepsSpecialFiles(t *testing.T) {
	dir := t.TempDir()
	content := strings.Repeat("chrome trace bytes ", 50_000) // past the pipe's buffer
	write := func(w io.Writer) error {
		_, err := io.WriteString(w, content)
		return err
	}
	leftovers := func() []string {
		var names []string
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if strings.Contains(e.Name(), ".tmp-") {
				names = append(names, e.Name())
			}
		}
		return names
	}

	fifo := filepath.Join(dir, "pipe")
	if err := mkfifo(fifo); err != nil {
		t.Skipf("SKIP: no named pipes here: %v", err)
	}
	got := make(chan string, 1)
	go func() {
		f, err := os.Open(fifo)
		if err != nil {
			got <- err.Error()
			return
		}
		defer f.Close()
		b, _ := io.ReadAll(f)
		got <- string(b)
	}()
	if err := writeAtomic(context.Background(), fifo, write); err != nil {
		t.Fatal(err)
	}
	select {
	case s := <-got:
		if s != content {
			t.Errorf("the pipe's reader got %d bytes, want %d", len(s), len(content))
		}
	case <-time.After(10 * time.Second):
		t.Error("the pipe's reader got nothing in 10 s: the write went elsewhere")
	}
	if fi, err := os.Lstat(fifo); err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
		t.Errorf("after the write %s is %v (%v), want the named pipe still", fifo, fi.Mode(), err)
	}

	sub := filepath.Join(dir, "sub")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := writeAtomic(context.Background(), sub, write); err == nil || !strings.Contains(err.Error(), "sub: is a directory") {
		t.Errorf("writing over a directory: err = %v, want it named as a directory", err)
	}
	if l := leftovers(); len(l) > 0 {
		t.Errorf("temporary files left: %v", l)
	}
}

// TestStdoutNames: -o /dev/stdout and its aliases go to the standard output
// as it is (appending to a log the shell opened so), not through a
// temporary file renamed over a path that resolves to it.
func TestStdoutNames(t *testing.T) {
	for path, want := range map[string]bool{
		"/dev/stdout": true, "/dev/fd/1": true, "/proc/self/fd/1": true, "/dev//stdout": true,
		"/dev/stderr": false, "out.json": false, "/tmp/stdout": false,
	} {
		if got := isStdout(path); got != want {
			t.Errorf("isStdout(%q) = %v, want %v", path, got, want)
		}
	}
}
