package itip

import (
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-ical"
)

// now is the DTSTAMP of the messages the tests make.
var now = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

const stamp = "20260301T120000Z"

func testOpts() Options { return Options{Now: now} }

// mustParse parses iCalendar text written with \n line ends and tab or
// space indentation (ignored).
func mustParse(tb testing.TB, text string) *ical.Calendar {
	tb.Helper()
	if text == "" {
		return nil
	}
	var b strings.Builder
	for _, l := range strings.Split(strings.TrimSpace(text), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			b.WriteString(l + "\r\n")
		}
	}
	cal, err := ical.NewDecoder(strings.NewReader(b.String())).Decode()
	if err != nil {
		tb.Fatalf("parse: %v\n%s", err, text)
	}
	return cal
}

// canon renders a calendar for comparison by property: each component's
// properties sorted, parameters sorted, children sorted by their text.
func canon(cal *ical.Calendar) string {
	if cal == nil {
		return "<nil>"
	}
	return canonComp(cal.Component, "")
}

func canonComp(c *ical.Component, indent string) string {
	var lines []string
	for name, props := range c.Props {
		for _, p := range props {
			var params []string
			for k, vs := range p.Params {
				params = append(params, k+"="+strings.Join(vs, ","))
			}
			sort.Strings(params)
			l := name
			if len(params) > 0 {
				l += ";" + strings.Join(params, ";")
			}
			lines = append(lines, indent+"  "+l+":"+p.Value)
		}
	}
	sort.Strings(lines)
	var kids []string
	for _, ch := range c.Children {
		kids = append(kids, canonComp(ch, indent+"  "))
	}
	sort.Strings(kids)
	return indent + "BEGIN:" + c.Name + "\n" + strings.Join(append(lines, kids...), "\n") + "\n" + indent + "END:" + c.Name
}

// sameCal fails the test when got and want differ by property.
func sameCal(tb testing.TB, what string, got, want *ical.Calendar) {
	tb.Helper()
	if g, w := canon(got), canon(want); g != w {
		tb.Errorf("%s:\ngot\n%s\nwant\n%s", what, g, w)
	}
}

// summary renders messages as "METHOD recipient [keys]" lines, sorted.
func summary(msgs []Message) []string {
	var out []string
	for _, m := range msgs {
		var keys []string
		for _, c := range m.Calendar.Children {
			if c.Name == ical.CompTimezone {
				continue
			}
			k := "master"
			if p := c.Props.Get(ical.PropRecurrenceID); p != nil {
				k = p.Value
			}
			keys = append(keys, k)
		}
		out = append(out, fmt.Sprintf("%s %s %s", m.Method, m.Recipient, strings.Join(keys, " ")))
	}
	slices.Sort(out)
	return out
}

// mustEncode fails unless go-ical's encoder, which refuses components
// without their required properties, writes cal.
func mustEncode(tb testing.TB, cal *ical.Calendar) {
	tb.Helper()
	if cal == nil {
		return
	}
	if err := ical.NewEncoder(io.Discard).Encode(cal); err != nil {
		tb.Fatalf("encode: %v\n%s", err, canon(cal))
	}
}
