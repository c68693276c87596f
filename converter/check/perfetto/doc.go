// Package perfetto loads Chrome Trace Event JSON into Perfetto's own importer
// (trace processor, the engine of ui.perfetto.dev) and checks what it built.
//
// The importer runs out of process as tpq, which .ci/perfetto.sh builds into
// $OTEL2CHROME_TOOLS_DIR/perfetto (default $HOME/.cache/otel2chrome/tools).
// [Verify] judges a file by the importer's tables alone — slice, flow, args,
// thread, thread_track, process and stats — and reads the input itself only
// for the events that must become slices and the arrows it says it left out:
//   - no importer stat of severity error or data_loss is non-zero, nor
//     flow_end_without_start or flow_step_without_start (arrows dropped,
//     counted only as info);
//   - every X, B, i and I event became a slice;
//   - the importer's flows are exactly the arrows the spans' args call for
//     (parent_span_id or timeline_parent_span_id across threads, links), each
//     running forward in time (see [Verify]).
package perfetto
