package sdkhook

// fpCallerPC walks the frame-pointer chain (see callerpc_amd64.s).
//
//go:noescape
func fpCallerPC(skip int) uintptr

const haveFramePointers = true
