package main

import (
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/otelcol"
	"go.yaml.in/yaml/v3"
)

func TestComponents(t *testing.T) {
	f, err := components()
	require.NoError(t, err)
	names := func(m map[component.Type]string) []string {
		var out []string
		for k := range m {
			out = append(out, k.String())
		}
		sort.Strings(out)
		return out
	}
	assert.Equal(t, []string{"otlp"}, names(f.ReceiverModules))
	assert.Equal(t, []string{"batch", "memory_limiter"}, names(f.ProcessorModules))
	assert.Equal(t, []string{"chrome", "debug"}, names(f.ExporterModules))
	assert.Len(t, f.Receivers, 1)
	assert.Len(t, f.Processors, 2)
	assert.Len(t, f.Exporters, 2)
	assert.NotNil(t, f.Telemetry)
}

// TestBuilderManifestMatches keeps builder-config.yaml and components.go in
// step: every module the manifest lists is one components() registers.
func TestBuilderManifestMatches(t *testing.T) {
	raw, err := os.ReadFile("builder-config.yaml")
	require.NoError(t, err)
	type mod struct {
		GoMod string `yaml:"gomod"`
	}
	var manifest struct {
		Receivers  []mod `yaml:"receivers"`
		Processors []mod `yaml:"processors"`
		Exporters  []mod `yaml:"exporters"`
	}
	require.NoError(t, yaml.Unmarshal(raw, &manifest))
	f, err := components()
	require.NoError(t, err)
	registered := func(m map[component.Type]string) string {
		var all []string
		for _, v := range m {
			all = append(all, v)
		}
		return strings.Join(all, "\n")
	}
	for kind, c := range map[string]struct {
		mods []mod
		reg  string
	}{
		"receiver":  {manifest.Receivers, registered(f.ReceiverModules)},
		"processor": {manifest.Processors, registered(f.ProcessorModules)},
		"exporter":  {manifest.Exporters, registered(f.ExporterModules)},
	} {
		require.NotEmpty(t, c.mods, kind)
		for _, m := range c.mods {
			assert.Contains(t, strings.Split(c.reg, "\n"), m.GoMod, "%s %s in builder-config.yaml but not in components.go", kind, m.GoMod)
		}
		assert.Len(t, strings.Split(c.reg, "\n"), len(c.mods), "%s: components.go registers modules the manifest lacks", kind)
	}
}

// TestExampleConfigValid validates examples/collector/config.yaml the way
// `otelcol-chrome validate` does, without opening its ports.
func TestExampleConfigValid(t *testing.T) {
	set := settings()
	cmd := otelcol.NewCommand(set)
	cmd.SetArgs([]string{"validate", "--config", "../../examples/collector/config.yaml"})
	require.NoError(t, cmd.Execute())

	bad := t.TempDir() + "/bad.yaml"
	example, err := os.ReadFile("../../examples/collector/config.yaml")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(bad, []byte(strings.Replace(string(example), "mode: per_trace", "mode: per_span", 1)), 0o644))
	cmd = otelcol.NewCommand(set)
	cmd.SetArgs([]string{"validate", "--config", bad})
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	err = cmd.Execute()
	require.ErrorContains(t, err, `mode "per_span" is not supported`)
}
