package engine

import (
	"errors"
	"testing"
)

// TestResourceAccount: a room is an account with its Resource kept in the
// log, and it can never sign in: a password, a token, the admin role or
// enabling it is refused, as is a resource without type or policy.
func TestResourceAccount(t *testing.T) {
	db := MustOpen(t)
	room := User{Name: "room1", Disabled: true, Emails: []string{"Room1@Example.org"},
		Resource: &Resource{Type: ResourceRoom, AutoSchedule: AutoAcceptIfFree, Managers: "facilities", DisplayName: "Room 1"}}
	if err := db.AddUser(ctx, alice, room); err != nil {
		t.Fatal(err)
	}
	u, err := db.User("room1")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := *u.Resource, *room.Resource; got != want {
		t.Errorf("resource %+v, want %+v", got, want)
	}
	if got, want := u.Emails, []string{"Room1@example.org"}; len(got) != 1 || got[0] != want[0] {
		t.Errorf("emails %v, want %v", got, want)
	}
	for name, fn := range map[string]func(u *User) error{
		"Password": func(u *User) error { u.PasswordHash = "$2a$10$x"; return nil },
		"Enable":   func(u *User) error { u.Disabled = false; return nil },
		"Token":    func(u *User) error { u.Tokens = append(u.Tokens, APIToken{ID: "t"}); return nil },
		"Admin":    func(u *User) error { u.Role = RoleAdmin; return nil },
		"NoType":   func(u *User) error { u.Resource.Type = ""; return nil },
		"NoPolicy": func(u *User) error { u.Resource.AutoSchedule = ""; return nil },
	} {
		t.Run("Err"+name, func(t *testing.T) {
			if err := db.UpdateUser(ctx, alice, "room1", fn); !errors.Is(err, ErrInvalidName) {
				t.Errorf("err = %v, want ErrInvalidName", err)
			}
		})
	}
	t.Run("Policy", func(t *testing.T) {
		if err := db.UpdateUser(ctx, alice, "room1", func(u *User) error { u.Resource.AutoSchedule = AutoManual; return nil }); err != nil {
			t.Fatal(err)
		}
		if u, err := db.User("room1"); err != nil || u.Resource.AutoSchedule != AutoManual || !u.Disabled || u.PasswordHash != "" {
			t.Errorf("after set: %+v, %v", u, err)
		}
	})
	t.Run("Rebuild", func(t *testing.T) {
		if err := db.Rebuild(ctx); err != nil {
			t.Fatal(err)
		}
		if u, err := db.User("room1"); err != nil || u.Resource == nil || u.Resource.Type != ResourceRoom {
			t.Errorf("after rebuild: %+v, %v", u, err)
		}
	})
}
