package engine

import (
	"errors"
	"fmt"
	"testing"
)

// TestUserEmails: addresses are normalized (mailto: of any case dropped,
// the domain lower-cased, duplicates folded), found by UserByEmail in any
// case of the domain, belong to one user only (ErrExists, also within one
// batch), leave the index with the account or when removed, are refused
// when malformed or too many, and the index rebuilds from the log.
func TestUserEmails(t *testing.T) {
	db := MustOpen(t)
	err := db.AddUser(ctx, alice, User{Name: "bob", Emails: []string{"MAILTO:Bob@Example.ORG", "Bob@example.org", "b@x.test"}})
	if err != nil {
		t.Fatal(err)
	}
	u, err := db.User("bob")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := fmt.Sprint(u.Emails), "[Bob@example.org b@x.test]"; got != want {
		t.Errorf("emails = %s, want %s", got, want)
	}
	who := func(addr string) string {
		t.Helper()
		v, err := db.View()
		if err != nil {
			t.Fatal(err)
		}
		defer v.Close()
		name, err := v.UserByEmail(addr)
		if errors.Is(err, ErrNotFound) {
			return ""
		}
		if err != nil {
			t.Fatal(err)
		}
		return name
	}
	for _, a := range []string{"Bob@EXAMPLE.org", "mailto:Bob@example.org", "Mailto:b@X.test"} {
		if got := who(a); got != "bob" {
			t.Errorf("UserByEmail(%q) = %q, want bob", a, got)
		}
	}
	if got := who("bob@example.org"); got != "" {
		t.Errorf("the local part's case counts: UserByEmail(bob@example.org) = %q", got)
	}
	err = db.AddUser(ctx, alice, User{Name: "carol", Emails: []string{"b@X.TEST"}})
	if !errors.Is(err, ErrExists) {
		t.Fatalf("carol taking bob's address: %v, want ErrExists", err)
	}
	// Two concurrent claims of one address: one wins.
	errs := make(chan error, 2)
	for _, n := range []string{"dave", "erin"} {
		go func() { errs <- db.AddUser(ctx, alice, User{Name: n, Emails: []string{"shared@x.test"}}) }()
	}
	if a, b := <-errs, <-errs; (a == nil) == (b == nil) {
		t.Fatalf("two claims of one address: %v and %v, want one success", a, b)
	}
	for _, bad := range []string{"nobody", "@x", "a@", "a b@x", "a@b@c", "<a@x>"} {
		if err := db.AddUser(ctx, alice, User{Name: "frank", Emails: []string{bad}}); !errors.Is(err, ErrInvalidName) {
			t.Errorf("address %q: %v, want ErrInvalidName", bad, err)
		}
	}
	many := make([]string, MaxEmailsPerUser+1)
	for i := range many {
		many[i] = fmt.Sprintf("f%d@x.test", i)
	}
	if err := db.AddUser(ctx, alice, User{Name: "frank", Emails: many}); !errors.Is(err, ErrInvalidName) {
		t.Errorf("%d addresses: %v, want ErrInvalidName", len(many), err)
	}
	// Removing an address frees it.
	if err := db.UpdateUser(ctx, alice, "bob", func(u *User) error { u.Emails = u.Emails[:1]; return nil }); err != nil {
		t.Fatal(err)
	}
	if got := who("b@x.test"); got != "" {
		t.Errorf("removed address still names %q", got)
	}
	if err := db.AddUser(ctx, alice, User{Name: "carol", Emails: []string{"b@x.test"}}); err != nil {
		t.Fatalf("carol taking a freed address: %v", err)
	}
	if err := db.Rebuild(ctx); err != nil {
		t.Fatal(err)
	}
	if got := who("b@x.test"); got != "carol" {
		t.Errorf("after a rebuild: b@x.test names %q, want carol", got)
	}
	if err := db.DeleteUser(ctx, alice, "bob"); err != nil {
		t.Fatal(err)
	}
	if got := who("Bob@example.org"); got != "" {
		t.Errorf("a deleted user's address names %q", got)
	}
}

// TestScheduleCollections: an inbox takes iTIP messages (METHOD required,
// several with one UID side by side, RFC 6638 §2.2) and an outbox nothing
// (§2.1: ErrConflict); neither may contain collections.
func TestScheduleCollections(t *testing.T) {
	db := MustOpen(t)
	for _, spec := range []CollectionSpec{
		{Path: "/dav/home/alice/", Kind: KindHome, Owner: "alice"},
		{Path: "/dav/home/alice/inbox/", Kind: KindInbox, Owner: "alice"},
		{Path: "/dav/home/alice/outbox/", Kind: KindOutbox, Owner: "alice"},
	} {
		if _, err := db.CreateCollection(ctx, alice, spec); err != nil {
			t.Fatal(err)
		}
	}
	msg := func(method string) []byte {
		return []byte("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\n" + method +
			"BEGIN:VEVENT\r\nUID:u1\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20260105T100000Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")
	}
	for _, name := range []string{"a.ics", "b.ics"} {
		if _, err := db.PutObject(ctx, alice, "/dav/home/alice/inbox/", name, msg("METHOD:REQUEST\r\n"), PutOptions{}); err != nil {
			t.Fatalf("inbox %s: %v", name, err)
		}
	}
	var inv *InvalidDataError
	if _, err := db.PutObject(ctx, alice, "/dav/home/alice/inbox/", "c.ics", msg(""), PutOptions{}); !errors.As(err, &inv) {
		t.Errorf("inbox without METHOD: %v, want InvalidDataError", err)
	}
	if _, err := db.PutObject(ctx, alice, "/dav/home/alice/outbox/", "a.ics", msg("METHOD:REQUEST\r\n"), PutOptions{}); !errors.Is(err, ErrConflict) {
		t.Errorf("outbox: %v, want ErrConflict", err)
	}
	for _, p := range []string{"/dav/home/alice/inbox/x/", "/dav/home/alice/outbox/x/"} {
		if _, err := db.CreateCollection(ctx, alice, CollectionSpec{Path: p, Kind: KindPlain, Owner: "alice"}); !errors.Is(err, ErrConflict) {
			t.Errorf("collection %s: %v, want ErrConflict", p, err)
		}
	}
}
