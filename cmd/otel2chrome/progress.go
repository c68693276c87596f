package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"golang.org/x/term"
)

// progress prints how much of a large input has been read, on one line, when
// stderr is a terminal.
type progress struct {
	w       io.Writer
	on      bool
	last    time.Time
	printed bool
}

// progressMin is the input size from which progress is shown.
const progressMin = 16 << 20

func newProgress(w io.Writer, quiet bool) *progress {
	p := &progress{w: w}
	if f, ok := w.(*os.File); ok && !quiet {
		p.on = term.IsTerminal(int(f.Fd()))
	}
	return p
}

func (p *progress) update(name string, read int64) {
	if !p.on || read < progressMin {
		return
	}
	if now := time.Now(); now.Sub(p.last) >= 200*time.Millisecond {
		p.last = now
		p.printed = true
		fmt.Fprintf(p.w, "\rotel2chrome: reading %s: %d MiB   ", name, read>>20)
	}
}

func (p *progress) done(name string) {
	if p.printed {
		fmt.Fprint(p.w, "\r\033[K")
		p.printed = false
	}
}
