package main

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/almanac/almanac/dav/auth/ldapauth/slapdtest"
	"github.com/almanac/almanac/engine"
)

// TestServeLDAP: with --ldap-url, a directory user signs in over DAV with
// the directory's password and gets a home; a wrong, empty or injected
// password or name gets 401; a local account of the same name wins over
// the directory (its directory password is refused); with the directory
// down, a directory user gets 503 with Retry-After (not 401, not a
// success) while local accounts still sign in.
func TestServeLDAP(t *testing.T) {
	dir := slapdtest.Start(t,
		slapdtest.Person(t, true, "carol", "Carol Danvers", "carol-pw", "carol@example.org")+
			slapdtest.Person(t, false, "alice", "Directory Alice", "dir-pw"), "", "")
	pwFile := filepath.Join(t.TempDir(), "bindpw")
	if err := os.WriteFile(pwFile, []byte(slapdtest.RootPassword+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := startServer(t, "--ldap-url="+dir.URL, "--ldap-bind-dn="+slapdtest.RootDN,
		"--ldap-bind-password-file="+pwFile, "--ldap-user-base="+slapdtest.People)

	if got := propfindStatus(t, srv.BaseURL+"/dav/home/carol/", "carol", "carol-pw"); got != http.StatusMultiStatus {
		t.Errorf("carol with the directory's password: %d, want 207", got)
	}
	if u, ok := srv.Main.Auth.DirectoryUser("carol"); !ok || u.DisplayName != "Carol Danvers" || strings.Join(u.Emails, ",") != "carol@example.org" {
		t.Errorf("DirectoryUser(carol) = %+v, %v", u, ok)
	}
	for _, c := range []struct{ user, password string }{
		{"carol", "wrong"}, {"carol", ""}, {"nobody", "carol-pw"}, {"*)(uid=*", "carol-pw"}, {"c*", "carol-pw"},
		{"alice", "dir-pw"}, // the engine's alice wins
	} {
		if got := propfindStatus(t, srv.BaseURL+"/dav/", c.user, c.password); got != http.StatusUnauthorized {
			t.Errorf("%q/%q: %d, want 401", c.user, c.password, got)
		}
	}
	if got := propfindStatus(t, srv.BaseURL+"/dav/home/alice/", "alice", testPassword); got != http.StatusMultiStatus {
		t.Errorf("engine alice: %d, want 207", got)
	}

	dir.Stop()
	req, _ := http.NewRequest("PROPFIND", srv.BaseURL+"/dav/", nil)
	req.SetBasicAuth("dave", "dave-pw") // never signed in: not cached
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Errorf("directory down: %d Retry-After %q, want 503 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if got := propfindStatus(t, srv.BaseURL+"/dav/home/bob/", "bob", testPassword); got != http.StatusMultiStatus {
		t.Errorf("engine bob with the directory down: %d, want 207", got)
	}
	if !strings.Contains(srv.Logs.String(), "user directory unavailable") {
		t.Errorf("the outage is not logged:\n%s", srv.Logs)
	}
}

// TestLDAPCAFile: --ldap-ca-file must hold a PEM certificate; a file
// without one is a ConfigError naming the flag, not a silent fallback to
// the system's CAs.
func TestLDAPCAFile(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(bad, []byte("not a certificate\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	l := ldapConfig{URL: "ldap://127.0.0.1:389", StartTLS: true, CAFile: bad, UserBase: slapdtest.People, Timeout: time.Second, MaxConns: 1}
	_, err := l.directory()
	var ce *ConfigError
	if !errors.As(err, &ce) || ce.Field != "ldap-ca-file" {
		t.Errorf("a CA file without a certificate: %v, want a ConfigError of ldap-ca-file", err)
	}
}

// TestServeLDAPGroups: with --ldap-group-base the directory's group of two
// users becomes an Almanac group (set by "ldap"); a calendar shared to it
// is readable by both members over DAV and not by a directory user outside
// it; a directory user's principal shows the directory's display name and
// address to another user, from the log (after they signed in once); the
// admin API refuses to edit the directory's group.
func TestServeLDAPGroups(t *testing.T) {
	dir := slapdtest.Start(t,
		slapdtest.Person(t, true, "carol", "Carol Danvers", "carol-pw", "carol@example.org")+
			slapdtest.Person(t, false, "dave", "Dave <script>", "dave-pw")+
			slapdtest.Person(t, false, "erin", "Erin", "erin-pw")+
			slapdtest.Group(true, "team", slapdtest.UserDN("carol"), slapdtest.UserDN("dave")), "", "")
	pwFile := filepath.Join(t.TempDir(), "bindpw")
	if err := os.WriteFile(pwFile, []byte(slapdtest.RootPassword+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := startServer(t, "--ldap-url="+dir.URL, "--ldap-bind-dn="+slapdtest.RootDN,
		"--ldap-bind-password-file="+pwFile, "--ldap-user-base="+slapdtest.People,
		"--ldap-group-base="+slapdtest.Groups)
	ctx := context.Background()

	// The first sync runs when serve starts, beside it.
	var team *engine.Group
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		v, err := srv.DB.View()
		if err != nil {
			t.Fatal(err)
		}
		team, err = v.Group("team")
		v.Close()
		if err == nil || time.Now().After(deadline) {
			break
		}
	}
	if team == nil || strings.Join(team.Members, ",") != "carol,dave" || team.SetBy != "ldap" {
		t.Fatalf("group team = %+v, want carol,dave set by ldap", team)
	}

	do := func(method, path, user, password, body string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(method, srv.BaseURL+path, strings.NewReader(body))
		req.SetBasicAuth(user, password)
		req.Header.Set("Depth", "0")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}
	if r := do("MKCALENDAR", "/dav/home/alice/team/", "alice", testPassword, ""); r.StatusCode != http.StatusCreated {
		t.Fatalf("MKCALENDAR: %d", r.StatusCode)
	}
	ev := "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\nUID:e1\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20260105T100000Z\r\nSUMMARY:Team\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
	if r := do("PUT", "/dav/home/alice/team/e1.ics", "alice", testPassword, ev); r.StatusCode != http.StatusCreated {
		t.Fatalf("PUT: %d", r.StatusCode)
	}
	if err := srv.DB.Grant(ctx, engine.Meta{Actor: "alice"}, "/dav/home/alice/team/", "team", engine.AccessRead, engine.GrantOptions{AutoAccept: true}); err != nil {
		t.Fatal(err)
	}
	for _, u := range []struct{ name, password string }{{"carol", "carol-pw"}, {"dave", "dave-pw"}} {
		if r := do("GET", "/dav/home/alice/team/e1.ics", u.name, u.password, ""); r.StatusCode != http.StatusOK {
			t.Errorf("%s (in team) GET the shared event: %d, want 200", u.name, r.StatusCode)
		}
	}
	if r := do("GET", "/dav/home/alice/team/e1.ics", "erin", "erin-pw", ""); r.StatusCode != http.StatusNotFound && r.StatusCode != http.StatusForbidden {
		t.Errorf("erin (not in team) GET the shared event: %d, want 403 or 404", r.StatusCode)
	}

	propfind := `<?xml version="1.0"?><D:propfind xmlns:D="DAV:" xmlns:CS="http://calendarserver.org/ns/"><D:prop><D:displayname/><CS:email-address-set/></D:prop></D:propfind>`
	r := do("PROPFIND", "/dav/principals/carol/", "bob", testPassword, propfind)
	body, _ := io.ReadAll(r.Body)
	if r.StatusCode != http.StatusMultiStatus || !strings.Contains(string(body), "Carol Danvers") || !strings.Contains(string(body), "carol@example.org") {
		t.Errorf("carol's principal seen by bob: %d\n%s", r.StatusCode, body)
	}
	r = do("PROPFIND", "/dav/principals/dave/", "bob", testPassword, propfind)
	body, _ = io.ReadAll(r.Body)
	if !strings.Contains(string(body), "Dave &lt;script&gt;") {
		t.Errorf("dave's display name is not escaped:\n%s", body)
	}

	if !srv.Main.fileGroup()("team") || srv.Main.fileGroup()("other") {
		t.Error("fileGroup does not report the directory's groups (the admin API would edit them)")
	}
}
