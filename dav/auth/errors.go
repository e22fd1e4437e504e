package auth

import "errors"

var (
	// ErrBadCredentials: the user does not exist or the password is wrong.
	// The two cases are deliberately not told apart.
	ErrBadCredentials = errors.New("auth: bad credentials")
	// ErrRateLimited: too many failed attempts for the user or the remote
	// address; the request was refused without checking the password.
	ErrRateLimited = errors.New("auth: too many failed attempts")
	// ErrUnknownHashFormat: a stored hash is in no format this package
	// verifies. Such an entry never matches a password.
	ErrUnknownHashFormat = errors.New("auth: unknown password hash format")
)
