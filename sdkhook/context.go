package sdkhook

import (
	"context"

	"go.opentelemetry.io/otel/trace"
)

// node is the context returned by Start and Fork. It stands in for the span
// current in its parent context (every trace.Span method goes to that span, so
// OTel instrumentation below it parents as before) and carries the lane
// binding, so a hook finds it in the same context walk that finds a span.
// Nodes are immutable and never reused.
type node struct {
	context.Context
	trace.Span
	b *binding
}

// spanKey is the key under which package trace stores the current span,
// learnt once by asking a probe context. With it a node answers
// trace.SpanFromContext itself and costs no extra allocation; without it (a
// future otel/trace that looks spans up differently) Start and Fork wrap the
// node with trace.ContextWithSpan.
var spanKey = probeSpanKey()

type keyProbe struct {
	context.Context
	key any
}

func (p *keyProbe) Value(key any) any {
	if p.key == nil {
		p.key = key
	}
	return nil
}

func probeSpanKey() any {
	p := &keyProbe{Context: context.Background()}
	_ = trace.SpanFromContext(p)
	// Check that the key really is the span key before trusting it.
	s := &node{Context: context.Background(), Span: trace.SpanFromContext(context.Background())}
	withSpan := trace.ContextWithSpan(context.Background(), s)
	if p.key == nil || withSpan.Value(p.key) != trace.Span(s) {
		return nil
	}
	return p.key
}

func newNode(parent context.Context, b *binding) *node {
	span := trace.SpanFromContext(parent)
	if n, ok := span.(*node); ok {
		span = n.Span // no chains of stand-ins
	}
	return &node{Context: parent, Span: span, b: b}
}

// context returns n as a context in which trace.SpanFromContext returns n.
func (n *node) context() context.Context {
	if spanKey == nil {
		return trace.ContextWithSpan(n, n)
	}
	return n
}

// Value answers the span key with the node itself.
func (n *node) Value(key any) any {
	if key == spanKey && spanKey != nil {
		return n
	}
	return n.Context.Value(key)
}

func (n *node) bound() *binding {
	if n.b.rec == nil {
		return nil // a fork beyond MaxLanes
	}
	return n.b
}

// lookup finds the lane binding in ctx: a node, or a span registered by a
// processor (the request span, or a span started inside a request).
func lookup(ctx context.Context) *binding {
	if n, ok := ctx.(*node); ok {
		return n.bound()
	}
	span := trace.SpanFromContext(ctx)
	if n, ok := span.(*node); ok {
		return n.bound()
	}
	sc := span.SpanContext()
	if !sc.HasSpanID() {
		return nil
	}
	if e := spans.find(sc.SpanID()); e != nil {
		return &e.b
	}
	return nil
}
