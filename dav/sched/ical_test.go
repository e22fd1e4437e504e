package sched

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"
)

// TestFold: lines over 75 octets are folded (RFC 5545 §3.1), never inside
// a UTF-8 sequence, and unfolding gives the text back.
func TestFold(t *testing.T) {
	long := "SUMMARY:" + strings.Repeat("Grüße ", 40)
	in := []byte("BEGIN:VEVENT\r\n" + long + "\r\nEND:VEVENT\r\n")
	out := Fold(in)
	for _, l := range bytes.Split(bytes.TrimSuffix(out, []byte("\r\n")), []byte("\r\n")) {
		if len(l) > 75 {
			t.Errorf("line of %d octets: %q", len(l), l)
		}
		if !utf8.Valid(l) {
			t.Errorf("line cut inside a character: %q", l)
		}
	}
	if got := bytes.ReplaceAll(out, []byte("\r\n "), nil); !bytes.Equal(got, in) {
		t.Errorf("unfolded:\n%q\nwant:\n%q", got, in)
	}
}
