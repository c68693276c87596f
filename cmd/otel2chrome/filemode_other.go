//go:build !unix

package main

import "io/fs"

// newFileMode is the mode os.Create would give a new file.
func newFileMode() fs.FileMode { return 0o666 }
