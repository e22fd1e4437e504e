// Package oidcauth signs users in with OpenID Connect (OpenID Connect
// Core 1.0) and checks OAuth2 bearer access tokens (RFC 6750) of the same
// issuer. github.com/coreos/go-oidc/v3 does discovery, the key set and the
// verification of signed tokens; golang.org/x/oauth2 does the
// authorization code flow with PKCE (RFC 7636). This package is the glue:
// bounded discovery that survives an issuer that is down, the mapping of
// a token's claims to an account of the engine, and auto-provisioning.
//
// An issuer that does not answer at start never stops the server: the
// first discovery is retried at most once every RetryInterval, when a
// sign-in or a bearer token needs it, and until it succeeds every OIDC
// sign-in and bearer token gets an *UnavailableError (503), while
// passwords keep working. Every request to the issuer has a timeout and a
// bounded response size.
//
// A token names a user by one claim (Config.UsernameClaim, default
// preferred_username). The user must be an account of the engine that is
// not disabled; with Config.AutoProvision an unknown name becomes a new
// account (a user event in the log, with the token's verified email
// address), without a password: it signs in through the issuer only.
package oidcauth

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/almanac/almanac/dav/auth"
	"github.com/almanac/almanac/engine"
	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

var _ auth.BearerVerifier = (*Provider)(nil)

var (
	// ErrInvalidToken: a token (an ID token at sign-in, a bearer access
	// token) is malformed, expired, signed by an unknown key, issued by
	// another issuer or for another audience, or names no usable user.
	// It matches auth.ErrBadCredentials.
	ErrInvalidToken = fmt.Errorf("oidc: invalid token: %w", auth.ErrBadCredentials)
	// ErrNotAllowed: the token is valid but its user may not sign in: a
	// disabled account, an unknown user without AutoProvision, or none of
	// AllowedGroups.
	// It matches auth.ErrBadCredentials.
	ErrNotAllowed = fmt.Errorf("oidc: user not allowed: %w", auth.ErrBadCredentials)
)

// UnavailableError is the error of a sign-in or a token that could not be
// checked because the issuer did not answer (discovery or its key set).
// HTTP answers it 503 with a Retry-After of ServiceUnavailable seconds:
// the token may well be good.
type UnavailableError struct {
	Err error
	// Wait is how long until the next try.
	Wait time.Duration
}

func (e *UnavailableError) Error() string {
	return fmt.Sprintf("oidc: issuer unavailable: %v", e.Err)
}

func (e *UnavailableError) Unwrap() error { return e.Err }

// ServiceUnavailable returns the seconds to wait before retrying, at least
// 1: the value of a Retry-After header (RFC 9110 §10.2.3).
func (e *UnavailableError) ServiceUnavailable() int {
	return max(1, int((e.Wait+time.Second-1)/time.Second))
}

// Config is the issuer and how its tokens map to users. The zero value of
// every field but Issuer, ClientID and DB means its default.
type Config struct {
	// Issuer is the issuer URL; discovery reads
	// Issuer/.well-known/openid-configuration. Required.
	Issuer string
	// ClientID and ClientSecret are this server's client at the issuer.
	// ClientID is required; a public client has no secret.
	ClientID, ClientSecret string
	// RedirectURL is the callback registered at the issuer
	// (https://host/login/oidc/callback). Empty: the web app derives it
	// from each request's host.
	RedirectURL string
	// Scopes are requested at sign-in besides "openid". Default profile,
	// email.
	Scopes []string
	// UsernameClaim is the claim whose string value is the user name.
	// Default "preferred_username".
	UsernameClaim string
	// AutoProvision creates an account for a user the engine does not
	// know. Default false: such a user is refused.
	AutoProvision bool
	// AllowedGroups, when set, admits only users with one of these values
	// in the GroupsClaim claim. Default: everyone the issuer signs in.
	AllowedGroups []string
	// GroupsClaim is the claim with the user's groups (a list of strings,
	// or one string). Default "groups".
	GroupsClaim string
	// Audience is the "aud" a bearer access token must carry. Default
	// ClientID.
	Audience string
	// UserinfoTokens accepts bearer tokens that are not JWTs (opaque) by
	// asking the issuer's userinfo endpoint who they belong to. Off by
	// default: userinfo answers for a token issued to any client of the
	// issuer, so another application holding a user's token could use it
	// here.
	UserinfoTokens bool
	// Timeout bounds each request to the issuer. Default 10s.
	Timeout time.Duration
	// RetryInterval is the least time between two discovery attempts
	// while the issuer is not answering. Default 10s.
	RetryInterval time.Duration
	// CacheTTL is how long the user of an opaque token is remembered.
	// Default 1m.
	CacheTTL time.Duration
	// HTTPClient makes the requests to the issuer (tests, a proxy, a CA).
	// Its Timeout is replaced by Timeout. Default: a client of
	// http.DefaultTransport.
	HTTPClient *http.Client
	// DB holds the accounts. Required.
	DB *engine.DB
	// Logger receives sign-ins, provisioning and issuer errors. Default:
	// discard.
	Logger *slog.Logger
	// Now returns the current time, for token expiry. Default time.Now.
	Now func() time.Time
}

// MaxTokenSize bounds a bearer token and an authorization code, in
// bytes: RFC 6750 sets no limit, and real access tokens with many groups
// stay within a few kilobytes.
const MaxTokenSize = 8 << 10

// maxResponse bounds a response of the issuer (discovery, keys, token,
// userinfo): go-oidc reads them whole.
const maxResponse = 1 << 20

// EnsureDefaults fills in every zero field with its default.
func (c *Config) EnsureDefaults() {
	if c.Scopes == nil {
		c.Scopes = []string{"profile", "email"}
	}
	if c.UsernameClaim == "" {
		c.UsernameClaim = "preferred_username"
	}
	if c.GroupsClaim == "" {
		c.GroupsClaim = "groups"
	}
	if c.Audience == "" {
		c.Audience = c.ClientID
	}
	if c.Timeout == 0 {
		c.Timeout = 10 * time.Second
	}
	if c.RetryInterval == 0 {
		c.RetryInterval = 10 * time.Second
	}
	if c.CacheTTL == 0 {
		c.CacheTTL = time.Minute
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// Validate reports the first invalid field but DB, which New checks.
func (c *Config) Validate() error {
	u, err := url.Parse(c.Issuer)
	switch {
	case c.Issuer == "":
		return errors.New("oidc: Config.Issuer is required")
	case err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http"):
		return fmt.Errorf("oidc: Config.Issuer %q is no http(s) URL", c.Issuer)
	case c.ClientID == "":
		return errors.New("oidc: Config.ClientID is required")
	case c.Timeout < 0 || c.RetryInterval < 0 || c.CacheTTL < 0:
		return errors.New("oidc: Config.Timeout, RetryInterval and CacheTTL must not be negative")
	}
	if c.RedirectURL != "" {
		if r, err := url.Parse(c.RedirectURL); err != nil || r.Host == "" || (r.Scheme != "https" && r.Scheme != "http") {
			return fmt.Errorf("oidc: Config.RedirectURL %q is no http(s) URL", c.RedirectURL)
		}
	}
	return nil
}

// Provider is one issuer. It is safe for concurrent use.
type Provider struct {
	cfg    Config
	client *http.Client
	opaque tokenCache

	turn chan struct{} // held by the one discovery running
	mu   sync.Mutex    // guards the fields below
	d    *discovered
	err  error // of the last failed discovery
	next time.Time
}

// discovered is what discovery learned.
type discovered struct {
	p        *oidc.Provider
	idTokens *oidc.IDTokenVerifier // aud: ClientID
	access   *oidc.IDTokenVerifier // aud: Audience
	endpoint oauth2.Endpoint
	userinfo bool
	keys     *keySet
}

// New returns a Provider for cfg. It does not contact the issuer: Discover
// does, and every use until one succeeds.
func New(cfg Config) (*Provider, error) {
	cfg.EnsureDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.DB == nil {
		return nil, errors.New("oidc: Config.DB is required")
	}
	c := &http.Client{Transport: http.DefaultTransport}
	if cfg.HTTPClient != nil {
		cc := *cfg.HTTPClient
		c = &cc
		if c.Transport == nil {
			c.Transport = http.DefaultTransport
		}
	}
	c.Timeout = cfg.Timeout
	c.Transport = limitedTransport{c.Transport}
	return &Provider{cfg: cfg, client: c, turn: make(chan struct{}, 1)}, nil
}

// Issuer returns the issuer URL, for a sign-in button.
func (p *Provider) Issuer() string { return p.cfg.Issuer }

// RedirectURL returns the configured callback URL, or "" when the web app
// derives it from the request.
func (p *Provider) RedirectURL() string { return p.cfg.RedirectURL }

// Discover reads the issuer's discovery document now unless it was read
// or tried within RetryInterval. Serve calls it at start and logs a
// failure; the server starts anyway.
//
// Errors: *UnavailableError, or ctx's error.
func (p *Provider) Discover(ctx context.Context) error {
	_, err := p.ready(ctx)
	return err
}

// ready returns the discovered issuer, discovering it when it is not yet
// known and the last try is RetryInterval ago. Only one discovery runs at
// a time; others wait for it or for ctx.
func (p *Provider) ready(ctx context.Context) (*discovered, error) {
	if d, err := p.known(); d != nil || err != nil {
		return d, err
	}
	select {
	case p.turn <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("oidc: waiting for discovery: %w", ctx.Err())
	}
	defer func() { <-p.turn }()
	if d, err := p.known(); d != nil || err != nil {
		return d, err // another caller's discovery ended meanwhile
	}
	d, err := p.discover(ctx)
	p.mu.Lock()
	defer p.mu.Unlock()
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("oidc: discovery: %w", ctx.Err())
		}
		p.err, p.next = err, p.cfg.Now().Add(p.cfg.RetryInterval)
		p.cfg.Logger.Warn("oidc: issuer discovery failed", "issuer", p.cfg.Issuer, "err", err)
		return nil, &UnavailableError{Err: err, Wait: p.cfg.RetryInterval}
	}
	p.d, p.err = d, nil
	p.cfg.Logger.Info("oidc: issuer discovered", "issuer", p.cfg.Issuer)
	return d, nil
}

// known returns the discovered issuer, or the last failure while it is
// too early to try again, or neither.
func (p *Provider) known() (*discovered, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.d != nil {
		return p.d, nil
	}
	if now := p.cfg.Now(); p.err != nil && now.Before(p.next) {
		return nil, &UnavailableError{Err: p.err, Wait: p.next.Sub(now)}
	}
	return nil, nil
}

func (p *Provider) discover(ctx context.Context) (*discovered, error) {
	ctx, cancel := context.WithTimeout(oidc.ClientContext(ctx, p.client), p.cfg.Timeout)
	defer cancel()
	op, err := oidc.NewProvider(ctx, p.cfg.Issuer)
	if err != nil {
		return nil, err
	}
	var meta struct {
		JWKS string   `json:"jwks_uri"`
		Algs []string `json:"id_token_signing_alg_values_supported"`
	}
	if err := op.Claims(&meta); err != nil || meta.JWKS == "" {
		return nil, fmt.Errorf("oidc: discovery document has no jwks_uri (%v)", err)
	}
	d := &discovered{p: op, endpoint: op.Endpoint(), userinfo: op.UserInfoEndpoint() != "",
		keys: newKeySet(meta.JWKS, p.client, p.cfg.Now)}
	algs := supportedAlgs(meta.Algs)
	d.idTokens = oidc.NewVerifier(p.cfg.Issuer, d.keys, &oidc.Config{ClientID: p.cfg.ClientID, SupportedSigningAlgs: algs, Now: p.cfg.Now})
	d.access = oidc.NewVerifier(p.cfg.Issuer, d.keys, &oidc.Config{ClientID: p.cfg.Audience, SupportedSigningAlgs: algs, Now: p.cfg.Now})
	d.endpoint.AuthStyle = oauth2.AuthStyleInHeader
	if p.cfg.ClientSecret == "" {
		d.endpoint.AuthStyle = oauth2.AuthStyleInParams
	}
	return d, nil
}

// claims is what a token or userinfo says of its user.
type claims map[string]any

// str returns claim name as a string, "" when absent or not a string.
func (c claims) str(name string) string {
	s, _ := c[name].(string)
	return s
}

// groups returns the string values of claim name (a list or one string).
func (c claims) groups(name string) []string {
	switch v := c[name].(type) {
	case string:
		return []string{v}
	case []any:
		var g []string
		for _, x := range v {
			if s, ok := x.(string); ok {
				g = append(g, s)
			}
		}
		return g
	}
	return nil
}

// Identity is who a token names.
type Identity struct {
	// Name is the value of the username claim.
	Name string
	// Email is the token's email address when email_verified is true.
	Email string
	// Subject is the issuer's "sub".
	Subject string
}

// identity maps c to an Identity and checks AllowedGroups.
func (p *Provider) identity(c claims) (Identity, error) {
	id := Identity{Name: c.str(p.cfg.UsernameClaim), Subject: c.str("sub")}
	if id.Name == "" {
		return id, fmt.Errorf("%w: no string claim %q", ErrInvalidToken, p.cfg.UsernameClaim)
	}
	if v, _ := c["email_verified"].(bool); v {
		id.Email = c.str("email")
	}
	if len(p.cfg.AllowedGroups) > 0 && !slices.ContainsFunc(c.groups(p.cfg.GroupsClaim), func(g string) bool {
		return slices.Contains(p.cfg.AllowedGroups, g)
	}) {
		return id, fmt.Errorf("%w: %q is in none of the allowed groups", ErrNotAllowed, id.Name)
	}
	return id, nil
}

// limitedTransport bounds the body of every response of the issuer.
type limitedTransport struct{ rt http.RoundTripper }

func (t limitedTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := t.rt.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	resp.Body = &limitedBody{rc: resp.Body, n: maxResponse}
	return resp, nil
}

// limitedBody fails a read past n bytes, so a response over the bound is
// an error rather than a truncated document.
type limitedBody struct {
	rc io.ReadCloser
	n  int64
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.n <= 0 {
		return 0, fmt.Errorf("oidc: response of the issuer over %d bytes", maxResponse)
	}
	if int64(len(p)) > b.n {
		p = p[:b.n]
	}
	n, err := b.rc.Read(p)
	b.n -= int64(n)
	return n, err
}

func (b *limitedBody) Close() error { return b.rc.Close() }

// isJWT reports whether tok has the shape of a JWS compact serialization.
func isJWT(tok string) bool { return strings.Count(tok, ".") == 2 }
