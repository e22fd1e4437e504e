package dav

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/almanac/almanac/engine"
)

// accessWorld is a store where alice's calendar is shared with bob
// read-write, with carol read-only, and with the group "team" (dave)
// read-only; frank is alice's read delegate and gina her write delegate
// (her whole home); erin holds nothing.
type accessWorld struct {
	h  *Handler
	db *engine.DB
}

func mustAccessWorld(t *testing.T) *accessWorld {
	t.Helper()
	h, db := mustHandler(t, Options{})
	ctx := context.Background()
	for _, u := range []string{"alice", "bob", "carol", "dave", "erin", "frank", "gina"} {
		if err := db.PutUser(ctx, testMeta, engine.User{Name: u}); err != nil {
			t.Fatal(err)
		}
		if err := h.ensureHome(ctx, u, testMeta); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.PutGroup(ctx, testMeta, engine.Group{Name: "team", Members: []string{"dave"}}); err != nil {
		t.Fatal(err)
	}
	cal := "/dav/home/alice/calendar/"
	for _, g := range []struct {
		who string
		acc engine.Access
	}{{"bob", engine.AccessReadWrite}, {"carol", engine.AccessRead}, {"team", engine.AccessRead}} {
		if err := db.Grant(ctx, testMeta, cal, g.who, g.acc, engine.GrantOptions{AutoAccept: true}); err != nil {
			t.Fatal(err)
		}
	}
	for _, u := range []string{"alice", "bob", "carol", "dave", "erin", "frank", "gina"} {
		spec := engine.CollectionSpec{Path: homePath(u) + "other/", Kind: engine.KindCalendar, Owner: u}
		if _, err := db.CreateCollection(ctx, testMeta, spec); err != nil {
			t.Fatal(err)
		}
	}
	for d, acc := range map[string]engine.Access{"frank": engine.AccessRead, "gina": engine.AccessReadWrite} {
		if err := db.SetProxy(ctx, testMeta, "alice", d, acc); err != nil {
			t.Fatal(err)
		}
	}
	for _, uid := range []string{"a", "b"} {
		if _, err := db.PutObject(ctx, testMeta, cal, uid+".ics", testEvent(uid), engine.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	return &accessWorld{h: h, db: db}
}

// do sends one request as user ("" for none) and returns the recorder.
func (w *accessWorld) do(user, method, path, body string, hdr ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if user != "" {
		req.SetBasicAuth(user, user)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	w.h.ServeHTTP(rec, req)
	return rec
}

// matrixRequest is one request of the authorization matrix, sent at the
// owner's URL of alice's calendar (RFC 3744 clients address it there).
type matrixRequest struct {
	name, method, path, body string
	hdr                      []string
}

var matrixRequests = func() []matrixRequest {
	cal := "/dav/home/alice/calendar/"
	ev := string(testEvent("new"))
	return []matrixRequest{
		{"GET", http.MethodGet, cal + "a.ics", "", nil},
		{"HEAD", http.MethodHead, cal + "a.ics", "", nil},
		{"GET-calendar", http.MethodGet, cal, "", nil},
		{"PROPFIND", "PROPFIND", cal, `<propfind xmlns="DAV:"><prop><getetag/></prop></propfind>`, []string{"Depth", "1"}},
		{"REPORT-multiget", "REPORT", cal, `<C:calendar-multiget xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><D:getetag/></D:prop><D:href>` + cal + `a.ics</D:href></C:calendar-multiget>`, []string{"Depth", "1"}},
		{"REPORT-sync", "REPORT", cal, `<D:sync-collection xmlns:D="DAV:"><D:sync-token/><D:sync-level>1</D:sync-level><D:prop><D:getetag/></D:prop></D:sync-collection>`, nil},
		{"REPORT-query", "REPORT", cal, `<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><D:getetag/></D:prop><C:filter><C:comp-filter name="VCALENDAR"/></C:filter></C:calendar-query>`, []string{"Depth", "1"}},
		{"REPORT-freebusy", "REPORT", cal, `<C:free-busy-query xmlns:C="urn:ietf:params:xml:ns:caldav"><C:time-range start="20260101T000000Z" end="20260201T000000Z"/></C:free-busy-query>`, nil},
		{"REPORT-expand-property", "REPORT", cal, `<D:expand-property xmlns:D="DAV:"><D:property name="owner"/></D:expand-property>`, nil},
		{"PUT-new", http.MethodPut, cal + "new.ics", ev, []string{"Content-Type", "text/calendar"}},
		{"PUT-existing", http.MethodPut, cal + "b.ics", string(testEvent("b")), []string{"Content-Type", "text/calendar"}},
		{"PROPPATCH-object", "PROPPATCH", cal + "a.ics", `<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><X:t xmlns:X="urn:x">1</X:t></D:prop></D:set></D:propertyupdate>`, nil},
		{"MKCOL-inside", "MKCOL", cal + "sub/", "", nil},
		{"COPY-to-own-home", "COPY", cal + "a.ics", "", []string{"Destination", "/dav/home/USER/other/copied.ics"}},
		{"COPY-into", "COPY", "/dav/home/USER/calendar/", "", []string{"Destination", cal + "copied/", "Depth", "0"}},
		{"MOVE-out", "MOVE", cal + "a.ics", "", []string{"Destination", "/dav/home/USER/other/moved.ics"}},
		{"DELETE-object", http.MethodDelete, cal + "a.ics", "", nil},
		{"DELETE-calendar", http.MethodDelete, cal, "", nil},
		{"ACL", "ACL", cal, `<D:acl xmlns:D="DAV:"/>`, nil},
		{"POST-share", http.MethodPost, cal, `<B:share xmlns:A="DAV:" xmlns:B="http://calendarserver.org/ns/"><B:set><A:href>mailto:erin@localhost</A:href><B:read/></B:set></B:share>`, nil},
	}
}()

// TestAccessMatrix sends every method to alice's calendar as its owner, a
// read-write sharee, a read sharee, a member of a group it is shared with,
// a read and a write delegate of alice, a stranger and an anonymous client, each on a fresh store, and checks
// the status: 404 (with the body of a path that does not exist) without
// access, 403 for what the access lacks, and otherwise an answer that is
// none of 401, 403 and 404 (MKCOL in a calendar then gets its 409).
func TestAccessMatrix(t *testing.T) {
	ok, deny, hidden, anon := "ok", "403", "404", "401"
	want := map[string]map[string]string{
		"alice": {"ACL": deny},
		"bob":   {"DELETE-calendar": deny, "ACL": deny, "POST-share": deny},
		"carol": {"PUT-new": deny, "PUT-existing": deny, "PROPPATCH-object": deny, "MKCOL-inside": deny, "COPY-into": deny,
			"MOVE-out": deny, "DELETE-object": deny, "DELETE-calendar": deny, "ACL": deny, "POST-share": deny},
		"erin": {},
		"":     {},
	}
	want["dave"], want["frank"] = want["carol"], want["carol"]
	// A write delegate holds read-write on alice's whole home: the
	// calendar's removal too, but not her sharing or ACLs.
	want["gina"] = map[string]string{"ACL": deny, "POST-share": deny}
	for _, rq := range matrixRequests {
		want["erin"][rq.name], want[""][rq.name] = hidden, anon
	}
	// erin's own calendar is the source of COPY-into: the destination
	// in alice's calendar is what she cannot reach.
	want["erin"]["COPY-into"] = deny
	for _, user := range []string{"alice", "bob", "carol", "dave", "frank", "gina", "erin", ""} {
		for _, rq := range matrixRequests {
			t.Run(fmt.Sprintf("%s/%s", cmp(user, "anonymous"), rq.name), func(t *testing.T) {
				w := mustAccessWorld(t)
				path := strings.ReplaceAll(rq.path, "USER", cmp(user, "erin"))
				hdr := make([]string, len(rq.hdr))
				for i, v := range rq.hdr {
					hdr[i] = strings.ReplaceAll(v, "USER", cmp(user, "erin"))
				}
				rec := w.do(user, rq.method, path, rq.body, hdr...)
				got := rec.Code
				expect := want[user][rq.name]
				if expect == "" {
					expect = ok
				}
				switch expect {
				case ok:
					if got == http.StatusUnauthorized || got == http.StatusForbidden || got == http.StatusNotFound {
						t.Fatalf("status %d, want an answer past the privilege check: %s", got, rec.Body)
					}
				case deny:
					if got != http.StatusForbidden {
						t.Fatalf("status %d, want 403: %s", got, rec.Body)
					}
				case hidden:
					missing := w.do(user, rq.method, "/dav/home/nobody/x/", rq.body, hdr...)
					if got != http.StatusNotFound || rec.Body.String() != missing.Body.String() {
						t.Fatalf("status %d body %q, want the 404 of a missing path %q", got, rec.Body, missing.Body)
					}
				case anon:
					if got != http.StatusUnauthorized {
						t.Fatalf("status %d, want 401", got)
					}
				}
				if user != "alice" && user != "erin" && strings.Contains(rec.Body.String(), "/dav/home/erin/") {
					t.Fatalf("the answer names erin's home: %s", rec.Body)
				}
			})
		}
	}
}

// cmp returns s, or def when s is empty.
func cmp(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// TestAccessNeedPrivileges checks the 403 body of a read sharee's PUT:
// DAV:need-privileges naming the resource, at the URL the sharee used
// (their mount), and the privilege.
func TestAccessNeedPrivileges(t *testing.T) {
	w := mustAccessWorld(t)
	rec := w.do("carol", http.MethodPut, "/dav/home/carol/alice-calendar/x.ics", string(testEvent("x")), "Content-Type", "text/calendar")
	if rec.Code != http.StatusForbidden {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	for _, s := range []string{"<D:need-privileges><D:resource><D:href>/dav/home/carol/alice-calendar/x.ics</D:href><D:privilege><D:write-content/></D:privilege></D:resource></D:need-privileges>"} {
		if !strings.Contains(rec.Body.String(), s) {
			t.Fatalf("body lacks %s:\n%s", s, rec.Body)
		}
	}
}

// TestAccessRevocation checks that a revoked grant takes effect on the
// next request, at the mount and at the owner's URL, and that the mount
// leaves the sharee's home listing.
func TestAccessRevocation(t *testing.T) {
	w := mustAccessWorld(t)
	for _, p := range []string{"/dav/home/bob/alice-calendar/a.ics", "/dav/home/alice/calendar/a.ics"} {
		if rec := w.do("bob", http.MethodGet, p, ""); rec.Code != http.StatusOK {
			t.Fatalf("before: GET %s: %d", p, rec.Code)
		}
	}
	if err := w.db.Revoke(context.Background(), testMeta, "/dav/home/alice/calendar/", "bob"); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/dav/home/bob/alice-calendar/a.ics", "/dav/home/alice/calendar/a.ics", "/dav/home/bob/alice-calendar/"} {
		if rec := w.do("bob", http.MethodGet, p, ""); rec.Code != http.StatusNotFound {
			t.Fatalf("after: GET %s: %d", p, rec.Code)
		}
	}
	rec := w.do("bob", "PROPFIND", "/dav/home/bob/", `<propfind xmlns="DAV:"><prop><resourcetype/></prop></propfind>`, "Depth", "1")
	if strings.Contains(rec.Body.String(), "alice-calendar") {
		t.Fatalf("the revoked mount is still listed: %s", rec.Body)
	}
}

// TestAccessActor checks that a sharee's write is recorded in the log
// with the sharee as actor.
func TestAccessActor(t *testing.T) {
	w := mustAccessWorld(t)
	if rec := w.do("bob", http.MethodPut, "/dav/home/bob/alice-calendar/c.ics", string(testEvent("c")), "Content-Type", "text/calendar"); rec.Code != http.StatusCreated {
		t.Fatalf("PUT: %d %s", rec.Code, rec.Body)
	}
	v, err := w.db.View()
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	evs, err := v.History("/dav/home/alice/calendar/", "c.ics")
	if err != nil || len(evs) != 1 {
		t.Fatalf("history: %v, %v", evs, err)
	}
	if got := evs[0].Actor; got != "bob" {
		t.Fatalf("actor %q, want bob", got)
	}
}

// TestAccessModel applies random grants, revocations, group membership
// changes and writes, and after each step checks what every user can do
// with each of alice's collections (PROPFIND at the owner's URL, a PUT
// into it) against a naive model: the best of the user's own grant and
// their groups' grants; nothing is 404, read is 207 and 403 for the PUT,
// read-write both.
func TestAccessModel(t *testing.T) {
	h, db := mustHandler(t, Options{})
	w := &accessWorld{h: h, db: db}
	ctx := context.Background()
	users := []string{"bob", "carol", "dave", "erin"}
	groups := []string{"g1", "g2"}
	colls := []string{"/dav/home/alice/c1/", "/dav/home/alice/c2/"}
	for _, u := range append([]string{"alice"}, users...) {
		if err := db.PutUser(ctx, testMeta, engine.User{Name: u}); err != nil {
			t.Fatal(err)
		}
		if err := h.ensureHome(ctx, u, testMeta); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range colls {
		if _, err := db.CreateCollection(ctx, testMeta, engine.CollectionSpec{Path: c, Kind: engine.KindCalendar, Owner: "alice"}); err != nil {
			t.Fatal(err)
		}
	}
	members := map[string]map[string]bool{}
	for _, g := range groups {
		members[g] = map[string]bool{}
		if err := db.PutGroup(ctx, testMeta, engine.Group{Name: g}); err != nil {
			t.Fatal(err)
		}
	}
	grants := map[string]map[string]engine.Access{colls[0]: {}, colls[1]: {}}
	effective := func(u, c string) engine.Access {
		best := grants[c][u]
		for _, g := range groups {
			if members[g][u] {
				best = max(best, grants[c][g])
			}
		}
		return best
	}
	rng := rand.New(rand.NewPCG(15, 3744))
	principals := append(append([]string{}, users...), groups...)
	for step := range 150 {
		c := colls[rng.IntN(len(colls))]
		switch op := rng.IntN(4); op {
		case 0: // grant
			p := principals[rng.IntN(len(principals))]
			acc := []engine.Access{engine.AccessRead, engine.AccessReadWrite}[rng.IntN(2)]
			if err := db.Grant(ctx, testMeta, c, p, acc, engine.GrantOptions{AutoAccept: true}); err != nil {
				t.Fatalf("step %d: grant %s %s: %v", step, c, p, err)
			}
			grants[c][p] = acc
		case 1: // revoke
			p := principals[rng.IntN(len(principals))]
			if grants[c][p] == engine.AccessNone {
				continue
			}
			if err := db.Revoke(ctx, testMeta, c, p); err != nil {
				t.Fatalf("step %d: revoke %s %s: %v", step, c, p, err)
			}
			delete(grants[c], p)
		case 2: // membership
			g, u := groups[rng.IntN(len(groups))], users[rng.IntN(len(users))]
			var err error
			if members[g][u] {
				err = db.RemoveGroupMembers(ctx, testMeta, g, u)
				delete(members[g], u)
			} else {
				err = db.AddGroupMembers(ctx, testMeta, g, u)
				members[g][u] = true
			}
			if err != nil {
				t.Fatalf("step %d: membership %s %s: %v", step, g, u, err)
			}
		}
		for _, u := range users {
			for _, c := range colls {
				acc := effective(u, c)
				pf := w.do(u, "PROPFIND", c, `<propfind xmlns="DAV:"><prop><current-user-privilege-set/></prop></propfind>`, "Depth", "0").Code
				put := w.do(u, http.MethodPut, fmt.Sprintf("%s%s-%d.ics", c, u, step), string(testEvent(fmt.Sprintf("%s-%d", u, step))), "Content-Type", "text/calendar").Code
				wantPF, wantPut := http.StatusNotFound, http.StatusNotFound
				switch acc {
				case engine.AccessRead:
					wantPF, wantPut = http.StatusMultiStatus, http.StatusForbidden
				case engine.AccessReadWrite:
					wantPF, wantPut = http.StatusMultiStatus, http.StatusCreated
				}
				if pf != wantPF || put != wantPut {
					t.Fatalf("step %d: %s on %s (model %v): PROPFIND %d PUT %d, want %d %d", step, u, c, acc, pf, put, wantPF, wantPut)
				}
			}
		}
	}
}

// TestAccessMountOddNames reads and writes through a mount of a collection
// whose name needs escaping ("%", a space): the owner's path is never
// unescaped twice.
func TestAccessMountOddNames(t *testing.T) {
	w := mustAccessWorld(t)
	ctx := context.Background()
	c := "/dav/home/alice/a%25b c/"
	if _, err := w.db.CreateCollection(ctx, testMeta, engine.CollectionSpec{Path: "/dav/home/alice/a%b c/", Kind: engine.KindCalendar, Owner: "alice"}); err != nil {
		t.Fatal(err)
	}
	if err := w.db.Grant(ctx, testMeta, "/dav/home/alice/a%b c/", "bob", engine.AccessReadWrite, engine.GrantOptions{AutoAccept: true}); err != nil {
		t.Fatal(err)
	}
	v, err := w.db.View()
	if err != nil {
		t.Fatal(err)
	}
	sh, err := v.ShareOf("bob", "/dav/home/alice/a%b c/")
	v.Close()
	if err != nil || sh.MountPath == "" {
		t.Fatalf("share: %+v %v", sh, err)
	}
	mount := (&resource{path: sh.MountPath}).href()
	if rec := w.do("bob", http.MethodPut, mount+"x.ics", string(testEvent("x")), "Content-Type", "text/calendar"); rec.Code != http.StatusCreated {
		t.Fatalf("PUT through %s: %d %s", mount, rec.Code, rec.Body)
	}
	if rec := w.do("alice", http.MethodGet, strings.ReplaceAll(c, " ", "%20")+"x.ics", ""); rec.Code != http.StatusOK {
		t.Fatalf("alice's GET: %d %s", rec.Code, rec.Body)
	}
	rec := w.do("bob", "PROPFIND", mount, `<propfind xmlns="DAV:"><prop><getetag/></prop></propfind>`, "Depth", "1")
	if rec.Code != http.StatusMultiStatus || !strings.Contains(rec.Body.String(), mount+"x.ics") {
		t.Fatalf("PROPFIND %s: %d %s", mount, rec.Code, rec.Body)
	}
}
