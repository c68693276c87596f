package sdkhook_test

import (
	"context"
	"testing"
	"time"

	"github.com/otel2chrome/otel2chrome/sdkhook"
)

func spin(d time.Duration) {
	for end := time.Now().Add(d); time.Now().Before(end); {
	}
}

func TestParentage(t *testing.T) {
	tr, sr := newProvider(t)
	req := request(tr, "GET /", func(ctx context.Context) {
		defer sdkhook.Enter(ctx, "a").End()
		func() {
			defer sdkhook.Enter(ctx, "b").End()
			spin(time.Microsecond)
		}()
		func() {
			ctx, r := sdkhook.Start(ctx, "c")
			defer r.End()
			defer sdkhook.Enter(ctx, "d").End()
		}()
	})
	spans := sr.Ended()
	checkSpans(t, spans)
	m := byName(spans)
	if len(spans) != 5 {
		t.Fatalf("got %d spans, want 5 (request + a b c d)", len(spans))
	}
	want := map[string]string{"a": "GET /", "b": "a", "c": "a", "d": "c"}
	for child, parent := range want {
		if got := m[child].Parent().SpanID(); got != m[parent].SpanContext().SpanID() {
			t.Errorf("parent of %s = %s, want %s", child, got, parent)
		}
		if m[child].SpanContext().TraceID() != req.TraceID() {
			t.Errorf("%s: wrong trace", child)
		}
	}
	if v, _ := attr(m["GET /"], sdkhook.AttrEmitted); v.AsInt64() != 4 {
		t.Errorf("emitted attribute = %v, want 4", v.String())
	}
	waitNoLeaks(t)
}
