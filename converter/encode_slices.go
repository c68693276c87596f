package converter

import "runtime"

// encodeChunk is how many spans one worker turns into events at a time.
const encodeChunk = 512

// slices writes the complete event of every selected span and the instants
// of its events, in emission order. Each event depends only on the layout,
// so with more than one core chunks of spans are encoded at once, each into
// a buffer of its own, and written in order: the same bytes as one
// goroutine writes.
func (cw *chromeWriter) slices(st *Stats) {
	sel := cw.l.sel
	workers := runtime.GOMAXPROCS(0)
	if workers < 2 || len(sel) < 2*encodeChunk || cw.first {
		for _, i := range sel {
			st.Instants += cw.span(i)
			st.Spans++
			if cw.err != nil {
				return
			}
		}
		return
	}
	cw.flush() // what came before goes first
	type chunk struct {
		buf             []byte
		spans, instants int
	}
	chunks, k := (len(sel)+encodeChunk-1)/encodeChunk, 0
	next := func() (int, bool, error) {
		k++
		return k - 1, k <= chunks, nil
	}
	free := make(chan []byte, 2*workers+1)
	_ = inOrder(workers, next, func(k int) chunk {
		var buf []byte
		select {
		case buf = <-free:
		default:
		}
		w := chromeWriter{m: cw.m, l: cw.l} // no writer: its buffer grows
		w.enc.buf = buf[:0]
		c := chunk{}
		for _, i := range sel[k*encodeChunk : min((k+1)*encodeChunk, len(sel))] {
			c.instants += w.span(i)
			c.spans++
		}
		c.buf = w.enc.buf
		return c
	}, func(c chunk) error {
		cw.enc.buf = c.buf
		cw.flush()
		if cw.err == nil {
			st.Spans += c.spans
			st.Instants += c.instants
		}
		select {
		case free <- c.buf[:0]:
		default:
		}
		return cw.err
	})
	// No worker runs any more: the last chunk's buffer is cw's own again.
}

// span writes span i's complete event and the instants of its events, and
// returns how many instants it wrote.
func (cw *chromeWriter) span(i int32) int {
	cw.slice(i)
	s := cw.l.rec(i)
	for k := s.events; k < s.events+s.nEvents; k++ {
		cw.instant(i, &cw.m.events[k])
	}
	return int(s.nEvents)
}
