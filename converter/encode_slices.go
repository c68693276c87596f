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
	for _, i := range sel {
		st.Spans++
		st.Instants += int(cw.l.rec(i).nEvents)
	}
	workers := runtime.GOMAXPROCS(0)
	if workers < 2 || len(sel) < 2*encodeChunk || cw.first {
		for _, i := range sel {
			cw.span(i)
			if cw.err != nil {
				return
			}
		}
		return
	}
	cw.flush() // what came before goes first
	chunks, k := (len(sel)+encodeChunk-1)/encodeChunk, 0
	next := func() (int, bool, error) {
		k++
		return k - 1, k <= chunks, nil
	}
	free := make(chan []byte, 2*workers+1)
	_ = inOrder(workers, next, func(k int) []byte {
		var buf []byte
		select {
		case buf = <-free:
		default:
		}
		w := chromeWriter{m: cw.m, l: cw.l} // no writer: its buffer grows
		w.enc.buf = buf[:0]
		for _, i := range sel[k*encodeChunk : min((k+1)*encodeChunk, len(sel))] {
			w.span(i)
		}
		return w.enc.buf
	}, func(buf []byte) error {
		cw.enc.buf = buf
		cw.flush()
		select {
		case free <- buf[:0]:
		default:
		}
		return cw.err
	})
	cw.enc.buf = make([]byte, 0, flushSize+4096)
}

// span writes span i's complete event and the instants of its events.
func (cw *chromeWriter) span(i int32) {
	cw.slice(i)
	s := cw.l.rec(i)
	for k := s.events; k < s.events+s.nEvents; k++ {
		cw.instant(i, &cw.m.events[k])
	}
}
