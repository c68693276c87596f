package chromefile

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestWriteFileReplacesAtomically(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out.json")
	require.NoError(t, os.WriteFile(path, []byte("good"), 0o644))

	// A failing writer must leave the good file and no temporary file behind.
	_, err := WriteFile(context.Background(), path, FileOptions{}, func(w io.Writer) error {
		io.WriteString(w, "half a fi")
		return errors.New("boom")
	})
	require.ErrorContains(t, err, "boom")
	got, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, "good", string(got))
	assert.Equal(t, []string{"out.json"}, listDir(t, dir))

	n, err := WriteFile(context.Background(), path, FileOptions{}, func(w io.Writer) error {
		_, err := io.WriteString(w, "better")
		return err
	})
	require.NoError(t, err)
	assert.EqualValues(t, 6, n)
	got, _ = os.ReadFile(path)
	assert.Equal(t, "better", string(got))
	assert.Equal(t, []string{"out.json"}, listDir(t, dir))
}

func TestWriteFileGzip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.json.gz")
	n, err := WriteFile(context.Background(), path, FileOptions{Gzip: true}, func(w io.Writer) error {
		_, err := io.WriteString(w, strings.Repeat("x", 1000))
		return err
	})
	require.NoError(t, err)
	assert.EqualValues(t, 1000, n, "the count is of uncompressed bytes")
	raw, _ := os.ReadFile(path)
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	require.NoError(t, err)
	body, err := io.ReadAll(zr)
	require.NoError(t, err)
	assert.Len(t, body, 1000)
}

func TestCreateFileNeverClobbers(t *testing.T) {
	dir := t.TempDir()
	write := func(s string) string {
		name, _, _, err := CreateFile(context.Background(), dir, "svc-abc", ".json", 1, FileOptions{}, func(w io.Writer) error {
			_, err := io.WriteString(w, s)
			return err
		})
		require.NoError(t, err)
		return name
	}
	assert.Equal(t, "svc-abc.json", write("one"))
	assert.Equal(t, "svc-abc.2.json", write("two"))
	assert.Equal(t, "svc-abc.3.json", write("three"))
	for name, want := range map[string]string{"svc-abc.json": "one", "svc-abc.2.json": "two", "svc-abc.3.json": "three"} {
		got, err := os.ReadFile(filepath.Join(dir, name))
		require.NoError(t, err)
		assert.Equal(t, want, string(got))
	}
	assert.Len(t, listDir(t, dir), 3, "no temporary files left")
}

func TestCreateFileMissingDir(t *testing.T) {
	_, _, _, err := CreateFile(context.Background(), filepath.Join(t.TempDir(), "nope"), "a", ".json", 1, FileOptions{}, func(io.Writer) error { return nil })
	require.ErrorContains(t, err, "create temporary file")
}

func TestRemoveStaleTemp(t *testing.T) {
	dir := t.TempDir()
	stale := filepath.Join(dir, tempPrefix+"1")
	fresh := filepath.Join(dir, tempPrefix+"2")
	keep := filepath.Join(dir, "trace.json")
	for _, p := range []string{stale, fresh, keep} {
		require.NoError(t, os.WriteFile(p, nil, 0o644))
	}
	old := time.Now().Add(-2 * time.Hour)
	require.NoError(t, os.Chtimes(stale, old, old))
	assert.Equal(t, 1, RemoveStaleTemp(dir, time.Now().Add(-time.Hour)))
	assert.Equal(t, []string{tempPrefix + "2", "trace.json"}, listDir(t, dir))
}

func TestSanitizeName(t *testing.T) {
	long := strings.Repeat("a", 200)
	tests := []struct{ in, want string }{
		{"checkout", "checkout"},
		{"my service", "my_service"},
		{"../../etc/passwd", "etc_passwd"},
		{"..", "unknown"},
		{"", "unknown"},
		{"a/b\\c", "a_b_c"},
		{"héllo wörld", "h_llo_w_rld"},
		{"x\x00y", "x_y"},
		{".hidden", "hidden"},
		{"v1.2-beta_3", "v1.2-beta_3"},
		{"C:\\Windows", "C_Windows"},
		{long, long[:MaxNameLen]},
		{"日本語", "unknown"},
	}
	for _, tt := range tests {
		got := SanitizeName(tt.in)
		assert.Equal(t, tt.want, got, "SanitizeName(%q)", tt.in)
		assert.LessOrEqual(t, len(got), MaxNameLen)
		assert.NotContains(t, got, "/")
		assert.NotContains(t, got, "\\")
		assert.False(t, strings.HasPrefix(got, "."))
		assert.Equal(t, got, filepath.Base(got))
	}
}

func FuzzSanitizeName(f *testing.F) {
	f.Add("../x")
	f.Add("a b")
	f.Fuzz(func(t *testing.T, s string) {
		got := SanitizeName(s)
		if got == "" || len(got) > MaxNameLen || strings.ContainsAny(got, "/\\\x00") ||
			strings.HasPrefix(got, ".") || filepath.Base(got) != got {
			t.Fatalf("SanitizeName(%q) = %q", s, got)
		}
	})
}

func TestFileModes(t *testing.T) {
	fill := func(w io.Writer) error {
		_, err := io.WriteString(w, "{}")
		return err
	}
	mode := func(path string) os.FileMode {
		t.Helper()
		info, err := os.Stat(path)
		require.NoError(t, err)
		return info.Mode().Perm()
	}
	dir := t.TempDir()
	ctx := context.Background()

	// os.CreateTemp makes 0600 files; the default is readable by others.
	path := filepath.Join(dir, "new.json")
	_, err := WriteFile(ctx, path, FileOptions{}, fill)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o644), mode(path))

	// A rewrite keeps an existing file readable.
	old := filepath.Join(dir, "old.json")
	require.NoError(t, os.WriteFile(old, nil, 0o644))
	require.NoError(t, os.Chmod(old, 0o644))
	_, err = WriteFile(ctx, old, FileOptions{Gzip: true}, fill)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o644), mode(old))

	name, _, _, err := CreateFile(ctx, dir, "svc", ".json", 1, FileOptions{}, fill)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o644), mode(filepath.Join(dir, name)))

	name, _, _, err = CreateFile(ctx, dir, "private", ".json", 1, FileOptions{Mode: 0o600}, fill)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), mode(filepath.Join(dir, name)))
	_, err = WriteFile(ctx, path, FileOptions{Mode: 0o640}, fill)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o640), mode(path))
}

func TestWriteFileStopsWhenContextDone(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out.json")
	require.NoError(t, os.WriteFile(path, []byte("good"), 0o644))
	ctx, cancel := context.WithCancel(context.Background())
	writes := 0
	_, err := WriteFile(ctx, path, FileOptions{}, func(w io.Writer) error {
		for range 100 {
			if _, err := io.WriteString(w, "x"); err != nil {
				return err
			}
			writes++
			if writes == 3 {
				cancel()
			}
		}
		return nil
	})
	require.ErrorIs(t, err, context.Canceled)
	assert.Equal(t, 3, writes, "the write stops at the first block after cancellation")
	got, _ := os.ReadFile(path)
	assert.Equal(t, "good", string(got))
	assert.Equal(t, []string{"out.json"}, listDir(t, dir))
}
