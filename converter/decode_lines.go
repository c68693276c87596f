package converter

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"runtime"

	"go.opentelemetry.io/collector/pdata/ptrace"
)

// linesChunk is about how many bytes of JSON Lines one worker decodes at a
// time: big enough that handing chunks around costs nothing, small enough
// that a few in flight hold little memory.
const linesChunk = 256 << 10

// linesChunkCap is the capacity of a chunk's buffer: a chunk ends with the
// line that crosses linesChunk, and a longer line grows its own buffer.
const linesChunkCap = linesChunk + 4096

// linesChunkOf is a run of whole lines: bytes from byte off of the input,
// the first being line number line.
type linesChunkOf struct {
	data []byte
	off  int64
	line int
}

// decodeLines decodes JSON Lines, one document per line, as they stream
// from br: the limit on input size holds for each line, not for the whole,
// and the input is never held whole. Lines are independent, so chunks of
// them are decoded on every core at once and the results handed on in input
// order; the first error, in input order, ends the input after the spans of
// the lines before it, as when one goroutine reads them all.
func (d *decoder) decodeLines(name string, br *bufio.Reader) error {
	var (
		off     int64
		line    = 1
		done    bool
		failed  error // ends the input after the lines before it
		workers = runtime.GOMAXPROCS(0)
		// Chunk buffers serve again once decoded (nothing decoded refers
		// to them): a fresh one for each chunk cost, in allocating and
		// zeroing, about as much as reading the input.
		free = make(chan []byte, 2*workers+1)
		// Workers' preparers serve again too, each filling batches the
		// model has committed (the decoder's spare ones) when there are.
		preps = make(chan *preparer, workers+1)
	)
	// carry is the start of the line a chunk's reading stopped in, which
	// begins the next chunk.
	var carry []byte
	next := func() (linesChunkOf, bool, error) {
		if done || failed != nil {
			return linesChunkOf{}, false, failed
		}
		c := linesChunkOf{off: off, line: line}
		select {
		case c.data = <-free:
		default:
			c.data = make([]byte, 0, linesChunkCap)
		}
		c.data = append(c.data, carry...)
		carry = carry[:0]
		lineStart, scanned := 0, 0
		// fail hands on the whole lines read before the one that failed:
		// an error among them comes first in input order.
		fail := func(err error) (linesChunkOf, bool, error) {
			if lineStart == 0 {
				return linesChunkOf{}, false, err
			}
			failed = err
			c.data = c.data[:lineStart]
			off += int64(lineStart)
			return c, true, nil
		}
		tooLong := func() error {
			return fmt.Errorf("%s: line %d is larger than the limit of %d bytes (after decompression)", name, line, d.max)
		}
		// scan moves past the lines read whole, holding each to the limit.
		scan := func() error {
			for {
				nl := bytes.IndexByte(c.data[scanned:], '\n')
				if nl < 0 {
					scanned = len(c.data)
					return nil
				}
				end := scanned + nl + 1
				if int64(end-lineStart) > d.max {
					return tooLong()
				}
				line++
				lineStart, scanned = end, end
			}
		}
		// The input is read in blocks straight into the chunk, and the
		// line under way is held to the limit too.
		for {
			if err := scan(); err != nil {
				return fail(err)
			}
			if int64(len(c.data)-lineStart) > d.max {
				return fail(tooLong())
			}
			if done {
				off += int64(len(c.data))
				return c, len(c.data) > 0, nil
			}
			if lineStart > 0 && len(c.data) >= linesChunk {
				// Whole lines to decode: the line under way starts
				// the next chunk.
				carry = append(carry, c.data[lineStart:]...)
				c.data = c.data[:lineStart]
				off += int64(lineStart)
				return c, true, nil
			}
			if len(c.data) == cap(c.data) {
				// A long line doubles the buffer, but never past one
				// byte over the limit: a line over it costs about the
				// limit, not the 2-3x that append's growth reached.
				grow := min(int64(cap(c.data)), d.max+1-int64(len(c.data)-lineStart))
				c.data = append(make([]byte, 0, int64(len(c.data))+grow), c.data...)
			}
			n, err := br.Read(c.data[len(c.data):cap(c.data)])
			c.data = c.data[:len(c.data)+n]
			if err == io.EOF {
				done = true
				continue
			}
			if err != nil {
				readErr := fmt.Errorf("%s: reading at byte %d: %w", name, off+int64(len(c.data)), err)
				if err := scan(); err != nil {
					return fail(err) // an earlier line's error comes first
				}
				return fail(readErr)
			}
		}
	}
	type result struct {
		tds   []ptrace.Traces
		batch *spanBatch
		err   error
	}
	return inOrder(workers, next, func(c linesChunkOf) result {
		wd := *d // a worker's own document positions and preparer
		var r result
		if d.prep != nil {
			select {
			case wd.prep = <-preps:
			default:
				wd.prep = newPreparer(d.prep.cfg)
				wd.prep.spare = d.prep.spare
				wd.prep.take() // starts in a spare batch, if one is at hand
			}
			wd.add, wd.send = wd.prep.traces, nil // handed on in order by use
			wd.splitter.direct = nil              // the decoder's preparer is not the worker's
		} else {
			wd.add = func(td ptrace.Traces) { r.tds = append(r.tds, td) }
		}
		r.err = wd.linesFrom(name, c)
		if cap(c.data) == linesChunkCap {
			select {
			case free <- c.data[:0]:
			default:
			}
		}
		if wd.prep != nil {
			r.batch = wd.prep.take()
			select {
			case preps <- wd.prep:
			default:
			}
		}
		return r
	}, func(r result) error {
		for _, td := range r.tds {
			d.add(td)
		}
		if r.batch != nil {
			d.flush() // what came before goes first
			d.send(r.batch)
		}
		return r.err
	})
}

// linesFrom decodes the lines of c.
func (d *decoder) linesFrom(name string, c linesChunkOf) error {
	data, line := c.data, c.line
	for start := 0; start < len(data); line++ {
		stop := bytes.IndexByte(data[start:], '\n')
		if stop < 0 {
			stop = len(data)
		} else {
			stop += start
		}
		raw := data[start:stop]
		if doc := bytes.TrimSpace(raw); len(doc) > 0 {
			d.docCol = bytes.Index(raw, doc)
			d.docOff = c.off + int64(start+d.docCol)
			d.docLine = line
			if err := d.decodeDoc(doc); err != nil {
				var pe *posError
				if errors.As(err, &pe) {
					return fmt.Errorf("%s: %w", name, err) // says the line itself
				}
				return fmt.Errorf("%s: line %d: %w", name, line, err)
			}
		}
		start = stop + 1
	}
	return nil
}
