package main

import (
	"io"
	"strings"
	"testing"
)

func TestParseFlags(t *testing.T) {
	o, err := parseFlags(nil, io.Discard)
	if err != nil || o.out != "e2e-traces" || o.requests != 3 || o.collector != "" {
		t.Errorf("defaults = %+v, %v", o, err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-requests", "0"}, "-requests must be at least 1"},
		{[]string{"extra"}, "unexpected arguments"},
		{[]string{"-nope"}, "flag provided but not defined"},
	} {
		if _, err := parseFlags(tc.args, io.Discard); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("parseFlags(%q) = %v, want %q", tc.args, err, tc.want)
		}
	}
}

func TestCheckOutputNamesMissingTrace(t *testing.T) {
	_, err := checkOutput(t.TempDir(), []string{"4bf92f3577b34da6a3ce929d0e0e4736"})
	if err == nil || !strings.Contains(err.Error(), "no Chrome trace file for trace 4bf92f3577b34da6a3ce929d0e0e4736") {
		t.Errorf("err = %v", err)
	}
}
