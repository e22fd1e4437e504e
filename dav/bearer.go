package dav

import (
	"context"
	"net/http"
	"strings"

	"github.com/almanac/almanac/engine"
)

// BearerAuthenticator is an Authenticator that also accepts OAuth2 bearer
// access tokens (RFC 6750 §2.1); *auth.Verifier implements it. The
// Handler uses it when Options.Auth does.
type BearerAuthenticator interface {
	// AuthenticateBearer returns the account token signs in, or an error
	// as Authenticate's.
	AuthenticateBearer(ctx context.Context, token, remoteAddr, userAgent string) (*engine.User, error)
}

// bearerChallenge is the WWW-Authenticate of a 401 to a request whose
// bearer token was refused (RFC 6750 §3.1); the Basic challenge follows
// it.
const bearerChallenge = `Bearer realm="Almanac", error="invalid_token"`

// bearerToken returns the token of an "Authorization: Bearer" header
// (the scheme is case-insensitive, RFC 9110 §11.1).
func bearerToken(r *http.Request) (string, bool) {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	return strings.TrimSpace(tok), true
}

// authenticateBearer checks a bearer token with the Authenticator, if it
// takes them; a token it does not is refused like a bad one.
func (h *Handler) authenticateBearer(r *http.Request, tok string) (*engine.User, error) {
	ba, ok := h.auth.(BearerAuthenticator)
	if !ok {
		return nil, errUnauthorized
	}
	return ba.AuthenticateBearer(r.Context(), tok, r.RemoteAddr, r.UserAgent())
}
