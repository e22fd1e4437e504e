package dav

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/almanac/almanac/engine"
)

// knowingAuth is fakeAuth that also knows gina as a user without a log
// account (as auth.Verifier knows the users of --htpasswd).
type knowingAuth struct{ fakeAuth }

func (knowingAuth) Knows(user string) bool { return user == "gina" }

// TestShareWithUserWithoutAccount: gina, whom the Authenticator knows but
// the log does not (an --htpasswd user who never signed in), is a
// principal (her principal URL answers; zed, unknown, gets 404); alice
// shares her calendar with her by mailto: and makes her a write delegate
// by PROPPATCH, which gives gina a home first (events of alice), and gina
// then finds the share mounted in her home and reaches alice's home.
func TestShareWithUserWithoutAccount(t *testing.T) {
	h, db := mustHandler(t, Options{})
	h.auth = knowingAuth{}
	ctx := context.Background()
	if err := db.PutUser(ctx, testMeta, engine.User{Name: "alice"}); err != nil {
		t.Fatal(err)
	}
	if err := h.ensureHome(ctx, "alice", testMeta); err != nil {
		t.Fatal(err)
	}
	do := func(user, method, path, body string, hdr ...string) int {
		t.Helper()
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		req.SetBasicAuth(user, user)
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code
	}
	propfind := `<D:propfind xmlns:D="DAV:"><D:prop><D:displayname/></D:prop></D:propfind>`
	if got := do("alice", "PROPFIND", "/dav/principals/gina/", propfind, "Depth", "0"); got != http.StatusMultiStatus {
		t.Errorf("gina's principal: %d, want 207", got)
	}
	if got := do("alice", "PROPFIND", "/dav/principals/zed/", propfind, "Depth", "0"); got != http.StatusNotFound {
		t.Errorf("zed's principal: %d, want 404", got)
	}
	share := `<D:share-resource xmlns:D="DAV:"><D:sharee><D:href>mailto:gina@localhost</D:href><D:share-access><D:read/></D:share-access></D:sharee></D:share-resource>`
	if got := do("alice", "POST", "/dav/home/alice/calendar/", share, "Content-Type", "application/davsharing+xml"); got != http.StatusOK {
		t.Fatalf("share with gina: %d, want 200", got)
	}
	zed := strings.ReplaceAll(share, "gina", "zed")
	if got := do("alice", "POST", "/dav/home/alice/calendar/", zed, "Content-Type", "application/davsharing+xml"); got != http.StatusForbidden {
		t.Errorf("share with zed: %d, want 403 recognized-principal", got)
	}
	proxy := `<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><D:group-member-set><D:href>/dav/principals/gina/</D:href></D:group-member-set></D:prop></D:set></D:propertyupdate>`
	if got := do("alice", "PROPPATCH", "/dav/principals/alice/calendar-proxy-write/", proxy); got != http.StatusMultiStatus {
		t.Fatalf("alice's write delegate gina: %d, want 207", got)
	}
	v, err := db.View()
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	ms, err := v.Mounts("gina")
	if err != nil || len(ms) != 1 || ms[0].Collection.Path != "/dav/home/alice/calendar/" || ms[0].Access != engine.AccessRead {
		t.Errorf("gina's mounts: %+v, %v", ms, err)
	}
	if r, err := v.Access("gina", "/dav/home/alice/contacts/x.vcf"); err != nil || r.Access != engine.AccessReadWrite {
		t.Errorf("gina, alice's write delegate, at alice's contacts: %+v, %v", r, err)
	}
	home, err := v.Collection("/dav/home/gina/")
	if err != nil {
		t.Fatalf("gina's home: %v", err)
	}
	evs, err := v.CollectionHistory(home.Path, time.Time{}, time.Time{})
	if err != nil || len(evs) == 0 || evs[0].Actor != "alice" {
		t.Errorf("gina's home was made by %+v, %v; want an event of alice", evs, err)
	}
}
