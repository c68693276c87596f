package converter

import (
	"encoding/base64"
	"math"
	"strconv"
	"unicode/utf8"

	"go.opentelemetry.io/collector/pdata/pcommon"
)

// encoder appends JSON to a reused byte buffer, in the style of zap's
// zapcore.jsonEncoder: no reflection, no intermediate values, no allocations
// once the buffer has grown.
type encoder struct {
	buf []byte
}

const hexDigits = "0123456789abcdef"

// maxValueDepth bounds nested maps and arrays in attribute values so hostile
// input cannot make the encoder recurse without limit.
const maxValueDepth = 16

// str appends s as a JSON string. Invalid UTF-8 becomes U+FFFD so the output
// is always valid JSON whatever the input held.
func (e *encoder) str(s string) {
	e.buf = append(e.buf, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			e.buf = append(e.buf, s[start:i]...)
			switch c {
			case '"', '\\':
				e.buf = append(e.buf, '\\', c)
			case '\n':
				e.buf = append(e.buf, '\\', 'n')
			case '\r':
				e.buf = append(e.buf, '\\', 'r')
			case '\t':
				e.buf = append(e.buf, '\\', 't')
			default:
				e.buf = append(e.buf, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			e.buf = append(e.buf, s[start:i]...)
			e.buf = append(e.buf, `\ufffd`...)
			i++
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			// Valid JSON, but some JavaScript-based viewers choke on them.
			e.buf = append(e.buf, s[start:i]...)
			e.buf = append(e.buf, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	e.buf = append(e.buf, s[start:]...)
	e.buf = append(e.buf, '"')
}

// plainStr appends s, printable ASCII with no quote or backslash, as a
// JSON string: as it stands.
func (e *encoder) plainStr(s []byte) {
	e.buf = append(e.buf, '"')
	e.buf = append(e.buf, s...)
	e.buf = append(e.buf, '"')
}

// key appends "k": (with a leading comma unless first).
func (e *encoder) key(k string, first bool) {
	if !first {
		e.buf = append(e.buf, ',')
	}
	e.str(k)
	e.buf = append(e.buf, ':')
}

// raw appends a literal "k": key for keys known to need no escaping.
func (e *encoder) rawKey(k string) {
	e.buf = append(e.buf, ',', '"')
	e.buf = append(e.buf, k...)
	e.buf = append(e.buf, '"', ':')
}

func (e *encoder) int(n int64) { e.buf = strconv.AppendInt(e.buf, n, 10) }

// micros appends ns as microseconds with exactly three decimals, so nanoseconds
// survive the trip through a format that counts in µs.
func (e *encoder) micros(ns int64) {
	if ns < 0 {
		e.buf = append(e.buf, '-')
		ns = -ns
	}
	e.buf = strconv.AppendInt(e.buf, ns/1000, 10)
	r := ns % 1000
	e.buf = append(e.buf, '.', byte('0'+r/100), byte('0'+r/10%10), byte('0'+r%10))
}

func (e *encoder) hex(b []byte) {
	e.buf = append(e.buf, '"')
	for _, c := range b {
		e.buf = append(e.buf, hexDigits[c>>4], hexDigits[c&0xF])
	}
	e.buf = append(e.buf, '"')
}

func (e *encoder) attrMap(m pcommon.Map, maxLen, depth int) {
	e.buf = append(e.buf, '{')
	first := true
	m.Range(func(k string, v pcommon.Value) bool {
		e.key(k, first)
		first = false
		e.value(v, maxLen, depth+1)
		return true
	})
	e.buf = append(e.buf, '}')
}

func (e *encoder) value(v pcommon.Value, maxLen, depth int) {
	switch v.Type() {
	case pcommon.ValueTypeStr:
		e.str(truncate(v.Str(), maxLen))
	case pcommon.ValueTypeInt:
		e.int(v.Int())
	case pcommon.ValueTypeBool:
		e.buf = strconv.AppendBool(e.buf, v.Bool())
	case pcommon.ValueTypeDouble:
		f := v.Double()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			e.str(strconv.FormatFloat(f, 'g', -1, 64)) // JSON has no NaN/Inf
		} else {
			e.buf = strconv.AppendFloat(e.buf, f, 'g', -1, 64)
		}
	case pcommon.ValueTypeBytes:
		b := v.Bytes().AsRaw()
		if maxLen > 0 && base64.StdEncoding.EncodedLen(len(b)) > maxLen {
			b = b[:min(len(b), maxLen*3/4)]
		}
		e.str(base64.StdEncoding.EncodeToString(b))
	case pcommon.ValueTypeMap:
		if depth >= maxValueDepth {
			e.str("…")
			return
		}
		e.attrMap(v.Map(), maxLen, depth)
	case pcommon.ValueTypeSlice:
		if depth >= maxValueDepth {
			e.str("…")
			return
		}
		s := v.Slice()
		e.buf = append(e.buf, '[')
		for i := 0; i < s.Len(); i++ {
			if i > 0 {
				e.buf = append(e.buf, ',')
			}
			e.value(s.At(i), maxLen, depth+1)
		}
		e.buf = append(e.buf, ']')
	default:
		e.buf = append(e.buf, "null"...)
	}
}
