package main

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/almanac/almanac/engine"
)

// TestAppPasswordCommands: `user app-password` offline on a data
// directory: add prints the password once (stdout) and its id (stderr),
// list shows it without the password, revoke removes it, a missing user
// or device name is refused.
func TestAppPasswordCommands(t *testing.T) {
	t.Parallel() // its own data directory (and servers on free ports): it shares nothing with other tests
	dir := t.TempDir()
	data := "--data=" + dir
	putTestUser(t, dir, "carol")
	pw, stderr, err := runAccounts(t, nil, "", "user", "app-password", "add", "carol", "--name", "phone", "--read-only",
		"--collection", "/dav/home/carol/calendar/", data)
	if err != nil {
		t.Fatal(err)
	}
	pw = strings.TrimSpace(pw)
	if !engine.IsAppPassword(pw) || !strings.Contains(stderr, "shown only this once") {
		t.Fatalf("add printed %q / %q", pw, stderr)
	}
	id := createdID(t, stderr)
	out, _, err := runAccounts(t, nil, "", "user", "app-password", "list", data)
	if err != nil {
		t.Fatal(err)
	}
	wantPrefix := "carol\t" + id + "\tphone\tread-only:/dav/home/carol/calendar/\t"
	if !strings.HasPrefix(out, wantPrefix) || !strings.HasSuffix(out, "\tnever used\n") || strings.Contains(out, pw) {
		t.Errorf("list = %q, want a line starting %q", out, wantPrefix)
	}
	if out, _, _ := runAccounts(t, nil, "", "user", "app-password", "list", "bob", data); out != "" {
		t.Errorf("list bob = %q, want nothing", out)
	}
	if _, _, err := runAccounts(t, nil, "", "user", "app-password", "add", "nobody", "--name", "x", data); err == nil || !strings.Contains(err.Error(), `no user "nobody"`) {
		t.Errorf("add for nobody: %v", err)
	}
	if _, _, err := runAccounts(t, nil, "", "user", "app-password", "add", "carol", data); !errors.Is(err, errUsage) {
		t.Errorf("add without --name: %v, want a usage error", err)
	}
	if _, _, err := runAccounts(t, nil, "", "user", "app-password", "revoke", "carol", id, data); err != nil {
		t.Fatal(err)
	}
	if out, _, _ := runAccounts(t, nil, "", "user", "app-password", "list", data); out != "" {
		t.Errorf("list after revoke = %q", out)
	}
	if _, _, err := runAccounts(t, nil, "", "user", "app-password", "revoke", "carol", id, data); !errors.Is(err, engine.ErrNotFound) {
		t.Errorf("revoke again: %v, want not found", err)
	}
}

// createdID returns the id `user app-password add` reported on stderr.
func createdID(t *testing.T, stderr string) string {
	t.Helper()
	m := regexp.MustCompile(`app password ([0-9a-f]{12}) \(`).FindStringSubmatch(stderr)
	if m == nil {
		t.Fatalf("no id in %q", stderr)
	}
	return m[1]
}

// TestAppPasswordWhileServing: through the admin API of a running server,
// an app password is made; it signs in over DAV in place of the main
// password, a read-only one gets 403 on PUT, list shows its last use, and
// once revoked it gets 401.
func TestAppPasswordWhileServing(t *testing.T) {
	srv := startServer(t)
	admin := map[string]string{"ALMANAC_PASSWORD": testPassword}
	data := "--data=" + srv.DataDir
	rw, _, err := runAccounts(t, admin, "", "user", "app-password", "add", "alice", "--name", "laptop", data)
	if err != nil {
		t.Fatal(err)
	}
	ro, stderr, err := runAccounts(t, admin, "", "user", "app-password", "add", "alice", "--name", "tablet", "--read-only", data)
	if err != nil {
		t.Fatal(err)
	}
	rw, ro = strings.TrimSpace(rw), strings.TrimSpace(ro)
	roID := createdID(t, stderr)
	if got := statusAs(t, srv, "alice", rw); got != http.StatusMultiStatus {
		t.Fatalf("PROPFIND with the app password: %d, want 207", got)
	}
	put := func(pw string) int {
		req, _ := http.NewRequest(http.MethodPut, srv.BaseURL+"/dav/home/alice/calendar/x-"+pw[3:8]+".ics",
			strings.NewReader("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\nUID:"+pw[3:8]+
				"\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20260105T100000Z\r\nSUMMARY:x\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"))
		req.Header.Set("Content-Type", "text/calendar")
		req.SetBasicAuth("alice", pw)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := put(rw); got != http.StatusCreated {
		t.Errorf("PUT with the read-write app password: %d, want 201", got)
	}
	if got := put(ro); got != http.StatusForbidden {
		t.Errorf("PUT with the read-only app password: %d, want 403", got)
	}
	out, _, err := runAccounts(t, admin, "", "user", "app-password", "list", "alice", data)
	if err != nil || strings.Count(out, "\tlast used ") != 2 || !strings.Contains(out, "Go-http-client") {
		t.Errorf("list after use = %q, %v; want both with their last use and client", out, err)
	}
	if _, _, err := runAccounts(t, admin, "", "user", "app-password", "revoke", "alice", roID, data); err != nil {
		t.Fatal(err)
	}
	if got := statusAs(t, srv, "alice", ro); got != http.StatusUnauthorized {
		t.Errorf("PROPFIND with the revoked app password: %d, want 401", got)
	}
}

// TestAppPasswordHelp: `user app-password --help` (and -h) exits 0 and
// lists its flags with their environment variables, as TestCLIHelp checks
// for every command.
func TestAppPasswordHelp(t *testing.T) {
	for _, h := range []string{"--help", "-h"} {
		var out, errOut bytes.Buffer
		if code := run(context.Background(), []string{"user", "app-password", h}, &out, &errOut); code != 0 || errOut.Len() != 0 {
			t.Fatalf("%s: exit %d, stderr %q", h, code, errOut.String())
		}
		for _, f := range []string{"name", "read-only", "collection", "data", "config", "server", "as"} {
			if !strings.Contains(out.String(), "  --"+f) || !strings.Contains(out.String(), "env "+envName(f)) {
				t.Errorf("%s: flag --%s or %s not listed:\n%s", h, f, envName(f), out.String())
			}
		}
		if !strings.Contains(out.String(), "app-password add|list|revoke") {
			t.Errorf("%s: the synopsis does not name app-password:\n%s", h, out.String())
		}
	}
}
