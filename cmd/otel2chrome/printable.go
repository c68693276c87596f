package main

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// printableName returns name as it is when all of it prints, and quoted as
// Go quotes strings otherwise, so that errors and progress show a hostile
// file name without the terminal acting on it.
func printableName(name string) string {
	if isPrintable(name) {
		return name
	}
	return strconv.Quote(name)
}

func isPrintable(s string) bool {
	for _, r := range s {
		if r == utf8.RuneError || !strconv.IsPrint(r) {
			return false
		}
	}
	return true
}

// printableMessage escapes what a terminal would act on in msg (control
// characters other than the newlines between joined errors, invalid UTF-8,
// bidi overrides) as Go quotes it. It is the last guard before stderr, for
// text that reached an error unquoted: a file name in an os error, or an
// error message a Jaeger server put in its answer.
func printableMessage(msg string) string {
	if isPrintable(strings.ReplaceAll(msg, "\n", "")) {
		return msg
	}
	var b strings.Builder
	for i := 0; i < len(msg); {
		r, n := utf8.DecodeRuneInString(msg[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			b.WriteString(`\x`)
			b.WriteString(strconv.FormatUint(uint64(msg[i])>>4, 16))
			b.WriteString(strconv.FormatUint(uint64(msg[i])&15, 16))
		case r == '\n' || strconv.IsPrint(r):
			b.WriteString(msg[i : i+n])
		default:
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
		}
		i += n
	}
	return b.String()
}
