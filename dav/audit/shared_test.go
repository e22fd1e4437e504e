package audit

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/almanac/almanac/dav"
	"github.com/almanac/almanac/engine"
)

// TestHistoryOfShared checks ?history and ?restore on a shared calendar
// through dav.Handler: a read sharee reads the history at the owner's URL
// and through the mount (which reaches the owner's path), and it names
// the actor; a restore needs the owner (403 DAV:need-privileges); a
// stranger gets 404 for both.
func TestHistoryOfShared(t *testing.T) {
	db := mustOpen(t)
	mustCalendar(t, db)
	for _, u := range []string{"alice", "bob", "carol"} {
		if err := db.PutUser(ctx, aliceMeta, engine.User{Name: u}); err != nil {
			t.Fatal(err)
		}
	}
	auth := fakeAuth{"alice": engine.RoleUser, "bob": engine.RoleUser, "carol": engine.RoleUser}
	h, err := dav.NewHandler(dav.Options{DB: db, Auth: auth, Audit: &User{DB: db}})
	if err != nil {
		t.Fatal(err)
	}
	do := func(user, method, path string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, path, nil)
		req.SetBasicAuth(user, "secret")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	do("bob", "PROPFIND", "/dav/") // bob's home
	if _, err := db.PutObject(ctx, aliceMeta, cal, "a.ics", calObject(vevent("a", "A")), engine.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := db.Grant(ctx, aliceMeta, cal, "bob", engine.AccessRead, engine.GrantOptions{AutoAccept: true}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{cal + "a.ics?history", "/dav/home/bob/alice-calendar/a.ics?history"} {
		rec := do("bob", http.MethodGet, p)
		if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"alice"`) {
			t.Fatalf("bob GET %s: %d %s", p, rec.Code, rec.Body)
		}
	}
	if rec := do("bob", http.MethodPost, cal+"?restore=1"); rec.Code != http.StatusForbidden || !strings.Contains(rec.Body.String(), "need-privileges") {
		t.Fatalf("bob's restore: %d %s", rec.Code, rec.Body)
	}
	for _, m := range []string{http.MethodGet + " " + cal + "a.ics?history", http.MethodPost + " " + cal + "?restore=1"} {
		method, path, _ := strings.Cut(m, " ")
		if rec := do("carol", method, path); rec.Code != http.StatusNotFound {
			t.Fatalf("carol %s: %d %s", m, rec.Code, rec.Body)
		}
	}
}
