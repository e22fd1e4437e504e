package davxml

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/xml"
	"fmt"
	"io"
	"math/bits"
	"strings"
	"testing"
	"unicode/utf8"
)

func render(f func(m *Multistatus)) string {
	var b bytes.Buffer
	m := NewMultistatus(&b)
	f(m)
	m.Close()
	return b.String()
}

// TestResponsePathMatchesHref checks that the href ResponsePath and
// StatusResponsePath write equals Href of the joined path, also for names
// that need percent-encoding or XML escaping, and across changes of the
// cached directory.
func TestResponsePathMatchesHref(t *testing.T) {
	props := []PropValue{{Name: D("getetag"), Str: `"x"`}, {Name: D("nope"), Status: 404}}
	cases := []struct{ dir, name string }{
		{"/dav/home/alice/calendar/", "ev1.ics"},
		{"/dav/home/alice/calendar/", "a b&c<d>'\"é%.ics"},
		{"/dav/home/alice/x y&z/", "semi;colon,comma?q.ics"},
		{"/dav/home/alice/calendar/", ""},
		{"/dav/home/alice/calendar/", "ev2.ics"},
	}
	got := render(func(m *Multistatus) {
		for _, c := range cases {
			m.ResponsePath(c.dir, c.name, props)
			m.StatusResponsePath(c.dir, c.name, 404)
		}
	})
	want := render(func(m *Multistatus) {
		for _, c := range cases {
			m.Response(Href(c.dir+c.name), props)
			m.StatusResponse(Href(c.dir+c.name), 404)
		}
	})
	if got != want {
		t.Fatalf("ResponsePath wrote\n%s\nResponse wrote\n%s", got, want)
	}
	if err := xml.Unmarshal([]byte(got), new(struct{})); err != nil {
		t.Fatalf("not well-formed: %v\n%s", err, got)
	}
}

func TestEscapeString(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"plain text", "plain text"},
		{`a&b<c>d"e'f`, "a&amp;b&lt;c&gt;d&quot;e&apos;f"},
		{"line\r\nnext\ttab", "line&#13;\nnext\ttab"},
		{"nul\x00bel\x07", "nul\uFFFDbel\uFFFD"},
		{"é日本\U0001F600", "é日本\U0001F600"},
		{"bad\xffutf8\xc3", "bad\uFFFDutf8\uFFFD"},
		{"\uFFFE\uFFFF", "\uFFFD\uFFFD"},
		{"", ""},
	} {
		if got := EscapeString(c.in); got != c.want {
			t.Errorf("EscapeString(%q) = %q, want %q", c.in, got, c.want)
		}
		var b strings.Builder
		escape(&b, []byte(c.in))
		if b.String() != c.want {
			t.Errorf("escape([]byte %q) = %q, want %q", c.in, b.String(), c.want)
		}
	}
}

// TestUnknownNamespaceDeclared checks that a property in a namespace the
// root does not declare (Almanac's own included) declares it itself.
func TestUnknownNamespaceDeclared(t *testing.T) {
	out := render(func(m *Multistatus) {
		m.Response("/x", []PropValue{
			{Name: xml.Name{Space: NSAlmanac, Local: "a"}, Status: 404},
			{Name: xml.Name{Space: "urn:x", Local: "b"}, Str: "v"},
			{Name: xml.Name{Local: "c"}, Status: 404},
		})
	})
	var ms struct {
		Responses []struct {
			Propstats []struct {
				Prop struct {
					Any []struct{ XMLName xml.Name } `xml:",any"`
				} `xml:"DAV: prop"`
			} `xml:"DAV: propstat"`
		} `xml:"DAV: response"`
	}
	if err := xml.Unmarshal([]byte(out), &ms); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	var got []xml.Name
	for _, ps := range ms.Responses[0].Propstats {
		for _, p := range ps.Prop.Any {
			got = append(got, p.XMLName)
		}
	}
	want := []xml.Name{{Space: NSAlmanac, Local: "a"}, {Local: "c"}, {Space: "urn:x", Local: "b"}}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v\n%s", got, want, out)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("got %v, want %v\n%s", got, want, out)
		}
	}
}

// FuzzMultistatus checks that whatever path and character data a response
// carries, the document stays well-formed, the href reads back as Href of
// the path, and valid text reads back unchanged.
func FuzzMultistatus(f *testing.F) {
	f.Add("/dav/home/alice/calendar/", "a.ics", "text")
	f.Add("/dav/home/a b/", "x&y<z>'\"%.ics", "line\r\nnext\x00\xff")
	f.Fuzz(func(t *testing.T, dir, name, text string) {
		if strings.Contains(name, "/") {
			return // a name is one segment
		}
		out := render(func(m *Multistatus) {
			m.ResponsePath(dir, name, []PropValue{{Name: D("displayname"), Str: text}, {Name: D("x"), Text: []byte(text), Status: 404}})
		})
		var ms struct {
			Responses []struct {
				Href  string   `xml:"DAV: href"`
				Texts []string `xml:"DAV: propstat>prop>displayname"`
			} `xml:"DAV: response"`
		}
		if err := xml.Unmarshal([]byte(out), &ms); err != nil {
			t.Fatalf("not well-formed: %v\n%s", err, out)
		}
		if len(ms.Responses) != 1 || ms.Responses[0].Href != Href(dir+name) {
			t.Fatalf("href: got %+v, want %q", ms.Responses, Href(dir+name))
		}
		if EscapeString(text) == escapeMarkupOnly(text) {
			if got := ms.Responses[0].Texts; len(got) != 1 || got[0] != text {
				t.Fatalf("text: got %q, want %q", got, text)
			}
		}
	})
}

// escapeMarkupOnly escapes only the markup characters: when EscapeString
// gives the same, text held no character it had to replace or encode.
func escapeMarkupOnly(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "'", "&apos;").Replace(s)
}

// TestAlias checks that after Alias every href under the aliased prefix
// is written under the other, by every writing method alike, and that
// other hrefs stay.
func TestAlias(t *testing.T) {
	props := []PropValue{{Name: D("getetag"), Str: `"x"`}}
	got := render(func(m *Multistatus) {
		m.Alias("/dav/home/alice/cal x/", "/dav/home/bob/alice-cal/")
		m.ResponsePath("/dav/home/alice/cal x/", "a.ics", props)
		m.Response(Href("/dav/home/alice/cal x/b.ics"), props)
		m.StatusResponsePath("/dav/home/alice/cal x/", "c.ics", 404)
		m.StatusResponse(Href("/dav/home/alice/cal x/"), 507)
		m.ResponsePath("/dav/home/alice/other/", "d.ics", props)
	})
	want := render(func(m *Multistatus) {
		m.Response("/dav/home/bob/alice-cal/a.ics", props)
		m.Response("/dav/home/bob/alice-cal/b.ics", props)
		m.StatusResponse("/dav/home/bob/alice-cal/c.ics", 404)
		m.StatusResponse("/dav/home/bob/alice-cal/", 507)
		m.Response("/dav/home/alice/other/d.ics", props)
	})
	if got != want {
		t.Fatalf("with Alias\n%s\nwant\n%s", got, want)
	}
}

// FuzzEscapeText checks that escapeText writes what escape writes, through
// a writer whose buffer fills up in the middle of the text.
func FuzzEscapeText(f *testing.F) {
	f.Add([]byte("BEGIN:VCALENDAR\r\nSUMMARY:a & b <c> \"d\" 'e'\r\nEND:VCALENDAR\r\n"), 0)
	f.Add([]byte("caf\xc3\xa9 \xff \xef\xbf\xbe \x01\t\n"), 3)
	f.Fuzz(func(t *testing.T, s []byte, pre int) {
		s = bytes.Repeat(s, 3)
		var want strings.Builder
		escape(&want, s)
		var got strings.Builder
		w := bufio.NewWriterSize(&got, 4096)
		prefix := strings.Repeat("x", min(max(pre, 0), 4000))
		w.WriteString(prefix)
		escapeText(w, s)
		w.Flush()
		if g, want := got.String(), prefix+want.String(); g != want {
			t.Fatalf("escapeText(%q) = %q, want %q", s, g, want)
		}
	})
}

// TestAppendEscapedASCII checks appendEscapedASCII, appendEscapedBits
// (with the assembly specialBits where there is one, else specialBitsGo)
// and appendEscaped against escape for every ASCII byte,
// alone and before a line feed, at positions around the edges of words,
// 64-byte blocks and appendEscapedBits' 1 KiB rounds (the first, second
// and third), appended to buffers without room and with exactly the room
// escapeText leaves; then runs of every length up to past the 32 bytes
// appendEscapedBits moves in words, between two escapes, ending at every
// distance up to past 32 bytes from the end of the text. No escaper
// works in units above 1 KiB (escapeText's chunks are FuzzEscapeText's
// and TestEscapeTextLateHigh's), so texts of 4 and 8 KiB would take
// only branches the 1 and 2 KiB ones take, at several times their cost
// under -race.
func TestAppendEscapedASCII(t *testing.T) {
	escapers := map[string]func(buf, s []byte) ([]byte, bool){
		"appendEscapedASCII": appendEscapedASCII,
		"appendEscaped":      appendEscaped,
		"appendEscapedBits":  appendEscapedBits,
	}
	sizes := []int{63, 64, 65, 127, 128, 130, 1023, 1024, 1025, 2049}
	for size := 1; size <= 20; size++ {
		sizes = append(sizes, size)
	}
	for c := range utf8.RuneSelf {
		for _, tail := range []string{"", "\n", "\r\n", "&"} {
			for _, size := range sizes {
				for _, pos := range []int{0, 1, 6, 7, 8, 9, 15, 16, 17, 62, 63, 64, 65, 1023, 1024, 2048, size - 2, size - 1} {
					if pos < 0 || pos >= size || (size > 20 && c%7 != 0 && c != '\r' && c != '&') {
						continue
					}
					s := []byte(strings.Repeat("a", pos) + string(rune(c)) + tail + strings.Repeat("b", size-pos-1))
					checkEscapers(t, escapers, s)
				}
			}
		}
	}
	for run := range 40 {
		for rest := range 40 {
			for _, lead := range []string{"", "<", "x&y"} {
				checkEscapers(t, escapers, []byte(lead+"&"+strings.Repeat("a", run)+"\r\n"+strings.Repeat("b", rest)))
			}
		}
	}
}

// checkEscapers checks each of escapers against escape on s, appending
// to buffers without room and with exactly the room escapeText leaves,
// and the byte from 0x80 on each reports against s's.
func checkEscapers(t *testing.T, escapers map[string]func(buf, s []byte) ([]byte, bool), s []byte) {
	t.Helper()
	var want strings.Builder
	escape(&want, s)
	wantHigh := bytes.ContainsFunc(s, func(r rune) bool { return r >= utf8.RuneSelf })
	room := len(s)*maxEscape + escapeSlack
	for name, f := range escapers {
		for _, buf := range [][]byte{nil, []byte("x"), make([]byte, 3, 3+room)} {
			pre := string(buf)
			got, high := f(buf, s)
			if string(got) != pre+want.String() || high != wantHigh {
				t.Fatalf("%s(%q, %q) = %q, %v, want %q, %v", name, pre, s, got, high, pre+want.String(), wantHigh)
			}
		}
	}
}

// TestAppendEscapedHigh checks that the escapers report a byte from 0x80
// on (of a two-byte character, which they keep as it is) wherever it is:
// in a word or a 64-byte block, in appendEscapedBits' tail past the last
// block, at the edges of each, beside an escape or not. Among escapes
// (in a text of '&') it stands at every position within 66 bytes (a
// 64-byte block and a character across its edge) of the text's ends and
// of the 1 KiB round's edge: the blocks between take the same branches
// at the same offsets (coverage alike), and under -race every position
// of the 1 KiB texts of escapes was two thirds of the package's CPU.
func TestAppendEscapedHigh(t *testing.T) {
	escapers := map[string]func(buf, s []byte) ([]byte, bool){
		"appendEscapedASCII": appendEscapedASCII,
		"appendEscaped":      appendEscaped,
		"appendEscapedBits":  appendEscapedBits,
	}
	const edge = 66
	for _, size := range []int{2, 9, 63, 64, 65, 66, 127, 128, 130, 1023, 1024, 1025, 1100} {
		for pos := range size - 1 {
			for _, fill := range []string{"a", "&"} {
				if fill == "&" && pos >= edge && pos < size-edge && (pos < 1024-edge || pos >= 1024+edge) {
					continue
				}
				s := []byte(strings.Repeat(fill, pos) + "é" + strings.Repeat(fill, size-pos-2))
				checkEscapers(t, escapers, s)
			}
		}
	}
}

// TestEscapeTextLateHigh: a body whose first chunks (what fits in the
// writer's buffer) are ASCII and whose later one holds invalid UTF-8, a
// noncharacter or a valid character is written as escape writes it.
func TestEscapeTextLateHigh(t *testing.T) {
	for _, late := range []string{"\xff", "\xc3", "\uFFFE", "\uFFFF", "é", "\U0001F600", "\x01"} {
		for _, lead := range []int{0, 600, 700, 1500, 3000} {
			s := []byte(strings.Repeat("a&b\r\n", lead/5) + late + "<tail>\r\n")
			var want strings.Builder
			escape(&want, s)
			var got strings.Builder
			w := bufio.NewWriterSize(&got, 4096)
			escapeText(w, s)
			w.Flush()
			if got.String() != want.String() {
				t.Fatalf("escapeText(%q) = %q, want %q", s, got.String(), want.String())
			}
		}
	}
}

// TestMayNeedEscape checks the eight-byte test against special for every
// byte value at every position, among bytes that need no look (and
// beside bytes from 0x80 on, which a borrow could disturb).
func TestMayNeedEscape(t *testing.T) {
	for _, fill := range []byte{'a', 0x80, 0xFF, '=', '%'} {
		for pos := range 8 {
			for c := range 256 {
				var b [8]byte
				for i := range b {
					b[i] = fill
				}
				b[pos] = byte(c)
				want := special[c] || c == '\n' || c == '\t'
				if got := mayNeedEscape(binary.LittleEndian.Uint64(b[:])); got != want {
					t.Fatalf("mayNeedEscape(%q) = %v, want %v", b, got, want)
				}
			}
		}
	}
}

// TestNeedEscapeMask checks that the lowest bit needEscapeMask sets is
// that of the first byte that needs a look, whatever two bytes stand in
// a word among bytes that need none (a borrow out of one flags bytes
// above it, never below).
func TestNeedEscapeMask(t *testing.T) {
	look := func(c byte) bool { return special[c] || c == '\n' || c == '\t' }
	for _, fill := range []byte{'a', 0xFF, '='} {
		for p1 := range 8 {
			for p2 := p1 + 1; p2 < 8; p2++ {
				for c1 := range 256 {
					for c2 := range 256 {
						var b [8]byte
						for i := range b {
							b[i] = fill
						}
						b[p1], b[p2] = byte(c1), byte(c2)
						want := -1
						for i, c := range b {
							if look(c) {
								want = i
								break
							}
						}
						m := needEscapeMask(binary.LittleEndian.Uint64(b[:]))
						got := -1
						if m != 0 {
							got = bits.TrailingZeros64(m) >> 3
						}
						if got != want {
							t.Fatalf("needEscapeMask(%q): first byte %d, want %d", b, got, want)
						}
					}
				}
			}
		}
	}
}

func BenchmarkEscapeText(b *testing.B) {
	body := bytes.Repeat([]byte("DESCRIPTION:Agenda item, notes & links; more text follows here\r\n"), 16)
	w := bufio.NewWriterSize(io.Discard, 32<<10)
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		escapeText(w, body)
	}
}

// FuzzEscape holds escape, string and []byte alike, to encoding/xml's
// EscapeText, whose character references it spells the way the
// multistatus writer always has (tab and line feed kept as they are).
func FuzzEscape(f *testing.F) {
	f.Add("\"0123456789abcdef\" text/calendar; component=VEVENT")
	f.Add("caf\xc3\xa9 \xff \xef\xbf\xbe \x01\t\n\r<&>'\" 12345678\xf0\x9f\x98\x80")
	spell := strings.NewReplacer("&#34;", "&quot;", "&#39;", "&apos;", "&#x9;", "\t", "&#xA;", "\n", "&#xD;", "&#13;")
	f.Fuzz(func(t *testing.T, s string) {
		var ref bytes.Buffer
		xml.EscapeText(&ref, []byte(s))
		want := spell.Replace(ref.String())
		var got, gotb strings.Builder
		escape(&got, s)
		escape(&gotb, []byte(s))
		if got.String() != want || gotb.String() != want {
			t.Fatalf("escape(%q) = %q and %q, want %q", s, got.String(), gotb.String(), want)
		}
	})
}

// writeCounter counts the writes that reach it.
type writeCounter struct {
	writes, bytes int
	sizes         []int
	size          int // told by SetSize
}

func (c *writeCounter) SetSize(n int) { c.size = n }

func (c *writeCounter) Write(p []byte) (int, error) {
	c.writes++
	c.bytes += len(p)
	c.sizes = append(c.sizes, len(p))
	return len(p), nil
}

// TestMultistatusFlushes checks how often a multistatus answer reaches
// the connection: the answer to a 100 × 1 KB calendar-multiget (about
// 120 KB escaped) in one write, its length told first (Sizer), where it
// took seven chunks of the HTTP answer with the former 16 KiB flushes
// and two with 96 KiB; and a long listing in writes of at least flushAt
// bytes, never holding more than a buffer, the last one's length told
// before it.
func TestMultistatusFlushes(t *testing.T) {
	body := bytes.Repeat([]byte("DESCRIPTION:Agenda item, notes & links\r\n"), 25) // 1 KB
	props := []PropValue{{Name: D("getetag"), Str: `"0123456789abcdef"`}, {Name: C("calendar-data"), Text: body}}
	var c writeCounter
	m := NewMultistatus(&c)
	for i := range 100 {
		if err := m.ResponsePath("/dav/home/alice/calendar/", fmt.Sprintf("ev%06d.ics", i), props); err != nil {
			t.Fatal(err)
		}
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if c.bytes < 100*len(body) || c.writes != 1 || c.size != c.bytes {
		t.Errorf("100 × 1 KB multiget: %d bytes in %d writes, size told %d; want one write of the size told", c.bytes, c.writes, c.size)
	}

	c = writeCounter{}
	m = NewMultistatus(&c)
	for i := range 2000 {
		m.ResponsePath("/dav/home/alice/calendar/", fmt.Sprintf("ev%06d.ics", i), props)
	}
	m.Close()
	if c.writes < 2 {
		t.Fatalf("2,000 × 1 KB: %d bytes in %d writes", c.bytes, c.writes)
	}
	if last := c.sizes[len(c.sizes)-1]; c.size != last {
		t.Errorf("2,000 × 1 KB: size told %d, last write %d", c.size, last)
	}
	for i, n := range c.sizes {
		if n > writerSize || n < flushAt && i < len(c.sizes)-1 {
			t.Errorf("2,000 × 1 KB: write %d of %d is %d bytes, want %d to %d", i, len(c.sizes), n, flushAt, writerSize)
		}
	}
}
