package converter

import (
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

type model struct {
	cfg *config
}

func newModel(cfg *config) *model { return &model{cfg: cfg} }

func (m *model) addTraces(td ptrace.Traces) {}

func (m *model) len() int { return 0 }

func (m *model) traceIDs() []pcommon.TraceID { return nil }
