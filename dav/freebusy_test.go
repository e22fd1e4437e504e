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

// TestFreeBusyParticipation: the busy time alice looks up for bob counts
// what bob's answer to each event says (RFC 5545 §3.2.9, RFC 4791
// §7.10, as CalendarServer does): an event he DECLINED is not busy, one
// he accepted TENTATIVE is BUSY-TENTATIVE, one he ACCEPTED is BUSY;
// TRANSP:TRANSPARENT and STATUS:CANCELLED are never busy; an instance of
// a recurring event he declined alone is free while the others stay
// busy; another attendee's DECLINED changes nothing for bob; his
// ATTENDEE matches whatever the case of its scheme and domain. The
// free-busy-query REPORT on his calendar counts his answers the same.
func TestFreeBusyParticipation(t *testing.T) {
	h, db := mustHandler(t, Options{})
	mustSchedulingUsers(t, h, db, "alice", "bob")
	event := func(uid, start, end, extra string) string {
		return fmt.Sprintf("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\nUID:%s\r\nDTSTAMP:20260101T000000Z\r\n"+
			"DTSTART:%s\r\nDTEND:%s\r\nORGANIZER:mailto:carol@example.org\r\n%sEND:VEVENT\r\nEND:VCALENDAR\r\n", uid, start, end, extra)
	}
	const bob = "ATTENDEE;PARTSTAT=%s:MAILTO:bob@Example.ORG\r\n"
	for name, body := range map[string]string{
		"declined":  event("declined", "20260105T080000Z", "20260105T090000Z", fmt.Sprintf(bob, "DECLINED")),
		"tentative": event("tentative", "20260105T100000Z", "20260105T110000Z", fmt.Sprintf(bob, "TENTATIVE")),
		"accepted":  event("accepted", "20260105T120000Z", "20260105T130000Z", fmt.Sprintf(bob, "ACCEPTED")+"ATTENDEE;PARTSTAT=DECLINED:mailto:dave@example.org\r\n"),
		"transp":    event("transp", "20260105T140000Z", "20260105T150000Z", fmt.Sprintf(bob, "ACCEPTED")+"TRANSP:TRANSPARENT\r\n"),
		"cancelled": event("cancelled", "20260105T160000Z", "20260105T170000Z", fmt.Sprintf(bob, "ACCEPTED")+"STATUS:CANCELLED\r\n"),
		"daily": "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n" +
			"BEGIN:VEVENT\r\nUID:daily\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20260105T180000Z\r\nDTEND:20260105T190000Z\r\nRRULE:FREQ=DAILY;COUNT=3\r\n" +
			"ORGANIZER:mailto:carol@example.org\r\n" + fmt.Sprintf(bob, "ACCEPTED") + "END:VEVENT\r\n" +
			"BEGIN:VEVENT\r\nUID:daily\r\nDTSTAMP:20260101T000000Z\r\nRECURRENCE-ID:20260106T180000Z\r\nDTSTART:20260106T180000Z\r\nDTEND:20260106T190000Z\r\n" +
			"ORGANIZER:mailto:carol@example.org\r\n" + fmt.Sprintf(bob, "DECLINED") + "END:VEVENT\r\nEND:VCALENDAR\r\n",
	} {
		if _, err := db.PutObject(context.Background(), testMeta, "/dav/home/bob/calendar/", name+".ics", []byte(body), engine.PutOptions{}); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	got := freeBusyLines(t, h, "bob@example.org", "20260105T000000Z", "20260108T000000Z")
	want := []string{
		"BUSY 20260105T120000Z/20260105T130000Z,20260105T180000Z/20260105T190000Z,20260107T180000Z/20260107T190000Z",
		"BUSY-TENTATIVE 20260105T100000Z/20260105T110000Z",
	}
	if !slices.Equal(got, want) {
		t.Errorf("bob's busy time\n got %q\nwant %q", got, want)
	}
	const report = `<C:free-busy-query xmlns:C="urn:ietf:params:xml:ns:caldav"><C:time-range start="20260105T000000Z" end="20260108T000000Z"/></C:free-busy-query>`
	rec := serveUser(h, "bob", "REPORT", "/dav/home/bob/calendar/", report, "Depth", "1")
	unfolded := strings.ReplaceAll(rec.Body.String(), "\r\n ", "")
	for _, w := range want {
		if line := "FREEBUSY;FBTYPE=" + strings.Replace(w, " ", ":", 1); rec.Code != http.StatusOK || !strings.Contains(unfolded, line+"\r\n") {
			t.Errorf("free-busy-query lacks %s: %d\n%s", line, rec.Code, rec.Body)
		}
	}
}

// TestFreeBusyPrivate: by default every user sees bob's busy time; once
// bob sets A:free-busy-private on his inbox, alice (no grant) gets 3.8
// and no busy time, carol (read-free-busy on bob's work calendar) sees
// that calendar's busy time only, bob himself still sees all of it; set
// to "false" it is public again.
func TestFreeBusyPrivate(t *testing.T) {
	h, db := mustHandler(t, Options{})
	mustSchedulingUsers(t, h, db, "alice", "bob", "carol")
	ctx := context.Background()
	if rec := serveUser(h, "bob", "MKCALENDAR", "/dav/home/bob/work/", ""); rec.Code != http.StatusCreated {
		t.Fatalf("MKCALENDAR: %d %s", rec.Code, rec.Body)
	}
	for _, c := range []struct{ coll, uid, start string }{{"calendar", "home", "20260105T080000Z"}, {"work", "work", "20260105T100000Z"}} {
		body := "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\nUID:" + c.uid + "\r\nDTSTAMP:20260101T000000Z\r\n" +
			"DTSTART:" + c.start + "\r\nDURATION:PT1H\r\nSUMMARY:secret\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
		if _, err := db.PutObject(ctx, testMeta, "/dav/home/bob/"+c.coll+"/", c.uid+".ics", []byte(body), engine.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Grant(ctx, testMeta, "/dav/home/bob/work/", "carol", engine.AccessFreeBusy, engine.GrantOptions{}); err != nil {
		t.Fatal(err)
	}
	const home, work = "20260105T080000Z/20260105T090000Z", "20260105T100000Z/20260105T110000Z"
	lookup := func(asker string) string {
		t.Helper()
		body := "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nMETHOD:REQUEST\r\nBEGIN:VFREEBUSY\r\nUID:fb\r\nDTSTAMP:20260101T000000Z\r\n" +
			"DTSTART:20260105T000000Z\r\nDTEND:20260106T000000Z\r\nORGANIZER:mailto:" + asker + "@example.org\r\nATTENDEE:mailto:bob@example.org\r\nEND:VFREEBUSY\r\nEND:VCALENDAR\r\n"
		rec := serveUser(h, asker, "POST", "/dav/home/"+asker+"/outbox/", body)
		if rec.Code != http.StatusOK {
			t.Fatalf("%s's lookup: %d %s", asker, rec.Code, rec.Body)
		}
		return strings.ReplaceAll(rec.Body.String(), "&#13;\n ", "") // unfolded
	}
	setPrivate := func(value string) {
		t.Helper()
		body := `<D:propertyupdate xmlns:D="DAV:" xmlns:A="http://almanac.invalid/ns/"><D:set><D:prop><A:free-busy-private>` + value + `</A:free-busy-private></D:prop></D:set></D:propertyupdate>`
		if rec := serveUser(h, "bob", "PROPPATCH", "/dav/home/bob/inbox/", body); rec.Code != http.StatusMultiStatus || strings.Contains(rec.Body.String(), "HTTP/1.1 4") {
			t.Fatalf("PROPPATCH free-busy-private: %d %s", rec.Code, rec.Body)
		}
	}
	for _, tc := range []struct {
		private   string // "" leaves the property unset
		asker     string
		want, not []string
	}{
		{"", "alice", []string{"2.0;Success", home, work}, []string{"3.8"}},
		{"true", "alice", []string{"3.8;No authority"}, []string{"2.0", home, work, "secret"}},
		{"true", "carol", []string{"2.0;Success", work}, []string{home, "3.8", "secret"}},
		{"true", "bob", []string{"2.0;Success", home, work}, []string{"3.8"}},
		{"false", "alice", []string{"2.0;Success", home, work}, []string{"3.8"}},
	} {
		if tc.private != "" {
			setPrivate(tc.private)
		}
		got := lookup(tc.asker)
		for _, w := range tc.want {
			if !strings.Contains(got, w) {
				t.Errorf("private %q, %s's lookup lacks %s:\n%s", tc.private, tc.asker, w, got)
			}
		}
		for _, n := range tc.not {
			if strings.Contains(got, n) {
				t.Errorf("private %q, %s's lookup holds %s:\n%s", tc.private, tc.asker, n, got)
			}
		}
	}
}
