package sdkhook

// Test-only views of package state.

// LiveRecorders counts recorders taken from pools and not returned.
func LiveRecorders() int64 { return liveRecorders.Load() }

// ActiveRequests counts request recorders open in the process.
func ActiveRequests() int64 { return active.Load() }

// FastCallerPC reports whether EnterFunc uses the frame-pointer path.
func FastCallerPC() bool { return fpSkip >= 0 }

// TSCClock reports whether requests opened now read the time-stamp counter.
func TSCClock() bool { return tscOn.Load() }
