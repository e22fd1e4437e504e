package main

import (
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/almanac/almanac/dav/auth/ldapauth/slapdtest"
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
