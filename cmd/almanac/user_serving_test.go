package main

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/almanac/almanac/engine"
)

// runAccounts runs `almanac user|token args...` with stdin and the
// environment env, and returns stdout and stderr.
func runAccounts(t *testing.T, env map[string]string, stdin string, args ...string) (string, string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	c := &userCLI{stdin: strings.NewReader(stdin), stdout: &out, stderr: &errOut, getenv: func(k string) string { return env[k] }}
	var err error
	if args[0] == "token" {
		err = c.runToken(context.Background(), args[1:])
	} else {
		err = c.run(context.Background(), args[1:])
	}
	return out.String(), errOut.String(), err
}

// statusAs sends a Depth 0 PROPFIND of the user's home with user:password.
func statusAs(t *testing.T, srv *testServer, user, password string) int {
	t.Helper()
	return propfindStatus(t, srv.BaseURL+"/dav/home/"+user+"/", user, password)
}

// TestUserCommandsWhileServing: with a server running on the data
// directory, `user` and `token` find it through DATA/server.json and work
// through its admin API: a user added while serving signs in over DAV,
// disable makes them 401 (data kept), enable lets them in again, list
// shows every account, passwd and delete take effect; the admin's
// password comes from ALMANAC_PASSWORD or stdin's first line.
func TestUserCommandsWhileServing(t *testing.T) {
	t.Parallel() // its own data directory (and servers on free ports): it shares nothing with other tests
	srv := startServer(t)
	admin := map[string]string{"ALMANAC_PASSWORD": testPassword}
	data := "--data=" + srv.DataDir
	info, err := readServerInfo(srv.DataDir)
	if err != nil || info.URL != srv.BaseURL {
		t.Fatalf("server.json = %+v, %v; want url %s", info, err, srv.BaseURL)
	}

	_, stderr, err := runAccounts(t, admin, "bob-pw\n", "user", "add", "carol", data)
	if err != nil {
		t.Fatalf("user add while serving: %v", err)
	}
	if !strings.Contains(stderr, "using its admin API at "+srv.BaseURL) {
		t.Errorf("stderr does not say it used the running server: %q", stderr)
	}
	if got := statusAs(t, srv, "carol", "bob-pw"); got != http.StatusMultiStatus {
		t.Fatalf("carol's PROPFIND after user add: %d, want 207", got)
	}
	if _, _, err := runAccounts(t, admin, "x\n", "user", "add", "carol", data); err == nil || !strings.Contains(err.Error(), "exists") {
		t.Errorf("second add: %v, want exists", err)
	}

	// The admin's password on stdin's first line, the new one on the second.
	if _, _, err := runAccounts(t, nil, testPassword+"\nnew-pw\n", "user", "passwd", "carol", data); err != nil {
		t.Fatalf("user passwd with both passwords on stdin: %v", err)
	}
	if got := statusAs(t, srv, "carol", "new-pw"); got != http.StatusMultiStatus {
		t.Errorf("new password: %d, want 207", got)
	}

	if _, _, err := runAccounts(t, admin, "", "user", "disable", "carol", data); err != nil {
		t.Fatal(err)
	}
	if got := statusAs(t, srv, "carol", "new-pw"); got != http.StatusUnauthorized {
		t.Errorf("disabled carol's PROPFIND: %d, want 401", got)
	}
	out, _, err := runAccounts(t, admin, "", "user", "list", data)
	if err != nil {
		t.Fatal(err)
	}
	if want := "admin\tadmin\nalice\tuser\nbob\tuser\ncarol\tuser\tdisabled\n"; out != want {
		t.Errorf("user list = %q, want %q", out, want)
	}
	if _, _, err := runAccounts(t, admin, "", "user", "enable", "carol", data); err != nil {
		t.Fatal(err)
	}
	if got := statusAs(t, srv, "carol", "new-pw"); got != http.StatusMultiStatus {
		t.Errorf("enabled carol's PROPFIND: %d, want 207", got)
	}

	t.Run("Tokens", func(t *testing.T) {
		tok, _, err := runAccounts(t, admin, "", "token", "create", "--user", "carol", "--label", "ci", data)
		if err != nil {
			t.Fatal(err)
		}
		id, _, _ := strings.Cut(strings.TrimSpace(tok), ".")
		u, err := srv.DB.User("carol")
		if err != nil || len(u.Tokens) != 1 || u.Tokens[0].ID != id || u.Tokens[0].Label != "ci" {
			t.Fatalf("carol after token create: %+v, %v; want token %s", u, err, id)
		}
		out, _, err := runAccounts(t, admin, "", "token", "list", data)
		if err != nil || !strings.HasPrefix(out, "carol\t"+id+"\t") {
			t.Errorf("token list = %q, %v", out, err)
		}
		if _, _, err := runAccounts(t, admin, "", "token", "revoke", "--user", "carol", id, data); err != nil {
			t.Fatal(err)
		}
		if u, _ := srv.DB.User("carol"); len(u.Tokens) != 0 {
			t.Errorf("token not revoked: %+v", u.Tokens)
		}
		if _, _, err := runAccounts(t, admin, "", "token", "revoke", "--user", "carol", id, data); !errors.Is(err, engine.ErrNotFound) {
			t.Errorf("revoking it again: %v, want not found", err)
		}
	})

	t.Run("ErrNotAdmin", func(t *testing.T) {
		_, _, err := runAccounts(t, admin, "", "user", "list", data, "--as", "alice")
		if err == nil || !strings.Contains(err.Error(), "403") {
			t.Errorf("list as alice: %v, want 403", err)
		}
	})
	t.Run("ErrDisableSelf", func(t *testing.T) {
		_, _, err := runAccounts(t, admin, "", "user", "disable", "admin", data)
		if !errors.Is(err, engine.ErrConflict) {
			t.Errorf("admin disabling themselves: %v, want conflict", err)
		}
	})
	t.Run("ErrNoServerInfo", func(t *testing.T) {
		if err := os.Remove(filepath.Join(srv.DataDir, serverInfoFile)); err != nil {
			t.Fatal(err)
		}
		_, _, err := runAccounts(t, admin, "", "user", "list", data)
		if !errors.Is(err, errDataDirInUse) || !strings.Contains(err.Error(), "--server") {
			t.Errorf("locked directory without server.json: %v, want in use, naming --server", err)
		}
		out, _, err := runAccounts(t, admin, "", "user", "list", "--server", srv.BaseURL)
		if err != nil || !strings.Contains(out, "carol\tuser\n") {
			t.Errorf("list with --server: %q, %v", out, err)
		}
		if err := writeServerInfo(srv.DataDir, *info); err != nil {
			t.Fatal(err)
		}
	})

	if _, _, err := runAccounts(t, admin, "", "user", "delete", "carol", "--server", srv.BaseURL); err != nil {
		t.Fatal(err)
	}
	if got := statusAs(t, srv, "carol", "new-pw"); got != http.StatusUnauthorized {
		t.Errorf("deleted carol's PROPFIND: %d, want 401", got)
	}
	if _, _, err := runAccounts(t, admin, "", "user", "delete", "carol", "--server", srv.BaseURL); err == nil || !strings.Contains(err.Error(), "no user") {
		t.Errorf("second delete: %v, want no user", err)
	}
	srv.Stop(t)
	if _, err := os.Stat(filepath.Join(srv.DataDir, serverInfoFile)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("server.json after stop: %v, want removed", err)
	}
}
