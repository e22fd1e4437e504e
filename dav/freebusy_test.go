package dav

import (
	"context"
	"fmt"
	"slices"
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
// ATTENDEE matches whatever the case of its scheme and domain.
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
}
