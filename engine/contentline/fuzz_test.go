package contentline

import (
	"errors"
	"regexp"
	"strings"
	"testing"
)

var foldRE = regexp.MustCompile("\r?\n[ \t]")

// FuzzScanner: any text either scans or fails with an *Error; every line's
// Raw is its Source unfolded, and writing the lines back out (WriteSource)
// scans to the same lines.
func FuzzScanner(f *testing.F) {
	f.Add("BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:a\r\nSUMMARY;LANGUAGE=en:x\r\n y\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")
	f.Add("BEGIN:VCARD\nitem1.TEL;CELL;TYPE=\"a,b\":1\nEND:VCARD\n")
	f.Add("\uFEFFBEGIN:A\r\nX;P=^'q^';Q=\"x:y\":v\r\nBEG\r\n IN:B\r\nEND:B\r\nEND:A")
	lim := Limits{MaxLineLength: 1 << 10, MaxLines: 100, MaxDepth: 5, MaxComponents: 5, MaxObservances: 2, MaxProperties: 20, MaxParams: 8}
	f.Fuzz(func(t *testing.T, text string) {
		var lines []string
		var out strings.Builder
		s := NewScanner(text, lim)
		for s.Scan() {
			l := s.Line()
			if got := foldRE.ReplaceAllString(l.Source, ""); got != l.Raw {
				t.Fatalf("Raw %q is not Source %q unfolded", l.Raw, l.Source)
			}
			if !strings.Contains(text, l.Source) || !strings.HasSuffix(l.Raw, l.Value) {
				t.Fatalf("line %+v does not come from the text", l)
			}
			if len(l.Raw) > lim.MaxLineLength || len(l.Params) > lim.MaxParams {
				t.Fatalf("line over the limits: %d bytes, %d params", len(l.Raw), len(l.Params))
			}
			lines = append(lines, l.Raw)
			l.WriteSource(&out)
		}
		if err := s.Err(); err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %T: %v", err, err)
			}
			return
		}
		s = NewScanner(out.String(), lim)
		for i := 0; s.Scan(); i++ {
			if i >= len(lines) || s.Line().Raw != lines[i] {
				t.Fatalf("written back, line %d reads %q", i, s.Line().Raw)
			}
		}
		if s.Err() != nil {
			t.Fatalf("written back: %v", s.Err())
		}
	})
}
