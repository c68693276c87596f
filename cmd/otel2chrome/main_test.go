package main

import (
	"os"
	"os/exec"
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
