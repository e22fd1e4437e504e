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
func (e *RateLimitError) RetryAfter() int {
	return max(1, int((e.Wait+time.Second-1)/time.Second))
}
