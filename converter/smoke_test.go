package converter

import (
	"bytes"
	"testing"
	"time"

	"github.com/otel2chrome/otel2chrome/converter/check"
)

func TestSmoke(t *testing.T) {
	b := newTB()
	ms := time.Millisecond
	b.add(spec{trace: 1, id: 1, service: "front", name: "GET", start: 0, end: 100 * ms, kind: 2, attrs: map[string]any{"http.route": "/x"}})
	b.add(spec{trace: 1, id: 2, parent: 1, service: "front", name: "a", start: 10 * ms, end: 50 * ms})
	b.add(spec{trace: 1, id: 3, parent: 1, service: "front", name: "b", start: 20 * ms, end: 60 * ms, kind: 3})
	b.add(spec{trace: 1, id: 4, parent: 3, service: "back", name: "srv", start: 15 * ms, end: 45 * ms, kind: 2})
	c := New()
	c.AddTraces(b.td)
	var out bytes.Buffer
	st, err := c.Encode(&out)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v\n%s", st, out.String())
	if _, err := check.Validate(out.Bytes()); err != nil {
		t.Fatal(err)
	}
}
