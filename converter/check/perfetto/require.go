package perfetto

import (
	"context"
	"fmt"
	"os"
	"sync"
)

// TB is the part of testing.TB that [Require] and [Check] use, so that this
// package does not link the testing package into programs that import it.
type TB interface {
	Helper()
	Context() context.Context
	Log(args ...any)
	Error(args ...any)
	Fatal(args ...any)
	Skip(args ...any)
}

// missing says, loudly, that the check did not run and how to make it run.
func missing(path string) string {
	return fmt.Sprintf("Perfetto trace processor missing (no executable %s): "+
		"the Perfetto import check did NOT run; build it with bash .ci/perfetto.sh", path)
}

// required reports whether CI asked for every tool to be present.
func required() bool { return os.Getenv("OTEL2CHROME_REQUIRE_TOOLS") == "1" }

// Require returns tpq's path, or ends the test: it skips, loudly, when tpq is
// absent, and fails instead when OTEL2CHROME_REQUIRE_TOOLS=1 (as in CI). For
// tests that are about the import itself.
func Require(t TB) string {
	t.Helper()
	path, ok := Available()
	if !ok {
		if required() {
			t.Fatal(missing(path))
			return ""
		}
		t.Skip("SKIPPED: " + missing(path))
	}
	return path
}

// warned holds the tests Check has told that tpq is missing: once per test
// is loud enough, and a test may check a thousand files.
var warned sync.Map

// Check runs [Verify] on data and reports its problems with t.Error. When
// tpq is absent it logs, once per test, that the check did not run and
// returns nil, so a test whose main subject is something else goes on; with
// OTEL2CHROME_REQUIRE_TOOLS=1 it fails the test instead.
func Check(t TB, data []byte, opts ...Option) *Result {
	t.Helper()
	if path, ok := Available(); !ok {
		if required() {
			t.Fatal(missing(path))
			return nil
		}
		if _, said := warned.LoadOrStore(t, true); !said {
			t.Log("WARNING: " + missing(path))
		}
		return nil
	}
	r, err := Verify(t.Context(), data, opts...)
	if err != nil {
		t.Error(err)
	}
	return r
}
