package web

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"testing"

	"github.com/almanac/almanac/dav/auth"
	"github.com/almanac/almanac/engine"
)

// refusingOIDC is an issuer that refuses every code.
type refusingOIDC struct{}

func (refusingOIDC) Issuer() string      { return "https://id.example" }
func (refusingOIDC) RedirectURL() string { return "" }
func (refusingOIDC) AuthCodeURL(context.Context, string, string, string, string) (string, error) {
	return "https://id.example/authorize", nil
}
func (refusingOIDC) SignIn(context.Context, engine.Meta, string, string, string, string) (*engine.User, error) {
	return nil, fmt.Errorf("refused: %w", auth.ErrBadCredentials)
}

// FuzzOIDCCallback: whatever the pre-session cookie and the query, the
// callback answers 401 or 403 with the sign-in page (never a 5xx, never
// a panic) and makes no session.
func FuzzOIDCCallback(f *testing.F) {
	v := "abc." + strconv.FormatInt(now.Unix(), 10)
	f.Add(v, derive(v, "state"), "https://id.example", "code", "")
	f.Add(v, "forged", "", "code", "")
	f.Add("", "", "", "", "access_denied")
	f.Add("x.99999999999999999999", "s", "https://evil", "c", "")
	a := mustApp(f, Options{OIDC: refusingOIDC{}})
	f.Fuzz(func(t *testing.T, cookie, state, iss, code, errParam string) {
		q := url.Values{"state": {state}, "code": {code}}
		if iss != "" {
			q.Set("iss", iss)
		}
		if errParam != "" {
			q.Set("error", errParam)
		}
		r := httptest.NewRequest("GET", "/login/oidc/callback?"+q.Encode(), nil)
		if cookie != "" {
			r.AddCookie(&http.Cookie{Name: oidcCookie, Value: url.QueryEscape(cookie)})
		}
		w := httptest.NewRecorder()
		a.h.ServeHTTP(w, r)
		if w.Code != http.StatusUnauthorized && w.Code != http.StatusForbidden {
			t.Fatalf("status %d", w.Code)
		}
		for _, c := range w.Result().Cookies() {
			if c.Name == sessionCookie && c.MaxAge >= 0 {
				t.Fatal("a session was made")
			}
		}
	})
}
