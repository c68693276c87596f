package sdkhook

import (
	"context"
	"runtime/debug"
)

// Enter records entry into the function called name (the span name) and
// returns the Region to end at its exit:
//
//	defer sdkhook.Enter(ctx, "shop.checkout").End()
//
// The call nests under the innermost open call on the context's lane (or under
// the request span), so parentage is exact for sequential code whatever
// context is passed down. Enter allocates nothing. When ctx carries no request
// recorder, it returns the zero Region, whose methods do nothing.
//
// On amd64, where the compiler inlines Enter (the usual case, though not under
// -race or -gcflags=-l), Enter also takes the caller's program counter from
// the frame-pointer chain (a few ns), for the code.function.name,
// code.file.path and code.line.number attributes, resolved when spans are
// emitted; otherwise code.function.name is name.
func Enter(ctx context.Context, name string) Region {
	if active.Load() == 0 {
		return Region{} // inlined: the disabled path is one load
	}
	return enter(ctx, name)
}

// enter is called directly by the hooked function (Enter is inlined), so
// callerPC finds the hooked function's PC for code.* attributes. Only the
// frame-pointer path is fast enough to take for every call. Where the
// compiler does not inline Enter (-race, -l, very large callers), the PC lands
// in Enter and emission ignores it; making Enter a real call to keep it would
// double the cost of the disabled path.
//
//go:noinline
func enter(ctx context.Context, name string) Region {
	b := lookup(ctx)
	if b == nil {
		return Region{}
	}
	var pc uintptr
	if fpSkip >= 0 {
		pc = callerPC(fpSkip)
	}
	r, _ := b.rec.enter(b, name, pc, nil)
	return r
}

// EnterFunc is Enter with the name, file and line of the calling function,
// found from its program counter when spans are emitted, off the hot path:
//
//	defer sdkhook.EnterFunc(ctx).End()
//
// On amd64 the program counter comes from the frame-pointer chain for a few
// nanoseconds; elsewhere from runtime.Callers (about 100 ns more).
//
//go:noinline
func EnterFunc(ctx context.Context) Region {
	if active.Load() == 0 {
		return Region{}
	}
	b := lookup(ctx)
	if b == nil {
		return Region{}
	}
	r, _ := b.rec.enter(b, "", callerPC(fpSkip), nil)
	return r
}

// Start is Enter that also returns a context to pass down. The context is
// bound to the caller's lane, so hooks below find the recorder without a
// lookup, and trace.SpanFromContext on it returns a stand-in for the span
// of ctx, so other instrumentation below is parented as before. Start returns
// the same context again for the same parent, so its recording path
// allocates nothing in steady state.
//
//	ctx, r := sdkhook.Start(ctx, "shop.checkout")
//	defer r.End()
//
//go:noinline
func Start(ctx context.Context, name string) (context.Context, Region) {
	if active.Load() == 0 {
		return ctx, Region{}
	}
	b := lookup(ctx)
	if b == nil {
		return ctx, Region{}
	}
	var pc uintptr
	if fpSkip >= 0 {
		pc = callerPC(fpSkip)
	}
	return swap(b.rec.enter(b, name, pc, ctx))
}

func swap(r Region, ctx context.Context) (context.Context, Region) { return ctx, r }

// Fork returns a context for a goroutine started by the request: hooks called
// with it go on a lane (thread.id) of their own, whose outermost calls are
// children of the call open in ctx at the time of Fork. Call Fork before the
// go statement. Without a request recorder in ctx, Fork returns ctx.
func Fork(ctx context.Context) context.Context {
	if active.Load() == 0 {
		return ctx
	}
	b := lookup(ctx)
	if b == nil {
		return ctx
	}
	nb := b.rec.fork(b)
	if nb == nil {
		return ctx
	}
	return newNode(ctx, nb).context()
}

// Go runs fn in a new goroutine with a forked context, see Fork.
func Go(ctx context.Context, fn func(ctx context.Context)) {
	ctx = Fork(ctx)
	go fn(ctx)
}

// End records the exit. Deferred directly (defer r.End()), it also sees a
// panic going through: the call gets status Error and an exception event with
// the panic value and stack, and the panic goes on unwinding.
func (r Region) End() {
	if r.rec == nil {
		return
	}
	if v := recover(); v != nil {
		r.rec.exit(r, nil, v, debug.Stack())
		panic(v)
	}
	r.rec.exit(r, nil, nil, nil)
}

// EndErr records the exit; a non-nil err gives the call status Error and an
// exception event. Use it at an explicit return; to report the error a
// deferred call returns, use Done.
func (r Region) EndErr(err error) {
	if r.rec == nil {
		return
	}
	r.rec.exit(r, err, nil, nil)
}

// Done records the exit with the error *errp holds at that time, for use with
// a named error result: defer sdkhook.Enter(ctx, "f").Done(&err). Deferred
// directly, it also records a panic as End does.
func (r Region) Done(errp *error) {
	if r.rec == nil {
		return
	}
	if v := recover(); v != nil {
		r.rec.exit(r, nil, v, debug.Stack())
		panic(v)
	}
	var err error
	if errp != nil {
		err = *errp
	}
	r.rec.exit(r, err, nil, nil)
}
