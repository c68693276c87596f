package converter

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/klauspost/compress/zstd"
	"github.com/otel2chrome/otel2chrome/converter/gotrace"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"google.golang.org/protobuf/encoding/protowire"
)

// Format names, as used in error messages.
const (
	formatOTLPProto       = "OTLP protobuf"
	formatOTLPProtoStream = "OTLP protobuf stream"
	formatOTLPJSONStream  = "OTLP JSON stream"
	formatOTLPJSON        = "OTLP JSON"
	formatJaegerJSON      = "Jaeger JSON"
	formatJaegerV3JSON    = "Jaeger api_v3 JSON"
)

var (
	utf8BOM   = []byte("\xef\xbb\xbf") // skipped before JSON
	gzipMagic = []byte{0x1f, 0x8b}
	zstdMagic = []byte{0x28, 0xb5, 0x2f, 0xfd}
)

// maxWrapDepth bounds nested compression (a gzip inside a gzip ...), so a
// hostile input cannot make the decoder unwrap forever.
const maxWrapDepth = 3

// maxZstdWindow bounds the window a zstd frame may ask for: the collector's
// encoder uses a few MiB, and a forged header must not make us allocate GiBs.
const maxZstdWindow = 128 << 20

// zstdWindow is the largest window a zstd frame may ask for: no more than
// the limit on a message, and at least the 1 KiB the zstd package requires.
func (d *decoder) zstdWindow() uint64 {
	return uint64(max(min(d.max, maxZstdWindow), 1<<10))
}

// decoder reads one named input and hands every decoded batch to add.
type decoder struct {
	name     string
	max      int64
	add      func(ptrace.Traces)
	progress func(string, int64)
	splitter protoSplitter
	sizeHint int64 // the input's size when known and not compressed

	// Where the JSON document being decoded starts in the input, for error
	// positions in JSON Lines.
	docOff  int64
	docLine int
	docCol  int // bytes before the document on its first line

	goTraces []*gotrace.Trace // Go execution traces read (decode_gotrace.go)

	// prep, when set, prepares OTLP JSON for the model on the decoding
	// side (decodeModel); send hands a prepared batch on, after the pdata
	// messages pending, and flush hands on all that is pending.
	prep  *preparer
	send  func(*spanBatch)
	flush func()
}

// handoffSpans is about how many spans the decoding goroutine hands to the
// model at once.
const handoffSpans = 1024

// decode decodes one input into pdata alone, handing each message to add
// in input order (a Go execution trace among the inputs is an error): the
// converter's decoding without its model, as the benchmarks' baseline and
// the decoder's tests use it.
func decode(name string, r io.Reader, max int64, progress func(string, int64), add func(ptrace.Traces)) error {
	d := &decoder{name: name, max: max, progress: progress}
	return d.run(r, func(h handoff) {
		for _, td := range h.tds {
			add(td)
		}
	}, nil)
}

// decodeModel decodes for a model configured by cfg. OTLP JSON and OTLP
// protobuf (large messages cut into batches first) are read into prepared
// batches (JSON Lines on every core), handed to m.commit; what decodes to
// pdata (Jaeger, what the readers leave to pdata outside JSON Lines)
// goes to m.addTraces, which prepares it on the model's side, the decoding
// goroutine being the busier one. Both are called in input order on the
// caller's goroutine.
func decodeModel(name string, r io.Reader, cfg *config, m spanSink, addGo func(*gotrace.Trace)) error {
	d := &decoder{name: name, max: cfg.maxInputSize, progress: cfg.progress, prep: newPreparer(cfg)}
	d.prep.spare = make(chan *spanBatch, 4)
	return d.run(r, func(h handoff) {
		for _, td := range h.tds {
			m.addTraces(td)
		}
		if h.batch != nil {
			m.commit(h.batch)
			select {
			case d.prep.spare <- h.batch:
			default:
			}
		}
	}, addGo)
}

// spanSink takes what decodeModel decodes, in input order: the model, or
// in the benchmarks a counter of the spans read.
type spanSink interface {
	addTraces(ptrace.Traces)
	commit(*spanBatch)
}

// handoff is what the decoding goroutine hands to the model's: pdata
// messages or a prepared batch.
type handoff struct {
	tds   []ptrace.Traces
	batch *spanBatch
}

func (d *decoder) run(r io.Reader, use func(handoff), addGo func(*gotrace.Trace)) error {
	d.sizeHint = knownSize(r)
	if d.progress != nil {
		r = &countingReader{r: r, fn: func(n int64) { d.progress(d.name, n) }}
	}
	// Decoding and building the model run as a two-stage pipeline, so the
	// two halves of the work share the machine's cores. The decoding
	// goroutine always ends: it stops at the end of the input or the first
	// error, and this function drains the channel until it does.
	// Small messages (JSON Lines, the file exporter's stream) are handed
	// over in batches of about handoffSpans spans, not one by one: a
	// hand-off per message made the two goroutines wake each other
	// thousands of times a second.
	handoffs := make(chan handoff, 2)
	errc := make(chan error, 1)
	var pending []ptrace.Traces
	pendingSpans := 0
	sendPending := func() {
		if len(pending) > 0 {
			handoffs <- handoff{tds: pending}
			pending, pendingSpans = nil, 0
		}
	}
	// What is pending goes in input order: pdata messages pending came
	// before what the preparer holds.
	held := func() bool {
		b := d.prep.b
		return len(b.spans) > 0 || b.noStart > 0 || len(b.dropped) > 0
	}
	d.flush = func() {
		sendPending()
		if d.prep != nil && held() {
			handoffs <- handoff{batch: d.prep.take()}
		}
	}
	d.add = func(td ptrace.Traces) {
		// A batch holding only spans left out (what WithMinDuration
		// dropped, spans without a start) goes first too: a later
		// message may leave out the same span under another parent.
		if d.prep != nil && held() {
			d.flush()
		}
		pending = append(pending, td)
		if pendingSpans += td.SpanCount(); pendingSpans >= handoffSpans {
			sendPending()
		}
	}
	d.send = func(b *spanBatch) {
		sendPending()
		handoffs <- handoff{batch: b}
	}
	d.splitter.add = d.add
	if d.prep != nil {
		// Protobuf messages (one export request each, as the file
		// exporter writes them) and the batches a large one is cut
		// into are read straight into prepared batches.
		d.splitter.direct = func(msg []byte) bool {
			if !d.prep.otlpProto(msg) {
				return false
			}
			d.prepared()
			return true
		}
	}
	go func() {
		defer close(handoffs)
		err := d.sniff(bufio.NewReaderSize(r, 64<<10), 0, "")
		d.flush()
		errc <- err
	}()
	for h := range handoffs {
		use(h)
	}
	if err := <-errc; err != nil {
		return err
	}
	return d.handOnGo(addGo)
}

// knownSize is the size of r when it is a regular file or an in-memory
// reader, else 0.
func knownSize(r io.Reader) int64 {
	switch v := r.(type) {
	case interface{ Stat() (os.FileInfo, error) }:
		if fi, err := v.Stat(); err == nil && fi.Mode().IsRegular() {
			return fi.Size()
		}
	case interface{ Len() int }:
		return int64(v.Len())
	}
	return 0
}

// prepared hands on the preparer's batch once it holds enough spans.
func (d *decoder) prepared() {
	if d.send != nil && len(d.prep.b.spans) >= handoffSpans {
		d.send(d.prep.take())
	}
}

// sniff detects the format from the first bytes and decodes accordingly.
// wrap names the compression layers already removed, for error messages.
func (d *decoder) sniff(br *bufio.Reader, depth int, wrap string) error {
	head, err := br.Peek(4)
	if len(head) == 0 {
		if err != nil && err != io.EOF {
			return fmt.Errorf("%s%s: reading: %w", d.name, wrap, err)
		}
		return fmt.Errorf("%s%s: empty input", d.name, wrap)
	}
	switch {
	case bytes.HasPrefix(head, gzipMagic):
		if depth >= maxWrapDepth {
			return fmt.Errorf("%s%s: compression nested more than %d deep", d.name, wrap, maxWrapDepth)
		}
		zr, err := gzip.NewReader(br)
		if err != nil {
			return fmt.Errorf("%s: gzip: %w", d.name, err)
		}
		defer zr.Close()
		return d.sniff(bufio.NewReaderSize(zr, 64<<10), depth+1, wrap+" (gzip)")
	case bytes.HasPrefix(head, zstdMagic):
		if depth >= maxWrapDepth {
			return fmt.Errorf("%s%s: compression nested more than %d deep", d.name, wrap, maxWrapDepth)
		}
		zr, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(d.zstdWindow()))
		if err != nil {
			return fmt.Errorf("%s: zstd: %w", d.name, err)
		}
		defer zr.Close()
		return d.sniff(bufio.NewReaderSize(zr, 64<<10), depth+1, wrap+" (zstd)")
	}
	name := d.name + wrap
	if goHead, _ := br.Peek(gotrace.HeaderLen); gotrace.IsTrace(goHead) {
		return d.decodeGoTrace(name, br)
	}
	first, err := firstSignificant(br)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	switch {
	case first == '{' || first == '[':
		return d.decodeJSONInput(name, br, depth > 0)
	case head[0] == 0x0a:
		// Field 1 (resource_spans), wire type 2: a TracesData or
		// ExportTraceServiceRequest message, which share one wire format.
		return d.decodeProto(name, br)
	case head[0] == 0x00:
		// A length prefix below 16 MiB: the collector file exporter's stream.
		return d.decodeStream(name, br)
	case isStreamHead(br):
		// A first message of 16 MiB or more: the prefix is followed by a
		// TracesData (0x0a), a JSON object or a zstd frame.
		return d.decodeStream(name, br)
	}
	return fmt.Errorf("%s: unrecognised format: input starts with bytes % x; want OTLP protobuf (single message or "+
		"length-prefixed stream), OTLP JSON (one object, JSON Lines or length-prefixed stream), Jaeger JSON, "+
		"Go execution trace, optionally gzip or zstd compressed", name, head)
}

func isStreamHead(br *bufio.Reader) bool {
	b, _ := br.Peek(8)
	return len(b) >= 5 && (b[4] == 0x0a || b[4] == '{' || bytes.HasPrefix(b[4:], zstdMagic))
}

// firstSignificant returns the first byte that is not JSON whitespace or a
// UTF-8 byte order mark, without consuming anything.
func firstSignificant(br *bufio.Reader) (byte, error) {
	for n := 64; ; n *= 4 {
		b, err := br.Peek(n)
		b = bytes.TrimPrefix(b, utf8BOM)
		if i := bytes.IndexFunc(b, func(r rune) bool { return r != ' ' && r != '\t' && r != '\n' && r != '\r' }); i >= 0 {
			return b[i], nil
		}
		if err != nil {
			if err == bufio.ErrBufferFull {
				return 0, errors.New("no data in the first 64 KiB, only whitespace")
			}
			return 0, errors.New("empty input (whitespace only)")
		}
	}
}

// readAll reads the rest of r after read, the bytes already taken from it.
func (d *decoder) readAll(r io.Reader, name string, compressed bool, read []byte) ([]byte, error) {
	// The buffer grows at most to the limit, never doubling beyond it, and
	// a one-byte probe tells an input of exactly the limit from a larger
	// one: an input over the limit costs about the limit, not twice it.
	// With the size known up front it is allocated once.
	size := int64(64 << 10)
	if !compressed && d.sizeHint > 0 && d.sizeHint <= d.max {
		size = d.sizeHint + 1
	}
	buf := read
	if int64(cap(buf)) < min(size, d.max) {
		buf = append(make([]byte, 0, min(size, d.max)), read...)
	}
	if int64(len(buf)) > d.max {
		return nil, fmt.Errorf("%s: document is larger than the limit of %d bytes (after decompression)", name, d.max)
	}
	if int64(cap(buf)) > d.max {
		buf = buf[:len(buf):d.max] // the limit check below happens at capacity
	}
	for {
		if len(buf) == cap(buf) {
			if int64(len(buf)) >= d.max {
				var probe [1]byte
				n, err := io.ReadFull(r, probe[:])
				if n > 0 {
					return nil, fmt.Errorf("%s: document is larger than the limit of %d bytes (after decompression)", name, d.max)
				}
				if err != nil && err != io.EOF {
					return nil, fmt.Errorf("%s: reading at byte %d: %w", name, len(buf), err)
				}
				return buf, nil
			}
			next := make([]byte, len(buf), min(2*int64(cap(buf))+1, d.max))
			copy(next, buf)
			buf = next
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: reading at byte %d: %w", name, len(buf), err)
		}
	}
}

// decodeProto reads one TracesData message from br one top-level field at a
// time, so only one ResourceSpans is in memory at once.
func (d *decoder) decodeProto(name string, br *bufio.Reader) error {
	var (
		off int64
		buf []byte
	)
	fail := func(format string, args ...any) error {
		return fmt.Errorf("%s: %s: at byte %d: %s", name, formatOTLPProto, off, fmt.Sprintf(format, args...))
	}
	for {
		tag, err := binary.ReadUvarint(br)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fail("truncated field tag")
		}
		num, typ := protowire.DecodeTag(tag)
		if num <= 0 {
			return fail("bad field tag %#x", tag)
		}
		n := int64(protowire.SizeVarint(tag))
		switch typ {
		case protowire.BytesType:
			size, err := binary.ReadUvarint(br)
			if err != nil {
				return fail("field %d: truncated length", num)
			}
			if size > uint64(d.max) {
				return fail("field %d: length %d is over the limit of %d bytes", num, size, d.max)
			}
			n += int64(protowire.SizeVarint(size))
			if uint64(cap(buf)) < size {
				buf = make([]byte, size)
			}
			buf = buf[:size]
			if k, err := io.ReadFull(br, buf); err != nil {
				return fail("field %d: truncated: length says %d bytes, input has %d", num, size, k)
			}
			if num == fieldResourceSpans {
				if err := d.splitter.resourceSpans(buf, int(off+n)); err != nil {
					return fmt.Errorf("%s: %s: %w", name, formatOTLPProto, err)
				}
			}
			n += int64(size)
		case protowire.VarintType:
			v, err := binary.ReadUvarint(br)
			if err != nil {
				return fail("field %d: truncated varint", num)
			}
			n += int64(protowire.SizeVarint(v))
		case protowire.Fixed32Type, protowire.Fixed64Type:
			k := 4
			if typ == protowire.Fixed64Type {
				k = 8
			}
			if _, err := br.Discard(k); err != nil {
				return fail("field %d: truncated", num)
			}
			n += int64(k)
		default:
			return fail("field %d: unsupported wire type %d", num, typ)
		}
		off += n
	}
}

// decodeStream reads the collector file exporter's length-prefixed format:
// each message is a 4-byte big-endian length and then that many bytes of
// TracesData (`format: proto`) or of OTLP JSON (`format: json` with
// compression, which the exporter cannot write as lines). With
// `compression: zstd` each message is a zstd frame of its own. What each
// message holds is told from its content.
func (d *decoder) decodeStream(name string, br *bufio.Reader) error {
	var (
		lenBuf [4]byte
		buf    []byte
		off    int64
		zdec   *zstd.Decoder
		format = formatOTLPProtoStream // until a message says otherwise
	)
	defer func() {
		if zdec != nil {
			zdec.Close()
		}
	}()
	for n := 1; ; n++ {
		k, err := io.ReadFull(br, lenBuf[:])
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: %s: message %d at byte %d: truncated length prefix (%d of 4 bytes)",
				name, format, n, off, k)
		}
		size := int64(binary.BigEndian.Uint32(lenBuf[:]))
		if size > d.max {
			return fmt.Errorf("%s: %s: message %d at byte %d: length %d is over the limit of %d bytes",
				name, format, n, off, size, d.max)
		}
		if int64(cap(buf)) < size {
			buf = make([]byte, size)
		}
		buf = buf[:size]
		if k, err := io.ReadFull(br, buf); err != nil {
			return fmt.Errorf("%s: %s: message %d at byte %d: truncated: length prefix says %d bytes, input has %d",
				name, format, n, off, size, k)
		}
		msg, wrap := buf, ""
		if bytes.HasPrefix(msg, zstdMagic) {
			if zdec == nil {
				zdec, err = zstd.NewReader(nil, zstd.WithDecoderConcurrency(1),
					zstd.WithDecoderMaxMemory(uint64(d.max)), zstd.WithDecoderMaxWindow(d.zstdWindow()))
				if err != nil {
					return fmt.Errorf("%s: zstd: %w", name, err)
				}
			}
			if msg, err = zdec.DecodeAll(msg, nil); err != nil {
				return fmt.Errorf("%s: %s: message %d at byte %d: zstd: %w", name, format, n, off, err)
			}
			wrap = fmt.Sprintf(", %d after zstd", len(msg))
		}
		if len(msg) > 0 && msg[0] == '{' {
			// A TracesData never starts so: '{' would be field 15 as a
			// deprecated group, which OTLP does not use.
			format = formatOTLPJSONStream
			d.docOff, d.docLine, d.docCol = 0, 1, 0 // positions are in the message
			err = d.decodeDoc(msg)
		} else {
			format = formatOTLPProtoStream
			err = d.splitter.decode(msg)
		}
		if err != nil {
			return fmt.Errorf("%s: %s: message %d at byte %d (%d bytes%s): %w", name, format, n, off, size, wrap, err)
		}
		off += 4 + size
	}
}

type countingReader struct {
	r  io.Reader
	n  int64
	fn func(int64)
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	c.fn(c.n)
	return n, err
}
