package davxml

import (
	"io"
	"net/url"
	"strings"
	"unicode/utf8"
)

// EscapeString returns s with the XML special characters &, <, >, " and '
// replaced by references and characters XML 1.0 forbids replaced by U+FFFD.
func EscapeString(s string) string {
	var b strings.Builder
	escape(&b, s)
	return b.String()
}

type stringWriter interface {
	io.Writer
	io.StringWriter
	WriteByte(c byte) error
	WriteRune(r rune) (int, error)
}

// escape writes s escaped to w. It copies runs of ordinary characters in
// one call, so escaping large calendar data costs about a copy.
func escape[S string | []byte](w stringWriter, s S) {
	last := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf && !special[c] {
			i++
			continue
		}
		var esc string
		width := 1
		switch {
		case c == '&':
			esc = "&amp;"
		case c == '<':
			esc = "&lt;"
		case c == '>':
			esc = "&gt;"
		case c == '"':
			esc = "&quot;"
		case c == '\'':
			esc = "&apos;"
		case c == '\r':
			esc = "&#13;"
		case c < 0x20:
			esc = "\uFFFD"
		default:
			r, n := decodeRune(s[i:])
			width = n
			if r == utf8.RuneError && n == 1 || r == 0xFFFE || r == 0xFFFF {
				esc = "\uFFFD"
			}
		}
		if esc == "" {
			i += width
			continue
		}
		writeRaw(w, s[last:i])
		w.WriteString(esc)
		i += width
		last = i
	}
	writeRaw(w, s[last:])
}

// special marks the ASCII bytes escape must look at: markup characters,
// carriage return and the control characters XML 1.0 forbids.
var special = func() (t [utf8.RuneSelf]bool) {
	for c := range 0x20 {
		t[c] = c != '\n' && c != '\t'
	}
	for _, c := range "&<>\"'" {
		t[c] = true
	}
	return t
}()

func writeRaw[S string | []byte](w stringWriter, s S) {
	switch v := any(s).(type) {
	case string:
		w.WriteString(v)
	case []byte:
		w.Write(v)
	}
}

func decodeRune[S string | []byte](s S) (rune, int) {
	switch v := any(s).(type) {
	case string:
		return utf8.DecodeRuneInString(v)
	case []byte:
		return utf8.DecodeRune(v)
	}
	return utf8.RuneError, 1
}

// Href escapes a URL path for use in DAV:href: each segment is
// percent-encoded, the slashes between them are kept.
func Href(path string) string {
	segs := strings.Split(path, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return strings.Join(segs, "/")
}
