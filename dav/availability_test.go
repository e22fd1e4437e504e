package dav

import (
	"net/http"
	"slices"
	"strings"
	"testing"
)

// TestAvailabilityResource: bob makes a calendar listing VAVAILABILITY
// (MKCALENDAR), PUTs a VAVAILABILITY into it (201; into his default
// calendar, which does not list it, 403 supported-calendar-component),
// and alice's free-busy lookup and the free-busy-query REPORT on that
// calendar answer the time outside its AVAILABLE as BUSY-UNAVAILABLE.
func TestAvailabilityResource(t *testing.T) {
	h, db := mustHandler(t, Options{})
	mustSchedulingUsers(t, h, db, "alice", "bob")
	const mk = `<C:mkcalendar xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:set><D:prop><C:supported-calendar-component-set>` +
		`<C:comp name="VEVENT"/><C:comp name="VAVAILABILITY"/></C:supported-calendar-component-set></D:prop></D:set></C:mkcalendar>`
	if rec := serveUser(h, "bob", "MKCALENDAR", "/dav/home/bob/avail/", mk); rec.Code != http.StatusCreated {
		t.Fatalf("MKCALENDAR = %d\n%s", rec.Code, rec.Body)
	}
	body := "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VAVAILABILITY\r\nUID:av\r\nDTSTAMP:20260101T000000Z\r\n" +
		"ORGANIZER:mailto:bob@example.org\r\nDTSTART:20260105T000000Z\r\nDTEND:20260106T000000Z\r\n" +
		"BEGIN:AVAILABLE\r\nUID:av1\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20260105T090000Z\r\nDTEND:20260105T170000Z\r\nEND:AVAILABLE\r\n" +
		"END:VAVAILABILITY\r\nEND:VCALENDAR\r\n"
	if rec := serveUser(h, "bob", "PUT", "/dav/home/bob/calendar/av.ics", body, "Content-Type", "text/calendar"); rec.Code != http.StatusForbidden ||
		!strings.Contains(rec.Body.String(), "supported-calendar-component") {
		t.Fatalf("PUT into the default calendar = %d\n%s", rec.Code, rec.Body)
	}
	if rec := serveUser(h, "bob", "PUT", "/dav/home/bob/avail/av.ics", body, "Content-Type", "text/calendar"); rec.Code != http.StatusCreated {
		t.Fatalf("PUT = %d\n%s", rec.Code, rec.Body)
	}
	want := []string{"BUSY-UNAVAILABLE 20260105T000000Z/20260105T090000Z,20260105T170000Z/20260106T000000Z"}
	if got := freeBusyLines(t, h, "bob@example.org", "20260104T000000Z", "20260108T000000Z"); !slices.Equal(got, want) {
		t.Errorf("bob's busy time\n got %q\nwant %q", got, want)
	}
	const report = `<C:free-busy-query xmlns:C="urn:ietf:params:xml:ns:caldav"><C:time-range start="20260104T000000Z" end="20260108T000000Z"/></C:free-busy-query>`
	rec := serveUser(h, "bob", "REPORT", "/dav/home/bob/avail/", report, "Depth", "1")
	line := "FREEBUSY;FBTYPE=BUSY-UNAVAILABLE:20260105T000000Z/20260105T090000Z,20260105T170000Z/20260106T000000Z\r\n"
	if rec.Code != http.StatusOK || !strings.Contains(strings.ReplaceAll(rec.Body.String(), "\r\n ", ""), line) {
		t.Errorf("free-busy-query lacks %q: %d\n%s", line, rec.Code, rec.Body)
	}
}
