package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/almanac/almanac/engine"
)

// runShare runs `almanac NAME args...` (group, share or proxy) and
// returns stdout.
func runShare(t *testing.T, name string, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	c := &shareCLI{stdout: &out, stderr: &errOut, getenv: func(string) string { return "" }}
	run := map[string]func(context.Context, []string) error{"group": c.group, "share": c.share, "proxy": c.proxy}[name]
	err := run(context.Background(), args)
	return out.String(), err
}

// TestShareCommands runs group, share and proxy on a data directory and
// checks what the engine then holds: bob's mount of alice's calendar
// through the group, the grants `share list` prints, carol as alice's
// write delegate, and that every change is an event by the CLI.
func TestShareCommands(t *testing.T) {
	dir := t.TempDir()
	db, err := openDB(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	m := engine.Meta{Actor: "test"}
	for _, u := range []string{"alice", "bob", "carol"} {
		if err := db.PutUser(context.Background(), m, engine.User{Name: u}); err != nil {
			t.Fatal(err)
		}
		if _, err := db.CreateCollection(context.Background(), m, engine.CollectionSpec{Path: "/dav/home/" + u + "/", Kind: engine.KindHome, Owner: u}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.CreateCollection(context.Background(), m, engine.CollectionSpec{Path: "/dav/home/alice/calendar/", Kind: engine.KindCalendar, Owner: "alice"}); err != nil {
		t.Fatal(err)
	}
	db.Close()

	for _, step := range []struct {
		cmd  string
		args []string
		want string
	}{
		{"group", []string{"add", "family", "--display-name", "The Family", "--data", dir}, "added group family\n"},
		{"group", []string{"member", "add", "family", "bob", "carol", "--data", dir}, "group family: added bob carol\n"},
		{"group", []string{"member", "remove", "family", "carol", "--data", dir}, "group family: removed carol\n"},
		{"group", []string{"list", "--data", dir}, "family\tThe Family\tbob\n"},
		{"share", []string{"grant", "alice/calendar", "--to", "family", "--access", "read-write", "--data", dir}, "shared /dav/home/alice/calendar/ with family (read-write)\n"},
		{"share", []string{"grant", "/dav/home/alice/calendar/", "--to", "carol", "--data", dir}, "shared /dav/home/alice/calendar/ with carol (read)\n"},
		{"share", []string{"list", "alice/calendar", "--data", dir}, "carol\tread\nfamily\tread-write\n"},
		{"share", []string{"revoke", "alice/calendar", "--to", "carol", "--data", dir}, "revoked /dav/home/alice/calendar/ from carol\n"},
		{"proxy", []string{"set", "alice", "--write", "carol", "--data", dir}, "alice: delegate carol: read-write\n"},
		{"proxy", []string{"list", "alice", "--data", dir}, "carol\tread-write\n"},
	} {
		out, err := runShare(t, step.cmd, step.args...)
		if err != nil || out != step.want {
			t.Fatalf("%s %q: %q, %v; want %q", step.cmd, step.args, out, err, step.want)
		}
	}
	for _, bad := range []struct {
		cmd  string
		args []string
	}{
		{"share", []string{"grant", "alice/calendar", "--data", dir}},                                   // no --to
		{"share", []string{"grant", "alice/calendar", "--to", "bob", "--access", "all", "--data", dir}}, // bad access
		{"proxy", []string{"set", "alice", "--read", "bob", "--write", "carol", "--data", dir}},         // two delegations
		{"group", []string{"member", "add", "family", "--data", dir}},                                   // no user
	} {
		if _, err := runShare(t, bad.cmd, bad.args...); !errors.Is(err, errUsage) {
			t.Errorf("%s %q: %v, want a usage error", bad.cmd, bad.args, err)
		}
	}
	if _, err := runShare(t, "share", "grant", "alice/nope", "--to", "bob", "--data", dir); !errors.Is(err, engine.ErrNotFound) {
		t.Errorf("grant of a missing collection: %v", err)
	}

	// Public links: the token is printed once; list shows the id, never
	// the token; revoke by id.
	out, err := runShare(t, "share", "link", "create", "alice/calendar", "--freebusy", "--data", dir)
	if err != nil {
		t.Fatal(err)
	}
	var id, token string
	if _, err := fmt.Sscanf(out, "link %s to /dav/home/alice/calendar/", &id); err != nil {
		t.Fatalf("link create printed %q: %v", out, err)
	}
	if i := strings.Index(out, "https://HOST/pub/"); i >= 0 {
		token = strings.TrimSuffix(strings.Fields(out[i+len("https://HOST/pub/"):])[0], ".ics")
	}
	if len(token) != 43 || !strings.Contains(out, "webcal://HOST/pub/"+token+".ics") {
		t.Fatalf("link create printed %q", out)
	}
	out, err = runShare(t, "share", "link", "list", "alice/calendar", "--data", dir)
	if err != nil || !strings.HasPrefix(out, id+"\tfreebusy\t") || strings.Contains(out, token) {
		t.Errorf("link list: %q, %v", out, err)
	}
	if out, err := runShare(t, "share", "link", "revoke", "alice/calendar", id, "--data", dir); err != nil || out != "revoked link "+id+" of /dav/home/alice/calendar/\n" {
		t.Errorf("link revoke: %q, %v", out, err)
	}
	if out, err := runShare(t, "share", "link", "list", "alice/calendar", "--data", dir); err != nil || out != "" {
		t.Errorf("link list after the revocation: %q, %v", out, err)
	}
	// A published calendar's link (CS:publish-calendar) is listed with its
	// URL: the server derives its token again.
	db, err = openDB(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := db.Publish(context.Background(), engine.Meta{Actor: "alice"}, "/dav/home/alice/calendar/")
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	if out, err := runShare(t, "share", "link", "list", "alice/calendar", "--data", dir); err != nil || !strings.HasPrefix(out, pub.ID+"\tcalendar\t") || !strings.HasSuffix(out, "\tpublished https://HOST/pub/"+pub.Token+".ics\n") {
		t.Errorf("link list of a published calendar: %q, %v", out, err)
	}

	db, err = openDB(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	v, err := db.View()
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	ms, err := v.Mounts("bob")
	if err != nil || len(ms) != 1 || ms[0].MountPath != "/dav/home/bob/alice-calendar/" || ms[0].Access != engine.AccessReadWrite {
		t.Fatalf("bob's mounts: %+v, %v", ms, err)
	}
	if r, err := v.Access("carol", "/dav/home/alice/calendar/x.ics"); err != nil || r.Access != engine.AccessReadWrite {
		t.Errorf("carol, alice's write delegate: %+v, %v", r, err)
	}
	evs, err := v.CollectionHistory("/dav/home/alice/calendar/", time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	grants := 0
	for _, e := range evs {
		if e.Op == engine.OpShareGranted {
			grants++
			if e.Actor != "almanac-cli" || e.UserAgent != "almanac share grant" {
				t.Errorf("grant event by %q (%q)", e.Actor, e.UserAgent)
			}
		}
	}
	if grants != 2 {
		t.Errorf("%d grant events in the calendar's history, want 2", grants)
	}
}

// runShareAs runs `almanac NAME args...` with the environment env and
// stdin, and returns stdout and stderr.
func runShareAs(t *testing.T, env map[string]string, stdin, name string, args ...string) (string, string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	c := &shareCLI{stdin: strings.NewReader(stdin), stdout: &out, stderr: &errOut, getenv: func(k string) string { return env[k] }}
	run := map[string]func(context.Context, []string) error{"group": c.group, "share": c.share, "proxy": c.proxy}[name]
	err := run(context.Background(), args)
	return out.String(), errOut.String(), err
}

// TestShareCommandsWhileServing: with a server running on the data
// directory, group, share and proxy find it through DATA/server.json and
// work through its admin API as the admin: `share grant` gives bob access
// over DAV at once and `share revoke` takes it away at once; a group grant
// reaches its member; lists, delegates and links work; the link is an
// event by the admin; a non-admin is refused and an unknown collection is
// a not-found error.
func TestShareCommandsWhileServing(t *testing.T) {
	srv := startServer(t)
	admin := map[string]string{"ALMANAC_PASSWORD": testPassword}
	data := "--data=" + srv.DataDir
	mkcalendarAs(t, srv, "alice", "work")
	bobSees := func() int {
		t.Helper()
		return propfindStatus(t, srv.BaseURL+"/dav/home/alice/work/", "bob", testPassword)
	}
	run := func(name string, args ...string) string {
		t.Helper()
		out, stderr, err := runShareAs(t, admin, "", name, append(args, data)...)
		if err != nil {
			t.Fatalf("%s %v: %v", name, args, err)
		}
		if !strings.Contains(stderr, "using its admin API at "+srv.BaseURL) {
			t.Errorf("%s %v: stderr does not say it used the running server: %q", name, args, stderr)
		}
		return out
	}
	if got := bobSees(); got != http.StatusNotFound {
		t.Fatalf("bob before the grant: %d, want 404", got)
	}
	run("share", "grant", "alice/work", "--to", "bob", "--access", "read-write")
	if got := bobSees(); got != http.StatusMultiStatus {
		t.Fatalf("bob after share grant: %d, want 207", got)
	}
	if out := run("share", "list", "alice/work"); out != "bob\tread-write\n" {
		t.Errorf("share list = %q", out)
	}
	run("share", "revoke", "alice/work", "--to", "bob")
	if got := bobSees(); got != http.StatusNotFound {
		t.Fatalf("bob after share revoke: %d, want 404", got)
	}

	run("group", "add", "team", "--display-name", "The Team")
	run("group", "member", "add", "team", "bob")
	if out := run("group", "list"); out != "team\tThe Team\tbob\n" {
		t.Errorf("group list = %q", out)
	}
	run("share", "grant", "alice/work", "--to", "team")
	if got := bobSees(); got != http.StatusMultiStatus {
		t.Errorf("bob through the group: %d, want 207", got)
	}
	if _, _, err := runShareAs(t, admin, "", "group", "add", "team", data); err == nil || !strings.Contains(err.Error(), "exists") {
		t.Errorf("second group add: %v, want exists", err)
	}
	run("proxy", "set", "alice", "--read", "bob")
	if out := run("proxy", "list", "alice"); out != "bob\tread\n" {
		t.Errorf("proxy list = %q", out)
	}
	out := run("share", "link", "create", "alice/work")
	if !strings.Contains(out, "https://HOST/pub/") {
		t.Errorf("link create = %q", out)
	}
	if out := run("share", "link", "list", "alice/work"); !strings.Contains(out, "\tcalendar\t") || !strings.HasSuffix(out, "\tadmin\n") {
		t.Errorf("link list = %q", out)
	}

	v, err := srv.DB.View()
	if err != nil {
		t.Fatal(err)
	}
	gs, err := v.Grants("/dav/home/alice/work/")
	v.Close()
	if err != nil || len(gs) != 1 || gs[0].Grantee != "team" {
		t.Fatalf("grants = %v, %v", gs, err)
	}
	if _, _, err := runShareAs(t, map[string]string{"ALMANAC_PASSWORD": testPassword}, "", "share", "list", "alice/work", data, "--as", "alice"); err == nil || !strings.Contains(err.Error(), "not an admin") {
		t.Errorf("share list as alice: %v, want not an admin", err)
	}
	if _, _, err := runShareAs(t, admin, "", "share", "grant", "alice/nothing", "--to", "bob", data); !errors.Is(err, engine.ErrNotFound) {
		t.Errorf("grant of a missing collection: %v, want not found", err)
	}
}
