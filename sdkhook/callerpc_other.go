//go:build !amd64

package sdkhook

func fpCallerPC(int) uintptr { return 0 }

const haveFramePointers = false
