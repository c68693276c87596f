package converter

import (
	"bytes"
	"errors"
	"fmt"
	"runtime"

	"go.opentelemetry.io/collector/pdata/ptrace"
)

// linesChunk is about how many bytes of JSON Lines one worker decodes at a
// time: big enough that handing chunks around costs nothing, small enough
// that a few in flight hold little memory.
const linesChunk = 256 << 10

// decodeLines decodes JSON Lines, one document per line. Lines are
// independent, so chunks of them are decoded on every core at once and the
// results handed on in input order; the first error, in input order, ends
// the input after the spans of the lines before it, as when one goroutine
// reads them all.
func (d *decoder) decodeLines(name string, data []byte) error {
	workers := runtime.GOMAXPROCS(0)
	if workers < 2 || len(data) < 2*linesChunk {
		_, err := d.linesFrom(name, data, 0, len(data), 1)
		return err
	}
	// Chunks end at a line end.
	type chunk struct{ start, end, line int }
	var chunks []chunk
	for start, line := 0, 1; start < len(data); {
		end := start + linesChunk
		if i := bytes.IndexByte(data[min(end, len(data)):], '\n'); i >= 0 && end < len(data) {
			end += i + 1
		} else {
			end = len(data)
		}
		chunks = append(chunks, chunk{start, end, line})
		line += bytes.Count(data[start:end], []byte("\n"))
		start = end
	}
	type result struct {
		tds []ptrace.Traces
		err error
	}
	return inOrder(workers, len(chunks), func(k int) result {
		wd := *d // a worker's own document positions
		var tds []ptrace.Traces
		wd.add = func(td ptrace.Traces) { tds = append(tds, td) }
		c := chunks[k]
		_, err := wd.linesFrom(name, data, c.start, c.end, c.line)
		return result{tds, err}
	}, func(r result) error {
		for _, td := range r.tds {
			d.add(td)
		}
		return r.err
	})
}

// linesFrom decodes the lines in data[start:end], the first of which is
// line number line, and returns the number of the line after them.
func (d *decoder) linesFrom(name string, data []byte, start, end, line int) (int, error) {
	for start < end {
		stop := bytes.IndexByte(data[start:end], '\n')
		if stop < 0 {
			stop = end
		} else {
			stop += start
		}
		raw := data[start:stop]
		if doc := bytes.TrimSpace(raw); len(doc) > 0 {
			d.docCol = bytes.Index(raw, doc)
			d.docOff = int64(start + d.docCol)
			d.docLine = line
			if err := d.decodeDoc(doc); err != nil {
				var pe *posError
				if errors.As(err, &pe) {
					return line, fmt.Errorf("%s: %w", name, err) // says the line itself
				}
				return line, fmt.Errorf("%s: line %d: %w", name, line, err)
			}
		}
		start = stop + 1
		line++
	}
	return line, nil
}
