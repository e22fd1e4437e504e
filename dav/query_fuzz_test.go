package dav

import (
	"context"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/almanac/almanac/dav/query"
)

// fuzzQueryMaxAllocs bounds what one input of FuzzPutQuery may cost,
// counted in heap allocations (runtime.MemStats.Mallocs) rather than in
// time, so that a loaded machine cannot fail it and a fast one cannot hide
// a regression: a PUT and six queries under the limits below allocate at
// most ~44,000 times (the seeds, and minutely or secondly rules from 1900
// that the limits cut short); an input 45 times past that is work the
// limits do not bound. An input that never returns (the next
// endless loop) is caught by .ci/fuzz's -test.timeout, which fails the
// target with every goroutine's stack.
const fuzzQueryMaxAllocs = 2_000_000

// fuzzQueries are the REPORTs FuzzPutQuery runs on the object it PUT:
// time-ranges on each component type and on alarms, expand,
// limit-recurrence-set, limit-freebusy-set and free-busy-query.
var fuzzQueries = []string{
	`<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><D:getetag/>` +
		`<C:calendar-data><C:expand start="20250101T000000Z" end="20270101T000000Z"/></C:calendar-data></D:prop>` +
		`<C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"><C:time-range start="20250101T000000Z" end="20270101T000000Z"/></C:comp-filter></C:comp-filter></C:filter></C:calendar-query>`,
	`<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><C:calendar-data><C:limit-recurrence-set start="20260101T000000Z" end="20260201T000000Z"/></C:calendar-data></D:prop>` +
		`<C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VTODO"><C:time-range start="20260101T000000Z"/></C:comp-filter></C:comp-filter></C:filter></C:calendar-query>`,
	`<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><D:getetag/></D:prop>` +
		`<C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"><C:comp-filter name="VALARM"><C:time-range start="20260101T000000Z" end="20260102T000000Z"/></C:comp-filter></C:comp-filter></C:comp-filter></C:filter></C:calendar-query>`,
	`<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><C:calendar-data><C:limit-freebusy-set start="20260101T000000Z" end="20260201T000000Z"/></C:calendar-data></D:prop>` +
		`<C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VJOURNAL"><C:time-range end="20260101T000000Z"/></C:comp-filter></C:comp-filter></C:filter></C:calendar-query>`,
	`<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><D:getetag/></D:prop>` +
		`<C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VFREEBUSY"><C:time-range start="20260101T000000Z" end="20260201T000000Z"/></C:comp-filter></C:comp-filter></C:filter></C:calendar-query>`,
	`<C:free-busy-query xmlns:C="urn:ietf:params:xml:ns:caldav"><C:time-range start="20250101T000000Z" end="20270101T000000Z"/></C:free-busy-query>`,
}

// FuzzPutQuery runs the whole path of a calendar object through
// dav.Handler: PUT (validation, envelope), then calendar-query with
// expand, limit-recurrence-set and alarm ranges, and free-busy-query on
// it: no unbounded work (counted in allocations, fuzzQueryMaxAllocs), no
// panic, no 500.
func FuzzPutQuery(f *testing.F) {
	ev := func(lines ...string) string {
		return crlf("BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//f//EN\n" + strings.Join(lines, "\n") + "\nEND:VCALENDAR\n")
	}
	event := func(extra ...string) string {
		return "BEGIN:VEVENT\nUID:f\nDTSTAMP:20260101T000000Z\nDTSTART:20260105T100000Z\nDURATION:PT1H\n" + strings.Join(extra, "\n") + "\nEND:VEVENT"
	}
	for _, s := range []string{
		ev(event("RRULE:FREQ=HOURLY;INTERVAL=2;BYHOUR=1;COUNT=3")),
		ev(event("RRULE:FREQ=HOURLY;INTERVAL=2;BYHOUR=12")),
		ev(event("RRULE:FREQ=MINUTELY;INTERVAL=7;BYMINUTE=3;BYHOUR=9")),
		ev(event("RRULE:FREQ=SECONDLY;INTERVAL=13;BYSECOND=1;BYMINUTE=2")),
		ev(event("RRULE:FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29;BYDAY=MO")),
		ev(event("RRULE:FREQ=DAILY;INTERVAL=7;BYDAY=TU")),
		ev(event("RRULE:FREQ=MONTHLY;BYDAY=-1FR;BYSETPOS=1,-1;COUNT=20", "EXDATE:20260130T100000Z,20260227T100000Z",
			"BEGIN:VALARM\nACTION:DISPLAY\nTRIGGER:-PT15M\nREPEAT:3\nDURATION:PT5M\nEND:VALARM"),
			"BEGIN:VEVENT\nUID:f\nDTSTAMP:20260101T000000Z\nRECURRENCE-ID;RANGE=THISANDFUTURE:20260327T100000Z\nDTSTART:20260328T090000Z\nDURATION:PT2H\nEND:VEVENT"),
		ev("BEGIN:VTIMEZONE\nTZID:Custom\nBEGIN:STANDARD\nDTSTART:16011028T030000\nTZOFFSETFROM:+0200\nTZOFFSETTO:+0100\nRRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=10\nEND:STANDARD\n"+
			"BEGIN:DAYLIGHT\nDTSTART:16010325T020000\nTZOFFSETFROM:+0100\nTZOFFSETTO:+0200\nRRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=3\nEND:DAYLIGHT\nEND:VTIMEZONE",
			"BEGIN:VEVENT\nUID:f\nDTSTAMP:20260101T000000Z\nDTSTART;TZID=Custom:20260105T100000\nDTEND;TZID=Custom:20260105T110000\nRRULE:FREQ=WEEKLY;BYDAY=MO,WE;UNTIL=20261231T000000Z\nEND:VEVENT"),
		ev("BEGIN:VTODO\nUID:f\nDTSTAMP:20260101T000000Z\nDUE;VALUE=DATE:20260110\nRRULE:FREQ=WEEKLY;COUNT=5\nEND:VTODO"),
		ev("BEGIN:VFREEBUSY\nUID:f\nDTSTAMP:20260101T000000Z\nFREEBUSY;FBTYPE=BUSY:20260105T100000Z/PT1H,20260106T100000Z/20260106T120000Z\nEND:VFREEBUSY"),
	} {
		f.Add(s)
	}
	h, _ := mustHandler(f, Options{QueryLimits: query.Limits{
		MaxInstances: 1000, MaxIterations: 20000, MaxExpandRange: 3 * 366 * 24 * time.Hour, MaxConcurrent: -1}})
	const obj = "/dav/home/alice/calendar/f.ics"
	f.Fuzz(func(t *testing.T, body string) {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		ctx := context.Background()
		serveAs(h, ctx, "DELETE", obj, "")
		if rec := serveAs(h, ctx, "PUT", obj, body); rec.Code >= 500 {
			t.Fatalf("PUT: %d %s", rec.Code, rec.Body)
		} else if rec.Code < 300 {
			for _, q := range fuzzQueries {
				if rec := serveAs(h, ctx, "REPORT", obj, q); rec.Code >= 500 {
					t.Errorf("REPORT: %d %s\n%s", rec.Code, rec.Body, q)
				}
			}
		}
		runtime.ReadMemStats(&after)
		if n := after.Mallocs - before.Mallocs; n > fuzzQueryMaxAllocs {
			t.Fatalf("PUT and queries allocated %d times, bound %d:\n%s", n, fuzzQueryMaxAllocs, body)
		}
	})
}
