package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/almanac/almanac/engine/internal/keys"
	eventv1 "github.com/almanac/almanac/proto/almanac/event/v1"
)

// Directory users are the users an outside directory (LDAP) authenticated:
// they have no account in the log, yet they are principals with the
// display name and email addresses the directory gave at their last
// sign-in. That record is an event (OP_DIRECTORY_USER_SET), written only
// when it changed, not a cache of the process: the log is the truth, the
// principals show it after a restart and on every node of a cluster, and
// history tells when the directory renamed someone. Their addresses are
// not indexed in 'M': a directory must not claim a local account's
// address, so scheduling finds them by principal URL only.

// MaxDirectoryDisplayName bounds a directory user's display name, in
// bytes; a longer one is cut at a character boundary.
const MaxDirectoryDisplayName = 256

// DirectoryUser is what an outside directory said of a user at their last
// sign-in.
type DirectoryUser struct {
	Name        string
	DisplayName string
	// Emails are normalized (NormalizeEmail), at most MaxEmailsPerUser.
	Emails []string
	// Source names the directory ("ldap").
	Source string
	// Updated is the time of the record's event (read only).
	Updated time.Time
}

// cleanDirectoryUser bounds what a directory said: the display name cut
// to MaxDirectoryDisplayName bytes of valid UTF-8 without control
// characters, and the addresses that are valid, normalized and unique,
// the first MaxEmailsPerUser of them. A directory's data is not the
// user's input: what does not fit is dropped, not refused.
func cleanDirectoryUser(u DirectoryUser) *eventv1.DirectoryUser {
	name := strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, strings.ToValidUTF8(u.DisplayName, ""))
	for len(name) > MaxDirectoryDisplayName {
		_, size := utf8.DecodeLastRuneInString(name)
		name = name[:len(name)-size]
	}
	var emails []string
	for _, a := range u.Emails {
		if n, err := NormalizeEmail(a); err == nil && !slices.Contains(emails, n) && len(emails) < MaxEmailsPerUser {
			emails = append(emails, n)
		}
	}
	return &eventv1.DirectoryUser{Name: u.Name, DisplayName: name, Emails: emails, Source: u.Source}
}

// SetDirectoryUser records what a directory said of user u.Name when it
// differs from the record (an OP_DIRECTORY_USER_SET); changed reports
// whether it did.
//
// Errors: ErrInvalidName (a name that cannot name a home).
func (db *DB) SetDirectoryUser(ctx context.Context, m Meta, u DirectoryUser) (changed bool, err error) {
	if !validName(u.Name) {
		return false, fmt.Errorf("%w: user %q", ErrInvalidName, u.Name)
	}
	if len(u.Name) > db.opts.Limits.MaxNameLength {
		return false, nameTooLong(u.Name, db.opts.Limits.MaxNameLength, false)
	}
	c := &directoryUserCmd{m: m, u: cleanDirectoryUser(u)}
	if err := db.submit(ctx, c); err != nil {
		return false, err
	}
	return c.changed, nil
}

type directoryUserCmd struct {
	m       Meta
	u       *eventv1.DirectoryUser
	changed bool
}

func (c *directoryUserCmd) run(tx *txn) error {
	old := &eventv1.DirectoryUser{}
	switch err := getProto(tx.rw, keys.DirectoryUserKey(c.u.Name), old); {
	case err == nil:
		if old.DisplayName == c.u.DisplayName && slices.Equal(old.Emails, c.u.Emails) && old.Source == c.u.Source {
			return nil
		}
	case !errors.Is(err, ErrNotFound):
		return err
	}
	c.changed = true
	return tx.append(c.m, &eventv1.Event{Op: eventv1.Op_OP_DIRECTORY_USER_SET, DirectoryUser: c.u})
}

// applyDirectoryUser keeps the record of a directory user, with its
// event's time.
func applyDirectoryUser(rw readWriter, ev *eventv1.Event) error {
	u := ev.DirectoryUser
	if u.GetName() == "" {
		return nil // a log edited by hand
	}
	return setProto(rw, keys.DirectoryUserKey(u.Name), &eventv1.DirectoryUser{
		Name: u.Name, DisplayName: u.DisplayName, Emails: u.Emails, Source: u.Source,
		UpdatedUnixNano: ev.TimeUnixNano,
	})
}

// DirectoryUser returns the record of directory user name.
//
// Errors: ErrNotFound.
func (v *View) DirectoryUser(name string) (*DirectoryUser, error) {
	p := &eventv1.DirectoryUser{}
	if err := getProto(v.v.snap, keys.DirectoryUserKey(name), p); err != nil {
		return nil, err
	}
	return &DirectoryUser{Name: p.Name, DisplayName: p.DisplayName, Emails: p.Emails, Source: p.Source,
		Updated: unixNano(p.UpdatedUnixNano)}, nil
}

// DirectoryUsers returns every directory user's record in name order.
func (v *View) DirectoryUsers() ([]*DirectoryUser, error) {
	lo := []byte{keys.DirectoryUser}
	var out []*DirectoryUser
	err := v.scanKeys(lo, keys.PrefixEnd(lo), func(k []byte) error {
		u, err := v.DirectoryUser(string(k[1:]))
		out = append(out, u)
		return err
	})
	return out, err
}
