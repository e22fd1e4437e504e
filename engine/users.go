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
// Errors: ErrInvalidName (also for a malformed email address or more than
// MaxEmailsPerUser); ErrExists when a group has the name or another user
// one of the addresses.
func (db *DB) PutUser(ctx context.Context, m Meta, u User) error {
	return db.putUser(ctx, m, u, nil)
}

// AddUser creates a user account that must not exist yet; the check and
// the write are one step of the writer, so two concurrent adds of a name
// cannot both succeed.
//
// Errors: ErrExists, ErrInvalidName.
func (db *DB) AddUser(ctx context.Context, m Meta, u User) error {
	return db.putUser(ctx, m, u, func(old *User) (*User, error) {
		if old != nil {
			return nil, fmt.Errorf("%w: user %q", ErrExists, u.Name)
		}
		return &u, nil
	})
}

// UpdateUser changes the account name with fn, which the writer calls with
// the current account, so that concurrent updates (a token added while
// another is revoked) never lose one another. fn runs on the writer's
// goroutine: it must be quick (hash passwords before). Its error aborts
// the update and is returned.
//
// Errors: ErrNotFound, fn's error.
func (db *DB) UpdateUser(ctx context.Context, m Meta, name string, fn func(u *User) error) error {
	return db.putUser(ctx, m, User{Name: name}, func(old *User) (*User, error) {
		if old == nil {
			return nil, fmt.Errorf("%w: user %q", ErrNotFound, name)
		}
		if err := fn(old); err != nil {
			return nil, err
		}
		old.Name = name
		return old, nil
	})
}

// putUser validates u's name and submits the write; update, when set,
// decides the account from the current one (nil when there is none) on the
// writer.
func (db *DB) putUser(ctx context.Context, m Meta, u User, update func(old *User) (*User, error)) error {
	if !validName(u.Name) {
		return fmt.Errorf("%w: user %q", ErrInvalidName, u.Name)
	}
	if len(u.Name) > db.opts.Limits.MaxNameLength { // it names the home
		return nameTooLong(u.Name, db.opts.Limits.MaxNameLength, false)
	}
	if u.Role == "" {
		u.Role = RoleUser
	}
	return db.submit(ctx, &userCmd{m: m, user: userToProto(u), op: eventv1.Op_OP_USER_SET, update: update})
}

// DeleteUser removes a user account; the user's collections stay.
//
// Errors: ErrNotFound.
func (db *DB) DeleteUser(ctx context.Context, m Meta, name string) error {
	return db.submit(ctx, &userCmd{m: m, user: &eventv1.User{Name: name}, op: eventv1.Op_OP_USER_DELETED})
}

type userCmd struct {
	m      Meta
	user   *eventv1.User
	op     eventv1.Op
	update func(old *User) (*User, error)
}

func (c *userCmd) run(tx *txn) error {
	if c.op == eventv1.Op_OP_USER_DELETED {
		if _, err := getBytes(tx.rw, keys.UserKey(c.user.Name)); err != nil {
			return err
		}
		if err := revokeVanishing(tx, c.m, c.user.Name, "user"); err != nil {
			return err
		}
		if err := dropWebhooks(tx, c.m, c.user.Name); err != nil {
			return err
		}
	} else if _, err := getBytes(tx.rw, keys.GroupKey(c.user.Name)); err == nil {
		return fmt.Errorf("%w: a group is named %q", ErrExists, c.user.Name)
	} else if err != ErrNotFound {
		return err
	}
	user := c.user
	if c.update != nil {
		var old *User
		p := &eventv1.User{}
		switch err := getProto(tx.rw, keys.UserKey(c.user.Name), p); {
		case err == nil:
			old = userFromProto(p)
		case !errors.Is(err, ErrNotFound):
			return err
		}
		u, err := c.update(old)
		if err != nil {
			return err
		}
		if u.Role == "" {
			u.Role = RoleUser
		}
		user = userToProto(*u)
	}
	if c.op == eventv1.Op_OP_USER_SET {
		emails, err := normalizeEmails(user.Emails)
		if err != nil {
			return err
		}
		user.Emails = emails
		if err := checkResource(user); err != nil {
			return err
		}
		if err := checkEmails(tx.rw, user); err != nil {
			return err
		}
	}
	return tx.append(c.m, &eventv1.Event{Op: c.op, User: user})
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
