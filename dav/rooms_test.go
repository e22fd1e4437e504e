package dav

import (
	"context"
	"encoding/xml"
	"net/http"
	"slices"
	"testing"

	"github.com/almanac/almanac/engine"
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
