//go:build unix

package main

import (
	"io/fs"
	"sync"
	"syscall"
)

var umask = sync.OnceValue(func() fs.FileMode {
	// Umask can only be read by setting it; it is put back at once, before
	// any file is created.
	m := syscall.Umask(0o022)
	syscall.Umask(m)
	return fs.FileMode(m)
})

// newFileMode is the mode os.Create would give a new file.
func newFileMode() fs.FileMode { return 0o666 &^ umask() }
