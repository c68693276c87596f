// Lifecycle tests in the shape mdatagen generates for collector components
// (generated_component_test.go), written by hand because mdatagen is not part
// of the build. The output directory is redirected to a temporary one.

package chromeexporter

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/confmap/confmaptest"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/exporter/exportertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

var typ = component.MustNewType("chrome")

func TestComponentFactoryType(t *testing.T) {
	require.Equal(t, typ, NewFactory().Type())
}

func TestComponentConfigStruct(t *testing.T) {
	require.NoError(t, componenttest.CheckConfigStruct(NewFactory().CreateDefaultConfig()))
}

func TestComponentLifecycle(t *testing.T) {
	factory := NewFactory()
	cm, err := confmaptest.LoadConf("metadata.yaml")
	require.NoError(t, err)
	sub, err := cm.Sub("tests::config")
	require.NoError(t, err)

	for _, mode := range []Mode{ModePerTrace, ModeRolling} {
		newCfg := func(t *testing.T) component.Config {
			cfg := factory.CreateDefaultConfig()
			require.NoError(t, sub.Unmarshal(&cfg))
			c := cfg.(*Config)
			c.Mode = mode
			if mode == ModeRolling {
				c.Path = t.TempDir() + "/trace.json"
			} else {
				c.Directory = t.TempDir()
			}
			return cfg
		}
		t.Run(string(mode)+"-traces-shutdown", func(t *testing.T) {
			c, err := factory.CreateTraces(context.Background(), exportertest.NewNopSettings(typ), newCfg(t))
			require.NoError(t, err)
			require.NoError(t, c.Shutdown(context.Background()))
		})
		t.Run(string(mode)+"-traces-lifecycle", func(t *testing.T) {
			c, err := factory.CreateTraces(context.Background(), exportertest.NewNopSettings(typ), newCfg(t))
			require.NoError(t, err)
			require.NoError(t, c.Start(context.Background(), componenttest.NewNopHost()))
			require.NotPanics(t, func() {
				var e exporter.Traces = c
				traces := generateLifecycleTestTraces()
				if !e.Capabilities().MutatesData {
					traces.MarkReadOnly()
				}
				err = e.ConsumeTraces(context.Background(), traces)
			})
			require.NoError(t, err)
			require.NoError(t, c.Shutdown(context.Background()))
		})
	}
}

func generateLifecycleTestTraces() ptrace.Traces {
	traces := ptrace.NewTraces()
	rs := traces.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("resource", "R1")
	span := rs.ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	span.Attributes().PutStr("test_attr", "value_1")
	span.SetName("test_span")
	span.SetStartTimestamp(pcommon.NewTimestampFromTime(time.Now().Add(-1 * time.Second)))
	span.SetEndTimestamp(pcommon.NewTimestampFromTime(time.Now()))
	return traces
}
