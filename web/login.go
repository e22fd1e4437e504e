package web

import (
	"crypto/subtle"
	"errors"
	"net/http"
	"strconv"

	"github.com/almanac/almanac/dav"
	"github.com/almanac/almanac/engine"
)

// loginData is the sign-in page's.
type loginData struct {
	Token string
	Name  string
	// OIDC is the issuer's name for "Sign in with …", "" without one.
	OIDC string
}

// loginPage shows the sign-in form with a fresh double-submit token.
func (h *Handler) loginPage(w http.ResponseWriter, r *http.Request) {
	h.showLogin(w, r, http.StatusOK, "", "")
}

func (h *Handler) showLogin(w http.ResponseWriter, r *http.Request, status int, name, msg string) {
	tok := randomToken()
	http.SetCookie(w, &http.Cookie{Name: loginCookie, Value: tok, Path: "/login", HttpOnly: true,
		Secure: h.opts.Secure || r.TLS != nil, SameSite: http.SameSiteStrictMode, MaxAge: 3600})
	p := h.base(nil, "Sign in")
	ld := loginData{Token: tok, Name: name}
	if h.opts.OIDC != nil {
		ld.OIDC = issuerName(h.opts.OIDC.Issuer())
	}
	p.Error, p.Data = msg, ld
	h.render(w, status, "login", p)
}

// login checks the password (the DAV limiter counts failures) and makes a
// new session: an id the browser had before is never kept (no session
// fixation).
func (h *Handler) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	name, pw := r.FormValue("name"), r.FormValue("password")
	c, err := r.Cookie(loginCookie)
	if err != nil || c.Value == "" || subtle.ConstantTimeCompare([]byte(c.Value), []byte(r.FormValue("csrf"))) != 1 {
		h.showLogin(w, r, http.StatusForbidden, name, "The sign-in form expired: try again.")
		return
	}
	if len(name) > 256 {
		name = name[:256]
	}
	u, err := h.opts.Auth.Authenticate(r.Context(), name, pw, r.RemoteAddr)
	if secs, limited := dav.RetryAfter(err); limited {
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		h.showLogin(w, r, http.StatusTooManyRequests, name, "Too many failed sign-ins: wait "+strconv.Itoa(secs)+" seconds.")
		return
	}
	if limit, secs, busy := dav.Overloaded(err); busy {
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		h.showLogin(w, r, http.StatusServiceUnavailable, name, "The server is busy ("+limit+"): try again in "+strconv.Itoa(secs)+" seconds.")
		return
	}
	if secs, down := dav.ServiceUnavailable(err); down {
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		h.showLogin(w, r, http.StatusServiceUnavailable, name, "The user directory is not answering: try again in "+strconv.Itoa(secs)+" seconds.")
		return
	}
	if err != nil || u == nil {
		h.showLogin(w, r, http.StatusUnauthorized, name, "Wrong name or password.")
		return
	}
	h.startSession(w, r, u)
}

// startSession signs u in: a new session (one the browser had before is
// never kept: no session fixation), their home, then their calendars.
func (h *Handler) startSession(w http.ResponseWriter, r *http.Request, u *engine.User) {
	if old := h.sessions.get(r, h.opts.Clock()); old != nil {
		h.sessions.drop(old)
	}
	s := h.sessions.create(w, r, u.Name, h.opts.Clock(), h.opts.Secure)
	if _, err := h.opts.DB.User(u.Name); errors.Is(err, engine.ErrNotFound) {
		// An htpasswd or directory user: the engine has no account to
		// look up on each request.
		external := *u
		external.PasswordHash, external.Tokens, external.AppPasswords = "", nil, nil
		s.external = &external
	}
	q := &request{Request: r, s: s, account: u}
	if err := dav.EnsureHome(r.Context(), h.opts.DB, u.Name, q.meta()); err != nil {
		h.fail(w, r, q, err)
		return
	}
	http.Redirect(w, r, "/calendars", http.StatusSeeOther)
}

// logout ends the session.
func (h *Handler) logout(w http.ResponseWriter, q *request) error {
	h.sessions.drop(q.s)
	clearCookie(w, q.Request, h.opts.Secure)
	http.Redirect(w, q.Request, "/login", http.StatusSeeOther)
	return nil
}
