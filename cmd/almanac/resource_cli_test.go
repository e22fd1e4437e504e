package main

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/almanac/almanac/dav/auth"
	"github.com/almanac/almanac/engine"
)

// runResource runs `almanac resource args...` and returns its stdout.
func runResource(t *testing.T, args ...string) (string, error) {
	t.Helper()
	return runResourceCLI(t, nil, args...)
}

// TestResourceCommands: resource add makes a room with its address, home,
// inbox and managers' write delegation; it cannot sign in; list shows it,
// set changes its policy and managers, remove deletes the account and
// withdraws its managers' delegation.
func TestResourceCommands(t *testing.T) {
	t.Parallel() // its own data directory (and servers on free ports): it shares nothing with other tests
	dir := t.TempDir()
	db, err := openDB(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range []string{"facilities", "office"} {
		if err := db.PutGroup(context.Background(), cliMeta("test"), engine.Group{Name: g, Members: []string{"alice"}}); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	if _, err := runResource(t, "add", "room1", "--type", "room", "--email", "room1@example.org", "--managers", "facilities",
		"--display-name", "Room 1", "--data", dir); err != nil {
		t.Fatalf("add: %v", err)
	}
	t.Run("ErrExists", func(t *testing.T) {
		if _, err := runResource(t, "add", "room1", "--type", "room", "--data", dir); err == nil || !strings.Contains(err.Error(), "exists") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("ErrNoType", func(t *testing.T) {
		if _, err := runResource(t, "add", "car", "--data", dir); !errors.Is(err, errUsage) {
			t.Errorf("err = %v, want usage", err)
		}
	})
	t.Run("ErrTwoPolicies", func(t *testing.T) {
		if _, err := runResource(t, "add", "car", "--type", "resource", "--manual", "--auto-accept", "--data", dir); !errors.Is(err, errUsage) {
			t.Errorf("err = %v, want usage", err)
		}
	})
	t.Run("ErrNoManagersGroup", func(t *testing.T) {
		if _, err := runResource(t, "add", "car", "--type", "resource", "--managers", "nobody", "--data", dir); err == nil {
			t.Error("a managers group that does not exist was accepted")
		}
	})
	t.Run("CannotSignIn", func(t *testing.T) {
		if _, err := checkLogin(t, dir, "room1", "any-password"); !errors.Is(err, auth.ErrBadCredentials) {
			t.Errorf("login: err = %v", err)
		}
		if _, err := runUser(t, "pw\n", "passwd", "room1", "--data", dir); err == nil {
			t.Error("user passwd gave a room a password")
		}
		// Refused before asking for the password: no input is read.
		if _, err := runUser(t, "", "passwd", "room1", "--data", dir); err == nil || !strings.Contains(err.Error(), "is a resource") {
			t.Errorf("user passwd of a room, no input: %v, want refused as a resource", err)
		}
		if _, err := runUser(t, "", "enable", "room1", "--data", dir); err == nil {
			t.Error("user enable enabled a room")
		}
	})
	t.Run("List", func(t *testing.T) {
		out, err := runResource(t, "list", "--data", dir)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := out, "room1\troom\taccept-if-free\tmanagers=facilities\troom1@example.org\tRoom 1\n"; got != want {
			t.Errorf("list:\n%q\nwant\n%q", got, want)
		}
	})
	t.Run("Set", func(t *testing.T) {
		if _, err := runResource(t, "set", "room1", "--manual", "--managers", "office", "--data", dir); err != nil {
			t.Fatal(err)
		}
		putTestUser(t, dir, "bob")
		if _, err := runResource(t, "set", "bob", "--manual", "--data", dir); err == nil {
			t.Error("resource set changed a user")
		}
	})
	db, err = openDB(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	v, err := db.View()
	if err != nil {
		t.Fatal(err)
	}
	u, err := v.User("room1")
	if err != nil || u.Resource.AutoSchedule != engine.AutoManual || u.Resource.Managers != "office" {
		t.Fatalf("after set: %+v, %v", u, err)
	}
	for _, p := range []string{"/dav/home/room1/calendar/", "/dav/home/room1/inbox/"} {
		if _, err := v.Collection(p); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
	ps, err := v.Proxies("room1")
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 1 || ps[0].Delegate != "office" || ps[0].Access != engine.AccessReadWrite {
		t.Errorf("delegates of room1: %+v, want office read-write alone", ps)
	}
	v.Close()
	db.Close()
	if _, err := runResource(t, "remove", "room1", "--data", dir); err != nil {
		t.Fatal(err)
	}
	if out, _ := runResource(t, "list", "--data", dir); out != "" {
		t.Errorf("list after remove: %q", out)
	}
	if db, err = openDB(dir, nil); err != nil {
		t.Fatal(err)
	}
	v, err = db.View()
	if err != nil {
		t.Fatal(err)
	}
	ps, err = v.Proxies("room1")
	if err != nil || len(ps) != 0 {
		t.Errorf("delegates of room1 after remove: %+v, %v, want none", ps, err)
	}
	if of, err := v.ProxyFor("office"); err != nil || len(of) != 0 {
		t.Errorf("office is still a delegate after remove: %+v, %v", of, err)
	}
	v.Close()
	db.Close()
	if _, err := runResource(t, "remove", "bob", "--data", dir); err == nil {
		t.Error("resource remove deleted a user")
	}
}
