// Package chromefile writes Chrome trace files for the otel2chrome exporters:
// atomic file replacement, safe file names, per-trace and rolling output.
//
// Both the collector exporter and the SDK exporter are shells around the sinks in
// this package, and the sinks are shells around the converter: the layout and the
// Chrome encoding live in the converter package only.
//
// Every file is written to a temporary file in the destination directory, synced,
// and renamed into place, so a reader (or a crash) sees the previous complete file
// or the new complete file, never a partial one.
package chromefile
