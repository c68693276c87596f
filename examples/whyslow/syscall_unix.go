//go:build unix

package main

import (
	"context"
	"syscall"
	"time"

	"github.com/otel2chrome/otel2chrome/sdkhook"
)

// readDevice reads from a pipe whose writer answers after holdFor: a raw
// read(2) on a blocking descriptor, which the runtime shows as a syscall (an
// os.File would go through the network poller and show as blocked on IO).
func readDevice(ctx context.Context) {
	defer sdkhook.Enter(ctx, "shop.readDevice").End()
	var fds [2]int
	if err := syscall.Pipe(fds[:]); err != nil {
		return
	}
	defer syscall.Close(fds[0])
	go func() {
		time.Sleep(holdFor)
		syscall.Write(fds[1], []byte{1})
		syscall.Close(fds[1])
	}()
	var b [1]byte
	syscall.Read(fds[0], b[:])
}

// hasSyscalls says readDevice blocks in a system call here.
const hasSyscalls = true
