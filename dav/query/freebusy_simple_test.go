package query_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/almanac/almanac/dav/query"
	"github.com/almanac/almanac/internal/calgen"
	"github.com/almanac/almanac/internal/testscale"
)

// busyObject returns a random calendar object of the shapes free-busy
// must count right: one VEVENT in UTC, an IANA zone, a Windows zone name,
// a zone only its own VTIMEZONE defines (also under an IANA name, which
// wins), floating or all-day; ending by DTEND, DURATION, DATE or not at
// all, or before it starts; at DST changes (Berlin's gap and fold); with
// TRANSP, STATUS (also inside a VALARM, where it does not count) and the
// user's own ATTENDEE PARTSTAT in any case and spacing, duplicated, folded;
// and the shapes AddSimple leaves to Add (RRULE, RDATE, RECURRENCE-ID,
// EXDATE, a second VEVENT, VTODO, VFREEBUSY, an X- component).
func busyObject(r *rand.Rand, uid string, near query.TimeRange) []byte {
	const f, d = "20060102T150405", "20060102"
	span := int(near.End.Sub(near.Start)/(15*time.Minute)) + 2*96
	base := near.Start.Add(time.Duration(r.IntN(span)-96) * 15 * time.Minute) // from a day before the range to a day after
	if r.IntN(5) == 0 {                                                       // Berlin's DST changes: 02:00-03:00 skipped in March, repeated in October
		base = time.Date(2026, []time.Month{3, 10}[r.IntN(2)], []int{29, 25}[r.IntN(2)], 1+r.IntN(3), 30*r.IntN(2), 0, 0, time.UTC)
	}
	dur := time.Duration(r.IntN(40)-2) * 15 * time.Minute
	var b strings.Builder
	pick := func(opts ...string) string { return opts[r.IntN(len(opts))] }
	b.WriteString("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n")
	zone := pick("", "Europe/Berlin", "W. Europe Standard Time", "Custom/Zone", "America/New_York")
	if zone == "Custom/Zone" || (zone == "America/New_York" && r.IntN(2) == 0) {
		// a VTIMEZONE of its own, three hours east, no DST
		b.WriteString("BEGIN:VTIMEZONE\r\nTZID:" + zone + "\r\nBEGIN:STANDARD\r\nDTSTART:19700101T000000\r\nTZOFFSETFROM:+0300\r\nTZOFFSETTO:+0300\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\n")
	}
	comp := pick("VEVENT", "VEVENT", "VEVENT", "VEVENT", "VTODO", "VFREEBUSY", "X-THING")
	fmt.Fprintf(&b, "BEGIN:%s\r\nUID:%s\r\nDTSTAMP:20260101T000000Z\r\n", comp, uid)
	start := func(t time.Time) string {
		switch {
		case zone == "":
			return pick("DTSTART:"+t.Format(f)+"Z", "DTSTART:"+t.Format(f), "DTSTART;VALUE=DATE:"+t.Format(d), "DTSTART:"+t.Format(d))
		default:
			return "DTSTART;TZID=" + zone + ":" + t.Format(f)
		}
	}
	b.WriteString(start(base) + "\r\n")
	switch r.IntN(5) {
	case 0, 1:
		if zone == "" {
			fmt.Fprintf(&b, "%s\r\n", pick("DTEND:"+base.Add(dur).Format(f)+"Z", "DTEND:"+base.Add(dur).Format(f), "DTEND;VALUE=DATE:"+base.AddDate(0, 0, r.IntN(3)).Format(d)))
		} else {
			fmt.Fprintf(&b, "DTEND;TZID=%s:%s\r\n", zone, base.Add(dur).Format(f))
		}
	case 2:
		fmt.Fprintf(&b, "DURATION:%s\r\n", pick("PT1H", "P1D", "PT0S", "-PT1H", "P1W", "PT90M", "garbage", ""))
	case 3:
		fmt.Fprintf(&b, "DTEND:%sZ\r\nDURATION:PT5H\r\n", base.Add(dur).Format(f)) // both: DTEND wins
	}
	for range r.IntN(3) {
		b.WriteString(pick("TRANSP:OPAQUE", "TRANSP:TRANSPARENT", "TRANSP:transparent ", "TRANSP:X-OTHER"))
		b.WriteString("\r\n")
	}
	for range r.IntN(3) {
		b.WriteString(pick("STATUS:CONFIRMED", "STATUS:TENTATIVE", "STATUS:Cancelled", "STATUS: tentative", "STATUS:CANCELLED"))
		b.WriteString("\r\n")
	}
	for range r.IntN(4) {
		who := pick("mailto:me@example.org", "MAILTO:ME@EXAMPLE.ORG", "mailto:other@example.org")
		ps := pick("", ";PARTSTAT=ACCEPTED", ";PARTSTAT=DECLINED", ";PARTSTAT=tentative", ";PARTSTAT= DECLINED", ";CN=\"Me;\";PARTSTAT=TENTATIVE")
		line := "ATTENDEE;ROLE=REQ-PARTICIPANT" + ps + ":" + who
		if r.IntN(3) == 0 && len(line) > 20 { // folded anywhere, even inside the parameter
			cut := 10 + r.IntN(len(line)-10)
			line = line[:cut] + "\r\n " + line[cut:]
		}
		b.WriteString(line + "\r\n")
	}
	if r.IntN(4) == 0 {
		b.WriteString("BEGIN:VALARM\r\nACTION:DISPLAY\r\nSTATUS:CANCELLED\r\nTRANSP:TRANSPARENT\r\nTRIGGER:-PT15M\r\nEND:VALARM\r\n")
	}
	switch r.IntN(12) {
	case 0:
		b.WriteString("RRULE:FREQ=DAILY;COUNT=3\r\n")
	case 1:
		fmt.Fprintf(&b, "RDATE:%sZ\r\n", base.Add(time.Duration(r.IntN(48)-24)*time.Hour).Format(f))
	case 2:
		fmt.Fprintf(&b, "EXDATE:%sZ\r\n", base.Format(f))
	case 3:
		fmt.Fprintf(&b, "RECURRENCE-ID:%sZ\r\n", base.Format(f))
	}
	fmt.Fprintf(&b, "END:%s\r\n", comp)
	if r.IntN(10) == 0 {
		fmt.Fprintf(&b, "BEGIN:VEVENT\r\nUID:%s-2\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:%sZ\r\nDTEND:%sZ\r\nEND:VEVENT\r\n", uid, base.Format(f), base.Add(time.Hour).Format(f))
	}
	b.WriteString("END:VCALENDAR\r\n")
	return []byte(b.String())
}

// TestAddSimpleMatchesAdd: for random objects (busyObject's and calgen's
// shapes), random ranges and floating locations, the free-busy answer
// built with AddSimple (Add where it declines) equals the one built with
// Add alone, with the user's own address among the attendees; and
// AddSimple takes most single events, so the comparison is not vacuous.
func TestAddSimpleMatchesAdd(t *testing.T) {
	r := rand.New(rand.NewPCG(20, 18))
	zones := []*time.Location{nil, time.UTC, time.FixedZone("", 14*3600), time.FixedZone("", -12*3600), mustLoad(t, "Europe/Berlin")}
	self := func(a string) bool { return strings.EqualFold(a, "mailto:me@example.org") }
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	n := testscale.N(t, 400)
	handled := 0
	for round := range n {
		start := time.Date(2026, time.Month(1+r.IntN(12)), 1+r.IntN(28), r.IntN(24), 0, 0, 0, time.UTC)
		tr := query.TimeRange{Start: start, End: start.Add(time.Duration(1+r.IntN(24*40)) * time.Hour)}
		floating := zones[r.IntN(len(zones))]
		simple, err := query.NewFreeBusy(tr, query.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		full, _ := query.NewFreeBusy(tr, query.Limits{})
		simple.Self, full.Self = self, self
		var bodies []string
		for i := range 1 + r.IntN(12) {
			var body []byte
			if r.IntN(4) == 0 {
				body = calgen.Object(r, fmt.Sprint("c", i))
			} else {
				body = busyObject(r, fmt.Sprint("b", i), tr)
			}
			bodies = append(bodies, string(body))
			for _, fb := range []*query.FreeBusy{simple, full} {
				if fb == simple && fb.AddSimple(body, floating) {
					handled++
					continue
				}
				obj, err := query.ParseCalendarObject(body)
				if err != nil {
					t.Fatalf("parse: %v\n%s", err, body)
				}
				if err := fb.Add(context.Background(), obj, floating); errors.Is(err, query.ErrUnevaluable) {
					fb.Unevaluated++
				} else if err != nil {
					t.Fatalf("add: %v\n%s", err, body)
				}
			}
		}
		if got, want := simple.Render(now), full.Render(now); !bytes.Equal(got, want) {
			t.Fatalf("round %d, range %v, floating %v:\nAddSimple:\n%s\nAdd:\n%s\nobjects:\n%s", round, tr, floating, got, want, strings.Join(bodies, "\n"))
		}
	}
	if handled < n {
		t.Fatalf("AddSimple took %d objects in %d rounds: the comparison barely tests it", handled, n)
	}
}

func mustLoad(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// FuzzAddSimple: for arbitrary text, a free-busy answer built with
// AddSimple (Add where it declines) equals the one built with Add alone.
func FuzzAddSimple(f *testing.F) {
	r := rand.New(rand.NewPCG(18, 20))
	tr := query.TimeRange{Start: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), End: time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)}
	for i := range 20 {
		f.Add(string(busyObject(r, fmt.Sprint("s", i), tr)))
	}
	self := func(a string) bool { return strings.EqualFold(a, "mailto:me@example.org") }
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, body string) {
		obj, err := query.ParseCalendarObject([]byte(body))
		if err != nil {
			return
		}
		lim := query.Limits{MaxInstances: 1000}
		simple, _ := query.NewFreeBusy(tr, lim)
		full, _ := query.NewFreeBusy(tr, lim)
		simple.Self, full.Self = self, self
		if !simple.AddSimple([]byte(body), nil) {
			if err := simple.Add(context.Background(), obj, nil); err != nil {
				return
			}
		}
		if err := full.Add(context.Background(), obj, nil); err != nil {
			t.Fatalf("AddSimple took what Add refuses (%v):\n%q", err, body)
		}
		if got, want := simple.Render(now), full.Render(now); !bytes.Equal(got, want) {
			t.Fatalf("AddSimple:\n%s\nAdd:\n%s\nbody:\n%q", got, want, body)
		}
	})
}
