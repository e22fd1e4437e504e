package engine

import (
	"errors"
	"fmt"
	"testing"
)

// TestHadUsers: a new database has had no account; one created with
// collections in the log before it counts, and so does one deleted since
// (serve's first-run admin is made only when HadUsers is false).
func TestHadUsers(t *testing.T) {
	db := MustOpen(t)
	had := func() bool {
		t.Helper()
		ok, err := db.HadUsers()
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if had() {
		t.Fatal("empty database: HadUsers = true")
	}
	MustCalendar(t, db) // events, but no account
	if had() {
		t.Fatal("a log of collections only: HadUsers = true")
	}
	if err := db.PutUser(ctx, alice, User{Name: "bob", PasswordHash: "$2a$10$x"}); err != nil {
		t.Fatal(err)
	}
	if !had() {
		t.Fatal("with an account: HadUsers = false")
	}
	if err := db.DeleteUser(ctx, alice, "bob"); err != nil {
		t.Fatal(err)
	}
	if !had() {
		t.Fatal("after the only account was deleted: HadUsers = false")
	}
}

// TestAddUpdateUser: AddUser refuses a name taken (also within one batch
// of concurrent adds: exactly one wins), UpdateUser changes the current
// account and refuses a missing one, and Disabled survives the log.
func TestAddUpdateUser(t *testing.T) {
	db := MustOpen(t)
	const n = 8
	errs := make(chan error, n)
	for i := range n {
		go func() { errs <- db.AddUser(ctx, alice, User{Name: "bob", PasswordHash: fmt.Sprint(i)}) }()
	}
	won := 0
	for range n {
		switch err := <-errs; {
		case err == nil:
			won++
		case !errors.Is(err, ErrExists):
			t.Fatalf("AddUser: %v, want nil or ErrExists", err)
		}
	}
	if won != 1 {
		t.Fatalf("%d concurrent adds of bob succeeded, want 1", won)
	}
	// Concurrent token additions are all kept.
	for i := range n {
		go func() {
			errs <- db.UpdateUser(ctx, alice, "bob", func(u *User) error {
				u.Tokens = append(u.Tokens, APIToken{ID: fmt.Sprint("t", i)})
				return nil
			})
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if err := db.UpdateUser(ctx, alice, "bob", func(u *User) error { u.Disabled = true; return nil }); err != nil {
		t.Fatal(err)
	}
	u, err := db.User("bob")
	if err != nil || len(u.Tokens) != n || !u.Disabled || u.Role != RoleUser {
		t.Fatalf("bob = %+v, %v; want %d tokens, disabled, role user", u, err, n)
	}
	if err := db.UpdateUser(ctx, alice, "carol", func(*User) error { return nil }); !errors.Is(err, ErrNotFound) {
		t.Errorf("UpdateUser of a missing user: %v, want ErrNotFound", err)
	}
	stop := errors.New("no")
	if err := db.UpdateUser(ctx, alice, "bob", func(*User) error { return stop }); !errors.Is(err, stop) {
		t.Errorf("UpdateUser whose fn fails: %v, want its error", err)
	}
	if err := db.Rebuild(ctx); err != nil {
		t.Fatal(err)
	}
	if u, err := db.User("bob"); err != nil || !u.Disabled || len(u.Tokens) != n {
		t.Errorf("after a rebuild from the log: %+v, %v", u, err)
	}
}
