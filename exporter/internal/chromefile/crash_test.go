package chromefile

import (
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// crashEnv names the file the helper process rewrites until it is killed.
const crashEnv = "CHROMEFILE_CRASH_HELPER_PATH"

// content returns the complete content of version v: a prefix, a body, and an
// end marker that a torn write would lack.
func content(v byte) []byte {
	return append(append([]byte{'{', v}, bytes.Repeat([]byte{v}, 256<<10)...), '}')
}

// TestWriteFileSurvivesKill kills a process in the middle of rewriting a file,
// several times, and checks the file is always one complete version.
func TestWriteFileSurvivesKill(t *testing.T) {
	if path := os.Getenv(crashEnv); path != "" {
		crashHelper(path)
		return
	}
	if testing.Short() {
		t.Skip("starts subprocesses")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "trace.json")
	require.NoError(t, os.WriteFile(path, content('a'), 0o644))
	for round := range 5 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestWriteFileSurvivesKill$")
		cmd.Env = append(os.Environ(), crashEnv+"="+path)
		require.NoError(t, cmd.Start())
		time.Sleep(time.Duration(50+round*37) * time.Millisecond)
		require.NoError(t, cmd.Process.Kill())
		_ = cmd.Wait()

		got, err := os.ReadFile(path)
		require.NoError(t, err, "round %d: the file must still exist", round)
		if !bytes.Equal(got, content('a')) && !bytes.Equal(got, content('b')) {
			t.Fatalf("round %d: torn file: %d bytes, starts %q ends %q", round, len(got), got[:2], got[len(got)-1:])
		}
	}
	for _, n := range listDir(t, dir) {
		if n != "trace.json" && !strings.HasPrefix(n, tempPrefix) {
			t.Errorf("unexpected file %s", n)
		}
	}
	// What a killed writer leaves is only temporary files, removed on start.
	RemoveStaleTemp(dir, time.Now().Add(time.Hour))
	require.Equal(t, []string{"trace.json"}, listDir(t, dir))
}

// crashHelper rewrites path forever, slowly, alternating two versions.
func crashHelper(path string) {
	for i := 0; ; i++ {
		v := byte('a' + i%2)
		_, err := WriteFile(context.Background(), path, FileOptions{}, func(w io.Writer) error {
			data := content(v)
			for len(data) > 0 {
				n := min(len(data), 16<<10)
				if _, err := w.Write(data[:n]); err != nil {
					return err
				}
				data = data[n:]
				time.Sleep(time.Millisecond)
			}
			return nil
		})
		if err != nil {
			os.Exit(3)
		}
	}
}
