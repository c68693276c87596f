package sdkhook

// fpCallerPC walks the frame-pointer chain (see asm_amd64.s).
//
//go:noescape
func fpCallerPC(skip int) uintptr

// rdtsc reads the CPU's time-stamp counter.
func rdtsc() uint64

const (
	haveFramePointers = true
	haveTSC           = true
)
