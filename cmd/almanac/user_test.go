package main

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/almanac/almanac/dav/auth"
	"github.com/almanac/almanac/engine"
)

// runUser runs `almanac user args...` with stdin and returns stdout.
func runUser(t *testing.T, stdin string, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	c := &userCLI{stdin: strings.NewReader(stdin), stdout: &out, stderr: &out, getenv: func(string) string { return "" }}
	err := c.run(context.Background(), args)
	return out.String(), err
}

// checkLogin opens the data directory and authenticates.
func checkLogin(t *testing.T, dataDir, user, password string) (*engine.User, error) {
	t.Helper()
	db, err := openDB(dataDir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	v, err := auth.New(auth.Options{DB: db})
	if err != nil {
		t.Fatal(err)
	}
	return v.Authenticate(context.Background(), user, password, "127.0.0.1")
}

func TestUserCommands(t *testing.T) {
	t.Parallel() // its own data directory (and servers on free ports): it shares nothing with other tests
	dir := t.TempDir()
	if _, err := runUser(t, "pw-one\n", "add", "carol", "--admin", "--data", dir); err != nil {
		t.Fatalf("add: %v", err)
	}
	u, err := checkLogin(t, dir, "carol", "pw-one")
	if err != nil {
		t.Fatalf("login after add: %v", err)
	}
	if u.Role != engine.RoleAdmin {
		t.Errorf("role %q, want admin", u.Role)
	}
	t.Run("StoredHashedNotClear", func(t *testing.T) {
		db, err := openDB(dir, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		u, err := db.User("carol")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(u.PasswordHash, "$2a$10$") {
			t.Errorf("hash %q is not bcrypt cost 10", u.PasswordHash)
		}
	})
	t.Run("ErrExists", func(t *testing.T) {
		if _, err := runUser(t, "x\n", "add", "--data="+dir, "carol"); err == nil || !strings.Contains(err.Error(), "exists") {
			t.Errorf("err = %v, want exists", err)
		}
	})
	t.Run("ErrEmptyPassword", func(t *testing.T) {
		if _, err := runUser(t, "\n", "add", "dan", "--data", dir); err == nil {
			t.Error("empty password accepted")
		}
	})
	t.Run("Passwd", func(t *testing.T) {
		if _, err := runUser(t, "pw-two", "passwd", "carol", "--data", dir); err != nil {
			t.Fatal(err)
		}
		if _, err := checkLogin(t, dir, "carol", "pw-one"); !errors.Is(err, auth.ErrBadCredentials) {
			t.Errorf("old password: err = %v", err)
		}
		u, err := checkLogin(t, dir, "carol", "pw-two")
		if err != nil {
			t.Fatalf("new password: %v", err)
		}
		if u.Role != engine.RoleAdmin {
			t.Errorf("passwd changed the role to %q", u.Role)
		}
	})
	t.Run("List", func(t *testing.T) {
		out, err := runUser(t, "", "list", "--data", dir)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := out, "carol\tadmin\n"; got != want {
			t.Errorf("list = %q, want %q", got, want)
		}
	})
	t.Run("Delete", func(t *testing.T) {
		if _, err := runUser(t, "", "delete", "carol", "--data", dir); err != nil {
			t.Fatal(err)
		}
		if _, err := checkLogin(t, dir, "carol", "pw-two"); !errors.Is(err, auth.ErrBadCredentials) {
			t.Errorf("deleted user: err = %v", err)
		}
		if _, err := runUser(t, "", "delete", "carol", "--data", dir); err == nil || !strings.Contains(err.Error(), "no user") {
			t.Errorf("second delete: err = %v", err)
		}
	})
	t.Run("ErrUsage", func(t *testing.T) {
		for _, args := range [][]string{{}, {"add"}, {"rename", "x"}, {"list", "extra"}} {
			if _, err := runUser(t, "", append(args, "--data", dir)...); !errors.Is(err, errUsage) {
				t.Errorf("user %v: err = %v, want errUsage", args, err)
			}
		}
	})
}

// TestUserEmailCommands: `user add --email` (repeatable), `user email
// add|remove` and `user list` on a data directory; an address another
// user holds is refused and names the holder.
func TestUserEmailCommands(t *testing.T) {
	dir := t.TempDir()
	if _, err := runUser(t, "pw\n", "add", "alice", "--email", "alice@example.org", "--email=mailto:Al@Example.ORG", "--data", dir); err != nil {
		t.Fatal(err)
	}
	if _, err := runUser(t, "pw\n", "add", "bob", "--data", dir); err != nil {
		t.Fatal(err)
	}
	if _, err := runUser(t, "", "email", "add", "bob", "Al@EXAMPLE.org", "--data", dir); err == nil || !strings.Contains(err.Error(), "alice") {
		t.Errorf("bob taking alice's address: %v, want a refusal naming alice", err)
	}
	if _, err := runUser(t, "", "email", "add", "bob", "bob@example.org", "b@x.test", "--data", dir); err != nil {
		t.Fatal(err)
	}
	if _, err := runUser(t, "", "email", "remove", "bob", "b@x.test", "--data", dir); err != nil {
		t.Fatal(err)
	}
	if _, err := runUser(t, "", "email", "remove", "bob", "b@x.test", "--data", dir); err == nil {
		t.Error("removing an address bob no longer has succeeded")
	}
	if _, err := runUser(t, "", "email", "bob", "--data", dir); !errors.Is(err, errUsage) {
		t.Errorf("user email without add|remove: %v, want a usage error", err)
	}
	out, err := runUser(t, "", "list", "--data", dir)
	if err != nil {
		t.Fatal(err)
	}
	if want := "alice\tuser\talice@example.org,Al@example.org\nbob\tuser\tbob@example.org\n"; out != want {
		t.Errorf("list:\n%s\nwant:\n%s", out, want)
	}
}
