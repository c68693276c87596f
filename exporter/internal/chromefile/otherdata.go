package chromefile

import (
	"bytes"
	"io"
)

// otherDataWriter adds fields to the otherData object of the Chrome JSON the
// converter writes through it: facts only the sink knows, such as spans a
// limit dropped, belong in the file beside the converter's own counts.
//
// The converter has no option for extra otherData fields, so this inserts them
// after the first `"otherData":{` of the output, which the converter writes
// first, before any event. TestOtherDataWriterOnConverterOutput fails if that
// ever changes; until a converter option replaces this, a header without the
// marker in its first maxOtherDataHead bytes is written unchanged.
type otherDataWriter struct {
	w      io.Writer
	fields []byte // `"key":"value",` for each field
	head   []byte // output held until the marker is found
	done   bool
}

var otherDataMarker = []byte(`"otherData":{`)

const maxOtherDataHead = 4096

// newOtherDataWriter returns a writer inserting fields, a sequence of
// `"key":"value",` pairs each ending in a comma, into the otherData object of
// what is written through it. Close must be called after the last Write.
func newOtherDataWriter(w io.Writer, fields []byte) *otherDataWriter {
	return &otherDataWriter{w: w, fields: fields, done: len(fields) == 0}
}

// Write passes b on, holding the start of the output until the fields are in.
func (o *otherDataWriter) Write(b []byte) (int, error) {
	if o.done {
		return o.w.Write(b)
	}
	o.head = append(o.head, b...)
	i := bytes.Index(o.head, otherDataMarker)
	if i < 0 && len(o.head) < maxOtherDataHead {
		return len(b), nil
	}
	var out []byte
	if i >= 0 {
		i += len(otherDataMarker)
		out = make([]byte, 0, len(o.head)+len(o.fields))
		out = append(append(append(out, o.head[:i]...), o.fields...), o.head[i:]...)
	} else {
		out = o.head
	}
	o.done, o.head = true, nil
	if _, err := o.w.Write(out); err != nil {
		return 0, err
	}
	return len(b), nil
}

// Close writes what is still held: output too short to hold the marker.
func (o *otherDataWriter) Close() error {
	if o.done {
		return nil
	}
	o.done = true
	_, err := o.w.Write(o.head)
	o.head = nil
	return err
}
