package web

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/almanac/almanac/engine"
)

// TestAdminHistory: an administrator sees another user's timeline
// (?u=), and undeletes and previews a restore there, the links and forms
// carrying the owner on; the undelete's actor is the administrator. A
// user naming another owner gets 404 for the page and the POSTs, and
// changes nothing.
func TestAdminHistory(t *testing.T) {
	a := mustApp(t, Options{})
	ctx := context.Background()
	alice := engine.Meta{Actor: "alice", UserAgent: "DAVx5/4.4"}
	if _, err := a.db.PutObject(ctx, alice, "/dav/home/alice/calendar/", "f.ics", ics("f", "Gym", ""), engine.PutOptions{ContentType: "text/calendar"}); err != nil {
		t.Fatal(err)
	}
	if err := a.db.DeleteObject(ctx, alice, "/dav/home/alice/calendar/", "f.ics", ""); err != nil {
		t.Fatal(err)
	}
	bob := a.browser(t)
	bob.signIn("bob")
	if code, _ := bob.get("/history?c=calendar&u=alice"); code != 404 {
		t.Errorf("bob's look at alice's timeline: %d, want 404", code)
	}
	if code, _, _ := bob.post("/history/undelete", url.Values{"c": {"calendar"}, "o": {"f.ics"}, "u": {"alice"}}); code != 404 {
		t.Errorf("bob's undelete in alice's calendar: %d, want 404", code)
	}
	if _, err := a.db.Object("/dav/home/alice/calendar/", "f.ics", false); err == nil {
		t.Fatal("bob's undelete brought f.ics back")
	}

	root := a.browser(t)
	root.signIn("root")
	if _, body := root.get("/manage/users"); !strings.Contains(body, `action="/history"`) {
		t.Error("the users page has no way to a user's history")
	}
	code, body := root.get("/history?c=calendar&u=alice")
	if code != 200 || !strings.Contains(body, "Undelete f.ics") || !strings.Contains(body, `name="u" value="alice"`) ||
		!strings.Contains(body, "&amp;u=alice") {
		t.Fatalf("root's look at alice's timeline: %d\n%s", code, body)
	}
	if code, body, _ := root.post("/history/preview", url.Values{"c": {"calendar"}, "u": {"alice"}, "at": {"1"}}); code != 200 || !strings.Contains(body, `name="u" value="alice"`) {
		t.Errorf("root's preview in alice's calendar: %d", code)
	}
	code, _, resp := root.post("/history/undelete", url.Values{"c": {"calendar"}, "o": {"f.ics"}, "u": {"alice"}})
	if code != 303 || !strings.Contains(resp.Header.Get("Location"), "u=alice") {
		t.Fatalf("root's undelete: %d to %q", code, resp.Header.Get("Location"))
	}
	if _, err := a.db.Object("/dav/home/alice/calendar/", "f.ics", false); err != nil {
		t.Fatalf("after root's undelete: %v", err)
	}
	v, _ := a.db.View()
	defer v.Close()
	evs, err := v.History("/dav/home/alice/calendar/", "f.ics")
	if err != nil || len(evs) == 0 || evs[len(evs)-1].Actor != "root" {
		t.Errorf("the undelete's actor: %v, %v; want root", evs, err)
	}
	if code, _ := root.get("/history?c=calendar&u=nobody"); code != 404 {
		t.Errorf("root's look at a missing user's calendar: %d, want 404", code)
	}
}
