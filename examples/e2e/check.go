package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/otel2chrome/otel2chrome/converter/check"
)

// checkOutput finds the Chrome trace file of every request in dir and checks
// each with the converter's invariant checker.
func checkOutput(dir string, traceIDs []string) ([]string, error) {
	names, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	var files []string
	for _, id := range traceIDs {
		var found string
		for _, n := range names {
			if strings.Contains(filepath.Base(n), id) {
				found = n
			}
		}
		if found == "" {
			return nil, fmt.Errorf("no Chrome trace file for trace %s in %s (have %v)", id, dir, names)
		}
		data, err := os.ReadFile(found)
		if err != nil {
			return nil, err
		}
		if _, err := check.Validate(data); err != nil {
			return nil, fmt.Errorf("%s: %w", found, err)
		}
		files = append(files, found)
	}
	return files, nil
}
