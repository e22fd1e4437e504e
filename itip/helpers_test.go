package itip

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/almanac/almanac/itip/itiptest"
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

// canon renders a calendar for comparison by property (itiptest.Canon).
func canon(cal *ical.Calendar) string {
	if cal == nil {
		return "<nil>"
	}
	return itiptest.Canon(cal.Component)
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
