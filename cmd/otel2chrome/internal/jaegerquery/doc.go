// Package jaegerquery fetches traces from a Jaeger query service, by trace ID or
// by search, and returns its JSON answers unchanged for the converter to decode.
package jaegerquery
