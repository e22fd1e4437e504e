package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/almanac/almanac/engine"
	"github.com/almanac/almanac/internal/logbound"
)

// Directory is an outside source of users, such as an LDAP server
// (package dav/auth/ldapauth), consulted for a user name that neither the
// engine's accounts nor the htpasswd file know: those win, so a local
// account can never be taken over through the directory.
type Directory interface {
	// Verify checks name's password and returns what the directory says
	// of the user. Errors: one wrapping ErrBadCredentials for an unknown
	// user or a refused password; any other error means the directory
	// could not answer, which is never a success.
	Verify(ctx context.Context, name, password string) (*DirectoryUser, error)
}

// DirectoryUser is what a Directory says of a user it authenticated.
type DirectoryUser struct {
	DisplayName string
	Emails      []string
	// Source names the directory in the log ("ldap").
	Source string
}

// directoryRetryAfter is the Retry-After of a login refused because the
// directory did not answer.
const directoryRetryAfter = 30 * time.Second

// UnavailableError is the error of a login the directory could not
// answer (down, timed out, refusing the service account). HTTP answers it
// 503 with a Retry-After of RetryAfter seconds, not 401: the password may
// well be right.
type UnavailableError struct {
	Err error
}

func (e *UnavailableError) Error() string {
	return fmt.Sprintf("auth: user directory unavailable: %v", e.Err)
}

func (e *UnavailableError) Unwrap() error { return e.Err }

// ServiceUnavailable returns the seconds to wait before retrying: the
// value of a Retry-After header of a 503 (RFC 9110 §10.2.3).
func (e *UnavailableError) ServiceUnavailable() int { return int(directoryRetryAfter / time.Second) }

// DirectoryUser returns what the directory said of name at their last
// sign-in through it (the engine's record, engine.DirectoryUser: it
// outlives the process). ok is false for any other user.
func (v *Verifier) DirectoryUser(name string) (u DirectoryUser, ok bool) {
	view, err := v.opts.DB.View()
	if err != nil {
		return u, false
	}
	defer view.Close()
	r, err := view.DirectoryUser(name)
	if err != nil {
		return u, false
	}
	return DirectoryUser{DisplayName: r.DisplayName, Emails: r.Emails, Source: r.Source}, true
}

// recordDirectoryUser writes what the directory said of user into the log
// when it changed (engine.SetDirectoryUser), so principals show it while
// the user is not signed in. A failure is logged: the login stands.
func (v *Verifier) recordDirectoryUser(ctx context.Context, user string, du DirectoryUser) {
	_, err := v.opts.DB.SetDirectoryUser(ctx, engine.Meta{Actor: user, UserAgent: "almanac directory " + du.Source},
		engine.DirectoryUser{Name: user, DisplayName: du.DisplayName, Emails: du.Emails, Source: du.Source})
	if err != nil {
		v.opts.Logger.LogAttrs(ctx, slog.LevelWarn, "recording a directory user failed",
			slog.String("user", logbound.Cut(user)), slog.String("err", err.Error()))
	}
	if v.opts.DirectoryLogin != nil {
		v.opts.DirectoryLogin(user)
	}
}

// directoryLogin is Authenticate for a user only the directory may know.
// A success is cached like a local one (keyed by user, password and a
// marker in place of a hash), so the directory sees one bind per CacheTTL
// per client, and a user removed from it or whose password changed there
// keeps working for at most CacheTTL.
func (v *Verifier) directoryLogin(ctx context.Context, user, password, remote string, now time.Time) (*engine.User, error) {
	account := &engine.User{Name: user, Role: engine.RoleUser}
	d := v.cache.digest(user, password, "\x00directory")
	if v.cache.hit(d, now) {
		v.limits.succeed(user, remote)
		return account, nil
	}
	du, err := v.opts.Directory.Verify(ctx, user, password)
	switch {
	case err == nil && du != nil:
	case ctx.Err() != nil:
		return nil, fmt.Errorf("auth: directory: %w", ctx.Err())
	case errors.Is(err, ErrBadCredentials):
		return nil, v.fail(ctx, user, remote, now, &v.badCredentials, "bad credentials")
	default:
		if err == nil {
			err = errors.New("no user returned")
		}
		// Not a failed login of the user's: no limiter count, no fail2ban line.
		v.directoryLog.Log(ctx, remote, slog.String("user", logbound.Cut(user)), slog.String("err", err.Error()))
		return nil, &UnavailableError{Err: err}
	}
	v.cache.add(d, now)
	v.limits.succeed(user, remote)
	v.recordDirectoryUser(ctx, user, *du)
	return account, nil
}

// GroupSource lists the groups of an outside directory (ldapauth's
// Directory.Groups): group name -> member user names, sorted and unique.
type GroupSource interface {
	Groups(ctx context.Context) (map[string][]string, error)
}

// DirectoryGroups keeps the engine's groups in step with a directory's:
// each sync writes the group events (actor Actor) that make the groups
// last set by Actor exactly the directory's, as GroupFile does for an
// htgroup file. A directory that cannot be read keeps the groups as they
// are.
type DirectoryGroups struct {
	Source GroupSource
	DB     *engine.DB
	Logger *slog.Logger
	// Actor is the actor of the group events, and how the groups of this
	// directory are told from others (engine.Group.SetBy): "ldap".
	Actor string

	mu  sync.Mutex
	set groupSet
}

// Sync reads the directory's groups and writes the events that bring the
// engine in step.
func (d *DirectoryGroups) Sync(ctx context.Context) error {
	groups, err := d.Source.Groups(ctx)
	if err != nil {
		return fmt.Errorf("auth: %s groups: %w", d.Actor, err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.set.db, d.set.logger, d.set.what = d.DB, d.Logger, d.Actor+" directory"
	d.set.meta = engine.Meta{Actor: d.Actor, UserAgent: "almanac " + d.Actor + " groups"}
	return d.set.apply(ctx, groups)
}

// Defines reports whether the directory defined group name at the last
// sync.
func (d *DirectoryGroups) Defines(name string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.set.synced[name]
}
