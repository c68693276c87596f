package sdkhook

import (
	"runtime"
	"testing"
)

//go:noinline
func viaCallerPC(skip int) uintptr { return callerPC(skip) }

// TestCallerPCPaths checks that the frame-pointer path and the
// runtime.Callers fallback name the same calling function.
func TestCallerPCPaths(t *testing.T) {
	fast, slow := viaCallerPC(fpSkip), viaCallerPC(-1)
	name := func(pc uintptr) string {
		f, _ := runtime.CallersFrames([]uintptr{pc}).Next()
		return f.Function
	}
	const want = "github.com/otel2chrome/otel2chrome/sdkhook.TestCallerPCPaths"
	if name(fast) != want || name(slow) != want {
		t.Errorf("callerPC named %q (skip %d) and %q (runtime.Callers), want %q", name(fast), fpSkip, name(slow), want)
	}
	if haveFramePointers && fpSkip < 0 {
		t.Error("frame-pointer calibration failed on a frame-pointer platform")
	}
}
