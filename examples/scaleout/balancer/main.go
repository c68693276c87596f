// Command otelcol-balancer is the first tier of a scaled-out otel2chrome: an
// OpenTelemetry Collector with an OTLP receiver and the load_balancing exporter.
//
// It holds what the collector builder (ocb) would generate from
// builder-config.yaml beside it: this main and components.go. It is its own Go
// module, apart from otel2chrome's, so that the contrib exporter's dependencies
// never reach the main module. .ci/tools.sh builds it; by hand:
//
//	cd examples/scaleout/balancer && go build -o otelcol-balancer .
//	otelcol-balancer --config examples/scaleout/balancer.yaml
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
var version = "0.161.0"

func main() {
	if err := otelcol.NewCommand(settings()).Execute(); err != nil {
		log.Fatalf("collector server run finished with error: %v", err)
	}
}

// settings describes the distribution: build information, components and
// configuration sources (env:, file: and yaml: URIs).
func settings() otelcol.CollectorSettings {
	return otelcol.CollectorSettings{
		BuildInfo: component.BuildInfo{
			Command:     "otelcol-balancer",
			Description: "OpenTelemetry Collector with the load_balancing exporter, in front of otelcol-chrome",
			Version:     version,
		},
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
