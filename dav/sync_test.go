package dav

import (
	"context"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"testing"

	"github.com/almanac/almanac/dav/internal/davxml"
	"github.com/almanac/almanac/engine"
)

// TestInitialSyncMatchesChanges checks that an initial sync-collection
// without a limit, which scans the objects instead of the change index,
// answers the members and the token the engine's Changes gives for an
// empty token: with deletions, overwrites and a move in the history.
func TestInitialSyncMatchesChanges(t *testing.T) {
	h, db := mustHandler(t, Options{})
	mustObjects(t, h, db, 20)
	ctx := context.Background()
	const cal = "/dav/home/alice/calendar/"
	for i := range 5 {
		if err := db.DeleteObject(ctx, testMeta, cal, fmt.Sprintf("ev%06d.ics", i*3), ""); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.PutObject(ctx, testMeta, cal, "ev000001.ics", testEvent("ev000001"), engine.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.MoveObject(ctx, testMeta, engine.MoveRequest{FromPath: cal, FromName: "ev000002.ics", ToPath: cal, ToName: "moved.ics"}); err != nil {
		t.Fatal(err)
	}

	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, syncRequest(""))
	if rec.Code != http.StatusMultiStatus {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	var ms struct {
		Responses []struct {
			Href string `xml:"DAV: href"`
			ETag string `xml:"DAV: propstat>prop>getetag"`
		} `xml:"DAV: response"`
		Token string `xml:"DAV: sync-token"`
	}
	if err := xml.Unmarshal(rec.Body.Bytes(), &ms); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range ms.Responses {
		got = append(got, r.Href+" "+r.ETag)
	}
	sort.Strings(got)

	cs, err := db.Changes(cal, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, ch := range cs.Changes {
		want = append(want, davxml.Href(cal+ch.Name)+" "+ch.ETag)
	}
	sort.Strings(want)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("members:\n got %v\nwant %v", got, want)
	}
	if ms.Token != cs.Token {
		t.Errorf("token %q, want %q", ms.Token, cs.Token)
	}
}
