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

func TestRollingFileModes(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "trace.json")
	r, err := NewRolling(RollingConfig{Path: path, MaxSize: 2 << 10})
	require.NoError(t, err)
	for i := range 5 {
		require.NoError(t, r.Add(makeTraces("a", []int{i}, 0, 5)))
		require.NoError(t, r.Flush(context.Background()))
	}
	require.NoError(t, r.Shutdown(context.Background()))
	require.NotEmpty(t, r.Backups())
	for _, n := range listDir(t, dir) {
		info, err := os.Stat(filepath.Join(dir, n))
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o644), info.Mode().Perm(), n)
	}
}

func TestRollingPathMustMatchCompression(t *testing.T) {
	dir := t.TempDir()
	_, err := NewRolling(RollingConfig{Path: filepath.Join(dir, "t.json"), Gzip: true})
	require.ErrorContains(t, err, `does not end in .gz but the file is gzipped`)
	_, err = NewRolling(RollingConfig{Path: filepath.Join(dir, "t.json.gz")})
	require.ErrorContains(t, err, `ends in .gz but the file is not gzipped`)
	assert.NoError(t, CheckRollingPath("t.JSON.GZ", true))
}

// TestRollingRefusesWhileWritesFail checks that when the file cannot be
// written, spans held stop growing at the size bound: later batches are
// refused, not stored, and every batch accepted is written exactly once when
// the disk recovers.
func TestRollingRefusesWhileWritesFail(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	var bgErrs []error
	r, err := NewRolling(RollingConfig{Path: filepath.Join(dir, "trace.json"), MaxSize: 8 << 10,
		OnError: func(err error) { bgErrs = append(bgErrs, err) }})
	require.NoError(t, err)
	restore := breakDir(t, dir)

	accepted := map[string]bool{}
	refused := 0
	for i := range 200 {
		td := makeTraces("svc", []int{i}, 0, 5)
		if err := r.Add(td); err != nil {
			assert.ErrorContains(t, err, "5 spans not stored")
			refused++
			continue
		}
		for j := range 5 {
			accepted[spanID(i, j).String()] = true
		}
	}
	assert.NotEmpty(t, bgErrs, "the failed forced write is reported")
	assert.Greater(t, refused, 150, "batches are refused once the bound is reached")
	assert.Len(t, accepted, r.conv.Len(), "held exactly what was accepted")
	assert.Less(t, len(accepted), 200, "memory stays near max size")

	// The disk recovers: the next batch writes what is held and is stored.
	restore()
	require.NoError(t, r.Add(makeTraces("svc", []int{500}, 0, 5)))
	for j := range 5 {
		accepted[spanID(500, j).String()] = true
	}
	require.NoError(t, r.Shutdown(context.Background()))
	got := spanIDsIn(t, dir)
	for id, n := range got {
		assert.True(t, accepted[id], "span %s was refused but written", id)
		assert.Equal(t, 1, n, "span %s written once", id)
	}
	assert.Len(t, got, len(accepted))
}

func TestRollingShutdownStopsSlowRewriteAtDeadline(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "trace.json")
	started := make(chan struct{}, 1)
	r, err := NewRolling(RollingConfig{Path: path, FlushInterval: 10 * time.Millisecond,
		WrapWriter: func(w io.Writer) io.Writer { return slowWriter{w: w, delay: 20 * time.Millisecond, started: started} }})
	require.NoError(t, err)
	// About 2 MB of JSON: some 30 blocks of 64 KB, over half a second at 20 ms each.
	for i := range 100 {
		require.NoError(t, r.Add(makeTraces("svc", []int{i}, 0, 50)))
	}
	r.Start()
	<-started // the background rewrite is under way
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	begin := time.Now()
	err = r.Shutdown(ctx)
	elapsed := time.Since(begin)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Less(t, elapsed, 400*time.Millisecond, "Shutdown returns near its deadline")
	select {
	case <-r.done:
	case <-time.After(time.Second):
		t.Fatal("the background loop did not stop")
	}
	assert.Empty(t, listDir(t, dir), "no half-written file, no temporary file")
}
