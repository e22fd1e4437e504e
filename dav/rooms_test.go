package dav

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/almanac/almanac/engine"
	"github.com/emersion/go-ical"
)

// mustRoom gives the handler a resource name of type typ with policy p,
// the address NAME@example.org and its home.
func mustRoom(tb testing.TB, h *Handler, db *engine.DB, name string, typ engine.ResourceType, p engine.AutoSchedule) {
	tb.Helper()
	err := db.AddUser(context.Background(), testMeta, engine.User{Name: name, Disabled: true, Emails: []string{name + "@example.org"},
		Resource: &engine.Resource{Type: typ, AutoSchedule: p, DisplayName: "The " + name}})
	if err != nil {
		tb.Fatal(err)
	}
	if err := EnsureHome(context.Background(), db, name, testMeta); err != nil {
		tb.Fatal(err)
	}
}

// principalTypes parses a multistatus of principals into href ->
// calendar-user-type (and displayname).
func principalTypes(tb testing.TB, body []byte) map[string][2]string {
	tb.Helper()
	var ms struct {
		Responses []struct {
			Href string `xml:"DAV: href"`
			Prop struct {
				Type string `xml:"urn:ietf:params:xml:ns:caldav calendar-user-type"`
				Name string `xml:"DAV: displayname"`
			} `xml:"DAV: propstat>prop"`
		} `xml:"DAV: response"`
	}
	if err := xml.Unmarshal(body, &ms); err != nil {
		tb.Fatalf("%v: %s", err, body)
	}
	out := map[string][2]string{}
	for _, r := range ms.Responses {
		out[r.Href] = [2]string{r.Prop.Type, r.Prop.Name}
	}
	return out
}

// TestRoomPrincipals: a room's and a resource's principals say ROOM and
// RESOURCE with their display names; CalendarServer's principal search
// (what iOS and macOS send for the location field) finds rooms by the
// context "location", resources by "resource", people by "user", and all
// of them by "attendee"; DAV:principal-property-search on
// calendar-user-type finds the rooms.
func TestRoomPrincipals(t *testing.T) {
	h, db := mustHandler(t, Options{})
	mustSchedulingUsers(t, h, db, "alice", "roberta")
	mustRoom(t, h, db, "room-blue", engine.ResourceRoom, engine.AutoAcceptIfFree)
	mustRoom(t, h, db, "beamer", engine.ResourceThing, engine.AutoAccept)

	rec := serveUser(h, "alice", "PROPFIND", "/dav/principals/room-blue/",
		`<propfind xmlns="DAV:"><prop><C:calendar-user-type xmlns:C="urn:ietf:params:xml:ns:caldav"/><displayname/></prop></propfind>`, "Depth", "0")
	if rec.Code != http.StatusMultiStatus {
		t.Fatalf("PROPFIND: %d %s", rec.Code, rec.Body)
	}
	if got, want := principalTypes(t, rec.Body.Bytes())["/dav/principals/room-blue/"], [2]string{"ROOM", "The room-blue"}; got != want {
		t.Errorf("room-blue: %v, want %v", got, want)
	}
	search := func(context, token string) []string {
		t.Helper()
		body := `<CS:calendarserver-principal-property-search xmlns:CS="http://calendarserver.org/ns/" xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav" context="` +
			context + `"><CS:search-token>` + token + `</CS:search-token><D:prop><C:calendar-user-type/><D:displayname/></D:prop></CS:calendarserver-principal-property-search>`
		rec := serveUser(h, "alice", "REPORT", "/dav/principals/", body, "Depth", "0")
		if rec.Code != http.StatusMultiStatus {
			t.Fatalf("search %s %s: %d %s", context, token, rec.Code, rec.Body)
		}
		var out []string
		for href, v := range principalTypes(t, rec.Body.Bytes()) {
			out = append(out, href+" "+v[0])
		}
		slices.Sort(out)
		return out
	}
	for _, c := range []struct {
		context, token string
		want           []string
	}{
		{"location", "r", []string{"/dav/principals/room-blue/ ROOM"}},
		{"location", "example.org", []string{"/dav/principals/room-blue/ ROOM"}},
		{"resource", "e", []string{"/dav/principals/beamer/ RESOURCE"}},
		{"user", "ro", []string{"/dav/principals/roberta/ INDIVIDUAL"}},
		{"attendee", "ro", []string{"/dav/principals/roberta/ INDIVIDUAL", "/dav/principals/room-blue/ ROOM"}},
		{"attendee", "the", []string{"/dav/principals/beamer/ RESOURCE", "/dav/principals/room-blue/ ROOM"}},
		{"nonsense", "r", nil},
	} {
		if got := search(c.context, c.token); !slices.Equal(got, c.want) {
			t.Errorf("context %q token %q: %v, want %v", c.context, c.token, got, c.want)
		}
	}
	rec = serveUser(h, "alice", "REPORT", "/dav/principals/", `<D:principal-property-search xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">`+
		`<D:property-search><D:prop><C:calendar-user-type/></D:prop><D:match match-type="equals">ROOM</D:match></D:property-search>`+
		`<D:prop><C:calendar-user-type/></D:prop></D:principal-property-search>`, "Depth", "0")
	got := principalTypes(t, rec.Body.Bytes())
	if len(got) != 1 || got["/dav/principals/room-blue/"][0] != "ROOM" {
		t.Errorf("principal-property-search for ROOM: %d %v", rec.Code, got)
	}
}

// booking is an event of alice's from start to end (UTC, 20260105T100000Z
// form) with the extra lines (an RRULE) and the attendees.
func booking(uid, start, end, extra string, attendees ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\nUID:%s\r\nDTSTAMP:20260101T000000Z\r\n"+
		"DTSTART:%s\r\nDTEND:%s\r\n%sSUMMARY:Booking\r\nORGANIZER:mailto:alice@example.org\r\n", uid, start, end, extra)
	for _, a := range attendees {
		fmt.Fprintf(&b, "ATTENDEE;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:%s\r\n", a)
	}
	b.WriteString("END:VEVENT\r\nEND:VCALENDAR\r\n")
	return b.String()
}

// partstatIn returns the PARTSTAT of attendee on the first component of
// the object path+name, "" when there is no object (or no attendee).
func partstatIn(tb testing.TB, db *engine.DB, path, name, attendee string) string {
	tb.Helper()
	o, err := db.Object(path, name, true)
	if errors.Is(err, engine.ErrNotFound) {
		return ""
	}
	if err != nil {
		tb.Fatal(err)
	}
	cal, err := engine.ParseCalendar(o.Body)
	if err != nil {
		tb.Fatal(err)
	}
	for _, c := range cal.Children {
		for _, p := range c.Props[ical.PropAttendee] {
			if strings.EqualFold(p.Value, "mailto:"+attendee) {
				return p.Params.Get(ical.ParamParticipationStatus)
			}
		}
	}
	return ""
}

// TestRoomAutoSchedule plays a room's bookings step by step: after each
// of alice's PUTs, the PARTSTAT of the room on alice's copy and on the
// room's own calendar copy ("" for none) must be as the room's policy
// says: accept-if-free accepts a free slot and declines an overlap (a
// recurring booking when one instance overlaps) and keeps no copy of
// what it declined; moving a booking re-decides it; accept takes
// anything; manual leaves NEEDS-ACTION until a manager (a member of the
// managers group, a write delegate of the room) answers in the room's
// calendar, which replies to alice.
func TestRoomAutoSchedule(t *testing.T) {
	h, db := mustHandler(t, Options{})
	mustSchedulingUsers(t, h, db, "alice", "bob", "carol")
	mustRoom(t, h, db, "blue", engine.ResourceRoom, engine.AutoAcceptIfFree)
	mustRoom(t, h, db, "beamer", engine.ResourceThing, engine.AutoAccept)
	mustRoom(t, h, db, "hall", engine.ResourceRoom, engine.AutoManual)
	ctx := context.Background()
	if err := db.PutGroup(ctx, testMeta, engine.Group{Name: "facilities", Members: []string{"carol"}}); err != nil {
		t.Fatal(err)
	}
	if err := db.SetProxy(ctx, testMeta, "hall", "facilities", engine.AccessReadWrite); err != nil {
		t.Fatal(err)
	}
	const ten, eleven, noon = "20260105T100000Z", "20260105T110000Z", "20260105T120000Z"
	for _, s := range []struct {
		step, uid, body string
		room            string
		org, own        string // the room's PARTSTAT on alice's copy and on its own
	}{
		{"free slot", "a", booking("a", ten, eleven, "", "bob@example.org", "blue@example.org"), "blue", "ACCEPTED", "ACCEPTED"},
		{"overlap", "b", booking("b", "20260105T103000Z", noon, "", "blue@example.org"), "blue", "DECLINED", ""},
		{"moved to a free slot", "b", booking("b", eleven, noon, "SEQUENCE:1\r\n", "blue@example.org"), "blue", "ACCEPTED", "ACCEPTED"},
		{"same booking again", "b", booking("b", eleven, noon, "SEQUENCE:2\r\nLOCATION:blue\r\n", "blue@example.org"), "blue", "ACCEPTED", "ACCEPTED"},
		{"weekly, the first instance overlaps", "c", booking("c", "20251229T103000Z", "20251229T110000Z", "RRULE:FREQ=WEEKLY;COUNT=4\r\n", "blue@example.org"), "blue", "DECLINED", ""},
		{"weekly, free", "d", booking("d", "20251229T080000Z", "20251229T090000Z", "RRULE:FREQ=WEEKLY;COUNT=4\r\n", "blue@example.org"), "blue", "ACCEPTED", "ACCEPTED"},
		{"moved onto another booking", "a", booking("a", "20260112T080000Z", "20260112T083000Z", "SEQUENCE:1\r\n", "bob@example.org", "blue@example.org"), "blue", "DECLINED", ""},
		{"auto-accept takes an overlap", "e", booking("e", ten, eleven, "", "beamer@example.org"), "beamer", "ACCEPTED", "ACCEPTED"},
		{"auto-accept, second overlap", "f", booking("f", ten, eleven, "", "beamer@example.org"), "beamer", "ACCEPTED", "ACCEPTED"},
		{"manual", "g", booking("g", ten, eleven, "", "hall@example.org"), "hall", "NEEDS-ACTION", "NEEDS-ACTION"},
	} {
		rec := serveUser(h, "alice", "PUT", "/dav/home/alice/calendar/"+s.uid+".ics", s.body)
		if rec.Code != http.StatusCreated && rec.Code != http.StatusNoContent {
			t.Fatalf("%s: PUT %d %s", s.step, rec.Code, rec.Body)
		}
		org := partstatIn(t, db, "/dav/home/alice/calendar/", s.uid+".ics", s.room+"@example.org")
		own := partstatIn(t, db, "/dav/home/"+s.room+"/calendar/", s.uid+".ics", s.room+"@example.org")
		if org != s.org || own != s.own {
			t.Errorf("%s: the room on alice's copy %q, on its own %q; want %q and %q", s.step, org, own, s.org, s.own)
		}
	}
	if got := partstatIn(t, db, "/dav/home/bob/calendar/", "a.ics", "bob@example.org"); got != "NEEDS-ACTION" {
		t.Errorf("bob's own PARTSTAT %q: a room's answer changed a person's", got)
	}
	if got := inboxNames(t, db, "hall"); len(got) != 1 {
		t.Errorf("hall's inbox %v, want the one invitation", got)
	}

	t.Run("ManagerAnswers", func(t *testing.T) {
		o, err := db.Object("/dav/home/hall/calendar/", "g.ics", true)
		if err != nil {
			t.Fatal(err)
		}
		body := strings.Replace(string(o.Body), "PARTSTAT=NEEDS-ACTION", "PARTSTAT=ACCEPTED", 1)
		if rec := serveUser(h, "bob", "PUT", "/dav/home/hall/calendar/g.ics", body); rec.Code != http.StatusNotFound && rec.Code != http.StatusForbidden {
			t.Errorf("bob, no manager, answered for hall: %d", rec.Code)
		}
		if rec := serveUser(h, "carol", "PUT", "/dav/home/hall/calendar/g.ics", body, "If-Match", o.ETag); rec.Code != http.StatusNoContent {
			t.Fatalf("carol's answer for hall: %d %s", rec.Code, rec.Body)
		}
		if got := partstatIn(t, db, "/dav/home/alice/calendar/", "g.ics", "hall@example.org"); got != "ACCEPTED" {
			t.Errorf("hall on alice's copy after the manager's answer: %q, want ACCEPTED", got)
		}
	})
}

// availability is a calendar-availability PROPPATCH body: available
// Monday to Friday 08:00-17:00 UTC from Monday 5 January 2026 on (RFC
// 7953 §3.1's example, in UTC).
const availability = `<?xml version="1.0" encoding="utf-8"?>
<D:propertyupdate xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:set><D:prop><C:calendar-availability>BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//test//EN
BEGIN:VAVAILABILITY
UID:av-1
DTSTAMP:20260101T000000Z
DTSTART:20260105T000000Z
BEGIN:AVAILABLE
UID:av-1-a
DTSTAMP:20260101T000000Z
DTSTART:20260105T080000Z
DTEND:20260105T170000Z
RRULE:FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR
END:AVAILABLE
END:VAVAILABILITY
END:VCALENDAR
</C:calendar-availability></D:prop></D:set></D:propertyupdate>`

// freeBusyLines posts a VFREEBUSY REQUEST of alice's for attendee over
// [start, end) and returns the FREEBUSY lines of the answer.
func freeBusyLines(t *testing.T, h *Handler, attendee, start, end string) []string {
	t.Helper()
	body := "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nMETHOD:REQUEST\r\nBEGIN:VFREEBUSY\r\nUID:fb\r\nDTSTAMP:20260101T000000Z\r\n" +
		"DTSTART:" + start + "\r\nDTEND:" + end + "\r\nORGANIZER:mailto:alice@example.org\r\nATTENDEE:mailto:" + attendee + "\r\nEND:VFREEBUSY\r\nEND:VCALENDAR\r\n"
	rec := serveUser(h, "alice", "POST", "/dav/home/alice/outbox/", body)
	if rec.Code != http.StatusOK {
		t.Fatalf("free-busy POST: %d %s", rec.Code, rec.Body)
	}
	var sr struct {
		Data []string `xml:"urn:ietf:params:xml:ns:caldav response>calendar-data"`
	}
	if err := xml.Unmarshal(rec.Body.Bytes(), &sr); err != nil || len(sr.Data) != 1 {
		t.Fatalf("schedule-response %v: %s", err, rec.Body)
	}
	cal, err := engine.ParseCalendar([]byte(sr.Data[0]))
	if err != nil {
		t.Fatalf("%v: %s", err, sr.Data[0])
	}
	var out []string
	for _, c := range cal.Children {
		for _, p := range c.Props[ical.PropFreeBusy] {
			out = append(out, p.Params.Get("FBTYPE")+" "+p.Value)
		}
	}
	return out
}

// TestAvailability: the inbox's calendar-availability (RFC 7953 §7.2.4,
// as Apple's clients set it) makes the time outside the AVAILABLE
// instances BUSY-UNAVAILABLE in free-busy, around the events' BUSY; an
// accept-if-free room declines a booking outside its availability and
// accepts one inside.
func TestAvailability(t *testing.T) {
	h, db := mustHandler(t, Options{})
	mustSchedulingUsers(t, h, db, "alice", "bob")
	mustRoom(t, h, db, "blue", engine.ResourceRoom, engine.AutoAcceptIfFree)
	if rec := serveUser(h, "bob", "PROPPATCH", "/dav/home/bob/inbox/", availability); rec.Code != http.StatusMultiStatus || strings.Contains(rec.Body.String(), "HTTP/1.1 4") {
		t.Fatalf("PROPPATCH calendar-availability: %d %s", rec.Code, rec.Body)
	}
	if rec := serveUser(h, "bob", "PUT", "/dav/home/bob/calendar/x.ics", booking("x", "20260106T100000Z", "20260106T110000Z", "")); rec.Code != http.StatusCreated {
		t.Fatalf("PUT: %d %s", rec.Code, rec.Body)
	}
	got := freeBusyLines(t, h, "bob@example.org", "20260105T000000Z", "20260107T000000Z")
	want := []string{
		"BUSY 20260106T100000Z/20260106T110000Z",
		"BUSY-UNAVAILABLE 20260105T000000Z/20260105T080000Z,20260105T170000Z/20260106T080000Z,20260106T170000Z/20260107T000000Z",
	}
	if !slices.Equal(got, want) {
		t.Errorf("bob's free-busy:\n%q\nwant\n%q", got, want)
	}
	// Before the VAVAILABILITY's DTSTART nothing is unavailable.
	if got := freeBusyLines(t, h, "bob@example.org", "20260101T000000Z", "20260102T000000Z"); len(got) != 0 {
		t.Errorf("before the availability: %q, want none", got)
	}

	// A room available Monday to Friday 8-17 too, set by its manager.
	ctx := context.Background()
	if err := db.PutGroup(ctx, testMeta, engine.Group{Name: "facilities", Members: []string{"carol"}}); err != nil {
		t.Fatal(err)
	}
	if err := db.SetProxy(ctx, testMeta, "blue", "facilities", engine.AccessReadWrite); err != nil {
		t.Fatal(err)
	}
	if rec := serveUser(h, "carol", "PROPPATCH", "/dav/home/blue/inbox/", availability); rec.Code != http.StatusMultiStatus || strings.Contains(rec.Body.String(), "HTTP/1.1 4") {
		t.Fatalf("the manager's PROPPATCH of the room's calendar-availability: %d %s", rec.Code, rec.Body)
	}
	for _, c := range []struct{ uid, start, end, want string }{
		{"night", "20260106T200000Z", "20260106T210000Z", "DECLINED"},
		{"saturday", "20260110T100000Z", "20260110T110000Z", "DECLINED"},
		{"office-hours", "20260106T100000Z", "20260106T110000Z", "ACCEPTED"},
		{"overrunning", "20260107T163000Z", "20260107T173000Z", "DECLINED"},
	} {
		if rec := serveUser(h, "alice", "PUT", "/dav/home/alice/calendar/"+c.uid+".ics", booking(c.uid, c.start, c.end, "", "blue@example.org")); rec.Code != http.StatusCreated {
			t.Fatalf("%s: PUT %d %s", c.uid, rec.Code, rec.Body)
		}
		if got := partstatIn(t, db, "/dav/home/alice/calendar/", c.uid+".ics", "blue@example.org"); got != c.want {
			t.Errorf("%s: the room answered %q, want %q", c.uid, got, c.want)
		}
	}
}
