package query

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// rfcObjects loads the sample calendar of RFC 4791 Appendix B.
func rfcObjects(tb testing.TB) map[string]*CalendarObject {
	tb.Helper()
	files, _ := filepath.Glob("testdata/rfc4791/*.ics")
	if len(files) != 8 {
		tb.Fatalf("want 8 sample objects, have %d", len(files))
	}
	out := map[string]*CalendarObject{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			tb.Fatal(err)
		}
		obj, err := ParseCalendarObject(b)
		if err != nil {
			tb.Fatalf("%s: %v", f, err)
		}
		out[strings.TrimSuffix(filepath.Base(f), ".ics")] = obj
	}
	return out
}

const cq = `<?xml version="1.0" encoding="utf-8" ?>
<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">`

// runQuery returns the names of the matching sample objects, sorted.
func runQuery(tb testing.TB, objs map[string]*CalendarObject, body string) []string {
	tb.Helper()
	q, err := ParseCalendarQuery([]byte(body))
	if err != nil {
		tb.Fatalf("parse: %v", err)
	}
	var got []string
	for name, obj := range objs {
		ok, err := q.Match(context.Background(), obj, nil, Limits{})
		if err != nil {
			tb.Fatalf("%s: %v", name, err)
		}
		if ok {
			got = append(got, name)
		}
	}
	sort.Strings(got)
	return got
}

// TestRFC4791Queries runs the calendar-query examples of RFC 4791 §7.8
// against the Appendix B data.
func TestRFC4791Queries(t *testing.T) {
	objs := rfcObjects(t)
	for _, tc := range []struct {
		name, body string
		want       []string
	}{
		{"7.8.1 events in time range", cq + `<D:prop><C:calendar-data/></D:prop><C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT">
			<C:time-range start="20060104T000000Z" end="20060105T000000Z"/></C:comp-filter></C:comp-filter></C:filter></C:calendar-query>`,
			[]string{"abcd2", "abcd3"}},
		{"7.8.4 freebusy in time range", cq + `<C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VFREEBUSY">
			<C:time-range start="20060102T000000Z" end="20060103T000000Z"/></C:comp-filter></C:comp-filter></C:filter></C:calendar-query>`,
			[]string{"abcd8"}},
		{"7.8.5 todos with alarm in time range", cq + `<C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VTODO"><C:comp-filter name="VALARM">
			<C:time-range start="20060106T100000Z" end="20060107T100000Z"/></C:comp-filter></C:comp-filter></C:comp-filter></C:filter></C:calendar-query>`,
			[]string{"abcd5"}},
		{"7.8.6 event by UID", cq + `<C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"><C:prop-filter name="UID">
			<C:text-match collation="i;octet">DC6C50A017428C5216A2F1CD@example.com</C:text-match></C:prop-filter></C:comp-filter></C:comp-filter></C:filter></C:calendar-query>`,
			[]string{"abcd3"}},
		{"7.8.7 events by attendee partstat", cq + `<C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"><C:prop-filter name="ATTENDEE">
			<C:text-match collation="i;ascii-casemap">mailto:lisa@example.com</C:text-match>
			<C:param-filter name="PARTSTAT"><C:text-match collation="i;ascii-casemap">NEEDS-ACTION</C:text-match></C:param-filter>
			</C:prop-filter></C:comp-filter></C:comp-filter></C:filter></C:calendar-query>`,
			[]string{"abcd3"}},
		{"7.8.8 all events", cq + `<C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"/></C:comp-filter></C:filter></C:calendar-query>`,
			[]string{"abcd1", "abcd2", "abcd3"}},
		{"7.8.9 pending todos", cq + `<C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VTODO">
			<C:prop-filter name="COMPLETED"><C:is-not-defined/></C:prop-filter>
			<C:prop-filter name="STATUS"><C:text-match negate-condition="yes">CANCELLED</C:text-match></C:prop-filter>
			</C:comp-filter></C:comp-filter></C:filter></C:calendar-query>`,
			[]string{"abcd4", "abcd5"}},
		{"description substring, unicode casemap", cq + `<C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"><C:prop-filter name="DESCRIPTION">
			<C:text-match collation="i;unicode-casemap">STEELERS</C:text-match></C:prop-filter></C:comp-filter></C:comp-filter></C:filter></C:calendar-query>`,
			[]string{"abcd1"}},
		{"todos without VALARM", cq + `<C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VTODO"><C:comp-filter name="VALARM"><C:is-not-defined/></C:comp-filter>
			</C:comp-filter></C:comp-filter></C:filter></C:calendar-query>`,
			[]string{"abcd6", "abcd7"}},
		{"range on a recurrence override only", cq + `<C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT">
			<C:time-range start="20060106T190000Z" end="20060106T193000Z"/></C:comp-filter></C:comp-filter></C:filter></C:calendar-query>`,
			[]string{"abcd2"}},
		{"todo with DUE only, range ending at DUE", cq + `<C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VTODO">
			<C:time-range start="20060106T000000Z" end="20060106T170000Z"/></C:comp-filter></C:comp-filter></C:filter></C:calendar-query>`,
			[]string{"abcd5"}},
		{"completed todo by COMPLETED/CREATED rule", cq + `<C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VTODO">
			<C:prop-filter name="COMPLETED"><C:time-range start="20051223T000000Z" end="20051224T000000Z"/></C:prop-filter></C:comp-filter></C:comp-filter></C:filter></C:calendar-query>`,
			[]string{"abcd6"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := runQuery(t, objs, tc.body)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("matches (-want +got):\n%s", diff)
			}
		})
	}
}

func crlf(s string) string {
	return strings.ReplaceAll(strings.TrimLeft(s, "\n"), "\n", "\r\n")
}

func render(tb testing.TB, body, obj string) string {
	tb.Helper()
	q, err := ParseCalendarQuery([]byte(body))
	if err != nil {
		tb.Fatal(err)
	}
	out, err := q.Data.Render(context.Background(), rfcObjects(tb)[obj], nil, Limits{})
	if err != nil {
		tb.Fatal(err)
	}
	return string(out)
}

// TestRFC4791Shaping checks calendar-data shaping with RFC 4791 §7.8.1–4.
func TestRFC4791Shaping(t *testing.T) {
	const filter = `<C:filter><C:comp-filter name="VCALENDAR"/></C:filter></C:calendar-query>`
	t.Run("7.8.1 partial retrieval", func(t *testing.T) {
		got := render(t, cq+`<D:prop><C:calendar-data><C:comp name="VCALENDAR"><C:prop name="VERSION"/>
			<C:comp name="VEVENT"><C:prop name="SUMMARY"/><C:prop name="UID"/><C:prop name="DTSTART"/><C:prop name="DTEND"/>
			<C:prop name="DURATION"/><C:prop name="RRULE"/><C:prop name="RDATE"/><C:prop name="EXRULE"/><C:prop name="EXDATE"/>
			<C:prop name="RECURRENCE-ID"/></C:comp><C:comp name="VTIMEZONE"/></C:comp></C:calendar-data></D:prop>`+filter, "abcd3")
		want := crlf(`
BEGIN:VCALENDAR
VERSION:2.0
BEGIN:VTIMEZONE
LAST-MODIFIED:20040110T032845Z
TZID:US/Eastern
BEGIN:DAYLIGHT
DTSTART:20000404T020000
RRULE:FREQ=YEARLY;BYDAY=1SU;BYMONTH=4
TZNAME:EDT
TZOFFSETFROM:-0500
TZOFFSETTO:-0400
END:DAYLIGHT
BEGIN:STANDARD
DTSTART:20001026T020000
RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=10
TZNAME:EST
TZOFFSETFROM:-0400
TZOFFSETTO:-0500
END:STANDARD
END:VTIMEZONE
BEGIN:VEVENT
DTSTART;TZID=US/Eastern:20060104T100000
DURATION:PT1H
SUMMARY:Event #3
UID:DC6C50A017428C5216A2F1CD@example.com
END:VEVENT
END:VCALENDAR
`)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})
	t.Run("7.8.2 limit-recurrence-set", func(t *testing.T) {
		got := render(t, cq+`<D:prop><C:calendar-data><C:limit-recurrence-set start="20060103T000000Z" end="20060105T000000Z"/></C:calendar-data></D:prop>`+filter, "abcd2")
		if !strings.Contains(got, "SUMMARY:Event #2 bis\r\n") || strings.Contains(got, "Event #2 bis bis") || !strings.Contains(got, "RRULE:FREQ=DAILY;COUNT=5\r\n") {
			t.Errorf("want the master and the first override only:\n%s", got)
		}
	})
	t.Run("7.8.3 expand", func(t *testing.T) {
		got := render(t, cq+`<D:prop><C:calendar-data><C:expand start="20060103T000000Z" end="20060105T000000Z"/></C:calendar-data></D:prop>`+filter, "abcd2")
		want := crlf(`
BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//Example Corp.//CalDAV Client//EN
BEGIN:VEVENT
DTSTAMP:20060206T001121Z
DTSTART:20060103T170000Z
DURATION:PT1H
SUMMARY:Event #2
UID:00959BC664CA650E933C892C@example.com
RECURRENCE-ID:20060103T170000Z
END:VEVENT
BEGIN:VEVENT
DTSTAMP:20060206T001121Z
DTSTART:20060104T190000Z
DURATION:PT1H
RECURRENCE-ID:20060104T170000Z
SUMMARY:Event #2 bis
UID:00959BC664CA650E933C892C@example.com
END:VEVENT
END:VCALENDAR
`)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})
	t.Run("7.8.4 limit-freebusy-set", func(t *testing.T) {
		got := render(t, cq+`<D:prop><C:calendar-data><C:limit-freebusy-set start="20060102T000000Z" end="20060103T000000Z"/></C:calendar-data></D:prop>`+filter, "abcd8")
		var fb []string
		for _, l := range strings.Split(got, "\r\n") {
			if strings.HasPrefix(l, "FREEBUSY") {
				fb = append(fb, l)
			}
		}
		if diff := cmp.Diff([]string{"FREEBUSY;FBTYPE=BUSY-TENTATIVE:20060102T100000Z/20060102T120000Z"}, fb); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})
	t.Run("unshaped is byte for byte", func(t *testing.T) {
		obj := rfcObjects(t)["abcd1"]
		q, err := ParseCalendarQuery([]byte(cq + `<D:prop><C:calendar-data/></D:prop>` + filter))
		if err != nil {
			t.Fatal(err)
		}
		got, _ := q.Data.Render(context.Background(), obj, nil, Limits{})
		if string(got) != string(obj.Body) {
			t.Error("unshaped calendar-data differs from the stored body")
		}
	})
}

// TestRFC4791FreeBusy runs the free-busy-query example of RFC 4791 §7.10.
func TestRFC4791FreeBusy(t *testing.T) {
	q, err := ParseFreeBusyQuery([]byte(`<?xml version="1.0" encoding="utf-8" ?>
<C:free-busy-query xmlns:C="urn:ietf:params:xml:ns:caldav"><C:time-range start="20060104T140000Z" end="20060105T220000Z"/></C:free-busy-query>`))
	if err != nil {
		t.Fatal(err)
	}
	fb, err := NewFreeBusy(q.Range, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	for _, obj := range rfcObjects(t) {
		if err := fb.Add(context.Background(), obj, nil); err != nil {
			t.Fatal(err)
		}
	}
	got := string(fb.Render(time.Date(2006, 2, 6, 0, 0, 0, 0, time.UTC)))
	want := crlf(`
BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//Almanac//Almanac//EN
BEGIN:VFREEBUSY
DTSTAMP:20060206T000000Z
DTSTART:20060104T140000Z
DTEND:20060105T220000Z
FREEBUSY;FBTYPE=BUSY:20060104T190000Z/20060104T200000Z,20060105T170000Z/200
 60105T180000Z
FREEBUSY;FBTYPE=BUSY-UNAVAILABLE:20060105T100000Z/20060105T120000Z
FREEBUSY;FBTYPE=BUSY-TENTATIVE:20060104T150000Z/20060104T160000Z
END:VFREEBUSY
END:VCALENDAR
`)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func utcTime(s string) time.Time {
	t, err := time.Parse("20060102T150405Z", s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestCalendarQueryErrors(t *testing.T) {
	for _, tc := range []struct {
		name, body, cond string
		status           int
	}{
		{"ErrCollation", cq + `<C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"><C:prop-filter name="UID"><C:text-match collation="i;basic">x</C:text-match></C:prop-filter></C:comp-filter></C:comp-filter></C:filter></C:calendar-query>`, "supported-collation", 403},
		{"ErrNoFilter", cq + `</C:calendar-query>`, "valid-filter", 403},
		{"ErrTopNotVCALENDAR", cq + `<C:filter><C:comp-filter name="VEVENT"/></C:filter></C:calendar-query>`, "valid-filter", 403},
		{"ErrBadTime", cq + `<C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"><C:time-range start="2006-01-04"/></C:comp-filter></C:comp-filter></C:filter></C:calendar-query>`, "valid-filter", 403},
		{"ErrEmptyRange", cq + `<C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"><C:time-range/></C:comp-filter></C:comp-filter></C:filter></C:calendar-query>`, "valid-filter", 403},
		{"ErrReversedRange", cq + `<C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"><C:time-range start="20060105T000000Z" end="20060104T000000Z"/></C:comp-filter></C:comp-filter></C:filter></C:calendar-query>`, "valid-filter", 403},
		{"ErrRangeOnVCALENDAR", cq + `<C:filter><C:comp-filter name="VCALENDAR"><C:time-range start="20060105T000000Z"/></C:comp-filter></C:filter></C:calendar-query>`, "valid-filter", 403},
		{"ErrTimezoneID", cq + `<C:filter><C:comp-filter name="VCALENDAR"/></C:filter><C:timezone-id>Mars/Base</C:timezone-id></C:calendar-query>`, "valid-timezone", 403},
		{"ErrDTD", `<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><C:calendar-query xmlns:C="urn:ietf:params:xml:ns:caldav"/>`, "", 400},
		{"ErrWrongRoot", `<C:calendar-multiget xmlns:C="urn:ietf:params:xml:ns:caldav"/>`, "", 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseCalendarQuery([]byte(tc.body))
			var qe *Error
			if !errors.As(err, &qe) || qe.Cond != tc.cond || qe.Status != tc.status {
				t.Fatalf("err = %v, want %d %s", err, tc.status, tc.cond)
			}
		})
	}
}

// TestQueryTimezone checks that a floating event is matched in the
// query's CALDAV:timezone-id, not in UTC.
func TestQueryTimezone(t *testing.T) {
	obj, err := ParseCalendarObject([]byte(crlf(`
BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//t//EN
BEGIN:VEVENT
UID:floating
DTSTAMP:20240101T000000Z
DTSTART:20240610T090000
DTEND:20240610T100000
END:VEVENT
END:VCALENDAR
`)))
	if err != nil {
		t.Fatal(err)
	}
	body := func(tz string) string {
		return cq + `<C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT">
			<C:time-range start="20240610T070000Z" end="20240610T073000Z"/></C:comp-filter></C:comp-filter></C:filter>` + tz + `</C:calendar-query>`
	}
	for tz, want := range map[string]bool{"": false, `<C:timezone-id>Europe/Berlin</C:timezone-id>`: true} {
		q, err := ParseCalendarQuery([]byte(body(tz)))
		if err != nil {
			t.Fatal(err)
		}
		if got, err := q.Match(context.Background(), obj, nil, Limits{}); err != nil || got != want {
			t.Errorf("timezone %q: match = %v, %v; want %v", tz, got, err, want)
		}
	}
}

// TestMaxInstances checks that an expansion over the limit is refused
// with CALDAV:max-instances instead of running unbounded.
func TestMaxInstances(t *testing.T) {
	obj, err := ParseCalendarObject([]byte(crlf(`
BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//t//EN
BEGIN:VEVENT
UID:minutely
DTSTAMP:20240101T000000Z
DTSTART:20240101T000000Z
RRULE:FREQ=MINUTELY
END:VEVENT
END:VCALENDAR
`)))
	if err != nil {
		t.Fatal(err)
	}
	q, err := ParseCalendarQuery([]byte(cq + `<D:prop><C:calendar-data><C:expand start="20240101T000000Z" end="20240201T000000Z"/></C:calendar-data></D:prop>
		<C:filter><C:comp-filter name="VCALENDAR"/></C:filter></C:calendar-query>`))
	if err != nil {
		t.Fatal(err)
	}
	_, err = q.Data.Render(context.Background(), obj, nil, Limits{MaxInstances: 500})
	var qe *Error
	if !errors.As(err, &qe) || qe.Cond != "max-instances" {
		t.Fatalf("err = %v, want CALDAV:max-instances", err)
	}
}
