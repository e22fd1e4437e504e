package dav

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/almanac/almanac/dav/auth"
	"github.com/almanac/almanac/engine"
	"golang.org/x/crypto/bcrypt"
)

// TestAppPasswordScope: with the real verifier, a read-write app password
// writes; a read-only one reads but gets 403 DAV:need-privileges on PUT,
// DELETE, MKCALENDAR and a COPY into a writable calendar; one limited to a
// collection reaches it, lists the home, and gets 404 elsewhere; a revoked
// one gets 401. Wrong app passwords never lock the main password out, and
// the first sign-in of a password is recorded with its client.
func TestAppPasswordScope(t *testing.T) {
	h, db := mustHandler(t, Options{})
	// The least bcrypt cost: HashPassword's 10 costs ~1 CPU-s under
	// -race, and hashing is dav/auth's to test.
	hash, err := bcrypt.GenerateFromPassword([]byte("main-pw"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.AddUser(t.Context(), testMeta, engine.User{Name: "alice", PasswordHash: string(hash)}); err != nil {
		t.Fatal(err)
	}
	v, err := auth.New(auth.Options{DB: db, MaxFailures: 3})
	if err != nil {
		t.Fatal(err)
	}
	h.auth = v
	do := func(method, path, pw, body string, hdr ...string) int {
		t.Helper()
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		req.SetBasicAuth("alice", pw)
		req.Header.Set("User-Agent", "DAVx5/4.4")
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code == 403 && !strings.Contains(rec.Body.String(), "need-privileges") {
			t.Errorf("%s %s: 403 without need-privileges: %s", method, path, rec.Body)
		}
		return rec.Code
	}
	const home = "/dav/home/alice/"
	for _, c := range []string{"work/", "other/"} {
		if got := do("MKCALENDAR", home+c, "main-pw", ""); got != 201 {
			t.Fatalf("MKCALENDAR %s: %d", c, got)
		}
	}
	ev := string(testEvent("u1"))
	if got := do("PUT", home+"work/a.ics", "main-pw", ev, "Content-Type", "text/calendar"); got != 201 {
		t.Fatalf("PUT: %d", got)
	}
	mk := func(spec engine.AppPasswordSpec) (string, *engine.AppPassword) {
		t.Helper()
		pw, p, err := db.CreateAppPassword(t.Context(), testMeta, "alice", spec)
		if err != nil {
			t.Fatal(err)
		}
		return pw, p
	}
	rw, rwRec := mk(engine.AppPasswordSpec{Name: "laptop"})
	ro, _ := mk(engine.AppPasswordSpec{Name: "tablet", ReadOnly: true})
	scoped, _ := mk(engine.AppPasswordSpec{Name: "phone", Collections: []string{home + "work/"}})

	checks := []struct {
		method, path, pw, body string
		want                   int
	}{
		{"PUT", home + "work/b.ics", rw, string(testEvent("u2")), 201},
		{"GET", home + "work/a.ics", ro, "", 200},
		{"PROPFIND", home, ro, "", 207},
		{"PUT", home + "work/c.ics", ro, string(testEvent("u3")), 403},
		{"DELETE", home + "work/a.ics", ro, "", 403},
		{"MKCALENDAR", home + "new/", ro, "", 403},
		{"PROPPATCH", home + "work/", ro, `<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><D:displayname>x</D:displayname></D:prop></D:set></D:propertyupdate>`, 403},
		{"GET", home + "work/a.ics", scoped, "", 200},
		{"PUT", home + "work/d.ics", scoped, string(testEvent("u4")), 201},
		{"PROPFIND", home, scoped, "", 207},
		{"PROPFIND", home + "other/", scoped, "", 404},
		{"MKCALENDAR", home + "new2/", scoped, "", 404},
	}
	for _, c := range checks {
		if got := do(c.method, c.path, c.pw, c.body, "Content-Type", "text/calendar", "Depth", "0"); got != c.want {
			t.Errorf("%s %s with %s: %d, want %d", c.method, c.path, c.pw[:6], got, c.want)
		}
	}
	if got := do("COPY", home+"work/a.ics", ro, "", "Destination", home+"other/a.ics"); got != 403 {
		t.Errorf("COPY with the read-only password: %d, want 403", got)
	}
	// The home's listing names only the collections in scope.
	req := httptest.NewRequest("PROPFIND", home, nil)
	req.SetBasicAuth("alice", scoped)
	req.Header.Set("Depth", "1")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if body := rec.Body.String(); rec.Code != 207 || !strings.Contains(body, home+"work/") || strings.Contains(body, home+"other/") {
		t.Errorf("the home's listing with the password of work/: %d\n%s", rec.Code, body)
	}

	// Last use: recorded at the first sign-in, with the client.
	u, err := db.User("alice")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range u.AppPasswords {
		if p.ID == rwRec.ID && (p.LastUsed.IsZero() || p.LastUserAgent != "DAVx5/4.4") {
			t.Errorf("laptop's last use not recorded: %+v", p)
		}
	}

	// Wrong app passwords, many more than MaxFailures: the main password
	// still works; then the app limiter refuses even the right one.
	wrong := "ap-aaaaaaaa-aaaaaaaa-aaaaaaaa-aaaaaaaa"
	for range 6 {
		do("PROPFIND", home, wrong, "")
	}
	if got := do("PROPFIND", home, "main-pw", "", "Depth", "0"); got != 207 {
		t.Errorf("main password after failed app passwords: %d, want 207", got)
	}
	if got := do("PROPFIND", home, rw, "", "Depth", "0"); got != 429 {
		t.Errorf("app password of a locked-out device: %d, want 429", got)
	}

	// A revoked password is refused (from another address: the lockout
	// above is per address).
	if err := db.RevokeAppPassword(t.Context(), testMeta, "alice", rwRec.ID); err != nil {
		t.Fatal(err)
	}
	req = httptest.NewRequest("PROPFIND", home, nil)
	req.RemoteAddr = "192.0.2.9:1234"
	req.SetBasicAuth("alice", rw)
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != 401 {
		t.Errorf("revoked app password: %d, want 401", rec.Code)
	}
}
