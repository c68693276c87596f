package chromefile

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otel2chrome/otel2chrome/converter/check"
)

func TestRollingRewritesOneFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "trace.json")
	r, err := NewRolling(RollingConfig{Path: path})
	require.NoError(t, err)
	require.NoError(t, r.Add(makeTraces("a", []int{1}, 0, 3)))
	require.NoError(t, r.Flush(context.Background()))
	assert.Len(t, readReport(t, path).SpanSlices, 3)
	require.NoError(t, r.Add(makeTraces("b", []int{2}, 0, 3)))
	require.NoError(t, r.Shutdown(context.Background()))
	assert.Len(t, readReport(t, path).SpanSlices, 6)
	assert.Equal(t, []string{"trace.json"}, listDir(t, dir))
}

func TestRollingRotatesAndPrunes(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "trace.json.gz")
	// Files that share the name's prefix but are not backups survive pruning.
	for _, n := range []string{"trace-1.json.gz", "trace-notes.json.gz", "trace-2026-01-02.json.gz"} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, n), nil, 0o644))
	}
	clk := &fakeClock{now: t0}
	r, err := NewRolling(RollingConfig{Path: path, MaxSize: 4 << 10, MaxBackups: 2, Gzip: true, Now: clk.Now})
	require.NoError(t, err)
	const batches = 20
	for i := range batches {
		clk.Advance(time.Second)
		require.NoError(t, r.Add(makeTraces("svc", []int{i}, 0, 5)))
		require.NoError(t, r.Flush(context.Background()))
	}
	require.NoError(t, r.Shutdown(context.Background()))
	_, rotations := r.Stats()
	assert.Greater(t, rotations, int64(2))
	backups := r.Backups()
	require.Len(t, backups, 2, "pruned to max_backups")
	for _, b := range backups {
		assert.Regexp(t, `trace-2026-01-02T03-\d\d-\d\d\.000\.json\.gz$`, b)
	}
	for _, n := range []string{"trace-1.json.gz", "trace-notes.json.gz", "trace-2026-01-02.json.gz"} {
		assert.FileExists(t, filepath.Join(dir, n))
	}
	var files []string
	files = append(files, backups...)
	if _, err := os.Stat(path); err == nil {
		files = append(files, path)
	}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		require.NoError(t, err)
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		require.NoError(t, err)
		data, err := io.ReadAll(zr)
		require.NoError(t, err)
		assert.LessOrEqual(t, len(data), 8<<10, "a file ends soon after max size")
		_, err = check.Validate(data)
		require.NoError(t, err, f)
	}
}

func TestRollingKeepsFileFromEarlierRun(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "trace.json")
	require.NoError(t, os.WriteFile(path, []byte("earlier run"), 0o644))
	r, err := NewRolling(RollingConfig{Path: path, Now: func() time.Time { return t0 }})
	require.NoError(t, err)
	require.NoError(t, r.Add(makeTraces("a", []int{1}, 0, 1)))
	require.NoError(t, r.Shutdown(context.Background()))
	old := filepath.Join(dir, "trace-2026-01-02T03-04-05.000.json")
	got, err := os.ReadFile(old)
	require.NoError(t, err)
	assert.Equal(t, "earlier run", string(got))
	assert.Len(t, readReport(t, path).SpanSlices, 1)
}

func TestRollingBackgroundFlush(t *testing.T) {
	path := filepath.Join(t.TempDir(), "t.json")
	r, err := NewRolling(RollingConfig{Path: path, FlushInterval: 10 * time.Millisecond})
	require.NoError(t, err)
	r.Start()
	require.NoError(t, r.Add(makeTraces("a", []int{1}, 0, 2)))
	require.Eventually(t, func() bool {
		_, err := os.Stat(path)
		return err == nil
	}, 5*time.Second, 10*time.Millisecond)
	require.NoError(t, r.Shutdown(context.Background()))
	assert.Len(t, readReport(t, path).SpanSlices, 2)
}
