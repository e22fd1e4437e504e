package auth

import (
	"context"
	"errors"
	"fmt"

	"github.com/almanac/almanac/engine"
)

// BearerVerifier checks OAuth2 bearer access tokens (RFC 6750), such as
// an OpenID Connect issuer's (package dav/auth/oidcauth).
type BearerVerifier interface {
	// AuthenticateBearer returns the account token signs in; m is the
	// Meta of an account it creates. Errors: one wrapping
	// ErrBadCredentials for a token that signs nobody in; any other error
	// (an issuer that did not answer, with a method ServiceUnavailable()
	// int) is no failed login.
	AuthenticateBearer(ctx context.Context, m engine.Meta, token string) (*engine.User, error)
}

// bearerUser is the limiter's user name for bearer tokens, which name
// their user only once verified: a token's failures count per address
// (and towards the address's failures of every user), and a client that
// keeps sending a bad token is locked out like a wrong password.
const bearerUser = "\x00bearer"

// AuthenticateBearer checks an OAuth2 bearer access token with
// Options.Bearer and returns its account. Failures count in the login
// limiter (per address) and are logged for fail2ban with user "(bearer)".
//
// Errors: one wrapping ErrBadCredentials (no Options.Bearer, or a token
// refused), a *RateLimitError, or Options.Bearer's other errors.
func (v *Verifier) AuthenticateBearer(ctx context.Context, token, remoteAddr, userAgent string) (*engine.User, error) {
	now := v.opts.Clock()
	remote := remoteHost(remoteAddr)
	if d := v.limits.blocked(bearerUser, remote, now); d > 0 {
		v.rateLimited.Add(1)
		v.logFailure(ctx, "(bearer)", remote, "rate limited")
		return nil, &RateLimitError{Wait: d}
	}
	if v.opts.Bearer == nil {
		v.badCredentials.Add(1)
		v.limits.fail(bearerUser, remote, now)
		v.logFailure(ctx, "(bearer)", remote, "bearer tokens are not accepted")
		return nil, fmt.Errorf("%w: bearer tokens are not accepted", ErrBadCredentials)
	}
	u, err := v.opts.Bearer.AuthenticateBearer(ctx, engine.Meta{UserAgent: userAgent}, token)
	switch {
	case err == nil && u != nil:
		return u, nil
	case errors.Is(err, ErrBadCredentials), err == nil:
		v.badCredentials.Add(1)
		v.limits.fail(bearerUser, remote, now)
		v.logFailure(ctx, "(bearer)", remote, "bad bearer token")
		if err == nil {
			err = fmt.Errorf("%w: no user", ErrBadCredentials)
		}
		return nil, err
	}
	return nil, err
}
