package main

import (
	"strings"
	"testing"
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
