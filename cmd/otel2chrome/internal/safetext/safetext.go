// Package safetext escapes text from files and servers before a terminal
// shows it, so a hostile name or message cannot drive the terminal.
package safetext

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// Escape returns s with what a terminal would act on (control characters,
// invalid UTF-8, bidi overrides) escaped as Go quotes it, and the rest as it
// is. Newlines are kept when keepNewlines is set (errors joined by
// errors.Join are one per line).
func Escape(s string, keepNewlines bool) string {
	if IsPrintable(s, keepNewlines) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			b.WriteString(`\x`)
			b.WriteString(strconv.FormatUint(uint64(s[i])>>4, 16))
			b.WriteString(strconv.FormatUint(uint64(s[i])&15, 16))
		case (keepNewlines && r == '\n') || strconv.IsPrint(r):
			b.WriteString(s[i : i+n])
		default:
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
		}
		i += n
	}
	return b.String()
}

// IsPrintable reports whether every rune of s prints as itself (newlines
// included when keepNewlines is set).
func IsPrintable(s string, keepNewlines bool) bool {
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && n == 1) || !(strconv.IsPrint(r) || keepNewlines && r == '\n') {
			return false
		}
		i += n
	}
	return true
}
