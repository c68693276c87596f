package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestToolsScriptIdempotent runs .ci/tools.sh from two copies of the
// repository's files at different paths, sharing one tools directory, with a
// fake go that "builds" by writing a script: the second run builds nothing,
// as the same balancer sources are the same build; a changed go.mod builds
// again. Jaeger and telemetrygen are stamped at their pinned versions.
func TestToolsScriptIdempotent(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash")
	}
	script, err := os.ReadFile("../../.ci/tools.sh")
	require.NoError(t, err)
	tmp := t.TempDir()
	tools := filepath.Join(tmp, "tools")
	require.NoError(t, os.MkdirAll(tools, 0o755))
	for _, tool := range []string{"jaeger", "telemetrygen"} {
		m := regexp.MustCompile(`(?m)^` + strings.ToUpper(tool) + `_VERSION=(\S+)$`).FindSubmatch(script)
		require.NotNil(t, m, "%s version in tools.sh", tool)
		require.NoError(t, os.WriteFile(filepath.Join(tools, tool), []byte("#!/bin/sh\n"), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(tools, "."+tool+".version"), append(m[1], '\n'), 0o644))
	}
	bin := filepath.Join(tmp, "bin")
	require.NoError(t, os.MkdirAll(bin, 0o755))
	calls := filepath.Join(tmp, "go-calls")
	fakeGo := `#!/bin/sh
echo "$*" >> ` + calls + `
while [ $# -gt 0 ]; do
	if [ "$1" = -o ]; then printf '#!/bin/sh\n' > "$2"; chmod +x "$2"; fi
	shift
done
`
	require.NoError(t, os.WriteFile(filepath.Join(bin, "go"), []byte(fakeGo), 0o755))

	checkout := func(name string) string {
		root := filepath.Join(tmp, name)
		require.NoError(t, os.MkdirAll(filepath.Join(root, ".ci"), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(root, ".ci", "tools.sh"), script, 0o755))
		dst := filepath.Join(root, "examples", "scaleout", "balancer")
		require.NoError(t, os.CopyFS(dst, os.DirFS("balancer")))
		return root
	}
	builds := func(root string) int {
		t.Helper()
		os.Remove(calls)
		cmd := exec.Command("bash", filepath.Join(root, ".ci", "tools.sh"))
		cmd.Env = append(os.Environ(), "OTEL2CHROME_TOOLS_DIR="+tools, "PATH="+bin+":"+os.Getenv("PATH"))
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "%s", out)
		data, _ := os.ReadFile(calls)
		return strings.Count(string(data), " -o ")
	}
	one, two := checkout("one"), checkout("two")
	require.Equal(t, 1, builds(one), "first run builds the balancer")
	require.Equal(t, 0, builds(one), "second run builds nothing")
	require.Equal(t, 0, builds(two), "the same files at another path build nothing")
	f, err := os.OpenFile(filepath.Join(two, "examples", "scaleout", "balancer", "go.mod"), os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteString("\n// changed\n")
	require.NoError(t, err)
	require.NoError(t, f.Close())
	require.Equal(t, 1, builds(two), "a changed go.mod builds again")
}
