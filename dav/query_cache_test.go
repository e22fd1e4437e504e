package dav

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/almanac/almanac/engine"
)

// TestObjectCacheRewrites: free-busy (POST and free-busy-query) and
// calendar-query read a single event's body and a series' parsed object
// from the object cache, skipping the store's read, and never an old
// version: after each rewrite of both (new times, new SUMMARY), every
// lookup answers with the new bodies, on its first run and its second
// (which is served from the cache the first filled), for a dead property
// change too (a new Seq, the same body).
func TestObjectCacheRewrites(t *testing.T) {
	h, db := mustHandler(t, Options{})
	mustSchedulingUsers(t, h, db, "alice", "bob")
	const cal = "/dav/home/bob/calendar/"
	ctx := context.Background()
	put := func(name, body string) {
		t.Helper()
		if _, err := db.PutObject(ctx, testMeta, cal, name, []byte(body), engine.PutOptions{}); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	const report = `<C:free-busy-query xmlns:C="urn:ietf:params:xml:ns:caldav"><C:time-range start="20260105T000000Z" end="20260108T000000Z"/></C:free-busy-query>`
	const query = `<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><D:getetag/><C:calendar-data/></D:prop>` +
		`<C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT"><C:time-range start="20260105T000000Z" end="20260108T000000Z"/>` +
		`</C:comp-filter></C:comp-filter></C:filter></C:calendar-query>`
	for round := range 3 {
		hour := 8 + 2*round
		put("single.ics", fmt.Sprintf("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\nUID:single\r\nDTSTAMP:20260101T000000Z\r\n"+
			"DTSTART:20260105T%02d0000Z\r\nDTEND:20260105T%02d3000Z\r\nSUMMARY:single round %d\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n", hour, hour, round))
		put("daily.ics", fmt.Sprintf("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\nUID:daily\r\nDTSTAMP:20260101T000000Z\r\n"+
			"DTSTART:20260105T%02d0000Z\r\nDTEND:20260105T%02d3000Z\r\nRRULE:FREQ=DAILY;COUNT=2\r\nSUMMARY:daily round %d\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n", hour+1, hour+1, round))
		want := []string{fmt.Sprintf("BUSY 20260105T%02d0000Z/20260105T%02d3000Z,20260105T%02d0000Z/20260105T%02d3000Z,20260106T%02d0000Z/20260106T%02d3000Z",
			hour, hour, hour+1, hour+1, hour+1, hour+1)}
		for run := range 2 {
			if got := freeBusyLines(t, h, "bob@example.org", "20260105T000000Z", "20260108T000000Z"); !slices.Equal(got, want) {
				t.Fatalf("round %d run %d: busy time\n got %q\nwant %q", round, run, got, want)
			}
			rec := serveUser(h, "bob", "REPORT", cal, report, "Depth", "1")
			if line := "FREEBUSY;FBTYPE=" + strings.Replace(want[0], " ", ":", 1); rec.Code != http.StatusOK || !strings.Contains(strings.ReplaceAll(rec.Body.String(), "\r\n ", ""), line+"\r\n") {
				t.Fatalf("round %d run %d: free-busy-query lacks %s: %d\n%s", round, run, line, rec.Code, rec.Body)
			}
			rec = serveUser(h, "bob", "REPORT", cal, query, "Depth", "1")
			body := rec.Body.String()
			for _, s := range []string{"single", "daily"} {
				if rec.Code != http.StatusMultiStatus || !strings.Contains(body, fmt.Sprintf("SUMMARY:%s round %d", s, round)) || strings.Count(body, "SUMMARY:"+s) != 1 {
					t.Fatalf("round %d run %d: calendar-query lacks %s's new body: %d\n%s", round, run, s, rec.Code, body)
				}
			}
		}
		if _, n := h.objects.Size(); n < 2 {
			t.Fatalf("round %d: %d objects cached: the lookups did not go through the cache", round, n)
		}
	}
	// A dead property change: a new Seq and ETag for the same body.
	rec := serveUser(h, "bob", "PROPPATCH", cal+"daily.ics", `<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><X:note xmlns:X="urn:x">n</X:note></D:prop></D:set></D:propertyupdate>`)
	if rec.Code != http.StatusMultiStatus {
		t.Fatalf("PROPPATCH: %d %s", rec.Code, rec.Body)
	}
	rec = serveUser(h, "bob", "REPORT", cal, query, "Depth", "1")
	if !strings.Contains(rec.Body.String(), "SUMMARY:daily round 2") {
		t.Fatalf("calendar-query after PROPPATCH: %d\n%s", rec.Code, rec.Body)
	}
}
