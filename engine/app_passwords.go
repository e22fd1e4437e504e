package engine

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/almanac/almanac/engine/internal/keys"
	eventv1 "github.com/almanac/almanac/proto/almanac/event/v1"
)

// App passwords are per-device passwords of an account: a user makes one
// per phone or program, sees it once, and revokes it when the device is
// lost. They live in the account's record (User.AppPasswords) and change
// only by their own events, OP_APP_PASSWORD_CREATED, _REVOKED and _USED;
// an OP_USER_SET (a new password, a role) leaves them as they were.
//
// A password is "ap-" and four groups of eight base32 letters (160 random
// bits), e.g. ap-k7q2m4xa-... : its shape tells it from an account's
// password (IsAppPassword), so a device's stale password never counts
// against the account's login rate limit. Only its SHA-256 is stored: 160
// random bits need no slow hash.

// Limits on app passwords.
const (
	// MaxAppPasswords is the most app passwords one account may have.
	MaxAppPasswords = 50
	// MaxAppPasswordName is the longest device name, in bytes.
	MaxAppPasswordName = 200
	// MaxAppPasswordCollections is the most collections one app password
	// may be limited to.
	MaxAppPasswordCollections = 64
)

// appPasswordIDLen is the length of an app password's id: the first hex
// digits of its hash.
const appPasswordIDLen = 12

// AppPassword is a per-device password of an account.
type AppPassword struct {
	// ID names the password in lists and revocations (the first 12 hex
	// digits of SecretSHA256).
	ID string
	// SecretSHA256 is the hex SHA-256 of the password.
	SecretSHA256 string
	// Name is the device's name, as the user gave it.
	Name string
	// ReadOnly: the password may read, never write.
	ReadOnly bool
	// Collections, when not empty, are the only collections (paths ending
	// in "/") the password reaches.
	Collections []string
	Created     time.Time
	// LastUsed, LastUserAgent and LastRemote are of the last recorded
	// sign-in (zero when none was recorded).
	LastUsed      time.Time
	LastUserAgent string
	LastRemote    string
}

// AppPasswordSpec is what a user chooses for a new app password.
type AppPasswordSpec struct {
	Name        string
	ReadOnly    bool
	Collections []string
}

var appPasswordEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// IsAppPassword reports whether password has the shape of an app password:
// "ap-" and four groups of eight lowercase base32 letters.
func IsAppPassword(password string) bool {
	if len(password) != 2+4*9 || !strings.HasPrefix(password, "ap") {
		return false
	}
	for i := 2; i < len(password); i++ {
		c := password[i]
		if (i-2)%9 == 0 {
			if c != '-' {
				return false
			}
			continue
		}
		if !('a' <= c && c <= 'z' || '2' <= c && c <= '7') {
			return false
		}
	}
	return true
}

// appPasswordHash returns the hex SHA-256 of password.
func appPasswordHash(password string) string {
	sum := sha256.Sum256([]byte(password))
	return hex.EncodeToString(sum[:])
}

// MatchAppPassword returns the app password of u that password is, or nil.
// The hashes are compared in constant time.
func (u *User) MatchAppPassword(password string) *AppPassword {
	if !IsAppPassword(password) {
		return nil
	}
	h := []byte(appPasswordHash(password))
	var found *AppPassword
	for i := range u.AppPasswords {
		if subtle.ConstantTimeCompare(h, []byte(u.AppPasswords[i].SecretSHA256)) == 1 {
			found = &u.AppPasswords[i]
		}
	}
	return found
}

// newAppPassword returns a fresh password.
func newAppPassword() (string, error) {
	b := make([]byte, 20)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("engine: app password: %w", err)
	}
	s := strings.ToLower(appPasswordEncoding.EncodeToString(b)) // 32 letters
	return "ap-" + s[0:8] + "-" + s[8:16] + "-" + s[16:24] + "-" + s[24:32], nil
}

// checkAppPasswordSpec checks a spec's bounds: a name of 1 to
// MaxAppPasswordName bytes of UTF-8 without control characters, and at
// most MaxAppPasswordCollections collections, each a path in the user's
// home ending in "/".
func checkAppPasswordSpec(user string, s AppPasswordSpec) error {
	switch {
	case s.Name == "" || len(s.Name) > MaxAppPasswordName || !utf8.ValidString(s.Name) ||
		strings.ContainsFunc(s.Name, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return fmt.Errorf("%w: app password name %q: 1 to %d bytes of text", ErrInvalidName, s.Name, MaxAppPasswordName)
	case len(s.Collections) > MaxAppPasswordCollections:
		return &SharingLimitError{What: "collections of an app password", Limit: MaxAppPasswordCollections}
	}
	home := "/dav/home/" + user + "/"
	for _, c := range s.Collections {
		if !strings.HasPrefix(c, home) || c == home || !strings.HasSuffix(c, "/") || !validCollectionPath(c) {
			return fmt.Errorf("%w: app password collection %q is no collection path in %s", ErrInvalidName, c, home)
		}
	}
	return nil
}

// CreateAppPassword makes an app password for the account user and returns
// it (the log holds only its hash) with its record.
//
// Errors: ErrNotFound (no such account); ErrInvalidName (a bad name or
// collection path); *SharingLimitError (MaxAppPasswords, or
// MaxAppPasswordCollections).
func (db *DB) CreateAppPassword(ctx context.Context, m Meta, user string, spec AppPasswordSpec) (string, *AppPassword, error) {
	if err := checkAppPasswordSpec(user, spec); err != nil {
		return "", nil, err
	}
	pw, err := newAppPassword()
	if err != nil {
		return "", nil, err
	}
	h := appPasswordHash(pw)
	p := &eventv1.AppPassword{User: user, Id: h[:appPasswordIDLen], SecretSha256: h, Name: spec.Name,
		ReadOnly: spec.ReadOnly, Collections: slices.Clone(spec.Collections)}
	if err := db.submit(ctx, &appPasswordCmd{m: m, op: eventv1.Op_OP_APP_PASSWORD_CREATED, p: p}); err != nil {
		return "", nil, err
	}
	u, err := db.User(user)
	if err != nil {
		return "", nil, err
	}
	for _, a := range u.AppPasswords {
		if a.ID == p.Id {
			return pw, &a, nil
		}
	}
	return "", nil, fmt.Errorf("%w: app password %s of %q", ErrNotFound, p.Id, user) // revoked at once
}

// RevokeAppPassword revokes the app password id of user.
//
// Errors: ErrNotFound (no such account, or no such password of it).
func (db *DB) RevokeAppPassword(ctx context.Context, m Meta, user, id string) error {
	return db.submit(ctx, &appPasswordCmd{m: m, op: eventv1.Op_OP_APP_PASSWORD_REVOKED,
		p: &eventv1.AppPassword{User: user, Id: id}})
}

// AppPasswordUsed records that the app password id of user signed in from
// remote (an address) with m.UserAgent. The caller limits how often (dav/auth:
// once an hour per password).
//
// Errors: ErrNotFound (no such account, or no such password of it).
func (db *DB) AppPasswordUsed(ctx context.Context, m Meta, user, id, remote string) error {
	if len(remote) > 64 {
		remote = remote[:64]
	}
	if len(m.UserAgent) > 256 {
		m.UserAgent = strings.ToValidUTF8(m.UserAgent[:256], "")
	}
	return db.submit(ctx, &appPasswordCmd{m: m, op: eventv1.Op_OP_APP_PASSWORD_USED,
		p: &eventv1.AppPassword{User: user, Id: id, LastRemote: remote}})
}

type appPasswordCmd struct {
	m  Meta
	op eventv1.Op
	p  *eventv1.AppPassword
}

func (c *appPasswordCmd) run(tx *txn) error {
	u := &eventv1.User{}
	if err := getProto(tx.rw, keys.UserKey(c.p.User), u); err != nil {
		return fmt.Errorf("app password of %q: %w", c.p.User, err)
	}
	i := slices.IndexFunc(u.AppPasswords, func(a *eventv1.AppPassword) bool { return a.Id == c.p.Id })
	if c.op == eventv1.Op_OP_APP_PASSWORD_CREATED {
		if len(u.AppPasswords) >= MaxAppPasswords {
			return &SharingLimitError{What: "app passwords of " + c.p.User, Limit: MaxAppPasswords}
		}
		if i >= 0 {
			return fmt.Errorf("%w: app password %s of %q", ErrExists, c.p.Id, c.p.User)
		}
	} else if i < 0 {
		return fmt.Errorf("%w: user %q has no app password %q", ErrNotFound, c.p.User, c.p.Id)
	}
	return tx.append(c.m, &eventv1.Event{Op: c.op, AppPassword: c.p})
}

// applyAppPassword keeps the app passwords in their account's record.
func applyAppPassword(rw readWriter, ev *eventv1.Event) error {
	p := ev.AppPassword
	key := keys.UserKey(p.GetUser())
	u := &eventv1.User{}
	if err := getProto(rw, key, u); err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil // the writer checked; a log edited by hand
		}
		return err
	}
	i := slices.IndexFunc(u.AppPasswords, func(a *eventv1.AppPassword) bool { return a.Id == p.Id })
	switch ev.Op {
	case eventv1.Op_OP_APP_PASSWORD_CREATED:
		if i >= 0 {
			return nil
		}
		u.AppPasswords = append(u.AppPasswords, &eventv1.AppPassword{
			Id: p.Id, SecretSha256: p.SecretSha256, Name: p.Name, ReadOnly: p.ReadOnly,
			Collections: p.Collections, CreatedUnixNano: ev.TimeUnixNano,
		})
	case eventv1.Op_OP_APP_PASSWORD_REVOKED:
		if i < 0 {
			return nil
		}
		u.AppPasswords = slices.Delete(u.AppPasswords, i, i+1)
	case eventv1.Op_OP_APP_PASSWORD_USED:
		if i < 0 {
			return nil
		}
		a := u.AppPasswords[i]
		a.LastUsedUnixNano, a.LastUserAgent, a.LastRemote = ev.TimeUnixNano, ev.UserAgent, p.LastRemote
	default:
		return fmt.Errorf("engine: apply: unknown op %v at seq %d", ev.Op, ev.Seq)
	}
	return setProto(rw, key, u)
}

func appPasswordFromProto(p *eventv1.AppPassword) AppPassword {
	return AppPassword{
		ID: p.Id, SecretSHA256: p.SecretSha256, Name: p.Name, ReadOnly: p.ReadOnly,
		Collections: slices.Clone(p.Collections), Created: unixNano(p.CreatedUnixNano),
		LastUsed: unixNano(p.LastUsedUnixNano), LastUserAgent: p.LastUserAgent, LastRemote: p.LastRemote,
	}
}
