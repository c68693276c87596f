package safetext

import "testing"

func TestEscape(t *testing.T) {
	for _, tt := range []struct {
		in        string
		keepLines bool
		want      string
	}{
		{"plain name.json", false, "plain name.json"},
		{"évil\x1b]0;title\a", false, `évil\x1b]0;title\a`},
		{"bad\xffbyte", false, `bad\xffbyte`},
		{"rtl\u202eoverride", false, `rtl\u202eoverride`},
		{"one\ntwo", true, "one\ntwo"},
		{"one\ntwo", false, `one\ntwo`},
	} {
		if got := Escape(tt.in, tt.keepLines); got != tt.want {
			t.Errorf("Escape(%q, %v) = %q, want %q", tt.in, tt.keepLines, got, tt.want)
		}
		if got := IsPrintable(tt.in, tt.keepLines); got != (tt.in == tt.want) {
			t.Errorf("IsPrintable(%q, %v) = %v", tt.in, tt.keepLines, got)
		}
	}
}
