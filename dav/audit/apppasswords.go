package audit

import (
	"context"
	"net/http"
	"time"

	"github.com/almanac/almanac/engine"
)

// AppPasswords manages users' app passwords (per-device passwords,
// engine.AppPassword): Local on a data directory or inside the server,
// Client through the admin API. Account lists them (Accounts.Users).
type AppPasswords interface {
	// CreateAppPassword makes an app password for user and returns it,
	// shown this once. Errors: engine.ErrNotFound, engine.ErrInvalidName
	// (a bad name or collection), *engine.SharingLimitError.
	CreateAppPassword(ctx context.Context, user string, spec engine.AppPasswordSpec) (*NewAppPassword, error)
	// RevokeAppPassword revokes the app password id of user. Errors:
	// engine.ErrNotFound.
	RevokeAppPassword(ctx context.Context, user, id string) error
}

var (
	_ AppPasswords = (*Local)(nil)
	_ AppPasswords = (*Client)(nil)
)

// AppPasswordInfo describes an app password without its hash.
type AppPasswordInfo struct {
	ID            string    `json:"id"`
	Name          string    `json:"name"`
	ReadOnly      bool      `json:"read_only,omitempty"`
	Collections   []string  `json:"collections,omitempty"`
	Created       time.Time `json:"created"`
	LastUsed      time.Time `json:"last_used,omitzero"`
	LastUserAgent string    `json:"last_user_agent,omitempty"`
	LastRemote    string    `json:"last_remote,omitempty"`
}

// AppPasswordInfoOf describes p.
func AppPasswordInfoOf(p engine.AppPassword) AppPasswordInfo {
	return AppPasswordInfo{ID: p.ID, Name: p.Name, ReadOnly: p.ReadOnly, Collections: p.Collections,
		Created: p.Created, LastUsed: p.LastUsed, LastUserAgent: p.LastUserAgent, LastRemote: p.LastRemote}
}

// NewAppPassword is an app password just made: Password is shown once.
type NewAppPassword struct {
	User     string          `json:"user"`
	Password string          `json:"password"`
	Info     AppPasswordInfo `json:"info"`
}

// CreateAppPassword makes an app password.
func (l *Local) CreateAppPassword(ctx context.Context, user string, spec engine.AppPasswordSpec) (*NewAppPassword, error) {
	pw, p, err := l.DB.CreateAppPassword(ctx, l.Meta, user, spec)
	if err != nil {
		return nil, err
	}
	return &NewAppPassword{User: user, Password: pw, Info: AppPasswordInfoOf(*p)}, nil
}

// RevokeAppPassword revokes an app password.
func (l *Local) RevokeAppPassword(ctx context.Context, user, id string) error {
	return l.DB.RevokeAppPassword(ctx, l.Meta, user, id)
}

// appPasswordRequest is the body of the app password requests.
type appPasswordRequest struct {
	Name        string   `json:"name"` // the user
	Device      string   `json:"device,omitempty"`
	ReadOnly    bool     `json:"read_only,omitempty"`
	Collections []string `json:"collections,omitempty"`
	ID          string   `json:"id,omitempty"`
}

// appPasswordRoutes answers POST /admin/app-passwords and
// /admin/app-passwords/revoke; ok is false for another path.
func appPasswordRoutes(r *http.Request, l *Local) (out any, ok bool, err error) {
	if r.Method != http.MethodPost || (r.URL.Path != "/admin/app-passwords" && r.URL.Path != "/admin/app-passwords/revoke") {
		return nil, false, nil
	}
	var q appPasswordRequest
	if err := decode(r, &q); err != nil {
		return nil, true, err
	}
	if r.URL.Path == "/admin/app-passwords" {
		out, err = l.CreateAppPassword(r.Context(), q.Name, engine.AppPasswordSpec{Name: q.Device, ReadOnly: q.ReadOnly, Collections: q.Collections})
		return out, true, err
	}
	return map[string]bool{"ok": true}, true, l.RevokeAppPassword(r.Context(), q.Name, q.ID)
}

// CreateAppPassword makes an app password on the server.
func (c *Client) CreateAppPassword(ctx context.Context, user string, spec engine.AppPasswordSpec) (*NewAppPassword, error) {
	var out NewAppPassword
	req := appPasswordRequest{Name: user, Device: spec.Name, ReadOnly: spec.ReadOnly, Collections: spec.Collections}
	return &out, c.do(ctx, http.MethodPost, "/admin/app-passwords", nil, req, &out)
}

// RevokeAppPassword revokes an app password on the server.
func (c *Client) RevokeAppPassword(ctx context.Context, user, id string) error {
	var out map[string]bool
	return c.do(ctx, http.MethodPost, "/admin/app-passwords/revoke", nil, appPasswordRequest{Name: user, ID: id}, &out)
}
