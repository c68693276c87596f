// Command otelcol-chrome is an OpenTelemetry Collector distribution with the
// chrome exporter, for writing traces received over OTLP as Chrome trace files.
//
// It holds what the collector builder (ocb) would generate from
// builder-config.yaml beside it: this main and components.go. Build it with
//
//	go build ./cmd/otelcol-chrome
//
// and run it with a configuration such as examples/collector/config.yaml:
//
//	otelcol-chrome --config examples/collector/config.yaml
package main

import (
	"log"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/provider/envprovider"
	"go.opentelemetry.io/collector/confmap/provider/fileprovider"
	"go.opentelemetry.io/collector/confmap/provider/yamlprovider"
	"go.opentelemetry.io/collector/otelcol"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "0.1.0-dev"

func main() {
	if err := otelcol.NewCommand(settings()).Execute(); err != nil {
		log.Fatalf("collector server run finished with error: %v", err)
	}
}

// settings describes the distribution: its build information, components and
// configuration sources (env:, file: and yaml: URIs, as in the core distribution).
func settings() otelcol.CollectorSettings {
	info := component.BuildInfo{
		Command:     "otelcol-chrome",
		Description: "OpenTelemetry Collector with the otel2chrome Chrome trace exporter",
		Version:     version,
	}
	return otelcol.CollectorSettings{
		BuildInfo: info,
		Factories: components,
		ConfigProviderSettings: otelcol.ConfigProviderSettings{
			ResolverSettings: confmap.ResolverSettings{
				ProviderFactories: []confmap.ProviderFactory{
					envprovider.NewFactory(),
					fileprovider.NewFactory(),
					yamlprovider.NewFactory(),
				},
			},
		},
	}
}
