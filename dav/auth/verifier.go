package auth

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"time"

	"github.com/almanac/almanac/engine"
)

// Options configure a Verifier. The zero value of every field but DB means
// its default.
type Options struct {
	// DB holds the engine's user accounts. Required.
	DB *engine.DB
	// HtpasswdFile, when set, is an Apache htpasswd file consulted for users
	// the engine does not know. It is reread when it changes. Default: none.
	HtpasswdFile string
	// Logger receives failed logins (WARN) and htpasswd read errors.
	// Default: discard.
	Logger *slog.Logger
	// CacheTTL is how long a successful verification is remembered.
	// Default 2m; a negative value disables the cache.
	CacheTTL time.Duration
	// MaxFailures is how many failed attempts a user or a remote address may
	// make within FailureWindow before being locked out. Default 10.
	MaxFailures int
	// FailureWindow is the window for MaxFailures and the first lockout's
	// length; each further lockout doubles, up to 15 minutes. Default 1m.
	FailureWindow time.Duration
	// Clock returns the current time. Default time.Now.
	Clock func() time.Time
}

// EnsureDefaults fills in every zero field with its default.
func (o *Options) EnsureDefaults() {
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.CacheTTL == 0 {
		o.CacheTTL = 2 * time.Minute
	}
	if o.MaxFailures == 0 {
		o.MaxFailures = 10
	}
	if o.FailureWindow == 0 {
		o.FailureWindow = time.Minute
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
}

// Validate reports the first invalid field.
func (o *Options) Validate() error {
	switch {
	case o.DB == nil:
		return errors.New("auth: Options.DB is required")
	case o.MaxFailures < 0:
		return fmt.Errorf("auth: Options.MaxFailures must not be negative, got %d", o.MaxFailures)
	case o.FailureWindow < 0:
		return fmt.Errorf("auth: Options.FailureWindow must not be negative, got %s", o.FailureWindow)
	}
	return nil
}

// Verifier checks user names and passwords. It is safe for concurrent use.
type Verifier struct {
	opts     Options
	htpasswd *htpasswdFile // nil without an htpasswd file
	cache    *verifyCache
	users    *limiter
	remotes  *limiter
}

// New returns a Verifier. If an htpasswd file is configured it must be
// readable now; later read errors are logged and the last good contents
// are kept.
func New(opts Options) (*Verifier, error) {
	opts.EnsureDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	v := &Verifier{
		opts:    opts,
		cache:   newVerifyCache(opts.CacheTTL),
		users:   newLimiter(opts.MaxFailures, opts.FailureWindow),
		remotes: newLimiter(opts.MaxFailures, opts.FailureWindow),
	}
	if opts.HtpasswdFile != "" {
		v.htpasswd = &htpasswdFile{path: opts.HtpasswdFile}
		if _, _, err := v.htpasswd.lookup(""); err != nil {
			return nil, err
		}
	}
	return v, nil
}

// Authenticate checks user's password and returns the account. remoteAddr is
// the client's address (host or host:port) for rate limiting and logs.
// htpasswd users get a synthesized account with role engine.RoleUser.
//
// Errors: an error wrapping ErrBadCredentials (unknown user, wrong password,
// or a stored hash in an unknown format) or ErrRateLimited.
func (v *Verifier) Authenticate(ctx context.Context, user, password, remoteAddr string) (*engine.User, error) {
	now := v.opts.Clock()
	remote := remoteHost(remoteAddr)
	if d := max(v.users.blocked(user, now), v.remotes.blocked(remote, now)); d > 0 {
		v.logFailure(ctx, user, remote, "rate limited")
		return nil, fmt.Errorf("%w: retry in %s", ErrRateLimited, d.Round(time.Second))
	}
	account, hash, err := v.lookup(ctx, user)
	if err != nil {
		return nil, err
	}
	if account != nil {
		d := v.cache.digest(user, password, hash)
		if v.cache.hit(d, now) {
			return account, nil
		}
		ok, err := verifyHash(hash, password)
		if err != nil {
			v.opts.Logger.LogAttrs(ctx, slog.LevelError, "stored password hash unusable",
				slog.String("user", user), slog.String("err", err.Error()))
		}
		if ok {
			v.cache.add(d, now)
			v.users.reset(user)
			return account, nil
		}
	} else {
		// Spend the time a real verification takes, so that response times
		// do not tell which users exist.
		_, _ = verifyHash(dummyHash(), password)
	}
	v.users.fail(user, now)
	v.remotes.fail(remote, now)
	v.logFailure(ctx, user, remote, "bad credentials")
	return nil, fmt.Errorf("%w: user %q", ErrBadCredentials, user)
}

// lookup finds user in the engine, then in the htpasswd file. It returns a
// nil account when neither knows the user.
func (v *Verifier) lookup(ctx context.Context, user string) (*engine.User, string, error) {
	u, err := v.opts.DB.User(user)
	switch {
	case err == nil:
		return u, u.PasswordHash, nil
	case !errors.Is(err, engine.ErrNotFound):
		return nil, "", fmt.Errorf("auth: look up user %q: %w", user, err)
	}
	if v.htpasswd == nil {
		return nil, "", nil
	}
	hash, ok, err := v.htpasswd.lookup(user)
	if err != nil {
		v.opts.Logger.LogAttrs(ctx, slog.LevelError, "htpasswd file unreadable, using last good copy",
			slog.String("err", err.Error()))
	}
	if !ok {
		return nil, "", nil
	}
	return &engine.User{Name: user, Role: engine.RoleUser}, hash, nil
}

// logFailure writes the fail2ban line: level=WARN msg="authentication
// failed" user=NAME remote=IP reason=...
func (v *Verifier) logFailure(ctx context.Context, user, remote, reason string) {
	v.opts.Logger.LogAttrs(ctx, slog.LevelWarn, "authentication failed",
		slog.String("user", user), slog.String("remote", remote), slog.String("reason", reason))
}

// remoteHost strips the port from addr.
func remoteHost(addr string) string {
	if h, _, err := net.SplitHostPort(addr); err == nil {
		return h
	}
	return addr
}
