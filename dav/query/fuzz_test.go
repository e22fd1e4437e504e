package query

import (
	"context"
	"errors"
	"testing"
)

// FuzzCalendarQuery parses arbitrary query bodies and evaluates those that
// parse against the RFC 4791 sample calendar: no panics, and every
// rejection is an *Error with a 4xx status.
func FuzzCalendarQuery(f *testing.F) {
	objs := rfcObjects(f)
	f.Add(cq + `<C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"><C:time-range start="20060104T000000Z" end="20060105T000000Z"/></C:comp-filter></C:comp-filter></C:filter></C:calendar-query>`)
	f.Add(cq + `<D:prop><C:calendar-data><C:expand start="20060103T000000Z" end="20060105T000000Z"/></C:calendar-data></D:prop><C:filter><C:comp-filter name="VCALENDAR"/></C:filter></C:calendar-query>`)
	f.Add(cq + `<C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VTODO"><C:comp-filter name="VALARM"><C:time-range start="20060106T100000Z"/></C:comp-filter></C:comp-filter></C:comp-filter></C:filter></C:calendar-query>`)
	f.Add(cq + `<C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"><C:prop-filter name="ATTENDEE"><C:param-filter name="PARTSTAT"><C:text-match collation="i;unicode-casemap" negate-condition="yes">x</C:text-match></C:param-filter></C:prop-filter></C:comp-filter></C:comp-filter></C:filter></C:calendar-query>`)
	f.Fuzz(func(t *testing.T, body string) {
		q, err := ParseCalendarQuery([]byte(body))
		if err != nil {
			var qe *Error
			if !errors.As(err, &qe) || qe.Status < 400 || qe.Status > 499 {
				t.Fatalf("rejection %v is not a 4xx *Error", err)
			}
			return
		}
		for _, obj := range objs {
			if _, err := q.Match(context.Background(), obj, nil, Limits{MaxInstances: 1000}); err != nil {
				var qe *Error
				if !errors.As(err, &qe) {
					t.Fatalf("match: %v", err)
				}
			}
			if _, err := q.Data.Render(context.Background(), obj, nil, Limits{MaxInstances: 1000}); err != nil {
				var qe *Error
				if !errors.As(err, &qe) {
					t.Fatalf("render: %v", err)
				}
			}
		}
	})
}

// FuzzParseContent feeds arbitrary iCalendar text through the parser, the
// recurrence-aware evaluator and the shaper.
func FuzzParseContent(f *testing.F) {
	for _, obj := range rfcObjects(f) {
		f.Add(string(obj.Body))
	}
	f.Add("BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:a\r\nDTSTART;TZID=\"x;y\":20240101T000000\r\nRRULE:FREQ=SECONDLY\r\nEXDATE:20240101,20240102T000000Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")
	q, err := ParseCalendarQuery([]byte(cq + `<D:prop><C:calendar-data><C:expand start="20240101T000000Z" end="20240102T000000Z"/></C:calendar-data></D:prop>
		<C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"><C:time-range start="20240101T000000Z" end="20240102T000000Z"/></C:comp-filter></C:comp-filter></C:filter></C:calendar-query>`))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body string) {
		obj, err := ParseCalendarObject([]byte(body))
		if err != nil {
			return
		}
		lim := Limits{MaxInstances: 1000}
		_, _ = q.Match(context.Background(), obj, nil, lim)
		_, _ = q.Data.Render(context.Background(), obj, nil, lim)
		fb, _ := NewFreeBusy(TimeRange{Start: utcTime("20240101T000000Z"), End: utcTime("20240201T000000Z")}, lim)
		_ = fb.Add(context.Background(), obj, nil)
	})
}

// FuzzAddressbook parses vCards and queries them, converting versions.
func FuzzAddressbook(f *testing.F) {
	for _, c := range cards(f) {
		f.Add(string(c.Body))
	}
	q3, _ := ParseAddressbookQuery([]byte(aq + `<D:prop><C:address-data version="3.0"/></D:prop><C:filter><C:prop-filter name="EMAIL"><C:text-match>a</C:text-match></C:prop-filter></C:filter></C:addressbook-query>`))
	q4, _ := ParseAddressbookQuery([]byte(aq + `<D:prop><C:address-data version="4.0"><C:prop name="ADR"/></C:address-data></D:prop><C:filter/></C:addressbook-query>`))
	f.Fuzz(func(t *testing.T, body string) {
		c, err := ParseCard([]byte(body))
		if err != nil {
			return
		}
		for _, q := range []*AddressbookQuery{q3, q4} {
			q.Match(c)
			out := q.Data.Render(c)
			if _, err := ParseCard(out); err != nil {
				t.Fatalf("rendered card does not parse: %v\n%q", err, out)
			}
		}
	})
}
