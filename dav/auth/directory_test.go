package auth

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/almanac/almanac/engine"
)

// fakeDirectory knows carol (password "dir-pw") and alice (password
// "dir-alice"); down makes it fail as an unreachable server does.
type fakeDirectory struct {
	calls atomic.Int32
	down  atomic.Bool
}

func (f *fakeDirectory) Verify(_ context.Context, name, password string) (*DirectoryUser, error) {
	f.calls.Add(1)
	if f.down.Load() {
		return nil, errors.New("dial tcp: connection refused")
	}
	if (name == "carol" && password == "dir-pw") || (name == "alice" && password == "dir-alice") {
		return &DirectoryUser{DisplayName: "Carol", Emails: []string{name + "@example.org"}}, nil
	}
	return nil, ErrBadCredentials
}

// TestDirectory: a user only the directory knows signs in with its
// password, and the success is cached (no second directory call); an
// engine account of the same name wins (the directory is not asked); a
// wrong password counts towards the lockout like a local one; an outage
// is an *UnavailableError, counted nowhere and never a success.
func TestDirectory(t *testing.T) {
	db := MustOpenDB(t)
	MustPutUser(t, db, "alice", MustHash(t, "local"), "user")
	dir := &fakeDirectory{}
	v, err := New(Options{DB: db, Directory: dir, MaxFailures: 2})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for range 2 {
		u, err := v.Authenticate(ctx, "carol", "dir-pw", "192.0.2.1:1")
		if err != nil || u.Name != "carol" || u.Role != "user" {
			t.Fatalf("carol = %+v, %v", u, err)
		}
	}
	if n := dir.calls.Load(); n != 1 {
		t.Errorf("directory asked %d times for two logins, want 1 (cached)", n)
	}
	if du, ok := v.DirectoryUser("carol"); !ok || du.DisplayName != "Carol" {
		t.Errorf("DirectoryUser(carol) = %+v, %v", du, ok)
	}
	if _, err := v.Authenticate(ctx, "alice", "dir-alice", "192.0.2.1:1"); !errors.Is(err, ErrBadCredentials) {
		t.Errorf("alice with the directory's password: %v, want ErrBadCredentials (the engine wins)", err)
	}
	if n := dir.calls.Load(); n != 1 {
		t.Errorf("the directory was asked about an engine user")
	}

	dir.down.Store(true)
	for range 3 {
		_, err := v.Authenticate(ctx, "dave", "pw", "192.0.2.2:1")
		var ue *UnavailableError
		if !errors.As(err, &ue) || ue.ServiceUnavailable() <= 0 {
			t.Fatalf("directory down: %v, want *UnavailableError", err)
		}
	}
	if f := v.Failures(); f.BadCredentials != 1 || f.RateLimited != 0 {
		t.Errorf("failures after outages = %+v, want only alice's bad credentials", f)
	}
	dir.down.Store(false)
	for range 2 {
		if _, err := v.Authenticate(ctx, "carol", "wrong", "192.0.2.3:1"); !errors.Is(err, ErrBadCredentials) {
			t.Fatalf("wrong password: %v", err)
		}
	}
	if _, err := v.Authenticate(ctx, "carol", "dir-pw", "192.0.2.3:1"); !errors.Is(err, ErrRateLimited) {
		t.Errorf("after MaxFailures wrong directory passwords: %v, want ErrRateLimited", err)
	}
}

// fakeGroups is a GroupSource whose groups a test sets.
type fakeGroups struct {
	groups map[string][]string
	err    error
}

func (f *fakeGroups) Groups(context.Context) (map[string][]string, error) { return f.groups, f.err }

// TestDirectoryGroups: a sync sets the directory's groups (actor "ldap"),
// a group that leaves the directory is deleted, a group set otherwise
// (htgroup, the admin) is left alone, and an unreadable directory keeps
// the groups as they are.
func TestDirectoryGroups(t *testing.T) {
	db := MustOpenDB(t)
	ctx := context.Background()
	if err := db.PutGroup(ctx, engine.Meta{Actor: "admin"}, engine.Group{Name: "local", Members: []string{"bob"}}); err != nil {
		t.Fatal(err)
	}
	src := &fakeGroups{groups: map[string][]string{"team": {"carol", "dave"}, "ops": {"erin"}}}
	d := &DirectoryGroups{Source: src, DB: db, Logger: slog.New(slog.DiscardHandler), Actor: "ldap"}
	groups := func() string {
		t.Helper()
		v, err := db.View()
		if err != nil {
			t.Fatal(err)
		}
		defer v.Close()
		gs, err := v.Groups()
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, g := range gs {
			out = append(out, g.Name+"="+strings.Join(g.Members, ",")+"/"+g.SetBy)
		}
		return strings.Join(out, " ")
	}
	if err := d.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if got, want := groups(), "local=bob/admin ops=erin/ldap team=carol,dave/ldap"; got != want {
		t.Errorf("after the first sync: %s, want %s", got, want)
	}
	if !d.Defines("team") || d.Defines("local") {
		t.Error("Defines: want team, not local")
	}
	src.groups = map[string][]string{"team": {"carol"}}
	if err := d.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if got, want := groups(), "local=bob/admin team=carol/ldap"; got != want {
		t.Errorf("after ops left and dave left team: %s, want %s", got, want)
	}
	src.err = errors.New("ldap: directory unavailable")
	if err := d.Sync(ctx); err == nil {
		t.Error("an unreadable directory: no error")
	}
	if got, want := groups(), "local=bob/admin team=carol/ldap"; got != want {
		t.Errorf("after a failed sync: %s, want %s", got, want)
	}
}
