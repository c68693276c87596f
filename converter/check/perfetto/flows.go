package perfetto

import (
	"cmp"
	"slices"
)

func (a *analysis) checkStats(t table) {
	for _, r := range t.Rows {
		name := str(r[0])
		if idx := str(r[1]); idx != "" {
			name += "[" + idx + "]"
		}
		st := name + "=" + str(r[2])
		a.res.Stats = append(a.res.Stats, st)
		a.problem("importer stat %s (%s)", st, statWhy[str(r[0])])
	}
}

// statWhy explains the stats a Chrome JSON file can raise.
var statWhy = map[string]string{
	"flow_end_without_start":                  "an arrow's end came before its start: arrow dropped",
	"flow_step_without_start":                 "an arrow's step came before its start: arrow dropped",
	"flow_no_enclosing_slice":                 "an s/t/f event fell outside every slice on its thread: arrow dropped",
	"flow_duplicate_id":                       "two arrows started with one id",
	"flow_without_direction":                  "a bind_id without flow_in or flow_out",
	"flow_invalid_id":                         "a flow id that is not an id",
	"json_parser_failure":                     "an event the JSON parser could not read",
	"json_tokenizer_failure":                  "JSON the tokenizer could not read",
	"misplaced_end_event":                     "an end event matched no open slice",
	"slice_drop_overlapping_complete_event":   "an X event partly overlaps another on its thread: slice dropped",
	"slice_negative_duration":                 "a slice ends before it begins: dropped",
	"trace_sorter_negative_timestamp_dropped": "an event with a negative ts: dropped",
}

func (a *analysis) checkCount() {
	if a.res.Slices != a.res.Events {
		a.problem("the importer holds %d slices for the file's %d X, B, i and I events (%+d)",
			a.res.Slices, a.res.Events, a.res.Slices-a.res.Events)
	}
}

// pair is two slices, the lower slice id first: arrows between them are
// judged regardless of direction, then for direction.
type pair struct{ lo, hi *Slice }

func pairOf(x, y *Slice) pair {
	if y.ID < x.ID {
		x, y = y, x
	}
	return pair{x, y}
}

// forward orders an intended arrow from the earlier slice to the later.
func (p pair) forward(why string) Arrow {
	if p.hi.Ts < p.lo.Ts {
		return Arrow{From: p.hi, To: p.lo, Why: why}
	}
	return Arrow{From: p.lo, To: p.hi, Why: why}
}

// spanIndex resolves span references to slices, reporting keys it cannot.
func (a *analysis) spanIndex() (resolve map[SpanRef]*Slice, sharedParent map[*Slice]*Slice) {
	groups := map[SpanRef][]*Slice{}
	var keys []SpanRef
	for _, s := range a.slices {
		if !s.isSpan() {
			continue
		}
		k := SpanRef{s.TraceID, s.SpanID}
		if groups[k] == nil {
			keys = append(keys, k)
		}
		groups[k] = append(groups[k], s)
	}
	resolve = make(map[SpanRef]*Slice, len(groups))
	sharedParent = map[*Slice]*Slice{}
	for _, k := range keys {
		g := groups[k]
		if len(g) == 1 {
			resolve[k] = g[0]
			continue
		}
		if len(g) == 2 && g[0].Kind != g[1].Kind && (g[0].Kind == "server" || g[1].Kind == "server") &&
			(g[0].Kind == "client" || g[1].Kind == "client") {
			client, server := g[0], g[1]
			if client.Kind == "server" {
				client, server = server, client
			}
			resolve[k] = server
			sharedParent[server] = client
			continue
		}
		names := ""
		for i, s := range g {
			if i > 0 {
				names += ", "
			}
			names += s.String()
		}
		a.problem("span %s of trace %s is held by %d slices, not one client and one server: arrows to it cannot be judged: %s",
			k.SpanID, k.TraceID, len(g), names)
	}
	return resolve, sharedParent
}

func (a *analysis) checkFlows() {
	resolve, sharedParent := a.spanIndex()
	intended := map[pair]string{}
	add := func(x, y *Slice, why string) {
		if _, ok := intended[pairOf(x, y)]; !ok {
			intended[pairOf(x, y)] = why
		}
	}
	for _, s := range a.slices {
		if !s.isSpan() {
			continue
		}
		parent := sharedParent[s]
		switch {
		case parent != nil:
		case s.TimelineParentSpanID != "":
			parent = resolve[SpanRef{s.TraceID, s.TimelineParentSpanID}]
		case s.ParentSpanID != "":
			parent = resolve[SpanRef{s.TraceID, s.ParentSpanID}]
		}
		if parent != nil && parent != s && parent.track != s.track {
			add(parent, s, "parent -> child on another thread")
		}
		for _, l := range s.Links {
			if t := resolve[l]; t != nil && t != s {
				add(s, t, "link")
			}
		}
	}
	a.res.Intended = len(intended)

	matched := map[pair]bool{}
	for _, f := range a.flows {
		from, to := a.byID[f[0]], a.byID[f[1]]
		if from == nil || to == nil {
			a.problem("flow %d -> %d: an end is not in the slice table", f[0], f[1])
			continue
		}
		arrow := Arrow{From: from, To: to}
		switch p, why := pairOf(from, to), ""; {
		case !from.isSpan() || !to.isSpan():
			end := from
			if from.isSpan() {
				end = to
			}
			a.problem("misbound arrow %s: bound to %q, which is not a span (an instant, or no args.trace_id and args.span_id)", arrow, end.Name)
		case intended[p] == "":
			a.problem("misbound or extra arrow %s: the spans call for no arrow between these two", arrow)
		case matched[p]:
			a.problem("duplicate arrow %s", arrow)
		default:
			why = intended[p]
			matched[p] = true
			if from.Ts > to.Ts {
				a.problem("backward arrow %s (%s): it ends before it starts", arrow, why)
			}
		}
	}

	var missing []Arrow
	for p, why := range intended {
		if !matched[p] {
			missing = append(missing, p.forward(why))
		}
	}
	slices.SortFunc(missing, func(x, y Arrow) int {
		return cmp.Or(cmp.Compare(x.From.Ts, y.From.Ts), cmp.Compare(x.From.ID, y.From.ID), cmp.Compare(x.To.ID, y.To.ID))
	})
	if len(missing) <= a.res.AllowMissing {
		a.res.Missing = missing
		return
	}
	for _, m := range missing {
		a.problem("missing arrow %s (%s)", m, m.Why)
	}
	if a.res.AllowMissing > 0 {
		a.problem("%d arrows missing, %d allowed", len(missing), a.res.AllowMissing)
	}
}
