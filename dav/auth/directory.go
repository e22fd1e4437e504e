package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/almanac/almanac/engine"
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

// directoryUsers remembers what the directory said of the users who
// signed in through it (DirectoryUser), bounded like the cache.
type directoryUsers struct {
	mu    sync.Mutex
	users map[string]DirectoryUser
}

func (d *directoryUsers) put(name string, u DirectoryUser) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.users == nil || len(d.users) >= maxCacheEntries {
		d.users = map[string]DirectoryUser{}
	}
	d.users[name] = u
}

// DirectoryUser returns what the directory said of name when they last
// signed in through it in this process: the hook for a principal's
// display name and email addresses. ok is false for any other user.
func (v *Verifier) DirectoryUser(name string) (u DirectoryUser, ok bool) {
	v.dirUsers.mu.Lock()
	defer v.dirUsers.mu.Unlock()
	u, ok = v.dirUsers.users[name]
	return u, ok
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
		v.opts.Logger.LogAttrs(ctx, slog.LevelError, "user directory unavailable",
			slog.String("user", truncUser(user)), slog.String("err", err.Error()))
		return nil, &UnavailableError{Err: err}
	}
	v.cache.add(d, now)
	v.limits.succeed(user, remote)
	v.dirUsers.put(user, *du)
	return account, nil
}
