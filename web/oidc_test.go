package web

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/almanac/almanac/dav/auth/oidcauth"
	"github.com/almanac/almanac/dav/auth/oidcauth/oidctest"
	"github.com/almanac/almanac/engine"
)

// mustOIDCApp is mustApp with sign-in through a test provider.
func mustOIDCApp(t *testing.T, edit func(*oidcauth.Config)) (*app, *oidctest.Provider) {
	t.Helper()
	a := mustApp(t, Options{})
	op := oidctest.Start(t)
	cfg := oidcauth.Config{Issuer: op.Issuer, ClientID: op.ClientID, ClientSecret: op.ClientSecret, DB: a.db}
	if edit != nil {
		edit(&cfg)
	}
	p, err := oidcauth.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	a.h.opts.OIDC = p
	return a, op
}

// location GETs u (absolute) and returns the redirect's target.
func (b *browser) location(u string) string {
	b.t.Helper()
	resp, err := b.c.Get(u)
	b.read(resp, err)
	loc := resp.Header.Get("Location")
	if resp.StatusCode/100 != 3 || loc == "" {
		b.t.Fatalf("GET %s: %d, no redirect", u, resp.StatusCode)
	}
	return loc
}

// toCallback starts an OIDC sign-in and returns the callback URL the
// issuer sends the browser back to.
func (b *browser) toCallback() string {
	b.t.Helper()
	return b.location(b.location(b.a.srv.URL + "/login/oidc"))
}

// callback GETs the callback URL and returns the status and body.
func (b *browser) callback(u string) (int, string, *http.Response) {
	b.t.Helper()
	resp, err := b.c.Get(u)
	body := b.read(resp, err)
	return resp.StatusCode, body, resp
}

func (b *browser) signedIn() bool {
	b.t.Helper()
	code, _ := b.get("/calendars")
	return code == http.StatusOK
}

// TestOIDCSignIn: the sign-in page offers the issuer; the code flow with
// PKCE signs alice in (a new session, her calendars); the callback
// cannot be replayed.
func TestOIDCSignIn(t *testing.T) {
	a, op := mustOIDCApp(t, nil)
	b := a.browser(t)
	host := strings.TrimPrefix(op.Issuer, "http://")
	if _, body := b.get("/login"); !strings.Contains(body, "Sign in with "+host) {
		t.Fatalf("the sign-in page offers no issuer:\n%s", body)
	}
	start := b.location(a.srv.URL + "/login/oidc")
	q := mustQuery(t, start)
	if q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" || q.Get("nonce") == "" || q.Get("state") == "" ||
		q.Get("redirect_uri") != a.srv.URL+"/login/oidc/callback" {
		t.Fatalf("authorization request %s", start)
	}
	cb := b.location(start)
	srvURL, _ := url.Parse(a.srv.URL + "/login/oidc/")
	pre := b.c.Jar.Cookies(srvURL)
	code, body, resp := b.callback(cb)
	if code != http.StatusSeeOther || resp.Header.Get("Location") != "/calendars" {
		t.Fatalf("callback: %d %s\n%s", code, resp.Header.Get("Location"), body)
	}
	if op.Refused("pkce") != 0 {
		t.Fatal("the provider refused the PKCE verifier")
	}
	if !b.signedIn() {
		t.Fatal("no session after the callback")
	}
	// The same callback again, with the pre-session cookie put back.
	c := a.browser(t)
	c.c.Jar.SetCookies(srvURL, pre)
	if code, body, _ := c.callback(cb); code != http.StatusForbidden || !strings.Contains(body, "already used") {
		t.Fatalf("replayed callback: %d\n%s", code, body)
	}
	if c.signedIn() {
		t.Fatal("a replayed callback signed in")
	}
}

func mustQuery(t *testing.T, u string) url.Values {
	t.Helper()
	p, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	return p.Query()
}

// TestOIDCRefused: a forged state, a callback in another browser, another
// issuer's answer, an issuer's error, an unknown or disabled user: each
// is refused with a page saying why, and no session.
func TestOIDCRefused(t *testing.T) {
	a, op := mustOIDCApp(t, nil)
	edit := func(cb, key, value string) string {
		u, _ := url.Parse(cb)
		q := u.Query()
		q.Set(key, value)
		u.RawQuery = q.Encode()
		return u.String()
	}
	for name, c := range map[string]struct {
		mangle func(b *browser, cb string) string
		code   int
		msg    string
	}{
		"ForgedState": {func(_ *browser, cb string) string { return edit(cb, "state", "forged") }, 403, "does not match"},
		"OtherBrowser": {func(b *browser, cb string) string {
			u, _ := url.Parse(a.srv.URL + "/login/oidc/")
			b.c.Jar.SetCookies(u, []*http.Cookie{{Name: oidcCookie, Value: "", MaxAge: -1, Path: "/login/oidc"}})
			return cb
		}, 403, "expired"},
		"OtherIssuer": {func(_ *browser, cb string) string { return edit(cb, "iss", "https://evil.example") }, 403, "another issuer"},
		"IssuerError": {func(_ *browser, cb string) string { return edit(cb, "error", "access_denied") }, 401, "access_denied"},
		"BadCode":     {func(_ *browser, cb string) string { return edit(cb, "code", "made-up") }, 403, "may not sign in"},
	} {
		t.Run(name, func(t *testing.T) {
			b := a.browser(t)
			code, body, _ := b.callback(c.mangle(b, b.toCallback()))
			if code != c.code || !strings.Contains(body, c.msg) {
				t.Fatalf("%d, want %d with %q:\n%s", code, c.code, c.msg, body)
			}
			if b.signedIn() {
				t.Fatal("signed in")
			}
		})
	}
	t.Run("UnknownUser", func(t *testing.T) {
		op.SetUser(map[string]any{"sub": "s-carol", "preferred_username": "carol"})
		b := a.browser(t)
		if code, body, _ := b.callback(b.toCallback()); code != 403 || !strings.Contains(body, "may not sign in") {
			t.Fatalf("%d:\n%s", code, body)
		}
		if _, err := a.db.User("carol"); err == nil {
			t.Fatal("carol was created without auto-provisioning")
		}
	})
	t.Run("DisabledUser", func(t *testing.T) {
		if err := a.db.UpdateUser(t.Context(), meta, "bob", func(u *engine.User) error { u.Disabled = true; return nil }); err != nil {
			t.Fatal(err)
		}
		op.SetUser(map[string]any{"sub": "s-bob", "preferred_username": "bob"})
		b := a.browser(t)
		if code, body, _ := b.callback(b.toCallback()); code != 403 || b.signedIn() {
			t.Fatalf("%d:\n%s", code, body)
		}
	})
}

// TestOIDCAutoProvision: an unknown user is created at the first sign-in
// (one user event, their email from the verified claim) and signed in;
// the second sign-in writes nothing.
func TestOIDCAutoProvision(t *testing.T) {
	a, op := mustOIDCApp(t, func(c *oidcauth.Config) { c.AutoProvision = true })
	op.SetUser(map[string]any{"sub": "s-dana", "preferred_username": "dana", "email": "dana@example.org", "email_verified": true})
	b := a.browser(t)
	if code, body, _ := b.callback(b.toCallback()); code != http.StatusSeeOther || !b.signedIn() {
		t.Fatalf("first sign-in: %d\n%s", code, body)
	}
	u, err := a.db.User("dana")
	if err != nil || u.PasswordHash != "" || u.Role != engine.RoleUser || len(u.Emails) != 1 || u.Emails[0] != "dana@example.org" {
		t.Fatalf("dana: %+v, %v", u, err)
	}
	head := a.db.Head()
	b2 := a.browser(t)
	if code, _, _ := b2.callback(b2.toCallback()); code != http.StatusSeeOther || !b2.signedIn() {
		t.Fatalf("second sign-in: %d", code)
	}
	if a.db.Head() != head {
		t.Fatal("the second sign-in wrote to the log")
	}
}

// TestOIDCIssuerDown: with the issuer down, "Sign in with" shows the
// sign-in page with 503 and Retry-After; passwords still sign in.
func TestOIDCIssuerDown(t *testing.T) {
	a, op := mustOIDCApp(t, nil)
	op.Close()
	b := a.browser(t)
	resp, err := b.c.Get(a.srv.URL + "/login/oidc")
	body := b.read(resp, err)
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" || !strings.Contains(body, "not answering") {
		t.Fatalf("%d Retry-After %q:\n%s", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	b.signIn("alice")
}

// TestOIDCOff: without an issuer the sign-in page offers none and the
// OIDC paths are 404.
func TestOIDCOff(t *testing.T) {
	a := mustApp(t, Options{})
	b := a.browser(t)
	if _, body := b.get("/login"); strings.Contains(body, "Sign in with") {
		t.Fatal("an issuer is offered")
	}
	for _, p := range []string{"/login/oidc", "/login/oidc/callback?code=x&state=y"} {
		if code, _ := b.get(p); code != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", p, code)
		}
	}
}
