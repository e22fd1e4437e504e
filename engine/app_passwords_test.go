package engine

import (
	"errors"
	"regexp"
	"strings"
	"testing"
)

// TestAppPasswords: an app password is made for an account, matches only
// itself, survives a password change (OP_USER_SET), records its last use,
// is gone once revoked, and the projections equal a rebuild from the log
// (Verify); the log holds its hash, never the password.
func TestAppPasswords(t *testing.T) {
	db := MustOpen(t)
	if err := db.AddUser(ctx, alice, User{Name: "alice", PasswordHash: "$2a$10$x"}); err != nil {
		t.Fatal(err)
	}
	pw, p, err := db.CreateAppPassword(ctx, alice, "alice", AppPasswordSpec{Name: "phone", ReadOnly: true,
		Collections: []string{"/dav/home/alice/calendar/"}})
	if err != nil {
		t.Fatal(err)
	}
	if !IsAppPassword(pw) {
		t.Fatalf("password %q has not the shape IsAppPassword wants", pw)
	}
	if p.Name != "phone" || !p.ReadOnly || len(p.Collections) != 1 || p.Created.IsZero() || len(p.ID) != 12 {
		t.Fatalf("record %+v", p)
	}
	pw2, _, err := db.CreateAppPassword(ctx, alice, "alice", AppPasswordSpec{Name: "laptop"})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.UpdateUser(ctx, alice, "alice", func(u *User) error { u.PasswordHash = "$2a$10$y"; return nil }); err != nil {
		t.Fatal(err)
	}
	u, err := db.User("alice")
	if err != nil {
		t.Fatal(err)
	}
	if got := len(u.AppPasswords); got != 2 {
		t.Fatalf("after a password change: %d app passwords, want 2", got)
	}
	if m := u.MatchAppPassword(pw); m == nil || m.ID != p.ID {
		t.Fatalf("MatchAppPassword(phone's) = %+v", m)
	}
	if m := u.MatchAppPassword(pw2); m == nil || m.Name != "laptop" {
		t.Fatalf("MatchAppPassword(laptop's) = %+v", m)
	}
	last := "a"
	if strings.HasSuffix(pw, "a") {
		last = "b"
	}
	wrong := pw[:len(pw)-1] + last
	if m := u.MatchAppPassword(wrong); m != nil {
		t.Fatalf("a changed password matched %+v", m)
	}
	if err := db.AppPasswordUsed(ctx, Meta{Actor: "alice", UserAgent: "DAVx5/4.4"}, "alice", p.ID, "192.0.2.7"); err != nil {
		t.Fatal(err)
	}
	u, _ = db.User("alice")
	if m := u.MatchAppPassword(pw); m.LastUsed.IsZero() || m.LastUserAgent != "DAVx5/4.4" || m.LastRemote != "192.0.2.7" {
		t.Fatalf("after a use: %+v", m)
	}
	if err := db.RevokeAppPassword(ctx, alice, "alice", p.ID); err != nil {
		t.Fatal(err)
	}
	if err := db.RevokeAppPassword(ctx, alice, "alice", p.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second revocation: %v, want ErrNotFound", err)
	}
	u, _ = db.User("alice")
	if u.MatchAppPassword(pw) != nil || u.MatchAppPassword(pw2) == nil {
		t.Fatalf("after revoking phone: %+v", u.AppPasswords)
	}
	if err := db.Verify(ctx); err != nil {
		t.Fatal(err)
	}
	v, err := db.View()
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	for ev, err := range v.logProto(1) {
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(ev.String(), pw) || strings.Contains(ev.String(), pw2) {
			t.Fatalf("event %d holds a password: %v", ev.Seq, ev)
		}
		if ev.User != nil && len(ev.User.AppPasswords) > 0 {
			t.Fatalf("user event %d carries app passwords", ev.Seq)
		}
	}
}

// TestAppPasswordRefusals: no account, a bad name, a collection outside
// the home, too many collections, and more than MaxAppPasswords.
func TestAppPasswordRefusals(t *testing.T) {
	db := MustOpen(t)
	if _, _, err := db.CreateAppPassword(ctx, alice, "nobody", AppPasswordSpec{Name: "x"}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("no account: %v, want ErrNotFound", err)
	}
	if err := db.AddUser(ctx, alice, User{Name: "alice", PasswordHash: "$2a$10$x"}); err != nil {
		t.Fatal(err)
	}
	for _, spec := range []AppPasswordSpec{
		{Name: ""},
		{Name: strings.Repeat("x", MaxAppPasswordName+1)},
		{Name: "a\nb"},
		{Name: "x", Collections: []string{"/dav/home/bob/cal/"}},
		{Name: "x", Collections: []string{"/dav/home/alice/"}},
		{Name: "x", Collections: []string{"/dav/home/alice/../bob/"}},
	} {
		if _, _, err := db.CreateAppPassword(ctx, alice, "alice", spec); !errors.Is(err, ErrInvalidName) {
			t.Errorf("%+v: %v, want ErrInvalidName", spec, err)
		}
	}
	many := make([]string, MaxAppPasswordCollections+1)
	for i := range many {
		many[i] = "/dav/home/alice/c/"
	}
	var sle *SharingLimitError
	if _, _, err := db.CreateAppPassword(ctx, alice, "alice", AppPasswordSpec{Name: "x", Collections: many}); !errors.As(err, &sle) {
		t.Fatalf("too many collections: %v", err)
	}
	for range MaxAppPasswords {
		if _, _, err := db.CreateAppPassword(ctx, alice, "alice", AppPasswordSpec{Name: "x"}); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := db.CreateAppPassword(ctx, alice, "alice", AppPasswordSpec{Name: "x"}); !errors.As(err, &sle) {
		t.Fatalf("app password %d: %v, want *SharingLimitError", MaxAppPasswords+1, err)
	}
	if err := db.DeleteUser(ctx, alice, "alice"); err != nil {
		t.Fatal(err)
	}
	if err := db.AddUser(ctx, alice, User{Name: "alice", PasswordHash: "$2a$10$x"}); err != nil {
		t.Fatal(err)
	}
	if u, _ := db.User("alice"); len(u.AppPasswords) != 0 {
		t.Fatalf("a new account of a deleted one's name inherits %d app passwords", len(u.AppPasswords))
	}
}

// TestIsAppPassword: the shape, and nothing near it.
func TestIsAppPassword(t *testing.T) {
	for pw, want := range map[string]bool{
		"ap-abcdefgh-ijklmnop-qrstuvwx-yz234567":  true,
		"ap-abcdefgh-ijklmnop-qrstuvwx-yz23456":   false,
		"ap-abcdefgh-ijklmnop-qrstuvwx-yz234568":  false,
		"ap-ABCDEFGH-ijklmnop-qrstuvwx-yz234567":  false,
		"ap_abcdefgh-ijklmnop-qrstuvwx-yz234567":  false,
		"xp-abcdefgh-ijklmnop-qrstuvwx-yz234567":  false,
		"ap-abcdefgh-ijklmnop-qrstuvwx-yz2345677": false,
		"": false,
	} {
		if got := IsAppPassword(pw); got != want {
			t.Errorf("IsAppPassword(%q) = %v, want %v", pw, got, want)
		}
	}
}

// FuzzIsAppPassword: IsAppPassword agrees with the shape's regular
// expression on any input, and a password newAppPassword makes has it.
func FuzzIsAppPassword(f *testing.F) {
	shape := regexp.MustCompile(`^ap(-[a-z2-7]{8}){4}$`)
	pw, err := newAppPassword()
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{pw, "", "ap-", "ap-abcdefgh-ijklmnop-qrstuvwx-yz23456\n", "AP-abcdefgh-ijklmnop-qrstuvwx-yz234567"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := IsAppPassword(s), shape.MatchString(s); got != want {
			t.Fatalf("IsAppPassword(%q) = %v, the shape says %v", s, got, want)
		}
	})
}
