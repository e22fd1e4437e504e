package engine

import (
	"context"
	"errors"
	"fmt"

	"github.com/almanac/almanac/engine/internal/keys"
	eventv1 "github.com/almanac/almanac/proto/almanac/event/v1"
)

// PutUser creates or replaces a user account. The log records the password
// hash, never a password.
//
// Errors: ErrInvalidName; ErrExists when a group has the name.
func (db *DB) PutUser(ctx context.Context, m Meta, u User) error {
	if !validName(u.Name) {
		return fmt.Errorf("%w: user %q", ErrInvalidName, u.Name)
	}
	if len(u.Name) > db.opts.Limits.MaxNameLength { // it names the home
		return nameTooLong(u.Name, db.opts.Limits.MaxNameLength, false)
	}
	if u.Role == "" {
		u.Role = RoleUser
	}
	return db.submit(ctx, &userCmd{m: m, user: userToProto(u), op: eventv1.Op_OP_USER_SET})
}

// DeleteUser removes a user account; the user's collections stay.
//
// Errors: ErrNotFound.
func (db *DB) DeleteUser(ctx context.Context, m Meta, name string) error {
	return db.submit(ctx, &userCmd{m: m, user: &eventv1.User{Name: name}, op: eventv1.Op_OP_USER_DELETED})
}

type userCmd struct {
	m    Meta
	user *eventv1.User
	op   eventv1.Op
}

func (c *userCmd) run(tx *txn) error {
	if c.op == eventv1.Op_OP_USER_DELETED {
		if _, err := getBytes(tx.rw, keys.UserKey(c.user.Name)); err != nil {
			return err
		}
	} else if _, err := getBytes(tx.rw, keys.GroupKey(c.user.Name)); err == nil {
		return fmt.Errorf("%w: a group is named %q", ErrExists, c.user.Name)
	} else if err != ErrNotFound {
		return err
	}
	return tx.append(c.m, &eventv1.Event{Op: c.op, User: c.user})
}

// User returns the account name.
//
// Errors: ErrNotFound.
func (v *View) User(name string) (*User, error) {
	p := &eventv1.User{}
	if err := getProto(v.v.snap, keys.UserKey(name), p); err != nil {
		return nil, err
	}
	return userFromProto(p), nil
}

// Users returns every account in name order.
func (v *View) Users() ([]*User, error) {
	lo := []byte{keys.User}
	var out []*User
	err := v.scanKeys(lo, keys.PrefixEnd(lo), func(k []byte) error {
		u, err := v.User(string(k[1:]))
		out = append(out, u)
		return err
	})
	return out, err
}

// UserByToken returns the account that holds the API token id; the caller
// checks the secret against it.
//
// Errors: ErrNotFound.
func (v *View) UserByToken(id string) (*User, error) {
	name, err := getBytes(v.v.snap, keys.TokenKey(id))
	if err != nil {
		return nil, err
	}
	return v.User(string(name))
}

// User returns the account name from the latest view.
//
// Errors: ErrNotFound, ErrClosed.
func (db *DB) User(name string) (*User, error) {
	v, err := db.View()
	if err != nil {
		return nil, err
	}
	defer v.Close()
	return v.User(name)
}

// HadUsers reports whether the log has ever held an account: true when one
// exists now, else whether any event created one (an account deleted since
// counts). It reads the log only when no account exists, so it costs a
// scan of the log only on a server without accounts.
//
// Errors: ErrClosed, read errors.
func (db *DB) HadUsers() (bool, error) {
	v, err := db.View()
	if err != nil {
		return false, err
	}
	defer v.Close()
	lo := []byte{keys.User}
	found := errors.New("found")
	switch err := v.scanKeys(lo, keys.PrefixEnd(lo), func([]byte) error { return found }); {
	case errors.Is(err, found):
		return true, nil
	case err != nil:
		return false, err
	}
	for ev, err := range v.logProto(1) {
		if err != nil {
			return false, err
		}
		if ev.Op == eventv1.Op_OP_USER_SET {
			return true, nil
		}
	}
	return false, nil
}
