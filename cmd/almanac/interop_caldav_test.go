package main

import (
	"context"
	"strings"
	"testing"

	"github.com/almanac/almanac/engine"
)

// TestInteropPythonCaldav runs testdata/caldav_client.py (python-caldav):
// discovery from the root URL, MKCALENDAR, events and todos created,
// edited and deleted, and sync-collection across those changes.
func TestInteropPythonCaldav(t *testing.T) {
	t.Parallel()
	requirePythonModule(t, "caldav", "python3-caldav")
	srv := startServer(t)
	out := runClient(t, srv, nil, systemPython, "testdata/caldav_client.py", srv.BaseURL+"/", "alice", testPassword)
	if !strings.HasSuffix(strings.TrimSpace(out), "OK") {
		t.Fatalf("client did not finish:\n%s", out)
	}
}

// TestInteropPythonCaldavSharing runs testdata/caldav_sharing.py
// (python-caldav, two client sessions): alice shares one calendar with bob
// read-write and one read-only; bob finds both in his home, edits the
// first, is refused in the second; alice's sync sees bob's edit and its
// history names bob.
func TestInteropPythonCaldavSharing(t *testing.T) {
	requirePythonModule(t, "caldav", "python3-caldav")
	srv := startServer(t)
	out := runClient(t, srv, nil, systemPython, "testdata/caldav_sharing.py", srv.BaseURL+"/", testPassword)
	if !strings.HasSuffix(strings.TrimSpace(out), "OK") {
		t.Fatalf("client did not finish:\n%s", out)
	}
}

// TestInteropPythonCaldavScheduling runs testdata/caldav_scheduling.py
// (python-caldav's RFC 6638 API, three client sessions): alice invites bob
// and carol with save_with_invites; bob's schedule_inbox holds the
// invitation and he accepts it with accept_invite; alice's copy shows bob
// ACCEPTED; alice's freebusy_request shows bob busy over the meeting;
// carol's inbox holds the invitation and its update naming bob ACCEPTED;
// carol declines with decline_invite and alice's copy shows it. carol is
// a third account; each user's one address is NAME@example.org.
func TestInteropPythonCaldavScheduling(t *testing.T) {
	t.Parallel()
	requirePythonModule(t, "caldav", "python3-caldav")
	srv := startServer(t)
	ctx := context.Background()
	if err := srv.DB.PutUser(ctx, engine.Meta{Actor: "test"}, engine.User{Name: "carol", PasswordHash: testHash(t), Role: engine.RoleUser}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"alice", "bob", "carol"} {
		err := srv.DB.UpdateUser(ctx, engine.Meta{Actor: "test"}, name, func(u *engine.User) error {
			u.Emails = []string{name + "@example.org"}
			return nil
		})
		if err != nil {
			t.Fatalf("address for %s: %v", name, err)
		}
	}
	out := runClient(t, srv, nil, systemPython, "testdata/caldav_scheduling.py", srv.BaseURL+"/", testPassword)
	if !strings.HasSuffix(strings.TrimSpace(out), "OK") {
		t.Fatalf("client did not finish:\n%s", out)
	}
}
