package davxml

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"io"
	"math/bits"
	"net/url"
	"slices"
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
// one call, so escaping large calendar data costs about a copy, and skips
// eight bytes at a time where none needs a look (the ETags, content types
// and names of a listing's every member).
func escape[S string | []byte](w stringWriter, s S) {
	last, look := 0, 0 // from look on, bytes are tested eight at a time
	for i := 0; i < len(s); {
		if i >= look {
			if i+8 <= len(s) && !mayNeedLook(load64(s, i)) {
				i += 8
				continue
			}
			look = i + 8
		}
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

// escapeText writes s escaped to w as escape does, faster for the bulk
// of a multiget answer, calendar-data and address-data: s is escaped
// straight into w's buffer in chunks that fit there, with no call per
// escaped character (iCalendar ends every line with CRLF, each of them
// written &#13;), as long as it holds only ASCII or is valid UTF-8
// without the noncharacters U+FFFE and U+FFFF, whose escaped form has
// only ASCII bytes replaced. The escaper tells whether a chunk held a
// byte from 0x80 on, so the rest of s is checked for that only once
// one did (most bodies are ASCII); when the check fails, what is left
// goes through escape (the chunks written before held only ASCII).
func escapeText(w *bufio.Writer, s []byte) {
	checked := false // the rest of s is valid UTF-8 without U+FFFE, U+FFFF
	for len(s) > 0 {
		n := (w.Available() - escapeSlack) / maxEscape
		if n < 512 {
			w.Flush() // an error sticks in w and is reported by the writer's owner
			n = (w.Available() - escapeSlack) / maxEscape
		}
		chunk := s[:min(n, len(s))]
		out, high := appendEscaped(w.AvailableBuffer(), chunk)
		if high && !checked {
			if !validText(s) {
				escape(w, s)
				return
			}
			checked = true
		}
		w.Write(out)
		s = s[len(chunk):]
	}
}

// validText reports whether s is valid UTF-8 without the noncharacters
// U+FFFE and U+FFFF, which escape replaces.
func validText(s []byte) bool {
	return utf8.Valid(s) && (bytes.IndexByte(s, 0xEF) < 0 || !bytes.Contains(s, []byte("\uFFFE")) && !bytes.Contains(s, []byte("\uFFFF")))
}

// escapeSlack is the room appendEscapedASCII needs past the longest
// escaped form of its input: it stores eight bytes at a time and keeps
// the ones that belong.
const escapeSlack = 8

// appendEscapedASCII appends s to buf with the ASCII bytes escape
// replaces replaced (escapes), the other bytes as they are, and reports
// whether a byte of s is 0x80 or above; FuzzEscapeText and
// TestAppendEscapedASCII check it against escape. It works a word of
// eight bytes at a time: the word is stored to the output as it is, and
// when needEscapeMask flags none of its bytes the output moves past all
// eight; otherwise it moves to the first flagged byte, which is written
// escaped (a tab or line feed as it is; a CRLF, calendar data's every
// line end, as "&#13;\n" in one store) and the next word starts after
// it. There is no call per byte, run or escape. buf grows when it has
// less room than len(s)*maxEscape+escapeSlack bytes.
func appendEscapedASCII(buf, s []byte) (out []byte, high bool) {
	buf = slices.Grow(buf, len(s)*maxEscape+escapeSlack)
	out = buf[:cap(buf)]
	i, n := 0, len(buf) // what is read of s, and written of out
	var or uint64       // every word and byte of s read, ORed
	for i+8 <= len(s) && n+8 <= len(out) {
		x := binary.LittleEndian.Uint64(s[i : i+8])
		or |= x
		binary.LittleEndian.PutUint64(out[n:n+8], x)
		m := needEscapeMask(x)
		if m == 0 {
			i += 8
			n += 8
			continue
		}
		k := bits.TrailingZeros64(m) >> 3
		c := s[i+k]
		i += k + 1
		n += k
		switch {
		case !special[c]: // a tab or line feed, stored as it is
			n++
		case c == '\r' && i < len(s) && s[i] == '\n':
			binary.LittleEndian.PutUint64(out[n:n+8], crlfWord)
			n += len("&#13;\n")
			i++
		default:
			binary.LittleEndian.PutUint64(out[n:n+8], escapeWords[c])
			n += int(escapeLens[c])
		}
	}
	for ; i < len(s); i++ {
		c := s[i]
		or |= uint64(c)
		if special[c] {
			n += copy(out[n:], escapes[c&(utf8.RuneSelf-1)])
		} else {
			out[n] = c
			n++
		}
	}
	return out[:n], or&highs != 0
}

// crlfWord is "&#13;\n" as the first bytes of a little-endian word.
var crlfWord = word("&#13;\n")

// escapeWords and escapeLens hold escapes as little-endian words and
// their lengths, for the bytes special marks.
var escapeWords, escapeLens = func() (t [256]uint64, l [256]uint8) {
	for c, e := range escapes {
		t[c], l[c] = word(e), uint8(len(e))
	}
	return t, l
}()

// word is the little-endian word of the first eight bytes of s, padded
// with zeros.
func word(s string) uint64 {
	var b [8]byte
	copy(b[:], s)
	return binary.LittleEndian.Uint64(b[:])
}

// Byte-parallel tests on eight bytes held in a uint64 (the "determine if
// a word has a zero byte" technique): each is nonzero exactly when some
// byte of x is zero, respectively below 0x20.
const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

func hasZero(x uint64) uint64    { return (x - ones) & ^x & highs }
func hasBelow20(x uint64) uint64 { return (x - 0x20*ones) & ^x & highs }

// mayNeedEscape reports whether one of the eight bytes in x is one that
// special marks or a tab or line feed: below 0x20, '"', '&', '\”, '<'
// or '>'.
func mayNeedEscape(x uint64) bool { return needEscapeMask(x) != 0 }

// needEscapeMask is nonzero when mayNeedEscape holds, and then its lowest
// set bit is the high bit of the first such byte of x (in little-endian
// order): each test below flags exactly the bytes it looks for, and a
// borrow out of a flagged byte can flag only bytes above it. Setting the
// lowest bit maps '&' (0x26) and '\” (0x27), and nothing else, to 0x27;
// setting the second maps '<' (0x3C) and '>' (0x3E), and only 0x3D and
// 0x3F besides, to 0x3E or 0x3F, of which only 0x3E is tested.
func needEscapeMask(x uint64) uint64 {
	return hasBelow20(x) | hasZero(x^0x22*ones) | hasZero((x|ones)^0x27*ones) | hasZero((x|0x02*ones)^0x3E*ones)
}

// mayNeedLook is mayNeedEscape for escape, which also looks at every
// byte from 0x80 on (the UTF-8 it must check).
func mayNeedLook(x uint64) bool {
	return x&highs != 0 || mayNeedEscape(x)
}

// load64 is the little-endian uint64 of s[i:i+8], read as one load.
func load64[S string | []byte](s S, i int) uint64 {
	s = s[i : i+8]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// maxEscape is the longest escape of one byte in escapes ("&quot;").
const maxEscape = 6

// escapes holds the replacement of each ASCII byte escape replaces.
var escapes = func() (t [utf8.RuneSelf]string) {
	for c := range 0x20 {
		if special[c] {
			t[c] = "\uFFFD"
		}
	}
	t['\r'] = "&#13;"
	t['&'], t['<'], t['>'], t['"'], t['\''] = "&amp;", "&lt;", "&gt;", "&quot;", "&apos;"
	return t
}()

// special marks the ASCII bytes escape must look at: markup characters,
// carriage return and the control characters XML 1.0 forbids (no byte
// from 0x80 on).
var special = func() (t [256]bool) {
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
