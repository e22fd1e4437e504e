package engine

import "testing"

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
