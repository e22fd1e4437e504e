package web

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/almanac/almanac/dav"
	"github.com/almanac/almanac/dav/auth"
	"github.com/almanac/almanac/engine"
)

// OIDC is an OpenID Connect issuer users may sign in with
// (*oidcauth.Provider of package dav/auth/oidcauth).
type OIDC interface {
	// Issuer is the issuer's URL.
	Issuer() string
	// RedirectURL is the configured callback, "" to derive it from the
	// request.
	RedirectURL() string
	// AuthCodeURL returns the issuer's authorization URL for a code flow
	// with state, nonce and the PKCE challenge of verifier.
	AuthCodeURL(ctx context.Context, redirectURL, state, nonce, verifier string) (string, error)
	// SignIn redeems code with verifier, checks the ID token and its
	// nonce, and returns its account (created when allowed). Errors
	// wrapping auth.ErrBadCredentials refuse the user; one with a method
	// ServiceUnavailable() int is an issuer that did not answer.
	SignIn(ctx context.Context, m engine.Meta, redirectURL, code, verifier, nonce string) (*engine.User, error)
}

// The OIDC sign-in (authorization code flow with PKCE, OpenID Connect
// Core §3.1, RFC 7636). GET /login/oidc sets a pre-session cookie, a
// random value and its time, and redirects to the issuer with the state,
// nonce and PKCE challenge derived from that value (HMAC-SHA256 under
// labels). The callback recomputes them from the cookie: a state that
// does not match, a cookie older than oidcLoginTTL, or one already used
// is refused before the code is sent anywhere. Nothing is stored per
// pending sign-in but the used values (bounded), so starting sign-ins
// costs no memory.
const (
	oidcCookie   = "almanac_oidc"
	oidcCallback = "/login/oidc/callback"
	oidcLoginTTL = 10 * time.Minute
	// maxUsedLogins bounds the remembered used pre-session values.
	maxUsedLogins = 10000
)

// usedLogins remembers the pre-session values whose callback ran, until
// they expire, so that a callback cannot be replayed.
type usedLogins struct {
	mu sync.Mutex
	m  map[string]time.Time // value -> when it expires
}

// use marks v used and reports whether it was not yet.
func (u *usedLogins) use(v string, now time.Time) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.m == nil {
		u.m = map[string]time.Time{}
	}
	if _, ok := u.m[v]; ok {
		return false
	}
	if len(u.m) >= maxUsedLogins {
		for k, exp := range u.m {
			if now.After(exp) {
				delete(u.m, k)
			}
		}
		if len(u.m) >= maxUsedLogins {
			clear(u.m) // every one left is younger than the TTL; the state check still holds
		}
	}
	u.m[v] = now.Add(oidcLoginTTL)
	return true
}

// derive returns the pre-session value's secret for label.
func derive(v, label string) string {
	m := hmac.New(sha256.New, []byte(v))
	m.Write([]byte(label))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// redirectURL is the callback: the configured one, or this request's
// scheme and host.
func (h *Handler) redirectURL(r *http.Request) string {
	if u := h.opts.OIDC.RedirectURL(); u != "" {
		return u
	}
	scheme := "http"
	if r.TLS != nil || h.opts.Secure {
		scheme = "https"
	}
	return (&url.URL{Scheme: scheme, Host: r.Host, Path: oidcCallback}).String()
}

// issuerName is the issuer's host, for the sign-in button.
func issuerName(issuer string) string {
	if u, err := url.Parse(issuer); err == nil && u.Host != "" {
		return u.Host
	}
	return issuer
}

func (h *Handler) setOIDCCookie(w http.ResponseWriter, r *http.Request, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: oidcCookie, Value: value, Path: "/login/oidc", HttpOnly: true,
		Secure: h.opts.Secure || r.TLS != nil, SameSite: http.SameSiteLaxMode, MaxAge: maxAge})
}

// oidcStart sends the browser to the issuer.
func (h *Handler) oidcStart(w http.ResponseWriter, r *http.Request) {
	if h.opts.OIDC == nil {
		h.fail(w, r, nil, errNotFound)
		return
	}
	v := randomToken() + "." + strconv.FormatInt(h.opts.Clock().Unix(), 10)
	to, err := h.opts.OIDC.AuthCodeURL(r.Context(), h.redirectURL(r), derive(v, "state"), derive(v, "nonce"), derive(v, "pkce"))
	if err != nil {
		h.oidcFailed(w, r, err)
		return
	}
	h.setOIDCCookie(w, r, v, int(oidcLoginTTL/time.Second))
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// oidcCallbackPage ends the sign-in the issuer sent the browser back from.
func (h *Handler) oidcCallbackPage(w http.ResponseWriter, r *http.Request) {
	if h.opts.OIDC == nil {
		h.fail(w, r, nil, errNotFound)
		return
	}
	q := r.URL.Query()
	now := h.opts.Clock()
	c, _ := r.Cookie(oidcCookie)
	h.setOIDCCookie(w, r, "", -1)
	var v string
	if c != nil && len(c.Value) <= 100 {
		v = c.Value
	}
	_, ts, _ := strings.Cut(v, ".")
	started, err := strconv.ParseInt(ts, 10, 64)
	switch {
	case q.Get("error") != "":
		h.showLogin(w, r, http.StatusUnauthorized, "", "The sign-in at "+issuerName(h.opts.OIDC.Issuer())+" did not succeed: "+q.Get("error")+".")
		return
	case v == "" || err != nil || now.Sub(time.Unix(started, 0)) > oidcLoginTTL || now.Before(time.Unix(started, 0).Add(-time.Minute)):
		h.showLogin(w, r, http.StatusForbidden, "", "The sign-in expired or was started in another browser: try again.")
		return
	case subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(derive(v, "state"))) != 1:
		h.showLogin(w, r, http.StatusForbidden, "", "The sign-in does not match the one this browser started: try again.")
		return
	case q.Has("iss") && q.Get("iss") != h.opts.OIDC.Issuer(): // RFC 9207 §2.4
		h.showLogin(w, r, http.StatusForbidden, "", "The answer came from another issuer: try again.")
		return
	case !h.oidcUsed.use(v, now):
		h.showLogin(w, r, http.StatusForbidden, "", "This sign-in was already used: try again.")
		return
	}
	m := engine.Meta{UserAgent: webUserAgent(r), RequestID: "web-oidc"}
	u, err := h.opts.OIDC.SignIn(r.Context(), m, h.redirectURL(r), q.Get("code"), derive(v, "pkce"), derive(v, "nonce"))
	if err != nil {
		h.oidcRefusedLog.Log(r.Context(), r.RemoteAddr, slog.String("remote", r.RemoteAddr), slog.String("error", err.Error()))
		h.oidcFailed(w, r, err)
		return
	}
	h.startSession(w, r, u)
}

// oidcFailed shows the sign-in page for an OIDC sign-in that failed.
func (h *Handler) oidcFailed(w http.ResponseWriter, r *http.Request, err error) {
	name := issuerName(h.opts.OIDC.Issuer())
	if secs, down := dav.ServiceUnavailable(err); down {
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		h.showLogin(w, r, http.StatusServiceUnavailable, "", name+" is not answering: try again in "+strconv.Itoa(secs)+" seconds, or sign in with your password.")
		return
	}
	if r.Context().Err() != nil || !errors.Is(err, auth.ErrBadCredentials) {
		h.fail(w, r, nil, err)
		return
	}
	h.showLogin(w, r, http.StatusForbidden, "", "Your account at "+name+" may not sign in here. Ask your administrator.")
}
