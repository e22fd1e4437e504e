package dav

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/almanac/almanac/engine"
)

// chunkRecorder records the size of every Write: a handler that built the
// whole answer first would write it in one large piece.
type chunkRecorder struct {
	*httptest.ResponseRecorder
	writes, total, largest int
}

func (c *chunkRecorder) Write(p []byte) (int, error) {
	c.writes++
	c.total += len(p)
	c.largest = max(c.largest, len(p))
	return c.ResponseRecorder.Write(p)
}

// mustObjects fills alice's default calendar with n events.
func mustObjects(tb testing.TB, h *Handler, db *engine.DB, n int) {
	tb.Helper()
	ctx := context.Background()
	if err := h.ensureHome(ctx, "alice", testMeta); err != nil {
		tb.Fatal(err)
	}
	for i := range n {
		uid := fmt.Sprintf("ev%06d", i)
		if _, err := db.PutObject(ctx, testMeta, "/dav/home/alice/calendar/", uid+".ics", testEvent(uid), engine.PutOptions{}); err != nil {
			tb.Fatal(err)
		}
	}
}

func propfindRequest(depth string) *http.Request {
	r := httptest.NewRequest("PROPFIND", "/dav/home/alice/calendar/", strings.NewReader(
		`<propfind xmlns="DAV:"><prop><getetag/><getcontenttype/><resourcetype/></prop></propfind>`))
	r.Header.Set("Depth", depth)
	r.SetBasicAuth("alice", "alice")
	return r
}

// TestPropfindStreams checks that a Depth 1 PROPFIND reaches the client in
// bounded pieces rather than as one buffered document.
func TestPropfindStreams(t *testing.T) {
	h, db := mustHandler(t, Options{})
	const n = 3000
	mustObjects(t, h, db, n)
	rec := &chunkRecorder{ResponseRecorder: httptest.NewRecorder()}
	h.ServeHTTP(rec, propfindRequest("1"))
	if rec.Code != http.StatusMultiStatus {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	if got := strings.Count(rec.Body.String(), "<D:response>"); got != n+1 {
		t.Fatalf("got %d responses, want %d", got, n+1)
	}
	const piece = 192 << 10 // davxml's writer buffer
	if rec.largest > piece || rec.writes < rec.total/piece {
		t.Fatalf("answer of %d bytes written in %d writes, largest %d: not streamed", rec.total, rec.writes, rec.largest)
	}
}

// TestPropfindMembersAsDepth0: each member's DAV:response in a Depth 1
// listing, whose properties are planned once for all members
// (memberPlan), is byte for byte the one a Depth 0 PROPFIND of the
// member gets, for the object's own properties (a schedule tag on one
// member only), the live ones every member shares, a dead property on
// one member, and a property no member has.
func TestPropfindMembersAsDepth0(t *testing.T) {
	h, db := mustHandler(t, Options{})
	mustObjects(t, h, db, 3)
	ctx := context.Background()
	org := crlf("BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//test//EN\nBEGIN:VEVENT\nUID:org\nDTSTAMP:20260101T000000Z\nDTSTART:20260105T100000Z\n" +
		"ORGANIZER:mailto:alice@example.org\nATTENDEE:mailto:bob@example.org\nEND:VEVENT\nEND:VCALENDAR\n")
	if _, err := db.PutObject(ctx, testMeta, "/dav/home/alice/calendar/", "org.ics", []byte(org), engine.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := db.UpdateObjectProps(ctx, testMeta, "/dav/home/alice/calendar/", "ev000001.ics", func(dead map[string]string) error {
		dead["{urn:x}k"] = `<k xmlns="urn:x">v</k>`
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	const body = `<propfind xmlns="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav" xmlns:X="urn:x"><prop>` +
		`<getetag/><X:k/><getcontenttype/><resourcetype/><getcontentlength/><getlastmodified/><creationdate/>` +
		`<C:schedule-tag/><current-user-privilege-set/><owner/><acl/><inherited-acl-set/><supported-report-set/>` +
		`<current-user-principal/><displayname/><X:missing/></prop></propfind>`
	propfind := func(path, depth string) string {
		r := httptest.NewRequest("PROPFIND", path, strings.NewReader(body))
		r.Header.Set("Depth", depth)
		r.SetBasicAuth("alice", "alice")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		if rec.Code != http.StatusMultiStatus {
			t.Fatalf("PROPFIND %s Depth %s: %d %s", path, depth, rec.Code, rec.Body)
		}
		return rec.Body.String()
	}
	responses := func(doc string) []string {
		var out []string
		for _, part := range strings.Split(doc, "<D:response>")[1:] {
			resp, _, _ := strings.Cut(part, "</D:response>")
			out = append(out, resp)
		}
		return out
	}
	members := responses(propfind("/dav/home/alice/calendar/", "1"))[1:]
	if len(members) != 4 {
		t.Fatalf("%d members, want 4", len(members))
	}
	for _, m := range members {
		href, _, _ := strings.Cut(strings.TrimPrefix(m, "<D:href>"), "</D:href>")
		alone := responses(propfind(href, "0"))
		if len(alone) != 1 || alone[0] != m {
			t.Errorf("%s in the listing:\n%s\nalone:\n%s", href, m, alone)
		}
	}
	for _, want := range []string{"<C:schedule-tag>", "<k xmlns=\"urn:x\">v</k>", "<D:owner>"} {
		if !strings.Contains(strings.Join(members, ""), want) {
			t.Errorf("no member has %s:\n%s", want, members)
		}
	}
}
