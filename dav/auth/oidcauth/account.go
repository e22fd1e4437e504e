package oidcauth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/almanac/almanac/engine"
)

// Account returns the account id names: an account of the engine that is
// not disabled. With Config.AutoProvision a name the engine does not know
// becomes a new account (role user, no password, the identity's verified
// email address unless another account has it), written to the log with
// m (whose Actor, when empty, is the new user); without it the user is
// refused.
//
// Errors: one wrapping ErrNotAllowed (disabled, unknown), ErrInvalidToken
// (a name the engine cannot take), or the engine's error.
func (p *Provider) Account(ctx context.Context, m engine.Meta, id Identity) (*engine.User, error) {
	u, err := p.cfg.DB.User(id.Name)
	switch {
	case err == nil && u.Disabled:
		return nil, fmt.Errorf("%w: account %q is disabled", ErrNotAllowed, id.Name)
	case err == nil:
		return u, nil
	case !errors.Is(err, engine.ErrNotFound):
		return nil, fmt.Errorf("oidc: look up user %q: %w", id.Name, err)
	case !p.cfg.AutoProvision:
		return nil, fmt.Errorf("%w: no account %q (auto-provisioning is off)", ErrNotAllowed, id.Name)
	}
	if m.Actor == "" {
		m.Actor = id.Name
	}
	nu := engine.User{Name: id.Name, Role: engine.RoleUser}
	if id.Email != "" {
		nu.Emails = []string{id.Email}
	}
	err = p.cfg.DB.AddUser(ctx, m, nu)
	if errors.Is(err, engine.ErrExists) && nu.Emails != nil {
		// The address is another account's (a name taken meanwhile is
		// handled below): provision without it.
		nu.Emails = nil
		err = p.cfg.DB.AddUser(ctx, m, nu)
	}
	switch {
	case errors.Is(err, engine.ErrExists):
		// A concurrent sign-in provisioned the user first, or a group
		// has the name.
		if u, err := p.cfg.DB.User(id.Name); err == nil && !u.Disabled {
			return u, nil
		}
		return nil, fmt.Errorf("%w: %q is taken by a group or a disabled account", ErrNotAllowed, id.Name)
	case errors.Is(err, engine.ErrInvalidName):
		return nil, fmt.Errorf("%w: %q cannot be a user name: %v", ErrInvalidToken, id.Name, err)
	case err != nil:
		return nil, fmt.Errorf("oidc: provision user %q: %w", id.Name, err)
	}
	p.cfg.Logger.LogAttrs(ctx, slog.LevelInfo, "oidc: user provisioned",
		slog.String("user", id.Name), slog.String("subject", id.Subject), slog.String("email", strings.Join(nu.Emails, ",")))
	return p.cfg.DB.User(id.Name)
}

// AuthenticateBearer is VerifyBearer then Account: the account a bearer
// access token signs in, provisioned when allowed.
//
// Errors: as VerifyBearer's and Account's.
func (p *Provider) AuthenticateBearer(ctx context.Context, m engine.Meta, token string) (*engine.User, error) {
	id, err := p.VerifyBearer(ctx, token)
	if err != nil {
		return nil, err
	}
	return p.Account(ctx, m, id)
}

// SignIn ends a web sign-in: Exchange, then Account. m is the Meta of an
// account it creates.
//
// Errors: as Exchange's and Account's.
func (p *Provider) SignIn(ctx context.Context, m engine.Meta, redirectURL, code, verifier, nonce string) (*engine.User, error) {
	id, err := p.Exchange(ctx, redirectURL, code, verifier, nonce)
	if err != nil {
		return nil, err
	}
	return p.Account(ctx, m, id)
}
