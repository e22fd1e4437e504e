package oidcauth

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/url"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// VerifyBearer checks an OAuth2 bearer access token (RFC 6750) and returns
// who it names. A JWT (RFC 9068) is verified with the issuer's keys:
// signature, issuer, audience (Config.Audience) and expiry. Any other
// token is refused unless Config.UserinfoTokens, when the issuer's
// userinfo endpoint is asked and its answer cached for CacheTTL.
//
// Errors: one wrapping ErrInvalidToken, ErrNotAllowed, *UnavailableError,
// or ctx's error.
func (p *Provider) VerifyBearer(ctx context.Context, token string) (Identity, error) {
	if token == "" || len(token) > MaxTokenSize {
		return Identity{}, fmt.Errorf("%w: empty or over %d bytes", ErrInvalidToken, MaxTokenSize)
	}
	d, err := p.ready(ctx)
	if err != nil {
		return Identity{}, err
	}
	if !isJWT(token) {
		if !p.cfg.UserinfoTokens || !d.userinfo {
			return Identity{}, fmt.Errorf("%w: not a JWT", ErrInvalidToken)
		}
		return p.userinfoToken(ctx, d, token)
	}
	t, err := d.access.Verify(ctx, token)
	if err != nil {
		if kerr := d.keys.unavailable(); kerr != nil {
			return Identity{}, &UnavailableError{Err: kerr, Wait: keyRefresh}
		}
		return Identity{}, fmt.Errorf("%w: %v", ErrInvalidToken, err)
	}
	var c claims
	if err := t.Claims(&c); err != nil {
		return Identity{}, fmt.Errorf("%w: claims: %v", ErrInvalidToken, err)
	}
	return p.identity(c)
}

// userinfoToken asks the userinfo endpoint who an opaque token belongs to.
func (p *Provider) userinfoToken(ctx context.Context, d *discovered, token string) (Identity, error) {
	key := sha256.Sum256([]byte(token))
	now := p.cfg.Now()
	if id, ok := p.opaque.get(key, now); ok {
		return id, nil
	}
	ui, err := d.p.UserInfo(oidc.ClientContext(ctx, p.client), oauth2.StaticTokenSource(&oauth2.Token{AccessToken: token, TokenType: "Bearer"}))
	if ue := (*url.Error)(nil); errors.As(err, &ue) {
		if ctx.Err() != nil {
			return Identity{}, fmt.Errorf("oidc: userinfo: %w", ctx.Err())
		}
		return Identity{}, &UnavailableError{Err: fmt.Errorf("userinfo: %w", err), Wait: p.cfg.RetryInterval}
	}
	if err != nil {
		return Identity{}, fmt.Errorf("%w: userinfo: %v", ErrInvalidToken, err)
	}
	var c claims
	if err := ui.Claims(&c); err != nil {
		return Identity{}, fmt.Errorf("%w: userinfo claims: %v", ErrInvalidToken, err)
	}
	id, err := p.identity(c)
	if err != nil {
		return id, err
	}
	p.opaque.put(key, id, now, now.Add(p.cfg.CacheTTL))
	return id, nil
}

// maxCached bounds the opaque tokens remembered.
const maxCached = 10000

// tokenCache remembers who opaque tokens belong to, keyed by a SHA-256 of
// the token.
type tokenCache struct {
	mu sync.Mutex
	m  map[[32]byte]cachedToken
}

type cachedToken struct {
	id      Identity
	expires time.Time
}

func (c *tokenCache) get(key [32]byte, now time.Time) (Identity, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[key]
	if !ok || !now.Before(e.expires) {
		return Identity{}, false
	}
	return e.id, true
}

// put remembers key; a full cache first drops expired entries, then all.
func (c *tokenCache) put(key [32]byte, id Identity, now, expires time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[[32]byte]cachedToken{}
	}
	if len(c.m) >= maxCached {
		for k, e := range c.m {
			if !now.Before(e.expires) {
				delete(c.m, k)
			}
		}
		if len(c.m) >= maxCached {
			clear(c.m)
		}
	}
	c.m[key] = cachedToken{id: id, expires: expires}
}
