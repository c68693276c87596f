package chromefile

import (
	"context"

	"go.opentelemetry.io/collector/pdata/ptrace"
)

// Sink is what the exporters write through: a PerTrace or a Rolling.
type Sink interface {
	// Start begins background writing; it returns at once.
	Start()
	// Add stores spans; td is not retained.
	Add(td ptrace.Traces) error
	// Flush writes everything held now.
	Flush(ctx context.Context) error
	// Shutdown stops background writing and flushes.
	Shutdown(ctx context.Context) error
}

var (
	_ Sink = (*PerTrace)(nil)
	_ Sink = (*Rolling)(nil)
)
