//go:build !unix

package main

import (
	"context"
	"time"

	"github.com/otel2chrome/otel2chrome/sdkhook"
)

// readDevice stands in for a blocking read where pipes are not file
// descriptors: it sleeps, so the request is slow, but not in a syscall.
func readDevice(ctx context.Context) {
	defer sdkhook.Enter(ctx, "shop.readDevice").End()
	time.Sleep(holdFor)
}

// hasSyscalls says readDevice blocks in a system call here.
const hasSyscalls = false
