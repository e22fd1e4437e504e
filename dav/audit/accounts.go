package audit

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/almanac/almanac/dav/auth"
	"github.com/almanac/almanac/engine"
)

// Accounts manages user accounts and their API tokens: Local on a data
// directory or inside the server, Client through the admin API of a
// running server. Passwords travel to it in the clear (over TLS or
// loopback) and are hashed where the account is written.
type Accounts interface {
	// Users lists every account in name order.
	Users(ctx context.Context) ([]Account, error)
	// AddUser creates an account with the email addresses emails.
	// Errors: engine.ErrConflict (it exists, or another user has one of
	// the addresses), engine.ErrInvalidName (a malformed address too), a
	// bad password.
	AddUser(ctx context.Context, name, password string, admin bool, emails ...string) error
	// SetEmails adds the addresses add to the account's and removes the
	// addresses remove; a name without an account that is given addresses
	// gets an account without a password (its password stays the
	// htpasswd file's). Errors: engine.ErrNotFound (an address to remove
	// the user does not have), engine.ErrConflict (another
	// user has an address to add), engine.ErrInvalidName.
	SetEmails(ctx context.Context, name string, add, remove []string) error
	// SetPassword replaces the password. Errors: engine.ErrNotFound,
	// engine.ErrInvalidName (a resource), a bad password.
	SetPassword(ctx context.Context, name, password string) error
	// CanSetPassword reports why name cannot be given a password now,
	// before one is asked for: engine.ErrNotFound (no account),
	// engine.ErrInvalidName (a resource, which never signs in).
	CanSetPassword(ctx context.Context, name string) error
	// DeleteUser removes the account; its data stays. Errors:
	// engine.ErrNotFound.
	DeleteUser(ctx context.Context, name string) error
	// SetDisabled disables or enables the account: a disabled account
	// cannot sign in by any means, and keeps its data and tokens. Errors:
	// engine.ErrNotFound.
	SetDisabled(ctx context.Context, name string, disabled bool) error
	// CreateToken makes an API token for user and returns its secret,
	// which is stored nowhere. Errors: engine.ErrNotFound.
	CreateToken(ctx context.Context, user, label string) (*NewToken, error)
	// RevokeToken removes the token id of user. Errors: engine.ErrNotFound.
	RevokeToken(ctx context.Context, user, id string) error
}

// Account is a user account as the admin API shows it: no password hash,
// no token secret.
type Account struct {
	Name     string      `json:"name"`
	Role     string      `json:"role"`
	Disabled bool        `json:"disabled,omitempty"`
	Emails   []string    `json:"emails,omitempty"`
	Tokens   []TokenInfo `json:"tokens,omitempty"`
	// AppPasswords are the account's per-device passwords.
	AppPasswords []AppPasswordInfo `json:"app_passwords,omitempty"`
}

// TokenInfo describes an API token without its secret.
type TokenInfo struct {
	ID      string    `json:"id"`
	Label   string    `json:"label,omitempty"`
	Created time.Time `json:"created"`
}

// NewToken is a token just made: Token ("<id>.<secret>") is shown once.
type NewToken struct {
	User  string `json:"user"`
	ID    string `json:"id"`
	Token string `json:"token"`
}

// TokenMaker makes an API token: the record to store (a hash of the
// secret) and the token to hand out once (feed.NewToken, which package dav
// must not import).
type TokenMaker func(label string, now time.Time) (engine.APIToken, string, error)

var _ Accounts = (*Local)(nil)

// maxAccountBody bounds the body of an account or token request of the
// admin API: a name, a password and a label.
const maxAccountBody = 64 << 10

// CheckPassword refuses an empty password, one over bcrypt's 72 bytes
// and one of the app-password shape (a 400 through the admin API).
func CheckPassword(pw string) error {
	switch {
	case pw == "":
		return badRequest(errors.New("empty password"))
	case len(pw) > 72:
		return badRequest(errors.New("password longer than 72 bytes (bcrypt reads no more)"))
	case engine.IsAppPassword(pw):
		return badRequest(errors.New("a password of the app-password shape (ap-...) signs in as an app password only: choose another"))
	}
	return nil
}

func hashPassword(pw string) (string, error) {
	if err := CheckPassword(pw); err != nil {
		return "", err
	}
	return auth.HashPassword(pw)
}

// Users lists the accounts.
func (l *Local) Users(ctx context.Context) ([]Account, error) {
	v, err := l.DB.View()
	if err != nil {
		return nil, err
	}
	defer v.Close()
	users, err := v.Users()
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	out := make([]Account, 0, len(users))
	for _, u := range users {
		a := Account{Name: u.Name, Role: u.Role, Disabled: u.Disabled, Emails: u.Emails}
		for _, t := range u.Tokens {
			a.Tokens = append(a.Tokens, TokenInfo{ID: t.ID, Label: t.Label, Created: t.Created})
		}
		for _, p := range u.AppPasswords {
			a.AppPasswords = append(a.AppPasswords, AppPasswordInfoOf(p))
		}
		out = append(out, a)
	}
	return out, nil
}

// AddUser creates an account.
func (l *Local) AddUser(ctx context.Context, name, password string, admin bool, emails ...string) error {
	hash, err := hashPassword(password)
	if err != nil {
		return err
	}
	role := engine.RoleUser
	if admin {
		role = engine.RoleAdmin
	}
	err = l.DB.AddUser(ctx, l.Meta, engine.User{Name: name, PasswordHash: hash, Role: role, Emails: emails})
	if errors.Is(err, engine.ErrAddressTaken) {
		return addressTaken(err)
	}
	if errors.Is(err, engine.ErrExists) {
		return fmt.Errorf("%w: user %q exists", engine.ErrConflict, name)
	}
	return err
}

// SetEmails adds and removes email addresses of an account in one event.
// A name with no account (a user of --htpasswd or the directory) that is
// given addresses gets an account without a password: it holds the
// addresses (and the role, the disabled flag), the password stays the
// file's (auth.Verifier looks there when an account has none).
func (l *Local) SetEmails(ctx context.Context, name string, add, remove []string) error {
	err := l.updateEmails(ctx, name, add, remove)
	if errors.Is(err, engine.ErrNotFound) && len(remove) == 0 && len(add) > 0 {
		err = l.DB.AddUser(ctx, l.Meta, engine.User{Name: name, Role: engine.RoleUser, Emails: add})
		if errors.Is(err, engine.ErrExists) && !errors.Is(err, engine.ErrAddressTaken) {
			err = l.updateEmails(ctx, name, add, remove) // made meanwhile
		}
	}
	if errors.Is(err, engine.ErrAddressTaken) {
		return addressTaken(err)
	}
	return err
}

// updateEmails is SetEmails of an existing account.
func (l *Local) updateEmails(ctx context.Context, name string, add, remove []string) error {
	return l.DB.UpdateUser(ctx, l.Meta, name, func(u *engine.User) error {
		for _, a := range remove {
			n, err := engine.NormalizeEmail(a)
			if err != nil {
				return err
			}
			i := slices.Index(u.Emails, n)
			if i < 0 {
				return fmt.Errorf("%w: user %q has no address %s", engine.ErrNotFound, name, n)
			}
			u.Emails = slices.Delete(u.Emails, i, i+1)
		}
		u.Emails = append(u.Emails, add...)
		return nil
	})
}

// addressTaken turns the engine's ErrAddressTaken into ErrConflict (409
// through the admin API), keeping what it says.
func addressTaken(err error) error {
	return fmt.Errorf("%w: %s", engine.ErrConflict, strings.TrimPrefix(err.Error(), engine.ErrExists.Error()+": "))
}

// SetPassword replaces a password. The account is looked up first: no
// hash (tens of milliseconds of CPU) is spent on a name without one, nor
// on a resource, which never signs in (the engine refuses its password
// too, as the account may change meanwhile).
func (l *Local) SetPassword(ctx context.Context, name, password string) error {
	if err := l.CanSetPassword(ctx, name); err != nil {
		return err
	}
	hash, err := hashPassword(password)
	if err != nil {
		return err
	}
	return l.DB.UpdateUser(ctx, l.Meta, name, func(u *engine.User) error { u.PasswordHash = hash; return nil })
}

// CanSetPassword reports why name cannot be given a password now, before
// one is asked for or hashed. Errors: engine.ErrNotFound (no account),
// engine.ErrInvalidName (a resource, which never signs in).
func (l *Local) CanSetPassword(_ context.Context, name string) error {
	u, err := l.DB.User(name)
	if err != nil {
		return fmt.Errorf("password of %q: %w", name, err)
	}
	if u.Resource != nil {
		return fmt.Errorf("%w: %q is a resource: it cannot sign in, so it has no password", engine.ErrInvalidName, name)
	}
	return nil
}

// DeleteUser removes an account.
func (l *Local) DeleteUser(ctx context.Context, name string) error {
	return l.DB.DeleteUser(ctx, l.Meta, name)
}

// SetDisabled disables or enables an account.
func (l *Local) SetDisabled(ctx context.Context, name string, disabled bool) error {
	return l.DB.UpdateUser(ctx, l.Meta, name, func(u *engine.User) error { u.Disabled = disabled; return nil })
}

// CreateToken makes a token with l.NewToken.
func (l *Local) CreateToken(ctx context.Context, user, label string) (*NewToken, error) {
	if l.NewToken == nil {
		return nil, errors.New("tokens: no token maker configured")
	}
	if len(label) > 200 {
		return nil, badRequest(errors.New("token label longer than 200 bytes"))
	}
	tok, plain, err := l.NewToken(label, time.Now())
	if err != nil {
		return nil, err
	}
	err = l.DB.UpdateUser(ctx, l.Meta, user, func(u *engine.User) error {
		if len(u.Tokens) >= MaxTokensPerUser {
			return badRequest(fmt.Errorf("user %q has %d tokens, the most allowed: revoke one first", user, len(u.Tokens)))
		}
		u.Tokens = append(u.Tokens, tok)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &NewToken{User: user, ID: tok.ID, Token: plain}, nil
}

// MaxTokensPerUser bounds the API tokens of one account (each is a record
// in the account's every event).
const MaxTokensPerUser = 100

// RevokeToken removes a token.
func (l *Local) RevokeToken(ctx context.Context, user, id string) error {
	return l.DB.UpdateUser(ctx, l.Meta, user, func(u *engine.User) error {
		i := slices.IndexFunc(u.Tokens, func(t engine.APIToken) bool { return t.ID == id })
		if i < 0 {
			return fmt.Errorf("%w: user %q has no token %q", engine.ErrNotFound, user, id)
		}
		u.Tokens = slices.Delete(u.Tokens, i, i+1)
		return nil
	})
}

// accountRequest is the body of every account and token request.
type accountRequest struct {
	Name     string `json:"name"`
	Password string `json:"password,omitempty"`
	Admin    bool   `json:"admin,omitempty"`
	Label    string `json:"label,omitempty"`
	ID       string `json:"id,omitempty"`
	// Emails are the addresses of a new account, or those to add.
	Emails []string `json:"emails,omitempty"`
	// Remove are the addresses to remove (POST /admin/users/emails).
	Remove []string `json:"remove,omitempty"`
	// Check asks POST /admin/users/password only whether the account
	// can be given a password (CanSetPassword): nothing changes, and no
	// password is sent.
	Check bool `json:"check,omitempty"`
}

// accountRoutes answers the account endpoints of the admin API (see Admin)
// for the admin signed in as self; ok is false for another path.
func accountRoutes(r *http.Request, l *Local, self string) (out any, ok bool, err error) {
	var run func(req accountRequest) (any, error)
	done := map[string]bool{"ok": true}
	ctx := r.Context()
	switch r.Method + " " + r.URL.Path {
	case "GET /admin/users":
		users, err := l.Users(ctx)
		return users, true, err
	case "POST /admin/users":
		run = func(q accountRequest) (any, error) {
			return done, l.AddUser(ctx, q.Name, q.Password, q.Admin, q.Emails...)
		}
	case "POST /admin/users/emails":
		run = func(q accountRequest) (any, error) { return done, l.SetEmails(ctx, q.Name, q.Emails, q.Remove) }
	case "POST /admin/users/password":
		run = func(q accountRequest) (any, error) {
			if q.Check {
				return done, l.CanSetPassword(ctx, q.Name)
			}
			return done, l.SetPassword(ctx, q.Name, q.Password)
		}
	case "POST /admin/users/delete", "POST /admin/users/disable":
		disable := r.URL.Path == "/admin/users/disable"
		run = func(q accountRequest) (any, error) {
			if q.Name == self {
				return nil, fmt.Errorf("%w: you are signed in as %s: another admin must do that", engine.ErrConflict, self)
			}
			if disable {
				return done, l.SetDisabled(ctx, q.Name, true)
			}
			return done, l.DeleteUser(ctx, q.Name)
		}
	case "POST /admin/users/enable":
		run = func(q accountRequest) (any, error) { return done, l.SetDisabled(ctx, q.Name, false) }
	case "POST /admin/tokens":
		run = func(q accountRequest) (any, error) { return l.CreateToken(ctx, q.Name, q.Label) }
	case "POST /admin/tokens/revoke":
		run = func(q accountRequest) (any, error) { return done, l.RevokeToken(ctx, q.Name, q.ID) }
	default:
		return nil, false, nil
	}
	var q accountRequest
	if err := decode(r, &q); err != nil {
		return nil, true, err
	}
	out, err = run(q)
	return out, true, err
}
