package main

import (
	"strconv"

	"github.com/otel2chrome/otel2chrome/cmd/otel2chrome/internal/safetext"
)

// printableName returns name as it is when all of it prints, and quoted as
// Go quotes strings otherwise, so that errors and progress show a hostile
// file name without the terminal acting on it.
func printableName(name string) string {
	if safetext.IsPrintable(name, false) {
		return name
	}
	return strconv.Quote(name)
}

// printableMessage escapes what a terminal would act on in msg, keeping the
// newlines between joined errors. It is the last guard before stderr, for
// text that reached an error unquoted: a file name in an os error, or an
// error message a Jaeger server put in its answer.
func printableMessage(msg string) string { return safetext.Escape(msg, true) }
