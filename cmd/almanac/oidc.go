package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/almanac/almanac/dav/auth/oidcauth"
	"github.com/almanac/almanac/engine"
)

// oidcConfig is the OpenID Connect issuer users may sign in with, and
// whose bearer access tokens DAV and gRPC accept (--oidc-*).
type oidcConfig struct {
	Issuer           string
	ClientID         string
	ClientSecretFile string
	RedirectURL      string
	UsernameClaim    string
	AutoProvision    bool
	AllowedGroups    string
	GroupsClaim      string
	Audience         string
	UserinfoTokens   bool
	Timeout          time.Duration
}

func (o *oidcConfig) flags(fs *flag.FlagSet) {
	fs.StringVar(&o.Issuer, "oidc-issuer", "", "OpenID Connect issuer `URL` users may sign in with (web) and whose bearer access tokens DAV and gRPC accept (default none)")
	fs.StringVar(&o.ClientID, "oidc-client-id", "", "this server's OAuth2 client `id` at the issuer; required with --oidc-issuer")
	fs.StringVar(&o.ClientSecretFile, "oidc-client-secret-file", "", "`file` holding the client's secret (one line; default: a public client)")
	fs.StringVar(&o.RedirectURL, "oidc-redirect-url", "", "the callback `URL` registered at the issuer, https://HOST/login/oidc/callback (default: from each request's Host)")
	fs.StringVar(&o.UsernameClaim, "oidc-username-claim", "preferred_username", "`claim` whose value is the user name")
	fs.BoolVar(&o.AutoProvision, "oidc-auto-provision", false, "create an account (no password) for a user the issuer signs in whom the server does not know")
	fs.StringVar(&o.AllowedGroups, "oidc-allowed-groups", "", "comma-separated `groups`: only users with one of them in --oidc-groups-claim may sign in (default: all)")
	fs.StringVar(&o.GroupsClaim, "oidc-groups-claim", "groups", "`claim` listing the user's groups, for --oidc-allowed-groups")
	fs.StringVar(&o.Audience, "oidc-audience", "", "`aud` a bearer access token must carry (default: --oidc-client-id)")
	fs.BoolVar(&o.UserinfoTokens, "oidc-userinfo-tokens", false, "accept opaque (non-JWT) bearer tokens by asking the issuer's userinfo endpoint; it answers for tokens of any client of the issuer")
	fs.DurationVar(&o.Timeout, "oidc-timeout", 10*time.Second, "timeout of each request to the issuer")
}

func (o *oidcConfig) validate() error {
	bad := func(field string, err error) error { return &ConfigError{Field: field, Err: err} }
	if o.Issuer == "" {
		for _, f := range []struct {
			name string
			set  bool
		}{{"oidc-client-id", o.ClientID != ""}, {"oidc-client-secret-file", o.ClientSecretFile != ""},
			{"oidc-redirect-url", o.RedirectURL != ""}, {"oidc-auto-provision", o.AutoProvision},
			{"oidc-allowed-groups", o.AllowedGroups != ""}, {"oidc-audience", o.Audience != ""},
			{"oidc-userinfo-tokens", o.UserinfoTokens}} {
			if f.set {
				return bad(f.name, fmt.Errorf("needs --oidc-issuer"))
			}
		}
		return nil
	}
	if o.Timeout <= 0 {
		return bad("oidc-timeout", fmt.Errorf("must be positive, got %s", o.Timeout))
	}
	if o.ClientID == "" {
		return bad("oidc-client-id", fmt.Errorf("required with --oidc-issuer"))
	}
	c, err := o.config(nil, nil)
	if err != nil {
		return err
	}
	c.EnsureDefaults()
	if err := c.Validate(); err != nil {
		field := "oidc-issuer"
		if strings.Contains(err.Error(), "RedirectURL") {
			field = "oidc-redirect-url"
		}
		return bad(field, err)
	}
	return nil
}

// config returns the oidcauth configuration, reading the secret file.
func (o *oidcConfig) config(db *engine.DB, logger *slog.Logger) (oidcauth.Config, error) {
	c := oidcauth.Config{
		Issuer: o.Issuer, ClientID: o.ClientID, RedirectURL: o.RedirectURL, UsernameClaim: o.UsernameClaim,
		AutoProvision: o.AutoProvision, GroupsClaim: o.GroupsClaim, Audience: o.Audience,
		UserinfoTokens: o.UserinfoTokens, Timeout: o.Timeout, DB: db, Logger: logger,
	}
	for g := range strings.SplitSeq(o.AllowedGroups, ",") {
		if g = strings.TrimSpace(g); g != "" {
			c.AllowedGroups = append(c.AllowedGroups, g)
		}
	}
	if o.ClientSecretFile != "" {
		b, err := os.ReadFile(o.ClientSecretFile)
		if err != nil {
			return c, &ConfigError{Field: "oidc-client-secret-file", Err: err}
		}
		c.ClientSecret = strings.TrimRight(string(b), "\r\n")
	}
	return c, nil
}

// provider returns the issuer, or nil without --oidc-issuer. It starts a
// discovery in the background: an issuer down at start is logged, never
// fatal (every use retries it).
func (o *oidcConfig) provider(db *engine.DB, logger *slog.Logger) (*oidcauth.Provider, error) {
	if o.Issuer == "" {
		return nil, nil
	}
	c, err := o.config(db, logger)
	if err != nil {
		return nil, err
	}
	p, err := oidcauth.New(c)
	if err != nil {
		return nil, &ConfigError{Field: "oidc-issuer", Err: err}
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), o.Timeout)
		defer cancel()
		_ = p.Discover(ctx) // logged by the provider
	}()
	return p, nil
}
