package contentline

import (
	"bytes"
	"io"
	"strings"
)

// StripBOM returns b without a leading UTF-8 byte-order mark. Some
// producers write one before BEGIN:VCALENDAR or BEGIN:VCARD; iCalendar and
// vCard are UTF-8 by definition and have no use for it.
func StripBOM(b []byte) []byte { return bytes.TrimPrefix(b, []byte(bom)) }

// DecodeParam decodes RFC 6868 escapes in a parameter value: ^^ is ^, ^'
// is a double quote, ^n (or ^N) a newline; a ^ before anything else
// stays.
func DecodeParam(v string) string {
	i := strings.IndexByte(v, '^')
	if i < 0 {
		return v
	}
	var b strings.Builder
	b.Grow(len(v))
	b.WriteString(v[:i])
	for ; i < len(v); i++ {
		c := v[i]
		if c == '^' && i+1 < len(v) {
			switch v[i+1] {
			case '^':
				b.WriteByte('^')
				i++
				continue
			case '\'':
				b.WriteByte('"')
				i++
				continue
			case 'n', 'N':
				b.WriteByte('\n')
				i++
				continue
			}
		}
		b.WriteByte(c)
	}
	return b.String()
}

// EncodeParam writes v as a parameter value: RFC 6868 escapes for ^, "
// and newlines, in double quotes when it holds , ; or :.
func EncodeParam(v string) string {
	if strings.ContainsAny(v, "^\"\n\r") {
		v = strings.NewReplacer("^", "^^", `"`, "^'", "\r\n", "^n", "\n", "^n", "\r", "^n").Replace(v)
	}
	if strings.ContainsAny(v, ",;:") {
		return `"` + v + `"`
	}
	return v
}

// ControlChar returns the index of the first control character in s
// other than HTAB (RFC 5545 §3.1 CONTROL, RFC 6350 §3.3: U+0000–U+0008,
// U+000A–U+001F and U+007F), or -1.
func ControlChar(s string) int {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 && c != '\t' || c == 0x7F {
			return i
		}
	}
	return -1
}

// BadEscape returns the index of the first backslash in a TEXT value that
// does not start one of the escapes RFC 5545 §3.3.11 allows (\\ \; \, \n
// \N), or -1.
func BadEscape(s string) int {
	for i := strings.IndexByte(s, '\\'); i >= 0; {
		if i+1 >= len(s) {
			return i
		}
		switch s[i+1] {
		case '\\', ';', ',', 'n', 'N':
		default:
			return i
		}
		j := strings.IndexByte(s[i+2:], '\\')
		if j < 0 {
			return -1
		}
		i += 2 + j
	}
	return -1
}

// WriteSource writes the line as written, folding kept, each physical
// line ended by CRLF.
func (l *Line) WriteSource(w io.StringWriter) { WriteSource(w, l.Source) }

// WriteSource writes src, a Line's Source, each physical line ended by
// CRLF.
func WriteSource(w io.StringWriter, src string) {
	for {
		i := strings.IndexByte(src, '\n')
		if i < 0 {
			w.WriteString(src)
			w.WriteString("\r\n")
			return
		}
		if i > 0 && src[i-1] == '\r' {
			w.WriteString(src[:i+1])
		} else {
			w.WriteString(src[:i])
			w.WriteString("\r\n")
		}
		src = src[i+1:]
	}
}
