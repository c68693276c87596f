package chromefile

import (
	"strings"
	"unicode/utf8"
)

// MaxNameLen bounds the part of a file name taken from a value such as a service
// name. With a 32-character trace ID and the extension the whole name stays well
// below the 255-byte limit of common file systems.
const MaxNameLen = 64

// SanitizeName turns a value from telemetry (a service name, a span name) into
// something safe as part of a file name: letters, digits, '-', '_' and '.' are
// kept, every other rune becomes '_', runs of '_' collapse, leading dots are
// dropped (no hidden files, no "..") and the result is cut to MaxNameLen bytes.
// Telemetry is untrusted input: without this a service called "../../etc/x"
// would write outside the output directory. An empty result becomes "unknown".
func SanitizeName(s string) string {
	var b strings.Builder
	b.Grow(min(len(s), MaxNameLen))
	lastUnderscore := false
	for _, r := range s {
		if b.Len() >= MaxNameLen {
			break
		}
		ok := r < utf8.RuneSelf && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' ||
			r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.')
		if !ok {
			r = '_'
		}
		if (r == '.' || r == '_') && b.Len() == 0 {
			continue // the name starts at the first letter, digit or '-'
		}
		if r == '_' {
			if lastUnderscore {
				continue
			}
			lastUnderscore = true
		} else {
			lastUnderscore = false
		}
		b.WriteRune(r)
	}
	out := strings.TrimRight(b.String(), "_")
	if out == "" {
		return "unknown"
	}
	return out
}
