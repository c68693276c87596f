// Package chromeexporter is an OpenTelemetry Collector exporter (type "chrome")
// that writes traces as Chrome Trace Event files for Perfetto UI and chrome://tracing.
//
// In mode per_trace (the default) it writes one file per trace into a directory
// once the trace has been idle for trace_idle_timeout; in mode rolling it keeps
// one file that is rewritten as spans arrive and rotated by size. Every file is
// written to a temporary file, synced and renamed into place, so a file is
// always complete or absent. The layout and encoding are the converter's
// (github.com/otel2chrome/otel2chrome/converter); this package is configuration
// and lifecycle around it.
package chromeexporter // import "github.com/otel2chrome/otel2chrome/exporter/chromeexporter"
