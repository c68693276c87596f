// Package jaegerquery fetches traces from a Jaeger query service, by trace ID
// or by search, and returns its JSON answers unchanged for the converter.
//
// Both HTTP APIs of the query service are used: api_v3 (/api/v3/traces, OTLP
// JSON with nanosecond times) first, then the UI's /api/traces (µs times) when
// api_v3 is missing or fails — Jaeger 1.76 with its memory store answers api_v3
// searches without a trace limit with HTTP 500, for example. Errors name the
// URL and say whether the server was unreachable, slow, did not know the trace,
// or answered something that is not a Jaeger answer.
package jaegerquery
