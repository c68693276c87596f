// Package metadata holds the build information of the chrome exporter: its
// component type and stability, and the instruments of its own telemetry, as
// mdatagen would generate from metadata.yaml.
package metadata

import (
	"go.opentelemetry.io/collector/component"
)

// Type is the component type of the exporter in collector configuration.
var Type = component.MustNewType("chrome")

// ScopeName is the instrumentation scope of the exporter's own telemetry.
const ScopeName = "github.com/otel2chrome/otel2chrome/exporter/chromeexporter"

// TracesStability is the stability level of the traces exporter.
const TracesStability = component.StabilityLevelAlpha
