package auth

import (
	"errors"
	"fmt"
	"time"
)

var (
	// ErrBadCredentials: the user does not exist or the password is wrong.
	// The two cases are deliberately not told apart.
	ErrBadCredentials = errors.New("auth: bad credentials")
	// ErrRateLimited: too many failed attempts of this user from this
	// address; the request was refused without checking the password.
	// Authenticate returns it as a *RateLimitError.
	ErrRateLimited = errors.New("auth: too many failed attempts")
	// ErrUnknownHashFormat: a stored hash is in no format this package
	// verifies. Such an entry never matches a password.
	ErrUnknownHashFormat = errors.New("auth: unknown password hash format")
)

// RateLimitError is the error of a login refused by the limiter. It
// matches ErrRateLimited with errors.Is; HTTP answers it 429 with a
// Retry-After of Wait, rounded up to whole seconds.
type RateLimitError struct {
	// Wait is how long the user's (user, address) pair stays locked.
	Wait time.Duration
}

func (e *RateLimitError) Error() string {
	return fmt.Sprintf("%v: retry in %s", ErrRateLimited, e.Wait.Round(time.Second))
}

// Is reports whether target is ErrRateLimited.
func (e *RateLimitError) Is(target error) bool { return target == ErrRateLimited }

// RetryAfter returns the wait in whole seconds, at least 1: the value of
// a Retry-After header (RFC 9110 §10.2.3).
func (e *RateLimitError) RetryAfter() int { return RetrySeconds(e.Wait) }

// RetrySeconds returns d in whole seconds, rounded up, at least 1: the
// value of a Retry-After header (RFC 9110 §10.2.3) for a wait of d.
func RetrySeconds(d time.Duration) int {
	return max(1, int((d+time.Second-1)/time.Second))
}

// ErrBusy: every password-hashing slot (Options.MaxConcurrentHashes)
// stayed taken for Options.HashWait, or Options.MaxHashWaiters logins
// already waited for one. Authenticate returns it as a *BusyError. It
// says nothing of the password, and is no failed login.
var ErrBusy = errors.New("auth: too many logins being verified at once")

// BusyError is the error of a login refused because the server was
// verifying too many passwords to take it in time. It matches ErrBusy
// with errors.Is; HTTP answers it 503 with a Retry-After of
// ServiceUnavailable seconds (Wait, rounded up) and a body of Limit, gRPC
// Unavailable.
type BusyError struct {
	// Slots is Options.MaxConcurrentHashes: the hashes verified at once.
	Slots int
	// Wait is Options.HashWait: how long the login waited for a slot (or
	// for the same login's verification) unless Waiters refused it at
	// once, and how long the next attempt may have to wait, so the
	// Retry-After.
	Wait time.Duration
	// Waiters is Options.MaxHashWaiters when that many logins already
	// waited, so this one was refused at once; 0 otherwise.
	Waiters int
}

func (e *BusyError) Error() string { return "auth: " + e.Limit() }

// Is reports whether target is ErrBusy.
func (e *BusyError) Is(target error) bool { return target == ErrBusy }

// Limit names the limit that refused the login, for the client.
func (e *BusyError) Limit() string {
	if e.Waiters > 0 {
		return fmt.Sprintf("too many logins at once: %d already wait for one of the %d password-hashing slots", e.Waiters, e.Slots)
	}
	return fmt.Sprintf("too many logins at once: all %d password-hashing slots stayed busy for %s", e.Slots, e.Wait)
}

// ServiceUnavailable returns the seconds to wait before retrying, Wait
// rounded up (at least 1): the value of a Retry-After header of a 503
// (RFC 9110 §10.2.3). A client retrying sooner would find the same
// queue; one told a fixed figure shorter than --login-hash-wait would
// be refused again.
func (e *BusyError) ServiceUnavailable() int { return RetrySeconds(e.Wait) }
