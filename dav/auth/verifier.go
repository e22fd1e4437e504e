package auth

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/almanac/almanac/engine"
	"github.com/almanac/almanac/internal/logbound"
)

// Options configure a Verifier. The zero value of every field but DB means
// its default.
type Options struct {
	// DB holds the engine's user accounts. Required.
	DB *engine.DB
	// HtpasswdFile, when set, is an Apache htpasswd file consulted for users
	// the engine does not know. It is reread when it changes. Default: none.
	HtpasswdFile string
	// Directory, when set, is consulted for users neither the engine nor
	// the htpasswd file knows (directory.go). Default: none.
	Directory Directory
	// Bearer, when set, checks OAuth2 bearer access tokens
	// (AuthenticateBearer). Default: none, every token is refused.
	Bearer BearerVerifier
	// DirectoryLogin, when set, is called after each sign-in the
	// Directory confirmed (not those answered from the cache), once its
	// record is written: serve refreshes the directory's groups.
	DirectoryLogin func(user string)
	// Logger receives failed logins (WARN) and htpasswd read errors.
	// Default: discard.
	Logger *slog.Logger
	// CacheTTL is how long a successful verification is remembered.
	// Default 2m; a negative value disables the cache.
	CacheTTL time.Duration
	// MaxFailures is how many failed attempts one user may make from one
	// address within FailureWindow before that (user, address) pair is
	// locked out (429). Other users from the address, and the user from
	// other addresses, are not. Default 10.
	MaxFailures int
	// MaxAddressFailures is how many failed attempts, of any users, one
	// address may make within FailureWindow before it is "hot": while hot,
	// each pair from it is locked after 3 failures of its own instead of
	// MaxFailures. It never refuses a pair that has not failed. Default
	// 100.
	MaxAddressFailures int
	// FailureWindow is the window for MaxFailures and MaxAddressFailures
	// and the first lockout's length; each further lockout doubles, up to
	// 15 minutes. Default 1m.
	FailureWindow time.Duration
	// MaxConcurrentHashes bounds the password hashes verified at once
	// (bcrypt and argon2id take tens of milliseconds of CPU each); more
	// logins wait for a turn (at most HashWait, at most MaxHashWaiters of
	// them), or until their request is canceled, so that a flood of
	// logins leaves CPU for every other request. A cached success needs
	// no hash, nor does a login arriving while another verifies the same
	// user, password and stored hash: it waits for that one's answer.
	// Default: GOMAXPROCS.
	MaxConcurrentHashes int
	// HashWait bounds how long a login waits for a hashing slot, or for
	// the same login's verification; past it, it gets a *BusyError (503).
	// Default 5s.
	HashWait time.Duration
	// MaxHashWaiters bounds the logins waiting for a hashing slot at
	// once; one more gets a *BusyError (503) at once. Default 100.
	MaxHashWaiters int
	// MaxTracked bounds the pairs and addresses the limiter remembers
	// (about 250 bytes each); past it the least recently failed is
	// forgotten. Default 100000.
	MaxTracked int
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
	if o.MaxAddressFailures == 0 {
		o.MaxAddressFailures = 100
	}
	if o.FailureWindow == 0 {
		o.FailureWindow = time.Minute
	}
	if o.MaxTracked == 0 {
		o.MaxTracked = 100000
	}
	if o.MaxConcurrentHashes == 0 {
		o.MaxConcurrentHashes = runtime.GOMAXPROCS(0)
	}
	if o.HashWait == 0 {
		o.HashWait = 5 * time.Second
	}
	if o.MaxHashWaiters == 0 {
		o.MaxHashWaiters = 100
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
	case o.MaxAddressFailures < 0:
		return fmt.Errorf("auth: Options.MaxAddressFailures must not be negative, got %d", o.MaxAddressFailures)
	case o.MaxConcurrentHashes < 0:
		return fmt.Errorf("auth: Options.MaxConcurrentHashes must not be negative, got %d", o.MaxConcurrentHashes)
	case o.HashWait < 0:
		return fmt.Errorf("auth: Options.HashWait must not be negative, got %s", o.HashWait)
	case o.MaxHashWaiters < 0:
		return fmt.Errorf("auth: Options.MaxHashWaiters must not be negative, got %d", o.MaxHashWaiters)
	case o.MaxTracked < 0:
		return fmt.Errorf("auth: Options.MaxTracked must not be negative, got %d", o.MaxTracked)
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
	limits   *limiter
	// appLimits counts the failures of app passwords (apppassword.go),
	// apart from limits; appUses limits the records of their use.
	appLimits *limiter
	appUses   appUses
	hashing   chan struct{} // one token per hash being verified
	waiting   atomic.Int32  // logins waiting for a token of hashing
	// flights are the verifications under way, by cache digest: a login
	// of the same user, password and hash waits for its answer
	// (verifyOnce).
	flightsMu sync.Mutex
	flights   map[[32]byte]*flight
	// engineClasses are the hash classes of the engine's accounts when
	// New ran, for dummyHash.
	engineClasses hashClasses
	// failLog, directoryLog and hashLog write the lines a client can
	// cause at will (a failed login, one the directory could not check,
	// one against an unusable stored hash) within logbound's budgets.
	failLog, directoryLog, hashLog *logbound.Limiter
	// Failed logins by reason, for Failures.
	badCredentials, emptyPassword, rateLimited atomic.Uint64
	busy                                       atomic.Uint64 // logins refused with a *BusyError
}

// Busy returns how many logins were refused with a *BusyError since New:
// no hashing slot came free within HashWait, or MaxHashWaiters logins
// already waited. They are no failed logins.
func (v *Verifier) Busy() uint64 { return v.busy.Load() }

// Failures counts the failed logins since New, by reason.
type Failures struct {
	// BadCredentials counts unknown users and wrong passwords together, on
	// purpose: metrics are read by monitoring, maybe without credentials,
	// and a counter of either alone would tell whether a name tried was a
	// user (the cost of an unknown user's login is made equal for the same
	// reason). A disabled account and a stored hash in an unknown format
	// count here too.
	BadCredentials uint64
	// EmptyPassword counts logins with an empty password, refused before
	// any lookup.
	EmptyPassword uint64
	// RateLimited counts logins refused with 429 without a check.
	RateLimited uint64
}

// Knows reports whether user has an entry of the htpasswd file with a
// hash (an empty one disables the user): a user without a log account
// whom dav counts as a principal, a grantee and a delegate.
func (v *Verifier) Knows(user string) bool {
	if v.htpasswd == nil {
		return false
	}
	h, ok, _ := v.htpasswd.lookup(user)
	return ok && h != ""
}

// Failures returns the failed logins so far.
func (v *Verifier) Failures() Failures {
	return Failures{
		BadCredentials: v.badCredentials.Load(),
		EmptyPassword:  v.emptyPassword.Load(),
		RateLimited:    v.rateLimited.Load(),
	}
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
		opts:      opts,
		cache:     newVerifyCache(opts.CacheTTL),
		limits:    newLimiter(opts.MaxFailures, opts.MaxAddressFailures, opts.FailureWindow, opts.MaxTracked),
		appLimits: newLimiter(opts.MaxFailures, opts.MaxAddressFailures, opts.FailureWindow, opts.MaxTracked),
		hashing:   make(chan struct{}, opts.MaxConcurrentHashes),
		flights:   map[[32]byte]*flight{},
	}
	bound := logbound.Limits{Now: opts.Clock}
	v.failLog = logbound.New(opts.Logger, slog.LevelWarn, "authentication failed", bound)
	v.directoryLog = logbound.New(opts.Logger, slog.LevelError, "user directory unavailable", bound)
	v.hashLog = logbound.New(opts.Logger, slog.LevelError, "stored password hash unusable", bound)
	if opts.HtpasswdFile != "" {
		v.htpasswd = &htpasswdFile{path: opts.HtpasswdFile}
		if _, _, err := v.htpasswd.lookup(""); err != nil {
			return nil, err
		}
	}
	if err := v.countEngineHashes(); err != nil {
		return nil, err
	}
	if classes := v.hashClasses(); len(classes) > 1 {
		opts.Logger.Warn("password hashes of different algorithms or costs are in use: "+
			"response times tell which kind a user's hash is; rehash them alike to hide it",
			slog.Any("classes", classNames(classes)))
	}
	return v, nil
}

// ReloadHtpasswd rereads the htpasswd file now, even when its size and
// modification time look unchanged (serve does it on SIGHUP); lookups
// otherwise reread it when either changes. It does nothing without an
// htpasswd file. A file that cannot be read keeps the last good contents
// and the error is returned.
func (v *Verifier) ReloadHtpasswd() error {
	if v.htpasswd == nil {
		return nil
	}
	return v.htpasswd.reload()
}

// countEngineHashes records the hash classes of the engine's accounts.
func (v *Verifier) countEngineHashes() error {
	view, err := v.opts.DB.View()
	if err != nil {
		return fmt.Errorf("auth: list users: %w", err)
	}
	defer view.Close()
	users, err := view.Users()
	if err != nil {
		return fmt.Errorf("auth: list users: %w", err)
	}
	v.engineClasses = hashClasses{}
	for _, u := range users {
		v.engineClasses.add(u.PasswordHash)
	}
	return nil
}

// hashClasses returns the hash classes of every account: the engine's as
// of New, the htpasswd file's as of its last read.
func (v *Verifier) hashClasses() hashClasses {
	all := hashClasses{}
	sets := []hashClasses{v.engineClasses}
	if v.htpasswd != nil {
		sets = append(sets, v.htpasswd.hashClassesOf())
	}
	for _, s := range sets {
		for k, cc := range s {
			all[k] = classCount{n: all[k].n + cc.n, rep: cmp.Or(all[k].rep, cc.rep)}
		}
	}
	return all
}

func classNames(c hashClasses) []string {
	names := make([]string, 0, len(c))
	for k := range c {
		names = append(names, k)
	}
	slices.Sort(names)
	return names
}

// Authenticate checks user's password and returns the account. remoteAddr is
// the client's address (host or host:port) for rate limiting and logs.
// htpasswd users get a synthesized account with role engine.RoleUser.
//
// An empty password never matches, nor does a stored hash that is empty or
// in an unknown format, nor a password over 72 bytes against a bcrypt
// hash. An unknown user costs what a known one does: the password is
// verified against a hash of the most common algorithm and cost among the
// accounts (dummyHash).
//
// A user neither knows is checked by Options.Directory when set.
//
// Errors: an error wrapping ErrBadCredentials (unknown user, disabled
// account, wrong password, or a stored hash in an unknown format), a
// *RateLimitError (matching ErrRateLimited), an *UnavailableError (the
// directory did not answer), a *BusyError (matching ErrBusy: no hashing
// slot in time, MaxConcurrentHashes, HashWait and MaxHashWaiters), or
// ctx's error when it ended while the login waited. The last two are no
// failed logins: the limiter does not count them, nor are they logged
// for fail2ban.
func (v *Verifier) Authenticate(ctx context.Context, user, password, remoteAddr string) (*engine.User, error) {
	now := v.opts.Clock()
	remote := remoteHost(remoteAddr)
	if d := v.limits.blocked(user, remote, now); d > 0 {
		v.rateLimited.Add(1)
		v.logFailure(ctx, user, remote, "rate limited")
		return nil, &RateLimitError{Wait: d}
	}
	if password == "" {
		// Refused before any lookup, so it tells nothing about the user.
		return nil, v.fail(ctx, user, remote, now, &v.emptyPassword, "empty password")
	}
	account, hash, err := v.lookup(ctx, user)
	if err != nil {
		return nil, err
	}
	if v.opts.Directory != nil && hash == "" && (account == nil || !account.Disabled) {
		// No account, or one without a password (a directory user's
		// addresses): the directory checks the password.
		return v.directoryLogin(ctx, user, password, remote, now)
	}
	if account == nil || account.Disabled {
		// Spend the time a real verification takes, so that response times
		// do not tell which users exist or are disabled: concurrent
		// identical logins share one hash here too, as they do for a
		// real account.
		if _, err := v.verifyOnce(ctx, user, password, dummyHash(v.hashClasses()), false); err != nil {
			return nil, err
		}
		reason := "bad credentials"
		if account != nil {
			reason = "account disabled"
		}
		return nil, v.fail(ctx, user, remote, now, &v.badCredentials, reason)
	}
	ok, err := v.verifyOnce(ctx, user, password, hash, true)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, v.fail(ctx, user, remote, now, &v.badCredentials, "bad credentials")
	}
	v.limits.succeed(user, remote)
	return account, nil
}

// fail counts a failed login (in the limiter and in counter), logs it and
// returns the error for it.
func (v *Verifier) fail(ctx context.Context, user, remote string, now time.Time, counter *atomic.Uint64, reason string) error {
	counter.Add(1)
	v.limits.fail(user, remote, now)
	v.logFailure(ctx, user, remote, reason)
	return fmt.Errorf("%w: user %q", ErrBadCredentials, user)
}

// lookup finds user in the engine, then in the htpasswd file (also for
// the password of an account without one). It returns a nil account when
// neither knows the user.
func (v *Verifier) lookup(ctx context.Context, user string) (*engine.User, string, error) {
	u, err := v.opts.DB.User(user)
	switch {
	case err == nil && (u.PasswordHash != "" || v.htpasswd == nil):
		return u, u.PasswordHash, nil
	case err == nil:
		// An account without a password holds what the log keeps of an
		// htpasswd user (their addresses, `user email add`): the file
		// has the password.
		hash, _, herr := v.htpasswd.lookup(user)
		if herr != nil {
			v.opts.Logger.LogAttrs(ctx, slog.LevelError, "htpasswd file unreadable, using last good copy",
				slog.String("err", herr.Error()))
		}
		return u, hash, nil
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
// failed" remote=IP user=NAME reason=... The address comes first, right
// after the fixed message: the user name is the client's text, and a name
// such as `x remote=192.0.2.1 ` logged before the address would let a
// filter matching "user=\S+ remote=<HOST>" ban an address of the client's
// choosing. remote is always an IP address (the connection's, or one
// parsed from X-Forwarded-For of a trusted proxy).
//
// A user name longer than logbound.MaxText bytes is logged cut, with "…": a
// request may carry tens of kilobytes of it. A flood of failures is cut
// at logbound's budgets (20 lines a minute per address, 600 in all, then
// a count of those left out): failures cost a locked-out client no hash.
func (v *Verifier) logFailure(ctx context.Context, user, remote, reason string) {
	v.failLog.Log(ctx, remote,
		slog.String("remote", remote), slog.String("user", logbound.Cut(user)), slog.String("reason", reason))
}

// remoteHost strips the port from addr.
func remoteHost(addr string) string {
	if h, _, err := net.SplitHostPort(addr); err == nil {
		return h
	}
	return addr
}
