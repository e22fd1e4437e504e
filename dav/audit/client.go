package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/almanac/almanac/engine"
)

// Client drives the admin API of a running server.
type Client struct {
	// Server is the base URL, e.g. "http://127.0.0.1:8080".
	Server string
	// User and Password are an admin's credentials.
	User, Password string
	// HTTP is the client used; nil means http.DefaultClient.
	HTTP *http.Client
}

var _ Backend = (*Client)(nil)

// do sends a request and decodes a JSON answer into out (or returns the
// raw body when out is a *[]byte).
func (c *Client) do(ctx context.Context, method, path string, q url.Values, in, out any) error {
	if err := checkTransport(c.Server); err != nil {
		return err
	}
	u := strings.TrimSuffix(c.Server, "/") + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("encode request: %w", err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return fmt.Errorf("admin %s: %w", path, err)
	}
	req.SetBasicAuth(c.User, c.Password)
	req.Header.Set("User-Agent", "almanac-cli")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("admin %s: %w", path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("admin %s: read answer: %w", path, err)
	}
	if resp.StatusCode != http.StatusOK {
		// Statuses the caller tells apart become the engine's errors again.
		var kind error = errors.New(resp.Status)
		switch resp.StatusCode {
		case http.StatusNotFound:
			kind = fmt.Errorf("%s: %w", resp.Status, engine.ErrNotFound)
		case http.StatusConflict:
			kind = fmt.Errorf("%s: %w", resp.Status, engine.ErrConflict)
		}
		var e struct{ Error string }
		if json.Unmarshal(data, &e) == nil && e.Error != "" {
			return fmt.Errorf("admin %s: %w: %s", path, kind, e.Error)
		}
		return fmt.Errorf("admin %s: %w", path, kind)
	}
	if raw, ok := out.(*[]byte); ok {
		*raw = data
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("admin %s: decode answer: %w", path, err)
	}
	return nil
}

// History lists the changes of PATH through the server.
func (c *Client) History(ctx context.Context, path string, since time.Time) ([]Change, error) {
	q := url.Values{"path": {path}}
	if !since.IsZero() {
		q.Set("since", since.Format(time.RFC3339))
	}
	var out []Change
	return out, c.do(ctx, http.MethodGet, "/admin/history", q, nil, &out)
}

// Version returns one object version through the server.
func (c *Client) Version(ctx context.Context, seq uint64) (*Version, error) {
	var out Version
	return &out, c.do(ctx, http.MethodGet, "/admin/version", url.Values{"seq": {strconv.FormatUint(seq, 10)}}, nil, &out)
}

// Restore restores through the server.
func (c *Client) Restore(ctx context.Context, req RestoreQuery) (*RestoreReport, error) {
	var out RestoreReport
	return &out, c.do(ctx, http.MethodPost, "/admin/restore", nil, req, &out)
}

// Undelete undeletes through the server.
func (c *Client) Undelete(ctx context.Context, path string) (*RestoreReport, error) {
	var out RestoreReport
	return &out, c.do(ctx, http.MethodPost, "/admin/undelete", nil, map[string]string{"path": path}, &out)
}

// Export exports through the server.
func (c *Client) Export(ctx context.Context, path, asOf string) ([]byte, error) {
	q := url.Values{"path": {path}}
	if asOf != "" {
		q.Set("as_of", asOf)
	}
	var out []byte
	return out, c.do(ctx, http.MethodGet, "/admin/export", q, nil, &out)
}

// Import imports through the server.
func (c *Client) Import(ctx context.Context, req ImportRequest) (*ImportReport, error) {
	var out ImportReport
	return &out, c.do(ctx, http.MethodPost, "/admin/import", nil, req, &out)
}

// Compact runs retention on the server.
func (c *Client) Compact(ctx context.Context, keep string) (*engine.CompactResult, error) {
	var out engine.CompactResult
	return &out, c.do(ctx, http.MethodPost, "/admin/compact", nil, map[string]string{"keep": keep}, &out)
}

// Purge purges through the server.
func (c *Client) Purge(ctx context.Context, path string) (*engine.PurgeResult, error) {
	var out engine.PurgeResult
	return &out, c.do(ctx, http.MethodPost, "/admin/purge", nil, map[string]string{"path": path}, &out)
}

// Rebuild rebuilds the server's projections.
func (c *Client) Rebuild(ctx context.Context) error {
	var out map[string]bool
	return c.do(ctx, http.MethodPost, "/admin/rebuild", nil, struct{}{}, &out)
}

// Verify verifies the server's projections.
func (c *Client) Verify(ctx context.Context) error {
	var out map[string]bool
	return c.do(ctx, http.MethodPost, "/admin/verify", nil, struct{}{}, &out)
}

var _ Accounts = (*Client)(nil)

// Users lists the server's accounts.
func (c *Client) Users(ctx context.Context) ([]Account, error) {
	var out []Account
	return out, c.do(ctx, http.MethodGet, "/admin/users", nil, nil, &out)
}

// AddUser creates an account on the server.
func (c *Client) AddUser(ctx context.Context, name, password string, admin bool, emails ...string) error {
	return c.account(ctx, "/admin/users", accountRequest{Name: name, Password: password, Admin: admin, Emails: emails})
}

// SetEmails adds and removes email addresses of an account on the server.
func (c *Client) SetEmails(ctx context.Context, name string, add, remove []string) error {
	return c.account(ctx, "/admin/users/emails", accountRequest{Name: name, Emails: add, Remove: remove})
}

// SetPassword replaces a password on the server.
func (c *Client) SetPassword(ctx context.Context, name, password string) error {
	return c.account(ctx, "/admin/users/password", accountRequest{Name: name, Password: password})
}

// CanSetPassword asks the server whether name can be given a password
// now, before the user is asked for one.
func (c *Client) CanSetPassword(ctx context.Context, name string) error {
	return c.account(ctx, "/admin/users/password", accountRequest{Name: name, Check: true})
}

// DeleteUser removes an account on the server.
func (c *Client) DeleteUser(ctx context.Context, name string) error {
	return c.account(ctx, "/admin/users/delete", accountRequest{Name: name})
}

// SetDisabled disables or enables an account on the server.
func (c *Client) SetDisabled(ctx context.Context, name string, disabled bool) error {
	path := "/admin/users/enable"
	if disabled {
		path = "/admin/users/disable"
	}
	return c.account(ctx, path, accountRequest{Name: name})
}

// CreateToken makes an API token on the server.
func (c *Client) CreateToken(ctx context.Context, user, label string) (*NewToken, error) {
	var out NewToken
	return &out, c.do(ctx, http.MethodPost, "/admin/tokens", nil, accountRequest{Name: user, Label: label}, &out)
}

// RevokeToken removes an API token on the server.
func (c *Client) RevokeToken(ctx context.Context, user, id string) error {
	return c.account(ctx, "/admin/tokens/revoke", accountRequest{Name: user, ID: id})
}

func (c *Client) account(ctx context.Context, path string, req accountRequest) error {
	var out map[string]bool
	return c.do(ctx, http.MethodPost, path, nil, req, &out)
}

// checkTransport refuses to send credentials over plain HTTP to anything
// but a loopback address: passwords cross networks only inside TLS.
func checkTransport(server string) error {
	u, err := url.Parse(server)
	if err != nil {
		return fmt.Errorf("server URL %q: %w", server, err)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		host := u.Hostname()
		if host == "localhost" {
			return nil
		}
		if ip, err := netip.ParseAddr(host); err == nil && ip.IsLoopback() {
			return nil
		}
		return fmt.Errorf("refusing to send the admin password over plain HTTP to %s: use https:// (serve with --tls-cert), "+
			"or reach the server on a loopback address (on its machine, or through ssh -L)", u.Host)
	}
	return fmt.Errorf("server URL %q: want http:// or https://", server)
}
