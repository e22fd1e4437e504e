package engine

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// TestDirectoryUser: what a directory says of a user is recorded once per
// change (a second identical sign-in appends nothing), bounded (the
// display name cut and cleaned, bad addresses dropped, at most
// MaxEmailsPerUser), read back with its event's time, listed, kept out of
// the address index and the accounts, and derived again by a rebuild.
func TestDirectoryUser(t *testing.T) {
	db := MustOpen(t)
	ldap := Meta{Actor: "carol", UserAgent: "ldap"}
	set := func(u DirectoryUser) bool {
		t.Helper()
		changed, err := db.SetDirectoryUser(ctx, ldap, u)
		if err != nil {
			t.Fatal(err)
		}
		return changed
	}
	carol := DirectoryUser{Name: "carol", DisplayName: "Carol Danvers", Emails: []string{"carol@EXAMPLE.org"}, Source: "ldap"}
	if !set(carol) {
		t.Error("first record: changed = false")
	}
	head := db.Head()
	if set(carol) || db.Head() != head {
		t.Errorf("the same record again appended an event (seq %d -> %d)", head, db.Head())
	}
	carol.DisplayName = "Carol D."
	if !set(carol) || db.Head() != head+1 {
		t.Errorf("a new display name: seq %d -> %d, want one event", head, db.Head())
	}

	many := []string{"not an address", "dave@x.test", "dave@X.TEST"}
	for i := range MaxEmailsPerUser + 5 {
		many = append(many, fmt.Sprintf("d%d@x.test", i))
	}
	set(DirectoryUser{Name: "dave", DisplayName: "Dave\x00\n" + strings.Repeat("é", MaxDirectoryDisplayName), Emails: many, Source: "ldap"})

	check := func(when string) {
		t.Helper()
		v, err := db.View()
		if err != nil {
			t.Fatal(err)
		}
		defer v.Close()
		c, err := v.DirectoryUser("carol")
		if err != nil {
			t.Fatalf("%s: %v", when, err)
		}
		if c.DisplayName != "Carol D." || fmt.Sprint(c.Emails) != "[carol@example.org]" || c.Source != "ldap" || c.Updated.IsZero() {
			t.Errorf("%s: carol = %+v", when, c)
		}
		d, err := v.DirectoryUser("dave")
		if err != nil {
			t.Fatalf("%s: %v", when, err)
		}
		if !strings.HasPrefix(d.DisplayName, "Daveé") || len(d.DisplayName) > MaxDirectoryDisplayName ||
			len(d.Emails) != MaxEmailsPerUser || d.Emails[0] != "dave@x.test" || d.Emails[1] != "d0@x.test" {
			t.Errorf("%s: dave = %q (%d bytes), %d emails %v", when, d.DisplayName, len(d.DisplayName), len(d.Emails), d.Emails)
		}
		all, err := v.DirectoryUsers()
		if err != nil || len(all) != 2 || all[0].Name != "carol" || all[1].Name != "dave" {
			t.Errorf("%s: DirectoryUsers = %v, %v", when, all, err)
		}
		if _, err := v.User("carol"); !errors.Is(err, ErrNotFound) {
			t.Errorf("%s: a directory user became an account: %v", when, err)
		}
		if _, err := v.UserByEmail("carol@example.org"); !errors.Is(err, ErrNotFound) {
			t.Errorf("%s: a directory address is in the index: %v", when, err)
		}
	}
	check("live")
	if err := db.Rebuild(ctx); err != nil {
		t.Fatal(err)
	}
	check("after a rebuild")
	if err := db.Verify(ctx); err != nil {
		t.Error(err)
	}
	if _, err := db.SetDirectoryUser(ctx, ldap, DirectoryUser{Name: "a/b"}); !errors.Is(err, ErrInvalidName) {
		t.Errorf("name a/b: %v, want ErrInvalidName", err)
	}
}
