package oidcauth

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// oauthConfig is the client for a sign-in whose callback is redirectURL.
func (p *Provider) oauthConfig(d *discovered, redirectURL string) *oauth2.Config {
	if p.cfg.RedirectURL != "" {
		redirectURL = p.cfg.RedirectURL
	}
	return &oauth2.Config{ClientID: p.cfg.ClientID, ClientSecret: p.cfg.ClientSecret, Endpoint: d.endpoint,
		RedirectURL: redirectURL, Scopes: append([]string{oidc.ScopeOpenID}, p.cfg.Scopes...)}
}

// AuthCodeURL returns the issuer's authorization URL for a sign-in with
// the authorization code flow: state and nonce to be checked at the
// callback, and the PKCE challenge (S256) of verifier (RFC 7636 §4.2).
// redirectURL is the callback, used when Config.RedirectURL is empty.
//
// Errors: *UnavailableError, or ctx's error.
func (p *Provider) AuthCodeURL(ctx context.Context, redirectURL, state, nonce, verifier string) (string, error) {
	d, err := p.ready(ctx)
	if err != nil {
		return "", err
	}
	return p.oauthConfig(d, redirectURL).AuthCodeURL(state, oidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier)), nil
}

// Exchange ends a sign-in: it trades code for tokens at the issuer's
// token endpoint, sending the PKCE verifier, verifies the ID token
// (signature by the issuer's keys, issuer, audience ClientID, expiry)
// and its nonce, and returns who it names. A username claim missing from
// the ID token is looked up at the userinfo endpoint (whose "sub" must be
// the token's, OpenID Connect Core §5.3.2).
//
// Errors: one wrapping ErrInvalidToken (a code the issuer refuses, a
// wrong verifier, a bad ID token or nonce), ErrNotAllowed (AllowedGroups),
// *UnavailableError, or ctx's error.
func (p *Provider) Exchange(ctx context.Context, redirectURL, code, verifier, nonce string) (Identity, error) {
	if len(code) > MaxTokenSize {
		return Identity{}, fmt.Errorf("%w: authorization code over %d bytes", ErrInvalidToken, MaxTokenSize)
	}
	d, err := p.ready(ctx)
	if err != nil {
		return Identity{}, err
	}
	hctx := context.WithValue(oidc.ClientContext(ctx, p.client), oauth2.HTTPClient, p.client)
	tok, err := p.oauthConfig(d, redirectURL).Exchange(hctx, code, oauth2.VerifierOption(verifier))
	if re := (*oauth2.RetrieveError)(nil); errors.As(err, &re) {
		return Identity{}, fmt.Errorf("%w: the token endpoint refused the code: %v", ErrInvalidToken, err)
	}
	if err != nil {
		if ctx.Err() != nil {
			return Identity{}, fmt.Errorf("oidc: token endpoint: %w", ctx.Err())
		}
		return Identity{}, &UnavailableError{Err: fmt.Errorf("token endpoint: %w", err), Wait: p.cfg.RetryInterval}
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return Identity{}, fmt.Errorf("%w: the token response has no id_token", ErrInvalidToken)
	}
	idt, err := d.idTokens.Verify(ctx, raw)
	if err != nil {
		if kerr := d.keys.unavailable(); kerr != nil {
			return Identity{}, &UnavailableError{Err: kerr, Wait: keyRefresh}
		}
		return Identity{}, fmt.Errorf("%w: id token: %v", ErrInvalidToken, err)
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(nonce)) != 1 || nonce == "" {
		return Identity{}, fmt.Errorf("%w: id token nonce does not match the sign-in's", ErrInvalidToken)
	}
	var c claims
	if err := idt.Claims(&c); err != nil {
		return Identity{}, fmt.Errorf("%w: id token claims: %v", ErrInvalidToken, err)
	}
	if c.str(p.cfg.UsernameClaim) == "" && d.userinfo {
		ui, err := d.p.UserInfo(hctx, oauth2.StaticTokenSource(tok))
		if err != nil {
			return Identity{}, &UnavailableError{Err: fmt.Errorf("userinfo: %w", err), Wait: p.cfg.RetryInterval}
		}
		var uc claims
		if err := ui.Claims(&uc); err != nil || ui.Subject != idt.Subject {
			return Identity{}, fmt.Errorf("%w: userinfo is not of the id token's subject", ErrInvalidToken)
		}
		for k, v := range uc {
			if _, ok := c[k]; !ok {
				c[k] = v
			}
		}
	}
	return p.identity(c)
}
