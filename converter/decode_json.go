package converter

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"go.opentelemetry.io/collector/pdata/ptrace"
)

// decodeJSON decodes one JSON document, or JSON Lines (one document per line, as
// the collector file exporter writes), each of which may be OTLP JSON or one of
// the Jaeger shapes.
func (d *decoder) decodeJSON(name string, data []byte) error {
	data = bytes.TrimPrefix(data, utf8BOM)
	d.docOff, d.docLine, d.docCol = 0, 1, 0
	if isJSONLines(data) {
		return d.decodeLines(name, bufio.NewReader(bytes.NewReader(data)))
	}
	if err := d.decodeDoc(data); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

// linesProbe bounds the first line read to tell JSON Lines from one
// document; JSON Lines whose first line is longer are read whole.
const linesProbe = 8 << 20

// decodeJSONInput reads JSON from br: JSON Lines as they stream (a line at
// most the size limit), anything else as one document (at most the limit).
// It reads the first line, and streams lines when that line is a whole
// document and more follows, as isJSONLines tells them apart.
func (d *decoder) decodeJSONInput(name string, br *bufio.Reader, compressed bool) error {
	var head []byte
	for {
		part, err := br.ReadSlice('\n')
		head = append(head, part...)
		if int64(len(head)) > min(d.max, linesProbe) {
			break // one document, or lines too long to stream: read whole
		}
		if err == bufio.ErrBufferFull || err == nil && len(bytes.TrimSpace(head)) == 0 {
			continue // a long first line, or leading blank lines
		}
		if err == nil && json.Valid(bytes.TrimPrefix(head, utf8BOM)) {
			if _, err := firstSignificant(br); err == nil {
				head = bytes.TrimPrefix(head, utf8BOM)
				return d.decodeLines(name, bufio.NewReaderSize(io.MultiReader(bytes.NewReader(head), br), 64<<10))
			}
		}
		break
	}
	data, err := d.readAll(br, name, compressed, head)
	if err != nil {
		return err
	}
	return d.decodeJSON(name, data)
}

// isJSONLines reports whether data holds more than one JSON document, one per
// line: the first non-blank line is a complete document and more follows.
func isJSONLines(data []byte) bool {
	rest := data
	for {
		nl := bytes.IndexByte(rest, '\n')
		if nl < 0 {
			return false
		}
		first := bytes.TrimSpace(rest[:nl])
		rest = rest[nl+1:]
		if len(first) == 0 {
			continue // leading blank lines
		}
		return len(bytes.TrimSpace(rest)) > 0 && json.Valid(first)
	}
}

// envelope holds the top-level keys that tell the JSON shapes apart.
type envelope struct {
	ResourceSpans  json.RawMessage `json:"resourceSpans"`
	ResourceSpans2 json.RawMessage `json:"resource_spans"`
	Data           json.RawMessage `json:"data"`
	Result         json.RawMessage `json:"result"`
	Error          json.RawMessage `json:"error"`
	Errors         json.RawMessage `json:"errors"`
	TraceEvents    json.RawMessage `json:"traceEvents"`
}

func (d *decoder) decodeDoc(doc []byte) error {
	if looksLikeOTLP(doc) {
		return d.decodeOTLPJSON(doc, formatOTLPJSON)
	}
	if bytes.HasPrefix(bytes.TrimSpace(doc), []byte("[")) {
		return errors.New("a JSON array is not a known trace format; want an OTLP JSON object or a Jaeger export")
	}
	var env envelope
	if err := json.Unmarshal(doc, &env); err != nil {
		return d.jsonError("JSON", doc, err)
	}
	switch {
	case hasValue(env.Error):
		return jaegerV3Error(env.Error)
	case hasValue(env.Result):
		var res struct {
			ResourceSpans json.RawMessage `json:"resourceSpans"`
		}
		if err := json.Unmarshal(env.Result, &res); err != nil || !hasValue(res.ResourceSpans) && !bytes.Equal(bytes.TrimSpace(env.Result), []byte("{}")) {
			return fmt.Errorf("%s: \"result\" holds no resourceSpans", formatJaegerV3JSON)
		}
		// Errors inside it are placed in the whole document: move the
		// document's origin to where "result" starts for the decode.
		if off := bytes.Index(doc, env.Result); off > 0 {
			saved := [3]int64{d.docOff, int64(d.docLine), int64(d.docCol)}
			line, col := lineCol(doc, int64(off))
			if line == 1 {
				col += d.docCol
			}
			d.docOff, d.docLine, d.docCol = d.docOff+int64(off), d.docLine+line-1, col-1
			defer func() { d.docOff, d.docLine, d.docCol = saved[0], int(saved[1]), int(saved[2]) }()
		}
		return d.decodeOTLPJSON(env.Result, formatJaegerV3JSON)
	case hasValue(env.Data) || hasValue(env.Errors):
		return d.decodeJaeger(doc)
	case hasValue(env.ResourceSpans) || hasValue(env.ResourceSpans2):
		return d.decodeOTLPJSON(doc, formatOTLPJSON)
	case hasValue(env.TraceEvents):
		return errors.New("this is already a Chrome trace file (it has traceEvents); open it in ui.perfetto.dev or chrome://tracing")
	}
	if bytes.Equal(bytes.TrimSpace(doc), []byte("{}")) {
		return nil // an empty OTLP request: valid, no spans
	}
	return errors.New("JSON object is not a known trace format: no resourceSpans (OTLP), data (Jaeger) or result (Jaeger api_v3) key")
}

// looksLikeOTLP is a fast path that avoids scanning a large OTLP document twice:
// OTLP JSON writers put resourceSpans first.
func looksLikeOTLP(doc []byte) bool {
	head := doc
	if len(head) > 64 {
		head = head[:64]
	}
	head = bytes.TrimLeft(head, " \t\r\n")
	if !bytes.HasPrefix(head, []byte("{")) {
		return false
	}
	head = bytes.TrimLeft(head[1:], " \t\r\n")
	return bytes.HasPrefix(head, []byte(`"resourceSpans"`)) || bytes.HasPrefix(head, []byte(`"resource_spans"`))
}

func hasValue(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) > 0 && !bytes.Equal(raw, []byte("null"))
}

// useFastPaths is off only in tests that hold the fast paths (the OTLP JSON
// and protobuf readers, small protobuf messages decoded whole) to the general
// ones.
var useFastPaths = true

func (d *decoder) decodeOTLPJSON(doc []byte, format string) error {
	if useFastPaths {
		if d.prep != nil {
			if d.prep.otlpJSON(doc) {
				d.prepared()
				return nil
			}
		} else if td, ok := fastOTLPJSON(doc); ok {
			d.add(td)
			return nil
		}
	}
	td, err := (&ptrace.JSONUnmarshaler{}).UnmarshalTraces(doc)
	if err != nil {
		// pdata's decoder does not check the syntax it skips, and says
		// where a syntax error is only by the text around it: the
		// standard library's scanner places those exactly. Only on this
		// error path, so valid input is parsed once.
		if !json.Valid(doc) {
			var v any
			return d.jsonError(format, doc, json.Unmarshal(doc, &v))
		}
		return d.pdataError(format, doc, err)
	}
	d.add(td)
	return nil
}

// posError is a JSON error with its position in the input.
type posError struct {
	format    string
	off       int64
	line, col int
	err       error
}

func (e *posError) Error() string {
	return fmt.Sprintf("%s: at byte %d (line %d, column %d): %v", e.format, e.off, e.line, e.col, e.err)
}

func (e *posError) Unwrap() error { return e.err }

// jsonError adds the position of a JSON error in the input (not just in the
// document, for JSON Lines) to its message.
func (d *decoder) jsonError(format string, doc []byte, err error) error {
	var off int64 = -1
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		off = se.Offset - 1 // Offset counts the offending byte
		if off < 0 {
			off = 0
		}
	case errors.As(err, &te):
		off = te.Offset
	}
	if off < 0 {
		return fmt.Errorf("%s: %w", format, err)
	}
	return d.jsonErrorAt(format, doc, off, err)
}

// jsonErrorAt places err at byte off of doc, in the whole input's terms.
func (d *decoder) jsonErrorAt(format string, doc []byte, off int64, err error) error {
	line, col := lineCol(doc, off)
	if line == 1 {
		col += d.docCol
	}
	line += d.docLine - 1
	return &posError{format: format, off: d.docOff + off, line: line, col: col, err: err}
}

// iterError is how pdata's JSON decoder words an error: what failed, then
// the text around the place (N bytes into the first excerpt), then more.
var iterError = regexp.MustCompile(`(?s)^(.*), error found in #(\d+) byte of \.\.\.\|(.*)\|\.\.\., bigger context \.\.\.\|(.*)\|\.\.\.$`)

// pdataError turns an error of pdata's JSON decoder, which tells where it is
// only by the text around it, into one with its position in the input, and
// printable whatever bytes the input held.
func (d *decoder) pdataError(format string, doc []byte, err error) error {
	m := iterError.FindStringSubmatch(err.Error())
	if m == nil {
		return fmt.Errorf("%s: %s", format, printable(err.Error()))
	}
	n, _ := strconv.Atoi(m[2])
	near, bigger := m[3], m[4]
	// The decoder reads the document from one buffer: the bigger excerpt
	// starts 50 bytes before the place (or at the start), the near one 10.
	head := -1
	if i := bytes.Index(doc, []byte(bigger)); i > 0 {
		head = i + 50
	} else if i == 0 {
		if j := strings.Index(bigger, near); j >= 0 {
			head = j + n
		}
	}
	msg := printable(m[1])
	if head < 0 || head > len(doc) {
		return fmt.Errorf("%s: %s near %s", format, msg, printable(strconv.Quote(near)))
	}
	err = fmt.Errorf("%s near %s", msg, printable(strconv.Quote(near)))
	return d.jsonErrorAt(format, doc, int64(max(head-1, 0)), err)
}

// printable escapes what a terminal would not show: invalid UTF-8 and
// control characters.
func printable(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case !unicode.IsPrint(r) && r != ' ':
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

func lineCol(doc []byte, off int64) (line, col int) {
	if off > int64(len(doc)) {
		off = int64(len(doc))
	}
	before := doc[:off]
	line = bytes.Count(before, []byte("\n")) + 1
	col = int(off) - bytes.LastIndexByte(before, '\n')
	return line, col
}
