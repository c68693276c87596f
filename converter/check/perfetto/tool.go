package perfetto

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// ErrNoTool is returned when tpq is not where [Available] looks.
var ErrNoTool = errors.New("perfetto: tpq not built (run bash .ci/perfetto.sh)")

// Available returns where tpq should be and whether an executable is there:
// $OTEL2CHROME_TOOLS_DIR/perfetto/tpq, the tools directory defaulting to
// $HOME/.cache/otel2chrome/tools as in .ci/tools.sh.
func Available() (path string, ok bool) {
	dir := os.Getenv("OTEL2CHROME_TOOLS_DIR")
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", false
		}
		dir = filepath.Join(home, ".cache", "otel2chrome", "tools")
	}
	path = filepath.Join(dir, "perfetto", "tpq")
	fi, err := os.Stat(path)
	return path, err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}

// table is one query's answer; a nil cell is SQL NULL.
type table struct {
	Columns []string    `json:"columns"`
	Rows    [][]*string `json:"rows"`
}

// query loads the trace at path into trace processor and answers each SQL
// query in order.
func query(ctx context.Context, path string, sql ...string) ([]table, error) {
	tool, ok := Available()
	if !ok {
		return nil, fmt.Errorf("%w: no executable %s", ErrNoTool, tool)
	}
	cmd := exec.CommandContext(ctx, tool, append([]string{path}, sql...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("perfetto: %s %s: %w: %s", tool, path, err, strings.TrimSpace(stderr.String()))
	}
	dec := json.NewDecoder(bytes.NewReader(out))
	tables := make([]table, 0, len(sql))
	for i := range sql {
		var t table
		if err := dec.Decode(&t); err != nil {
			return nil, fmt.Errorf("perfetto: %s: answer to query %d at byte %d: %w", tool, i+1, dec.InputOffset(), err)
		}
		tables = append(tables, t)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("perfetto: %s: more answers than the %d queries", tool, len(sql))
	}
	return tables, nil
}
