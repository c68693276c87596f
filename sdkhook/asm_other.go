//go:build !amd64

package sdkhook

func fpCallerPC(int) uintptr { return 0 }

func rdtsc() uint64 { return 0 }

const (
	haveFramePointers = false
	haveTSC           = false
)
