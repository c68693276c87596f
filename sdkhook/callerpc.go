package sdkhook

import "runtime"

// fpSkip is how many frame-pointer links callerPC follows, found once at
// start-up by comparing with runtime.Callers (the Go-to-assembly ABI wrapper
// may or may not add a frame). -1 means the fast path is unavailable and
// callerPC uses runtime.Callers, which costs about 100 ns more.
var fpSkip = calibrateFP()

// callerPC returns the return address into the function that called the
// function that calls callerPC: called from EnterFunc, a PC in the hooked
// function. EnterFunc must not be inlined, so the frame shape matches the one
// calibrateFP measured.
//
//go:noinline
func callerPC(skip int) uintptr {
	if skip >= 0 {
		return fpCallerPC(skip)
	}
	var pc [1]uintptr
	// 0 = Callers, 1 = callerPC, 2 = EnterFunc, 3 = the hooked function.
	if runtime.Callers(3, pc[:]) == 0 {
		return 0
	}
	return pc[0]
}

func calibrateFP() int {
	if !haveFramePointers {
		return -1
	}
	for skip := 0; skip < 4; skip++ {
		if got, want := calibrateOuter(skip); got == want && got != 0 {
			return skip
		}
	}
	return -1
}

// calibrateOuter stands where a hooked function stands.
//
//go:noinline
func calibrateOuter(skip int) (got, want uintptr) {
	got, want = calibrateInner(skip)
	return got, want
}

// calibrateInner stands where EnterFunc stands.
//
//go:noinline
func calibrateInner(skip int) (got, want uintptr) {
	got = callerPC(skip)
	var pc [1]uintptr
	runtime.Callers(2, pc[:]) // the return address into calibrateOuter
	return got, pc[0]
}
