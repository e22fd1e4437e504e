package main

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/almanac/almanac/engine"
)

// TestServeHtgroup: serve --htgroup makes the file's groups groups of the
// log (actor htgroup); a grant to a file group gives its members access to
// the calendar; a malformed line is logged with its number and the rest
// loads; adding and removing a member in the file changes access without a
// restart (at the next change check, and at once on reload); a group that
// leaves the file is deleted; `almanac group` cannot change a file group
// while the server runs.
func TestServeHtgroup(t *testing.T) {
	file := filepath.Join(t.TempDir(), "htgroup")
	write := func(s string) {
		t.Helper()
		if err := os.WriteFile(file, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("team: carol\nthis line is bad\nother: alice\n")
	srv := startServer(t, "--htgroup="+file)
	ctx := context.Background()
	if !strings.Contains(srv.Logs.String(), "line 2") {
		t.Errorf("the malformed line is not reported with its number:\n%s", srv.Logs)
	}
	group := func(name string) (*engine.Group, error) {
		v, err := srv.DB.View()
		if err != nil {
			t.Fatal(err)
		}
		defer v.Close()
		return v.Group(name)
	}
	g, err := group("team")
	if err != nil || strings.Join(g.Members, " ") != "carol" {
		t.Fatalf("group team = %+v, %v; want members carol", g, err)
	}

	// The file is the truth of its groups: the admin API refuses to
	// change them.
	admin := map[string]string{"ALMANAC_PASSWORD": testPassword}
	if _, _, err := runShareAs(t, admin, "", "group", "member", "add", "team", "bob", "--data="+srv.DataDir); err == nil || !strings.Contains(err.Error(), "htgroup file") {
		t.Errorf("group member add to a file group while serving: %v, want refused", err)
	}
	mkcalendarAs(t, srv, "alice", "work")
	if err := srv.DB.Grant(ctx, engine.Meta{Actor: "alice"}, "/dav/home/alice/work/", "team", engine.AccessRead, engine.GrantOptions{AutoAccept: true}); err != nil {
		t.Fatal(err)
	}
	bobSees := func() int {
		t.Helper()
		return propfindStatus(t, srv.BaseURL+"/dav/home/alice/work/", "bob", testPassword)
	}
	if got := bobSees(); got != http.StatusNotFound {
		t.Fatalf("bob before joining team: %d, want 404", got)
	}

	// A change the size check sees: synced by the next poll.
	write("team: carol bob\nthis line is bad\nother: alice\n")
	if err := srv.Main.groups.Sync(ctx, false); err != nil {
		t.Fatal(err)
	}
	if got := bobSees(); got != http.StatusMultiStatus {
		t.Fatalf("bob after joining team in the file: %d, want 207", got)
	}

	// Removing him and the group "other": at once on reload (SIGHUP).
	write("team: carol\n")
	if err := srv.Main.Reload(); err != nil {
		t.Fatal(err)
	}
	if got := bobSees(); got != http.StatusNotFound {
		t.Errorf("bob after leaving team in the file: %d, want 404", got)
	}
	if _, err := group("other"); err == nil {
		t.Error("group other still exists after it left the file")
	}
}

// mkcalendarAs makes the calendar NAME in user's home over DAV.
func mkcalendarAs(t *testing.T, srv *testServer, user, name string) {
	t.Helper()
	req, _ := http.NewRequest("MKCALENDAR", srv.BaseURL+"/dav/home/"+user+"/"+name+"/", nil)
	req.SetBasicAuth(user, testPassword)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("MKCALENDAR %s/%s: %d", user, name, resp.StatusCode)
	}
}

// TestServeHtgroupRemovedWhileStopped: a group removed from the htgroup
// file while no server runs is deleted at the next start (with its
// grants, by the actor htgroup); a group made with `almanac group`, which
// the file never defined, stays.
func TestServeHtgroupRemovedWhileStopped(t *testing.T) {
	dir, file := t.TempDir(), filepath.Join(t.TempDir(), "htgroup")
	if err := os.WriteFile(file, []byte("team: carol\nold: bob\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := startServer(t, "--data="+dir, "--htgroup="+file)
	ctx := context.Background()
	if err := srv.DB.PutGroup(ctx, engine.Meta{Actor: "admin"}, engine.Group{Name: "manual", Members: []string{"carol"}}); err != nil {
		t.Fatal(err)
	}
	mkcalendarAs(t, srv, "alice", "c")
	if err := srv.DB.Grant(ctx, engine.Meta{Actor: "alice"}, "/dav/home/alice/c/", "old", engine.AccessRead, engine.GrantOptions{AutoAccept: true}); err != nil {
		t.Fatal(err)
	}
	srv.Stop(t)
	if err := os.WriteFile(file, []byte("team: carol\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	srv = startServer(t, "--data="+dir, "--htgroup="+file)
	v, err := srv.DB.View()
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	gs, err := v.Groups()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, g := range gs {
		names = append(names, g.Name+":"+g.SetBy)
	}
	if got, want := strings.Join(names, " "), "manual:admin team:htgroup"; got != want {
		t.Errorf("groups after a restart = %q, want %q", got, want)
	}
	if grants, err := v.Grants("/dav/home/alice/c/"); err != nil || len(grants) != 0 {
		t.Errorf("grants of alice's calendar after the restart: %+v, %v; want none (old was deleted)", grants, err)
	}
}
