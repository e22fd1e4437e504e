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

// App passwords (engine.AppPassword) are per-device passwords DAV Basic
// accepts in place of an account's password. A password of their shape
// (engine.IsAppPassword) is checked against the account's app passwords
// only, never against its main password: a device that keeps sending a
// revoked app password counts against a limiter of its own and never locks
// the account's main password out. It is a SHA-256 compare, so it needs no
// hashing slot.
//
// A successful sign-in is recorded in the log (engine.AppPasswordUsed:
// when, from which address, with which User-Agent) at most once an hour
// per password and process, so the devices page can tell when a device
// last synced without a log record per request.

// appUseInterval is how often one app password's use is recorded.
const appUseInterval = time.Hour

// appUses remembers when each app password's use was last recorded.
type appUses struct {
	mu   sync.Mutex
	last map[string]time.Time // user + "\x00" + id -> when recorded
}

// due reports whether the use of key at now should be recorded, and if so
// notes it as recorded.
func (a *appUses) due(key string, now time.Time) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.last == nil {
		a.last = map[string]time.Time{}
	}
	if t, ok := a.last[key]; ok && now.Sub(t) < appUseInterval {
		return false
	}
	if len(a.last) >= maxCacheEntries {
		for k, t := range a.last {
			if now.Sub(t) >= appUseInterval {
				delete(a.last, k)
			}
		}
		if len(a.last) >= maxCacheEntries {
			clear(a.last)
		}
	}
	a.last[key] = now
	return true
}

// AuthenticateDevice is Authenticate that also accepts the account's app
// passwords: for one, it returns the app password too (nil for the main
// password), whose scope the caller enforces. userAgent is recorded with
// the password's last use.
//
// Errors: as Authenticate's. An htpasswd user has no app passwords.
func (v *Verifier) AuthenticateDevice(ctx context.Context, user, password, remoteAddr, userAgent string) (*engine.User, *engine.AppPassword, error) {
	if !engine.IsAppPassword(password) {
		u, err := v.Authenticate(ctx, user, password, remoteAddr)
		return u, nil, err
	}
	now := v.opts.Clock()
	remote := remoteHost(remoteAddr)
	if d := v.appLimits.blocked(user, remote, now); d > 0 {
		v.rateLimited.Add(1)
		v.logFailure(ctx, user, remote, "rate limited (app password)")
		return nil, nil, &RateLimitError{Wait: d}
	}
	u, err := v.opts.DB.User(user)
	var p *engine.AppPassword
	switch {
	case err == nil && !u.Disabled:
		p = u.MatchAppPassword(password)
	case err == nil, errors.Is(err, engine.ErrNotFound):
	default:
		return nil, nil, fmt.Errorf("auth: look up user %q: %w", user, err)
	}
	if p == nil {
		v.badCredentials.Add(1)
		v.appLimits.fail(user, remote, now)
		v.logFailure(ctx, user, remote, "bad app password")
		return nil, nil, fmt.Errorf("%w: user %q (app password)", ErrBadCredentials, user)
	}
	v.appLimits.succeed(user, remote)
	if v.appUses.due(user+"\x00"+p.ID, now) {
		m := engine.Meta{Actor: user, UserAgent: userAgent}
		if err := v.opts.DB.AppPasswordUsed(ctx, m, user, p.ID, remote); err != nil {
			v.opts.Logger.LogAttrs(ctx, slog.LevelWarn, "app password use not recorded",
				slog.String("user", user), slog.String("id", p.ID), slog.String("err", err.Error()))
		}
	}
	return u, p, nil
}
