package ldapauth_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/almanac/almanac/dav/auth/ldapauth"
	"github.com/almanac/almanac/dav/auth/ldapauth/slapdtest"
)

// entries returns the test users alice and bob (passwords "alice-pw",
// "bob-pw").
func entries(t testing.TB) string {
	return slapdtest.Person(t, true, "alice", "Alice Liddell", "alice-pw", "alice@example.org", "a.liddell@example.org") +
		slapdtest.Person(t, false, "bob", "Bob", "bob-pw")
}

func newDirectory(t testing.TB, url string) *ldapauth.Directory {
	t.Helper()
	d, err := ldapauth.New(ldapauth.Config{
		URL:          url,
		BindDN:       slapdtest.RootDN,
		BindPassword: slapdtest.RootPassword,
		UserBase:     slapdtest.People,
	})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestAuthenticate(t *testing.T) {
	srv := slapdtest.Start(t, entries(t), "", "")
	d := newDirectory(t, srv.URL)
	ctx := context.Background()

	u, err := d.Authenticate(ctx, "alice", "alice-pw")
	if err != nil {
		t.Fatalf("good password: %v", err)
	}
	if u.DN != "uid=alice,"+slapdtest.People || u.DisplayName != "Alice Liddell" ||
		fmt.Sprint(u.Emails) != "[alice@example.org a.liddell@example.org]" {
		t.Errorf("alice = %+v", u)
	}
	for _, c := range []struct{ name, user, password string }{
		{"wrong password", "alice", "bob-pw"},
		{"empty password", "alice", ""},
		{"unknown user", "carol", "alice-pw"},
		{"filter injection", "*)(uid=*", "alice-pw"},
		{"wildcard", "*", "alice-pw"},
		{"wildcard matching one user", "b*", "bob-pw"},
		{"injection of an or", "alice)(|(uid=bob", "bob-pw"},
	} {
		t.Run(c.name, func(t *testing.T) {
			u, err := d.Authenticate(ctx, c.user, c.password)
			if !errors.Is(err, ldapauth.ErrBadCredentials) || u != nil {
				t.Errorf("Authenticate(%q, %q) = %+v, %v; want ErrBadCredentials", c.user, c.password, u, err)
			}
		})
	}
}

// TestEmptyPasswordNeverBinds: an unauthenticated bind (a DN, no
// password) succeeds in LDAP, so the empty password must be refused
// before it; here against a directory that would accept anything that
// reached it, being down.
func TestEmptyPasswordNeverBinds(t *testing.T) {
	d := newDirectory(t, slapdtest.ClosedURL(t))
	if _, err := d.Authenticate(context.Background(), "alice", ""); !errors.Is(err, ldapauth.ErrBadCredentials) {
		t.Errorf("empty password = %v, want ErrBadCredentials without a connection", err)
	}
}

func TestDirectoryDown(t *testing.T) {
	srv := slapdtest.Start(t, entries(t), "", "")
	d := newDirectory(t, srv.URL)
	srv.Stop()
	u, err := d.Authenticate(context.Background(), "alice", "alice-pw")
	if !errors.Is(err, ldapauth.ErrUnavailable) || errors.Is(err, ldapauth.ErrBadCredentials) || u != nil {
		t.Errorf("directory down: %+v, %v; want ErrUnavailable", u, err)
	}
}

// TestServiceBindRefused: a wrong service password is the directory's
// fault, never the user's, and never a success.
func TestServiceBindRefused(t *testing.T) {
	srv := slapdtest.Start(t, entries(t), "", "")
	d, err := ldapauth.New(ldapauth.Config{
		URL: srv.URL, BindDN: slapdtest.RootDN, BindPassword: "wrong",
		UserBase: slapdtest.People,
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Authenticate(context.Background(), "alice", "alice-pw"); !errors.Is(err, ldapauth.ErrUnavailable) {
		t.Errorf("service bind refused: %v, want ErrUnavailable", err)
	}
}

func TestCanceled(t *testing.T) {
	srv := slapdtest.Start(t, entries(t), "", "")
	d := newDirectory(t, srv.URL)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := d.Authenticate(ctx, "alice", "alice-pw"); !errors.Is(err, context.Canceled) {
		t.Errorf("canceled: %v, want context.Canceled", err)
	}
}

func TestConfigValidate(t *testing.T) {
	for _, c := range []ldapauth.Config{
		{URL: "http://x", UserBase: "dc=x"},
		{URL: "ldaps://x:636", StartTLS: true, UserBase: "dc=x"},
		{URL: "ldap://x"},
		{URL: "ldap://x", UserBase: "dc=x", UserFilter: "(uid=%s)(cn=%s)"},
		{URL: "ldap://x", UserBase: "dc=x", UserFilter: "(uid=%d)"},
		{URL: "ldap://x", UserBase: "dc=x", UserFilter: "uid=%s(("},
	} {
		if _, err := ldapauth.New(c); err == nil {
			t.Errorf("New(%+v) accepted", c)
		}
	}
}

// BenchmarkAuthenticate is one login against slapd on loopback: a new
// connection, the service bind, the search and the user's bind.
func BenchmarkAuthenticate(b *testing.B) {
	srv := slapdtest.Start(b, entries(b), "", "")
	d := newDirectory(b, srv.URL)
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := d.Authenticate(ctx, "alice", "alice-pw"); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// TestGroups: groups are read with their members' user names; a member DN
// outside the user base, or not named by uid, or a nested group, is
// skipped; more groups than MaxGroups is an error, never a partial list;
// without a group base, ErrNoGroups.
func TestGroups(t *testing.T) {
	srv := slapdtest.Start(t, entries(t)+
		slapdtest.Group(true, "team", slapdtest.UserDN("alice"), slapdtest.UserDN("bob"),
			"uid=mallory,ou=elsewhere,"+slapdtest.Base, "cn=bob,"+slapdtest.People, "cn=other,"+slapdtest.Groups)+
		slapdtest.Group(false, "solo", slapdtest.UserDN("bob")), "", "")
	cfg := ldapauth.Config{URL: srv.URL, BindDN: slapdtest.RootDN, BindPassword: slapdtest.RootPassword,
		UserBase: slapdtest.People}
	d, err := ldapauth.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Groups(context.Background()); !errors.Is(err, ldapauth.ErrNoGroups) {
		t.Errorf("no group base: %v, want ErrNoGroups", err)
	}
	cfg.GroupBase = slapdtest.Groups
	if d, err = ldapauth.New(cfg); err != nil {
		t.Fatal(err)
	}
	g, err := d.Groups(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got, want := fmt.Sprint(g), "map[solo:[bob] team:[alice bob]]"; got != want {
		t.Errorf("groups = %s, want %s", got, want)
	}
	cfg.MaxGroups = 1
	if d, err = ldapauth.New(cfg); err != nil {
		t.Fatal(err)
	}
	if g, err := d.Groups(context.Background()); !errors.Is(err, ldapauth.ErrUnavailable) || g != nil {
		t.Errorf("two groups over MaxGroups 1: %v, %v; want ErrUnavailable", g, err)
	}
}
