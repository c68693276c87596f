package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestPrintable(t *testing.T) {
	for _, tc := range []struct{ in, name, msg string }{
		{"trace.json", "trace.json", "trace.json"},
		{"trace ü.json", "trace ü.json", "trace ü.json"},
		{"a\x1b]0;x\ab.json", `"a\x1b]0;x\ab.json"`, `a\x1b]0;x\ab.json`},
		{"bad\xffname", `"bad\xffname"`, `bad\xffname`},
		{"rtl\u202etxt.exe", `"rtl\u202etxt.exe"`, `rtl\u202etxt.exe`},
		{"two\nlines", `"two\nlines"`, "two\nlines"}, // newlines join errors
		{"tab\there", `"tab\there"`, `tab\there`},
	} {
		if got := printableName(tc.in); got != tc.name {
			t.Errorf("printableName(%q) = %s, want %s", tc.in, got, tc.name)
		}
		if got := printableMessage(tc.in); got != tc.msg {
			t.Errorf("printableMessage(%q) = %s, want %s", tc.in, got, tc.msg)
		}
	}
}

// TestErrorsArePrintable runs otel2chrome on inputs whose name or content
// holds terminal escapes: stderr names the input and position, and holds no
// control bytes.
func TestErrorsArePrintable(t *testing.T) {
	dir := t.TempDir()
	evil := filepath.Join(dir, "evil\x1b]0;owned\a.json")
	if err := os.WriteFile(evil, []byte(`{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"zz"}]}]}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	jaeger := filepath.Join(dir, "jaeger.json")
	os.WriteFile(jaeger, []byte(`{"data":null,"errors":[{"code":500,"msg":"storage \u001b[2Jdown\u009b"}]}`), 0o644)

	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{evil}, []string{strconv.Quote(evil) + ": OTLP JSON"}},
		{[]string{filepath.Join(dir, "missing\x1b[31m.json")}, []string{`missing\x1b[31m.json: no such file`}},
		{[]string{jaeger}, []string{jaeger + ": Jaeger JSON: the Jaeger query service answered with an error: 500 storage"}},
	} {
		cmd := cliCommand(t, append([]string{"-q"}, tc.args...)...)
		out, err := cmd.CombinedOutput()
		if err == nil {
			t.Errorf("%q: no error", tc.args)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(string(out), w) {
				t.Errorf("%q: stderr %q does not contain %q", tc.args, out, w)
			}
		}
		if strings.ContainsFunc(strings.TrimSuffix(string(out), "\n"), func(r rune) bool {
			return r == '\uFFFD' || !strconv.IsPrint(r) && r != '\n'
		}) {
			t.Errorf("%q: stderr %q holds control characters", tc.args, out)
		}
	}
}
