package engine

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/almanac/almanac/engine/contentline"
	"github.com/emersion/go-ical"
	"github.com/emersion/go-vcard"
)

// canonICal renders a go-ical component tree in a stable order, parameter
// values RFC 6868-decoded with decode.
func canonICal(b *strings.Builder, c *ical.Component, decode func(string) string) {
	fmt.Fprintf(b, "BEGIN %s\n", c.Name)
	names := make([]string, 0, len(c.Props))
	for n := range c.Props {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		for _, p := range c.Props[n] {
			fmt.Fprintf(b, "%s %q", p.Name, p.Value)
			canonParams(b, p.Params, decode)
			b.WriteByte('\n')
		}
	}
	for _, ch := range c.Children {
		canonICal(b, ch, decode)
	}
	b.WriteString("END\n")
}

func canonParams(b *strings.Builder, ps map[string][]string, decode func(string) string) {
	names := make([]string, 0, len(ps))
	for n := range ps {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		vs := make([]string, len(ps[n]))
		for i, v := range ps[n] {
			vs[i] = decode(v)
		}
		fmt.Fprintf(b, " %s=%q", n, vs)
	}
}

// goICal decodes with go-ical's own decoder, its panics as errors.
func goICal(text string) (cal *ical.Calendar, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	return ical.NewDecoder(strings.NewReader(text)).Decode()
}

// FuzzParseCalendarAgainstGoICal: where both contentline and go-ical's
// decoder accept a text, they read the same components, properties,
// values and parameters (go-ical does not decode RFC 6868, so its
// parameter values are decoded here). A parameter without "=" is not
// iCalendar (RFC 5545 §3.1); go-ical reads `E;N;T=:` as a parameter named
// "N;T", contentline as TYPE=N and T, so texts with one are not compared.
func FuzzParseCalendarAgainstGoICal(f *testing.F) {
	f.Add(string(event("a")))
	f.Add(string(realisticEvent("r")))
	f.Add("BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:a\nATTENDEE;CN=\"a, b\";X=^'c^',d:mailto:x\n  folded\n\tmore\nEND:VEVENT\nEND:VCALENDAR\n")
	f.Fuzz(func(t *testing.T, text string) {
		if hasBareParam(text) {
			return
		}
		ours, err := parseCalendar(text, contentline.Defaults(), nil)
		if err != nil {
			return
		}
		theirs, err := goICal(text)
		if err != nil {
			return
		}
		var a, b strings.Builder
		canonICal(&a, ours.Component, func(s string) string { return s })
		canonICal(&b, theirs.Component, contentline.DecodeParam)
		if a.String() != b.String() {
			t.Fatalf("contentline read\n%s\ngo-ical read\n%s", a.String(), b.String())
		}
	})
}

// FuzzParseVCardAgainstGoVCard: where both contentline and go-vcard's
// decoder accept one vCard, they read the same fields. go-vcard drops
// lines it cannot parse and reads quoted parameters with Go's unquoting,
// so only texts without double quotes or ^ are compared, and it reads a
// vCard 2.1-style bare parameter (TEL;CELL:…) otherwise than as a TYPE,
// so texts with one are not compared either. go-vcard trims every CR at a
// line's end (strings.TrimRight), where a line ends at one LF or CR LF and
// a CR before it is part of the value for contentline (a CR is no
// VALUE-CHAR, RFC 6350 §3.3, but contentline keeps what it does not
// check byte for byte), so texts with a CR not before an LF are not
// compared (fuzzing found "0:\r\r\n" in CI, session 17).
func FuzzParseVCardAgainstGoVCard(f *testing.F) {
	f.Add("BEGIN:VCARD\r\nVERSION:4.0\r\nFN:A\r\nUID:x\r\nEND:VCARD\r\n")
	f.Add("BEGIN:VCARD\nVERSION:3.0\nitem1.TEL;type=CELL,VOICE;type=pref:+1\nNOTE:a\\, b\\nc\n  d\nEND:VCARD\n")
	f.Fuzz(func(t *testing.T, text string) {
		if strings.ContainsAny(text, "\"^") || hasBareParam(text) || strings.Contains(strings.ReplaceAll(text, "\r\n", ""), "\r") {
			return
		}
		ours, err := parseVCard(text, contentline.Defaults(), nil)
		if err != nil {
			return
		}
		theirs, err := vcard.NewDecoder(strings.NewReader(text)).Decode()
		if err != nil {
			return
		}
		canon := func(c vcard.Card) string {
			var b strings.Builder
			names := make([]string, 0, len(c))
			for n := range c {
				names = append(names, n)
			}
			sort.Strings(names)
			for _, n := range names {
				for _, fl := range c[n] {
					fmt.Fprintf(&b, "%s.%s %q", fl.Group, n, fl.Value)
					canonParams(&b, fl.Params, func(s string) string { return s })
					b.WriteByte('\n')
				}
			}
			return b.String()
		}
		if a, b := canon(ours), canon(theirs); a != b {
			t.Fatalf("contentline read\n%s\ngo-vcard read\n%s", a, b)
		}
	})
}

// hasBareParam reports whether a line of text (unquoted) has a parameter
// without "=".
func hasBareParam(text string) bool {
	for _, l := range strings.Split(strings.ReplaceAll(text, "\r", "\n"), "\n") {
		head, _, _ := strings.Cut(l, ":")
		segs := strings.Split(head, ";")
		for _, seg := range segs[1:] {
			if !strings.Contains(seg, "=") {
				return true
			}
		}
	}
	return false
}
