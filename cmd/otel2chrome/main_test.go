package main

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// mainEnv makes the test binary run the CLI's main instead of the tests, so
// that tests can run the real process: signals, exit codes, stderr.
const mainEnv = "OTEL2CHROME_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(mainEnv) == "1" {
		os.Args = append([]string{"otel2chrome"}, os.Args[1:]...)
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// cliCommand returns a command that runs otel2chrome with args in a process
// of its own.
func cliCommand(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), mainEnv+"=1")
	return cmd
}

// TestCtxReaderPassesFileSize: the converter sizes its buffer for a JSON
// document from the file's size, which the interrupt wrapper must pass on.
func TestCtxReaderPassesFileSize(t *testing.T) {
	f, err := os.Open("../../examples/data/sample.otlp.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, err := ctxReader{context.Background(), f}.Stat()
	if err != nil || fi.Size() == 0 || !fi.Mode().IsRegular() {
		t.Fatalf("Stat through ctxReader = %v, %v; want the file's", fi, err)
	}
	if _, err := (ctxReader{context.Background(), strings.NewReader("x")}).Stat(); err == nil {
		t.Fatal("Stat of a non-file reader succeeded")
	}
}
