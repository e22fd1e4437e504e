package web

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/almanac/almanac/dav"
	"github.com/almanac/almanac/dav/audit"
	"github.com/almanac/almanac/engine"
	"github.com/almanac/almanac/internal/logbound"
)

// Authenticator checks an account's password (*auth.Verifier: the web
// app's sign-in shares the DAV login limiter).
type Authenticator interface {
	Authenticate(ctx context.Context, user, password, remoteAddr string) (*engine.User, error)
}

// Defaults of Options.
const (
	DefaultSessionIdle     = 12 * time.Hour
	DefaultSessionLifetime = 7 * 24 * time.Hour
	DefaultMaxSessions     = 10000
	DefaultMaxUpload       = 10 << 20
)

// maxForm bounds a form's body but for an import: names, a password, a
// few fields.
const maxForm = 64 << 10

// Options configure a Handler. The zero value of every field but DB and
// Auth means its default.
type Options struct {
	// DB is the store. Required.
	DB *engine.DB
	// Auth checks passwords at sign-in. Required.
	Auth Authenticator
	// Logger receives failed requests. Default: discard.
	Logger *slog.Logger
	// Secure marks the cookies Secure (serve under TLS); a request that
	// came over TLS gets Secure cookies anyway.
	Secure bool
	// SessionIdle is how long a session lives without a request, and
	// SessionLifetime how long it lives at most. Defaults 12h and 7 days.
	SessionIdle, SessionLifetime time.Duration
	// MaxSessions bounds the sessions kept (about 200 bytes each); past
	// it the least recently used is dropped. Default 10000.
	MaxSessions int
	// MaxUpload bounds an imported .ics or .vcf file, in bytes (413
	// beyond). Default 10 MiB.
	MaxUpload int64
	// ShareAutoAccept mounts a share in the sharees' homes at once (serve's
	// --share-auto-accept), as a grant over DAV does.
	ShareAutoAccept bool
	// OIDC, when set, offers "Sign in with" an OpenID Connect issuer
	// (oidc.go). Default: passwords only.
	OIDC OIDC
	// PushLastDelivery, when set, returns when the push sender last
	// delivered to registration id (zero: not since it started).
	PushLastDelivery func(id string) time.Time
	// WebhookStatus, when set, returns what the webhook deliverer knows
	// of webhook id (its last error, since when it fails).
	WebhookStatus func(id string) audit.WebhookStatus
	// Version and Started are shown on the status page.
	Version string
	Started time.Time
	// Runtime, when set, returns what the status page shows of the
	// server's parts outside the web app (the change feed, the cluster),
	// read at each view. Default: none shown.
	Runtime func() Runtime
	// Clock returns the current time. Default time.Now.
	Clock func() time.Time
}

// Handler serves the web app. Create it with New.
type Handler struct {
	opts     Options
	log      *slog.Logger
	mux      *http.ServeMux
	pages    map[string]*template.Template
	sessions *sessionStore
	// oidcUsed are the OIDC sign-ins whose callback ran (oidc.go).
	oidcUsed usedLogins
	// oidcRefusedLog writes the refused OIDC sign-ins, which a client can
	// cause at will, within logbound's budgets.
	oidcRefusedLog *logbound.Limiter
}

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// New returns a Handler for opts.
func New(opts Options) (*Handler, error) {
	if opts.DB == nil || opts.Auth == nil {
		return nil, errors.New("web: Options.DB and Options.Auth are required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.SessionIdle <= 0 {
		opts.SessionIdle = DefaultSessionIdle
	}
	if opts.SessionLifetime <= 0 {
		opts.SessionLifetime = DefaultSessionLifetime
	}
	if opts.MaxSessions <= 0 {
		opts.MaxSessions = DefaultMaxSessions
	}
	if opts.MaxUpload <= 0 {
		opts.MaxUpload = DefaultMaxUpload
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	if opts.Started.IsZero() {
		opts.Started = opts.Clock()
	}
	h := &Handler{opts: opts, log: opts.Logger, mux: http.NewServeMux(),
		sessions:       newSessionStore(opts.MaxSessions, opts.SessionIdle, opts.SessionLifetime),
		oidcRefusedLog: logbound.New(opts.Logger, slog.LevelInfo, "web: oidc sign-in refused", logbound.Limits{})}
	if err := h.parseTemplates(); err != nil {
		return nil, err
	}
	h.routes()
	return h, nil
}

func (h *Handler) routes() {
	static, _ := fs.Sub(staticFS, "static")
	h.mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	h.mux.HandleFunc("GET /{$}", h.root)
	h.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { h.fail(w, r, nil, errNotFound) })
	h.mux.HandleFunc("GET /login", h.loginPage)
	h.mux.HandleFunc("POST /login", h.login)
	h.mux.HandleFunc("GET /login/oidc", h.oidcStart)
	h.mux.HandleFunc("GET "+oidcCallback, h.oidcCallbackPage)
	h.mux.Handle("POST /logout", h.user(h.logout))
	h.mux.Handle("GET /calendars", h.user(h.calendars))
	h.mux.Handle("POST /calendars/create", h.user(h.createCollection))
	h.mux.Handle("POST /calendars/update", h.user(h.updateCollection))
	h.mux.Handle("POST /calendars/delete", h.user(h.deleteCollection))
	h.mux.Handle("POST /calendars/undelete", h.user(h.undeleteCollection))
	h.mux.Handle("POST /calendars/import", h.user(h.importFile))
	h.mux.Handle("GET /calendars/export", h.user(h.export))
	h.mux.Handle("GET /history", h.user(h.history))
	h.mux.Handle("POST /history/restore", h.user(h.restoreVersion))
	h.mux.Handle("POST /history/undelete", h.user(h.undeleteObject))
	h.mux.Handle("POST /history/preview", h.user(h.previewRestore))
	h.mux.Handle("POST /history/restore-collection", h.user(h.restoreCollection))
	h.mux.Handle("GET /agenda", h.user(h.agenda))
	h.mux.Handle("GET /sharing", h.user(h.sharing))
	h.mux.Handle("POST /sharing/grant", h.user(h.grant))
	h.mux.Handle("POST /sharing/revoke", h.user(h.revokeGrant))
	h.mux.Handle("POST /sharing/link", h.user(h.createLink))
	h.mux.Handle("POST /sharing/unlink", h.user(h.revokeLink))
	h.mux.Handle("GET /delegates", h.user(h.delegates))
	h.mux.Handle("POST /delegates/set", h.user(h.setDelegate))
	h.mux.Handle("GET /devices", h.user(h.devices))
	h.mux.Handle("POST /devices/create", h.user(h.createDevice))
	h.mux.Handle("POST /devices/revoke", h.user(h.revokeDevice))
	h.mux.Handle("POST /devices/push/remove", h.user(h.removePush))
	h.mux.Handle("GET /webhooks", h.user(h.webhooks))
	h.mux.Handle("POST /webhooks/create", h.user(h.createWebhook))
	h.mux.Handle("POST /webhooks/change", h.user(h.changeWebhook))
	h.mux.Handle("GET /manage/users", h.admin(h.manageUsers))
	h.mux.Handle("POST /manage/users/create", h.admin(h.manageCreateUser))
	h.mux.Handle("POST /manage/users/password", h.admin(h.managePassword))
	h.mux.Handle("POST /manage/users/disable", h.admin(h.manageDisable))
	h.mux.Handle("POST /manage/users/enable", h.admin(h.manageDisable))
	h.mux.Handle("GET /manage/status", h.admin(h.manageStatus))
	h.mux.Handle("GET /manage/groups", h.admin(h.manageGroups))
	h.mux.Handle("POST /manage/groups/change", h.admin(h.manageGroup))
}

// ServeHTTP serves a page. Every answer forbids framing and sniffing and
// says where scripts may come from (nowhere).
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "same-origin")
	hd.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; style-src-attr 'unsafe-inline'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.mux.ServeHTTP(w, r)
}

// root sends a signed-in user to their calendars, anyone else to the
// sign-in page.
func (h *Handler) root(w http.ResponseWriter, r *http.Request) {
	if s := h.sessions.get(r, h.opts.Clock()); s != nil {
		http.Redirect(w, r, "/calendars", http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// request is what a page handler of a signed-in user gets.
type request struct {
	*http.Request
	s       *session
	account *engine.User
}

// meta is the engine Meta of the user's changes: the browser's
// User-Agent, marked as the web app's.
func (q *request) meta() engine.Meta {
	return engine.Meta{Actor: q.s.user, UserAgent: webUserAgent(q.Request), RequestID: "web-" + q.s.short()}
}

// webUserAgent is the User-Agent of changes made in the web app: the
// browser's, marked as the web app's.
func webUserAgent(r *http.Request) string {
	ua := r.UserAgent()
	if len(ua) > 200 {
		ua = ua[:200]
	}
	return "almanac-web (" + ua + ")"
}

// home is the user's home collection path.
func (q *request) home() string { return "/dav/home/" + q.s.user + "/" }

type userHandler func(w http.ResponseWriter, q *request) error

// user wraps a page that needs a signed-in user: without a session (or
// with an account disabled or deleted since) a GET goes to the sign-in
// page and a POST gets 403; a POST without the session's CSRF token gets
// 403.
func (h *Handler) user(fn userHandler) http.Handler {
	return h.guard(fn, false)
}

// admin wraps a page for role admin only (404 for others: the page does
// not exist for them).
func (h *Handler) admin(fn userHandler) http.Handler {
	return h.guard(fn, true)
}

func (h *Handler) guard(fn userHandler, admin bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		now := h.opts.Clock()
		s := h.sessions.get(r, now)
		var u *engine.User
		if s != nil {
			var err error
			u, err = h.opts.DB.User(s.user)
			if errors.Is(err, engine.ErrNotFound) && s.external != nil {
				u, err = s.external, nil
			}
			if err != nil || u.Disabled {
				h.sessions.drop(s)
				s = nil
			}
		}
		if s == nil {
			if r.Method == http.MethodGet {
				http.Redirect(w, r, "/login", http.StatusSeeOther)
				return
			}
			h.fail(w, r, nil, httpError(http.StatusForbidden, "your session has ended: sign in again"))
			return
		}
		q := &request{Request: r, s: s, account: u}
		if admin && u.Role != engine.RoleAdmin {
			h.fail(w, r, q, errNotFound)
			return
		}
		if r.Method == http.MethodPost {
			if err := h.parseForm(w, r); err != nil {
				h.fail(w, r, q, err)
				return
			}
			if r.MultipartForm != nil {
				defer r.MultipartForm.RemoveAll()
			}
			if !s.checkCSRF(r.PostFormValue("csrf")) {
				h.fail(w, r, q, httpError(http.StatusForbidden, "the form's security token is missing or stale: reload the page and try again"))
				return
			}
		}
		if err := fn(w, q); err != nil {
			h.fail(w, r, q, err)
		}
	})
}

// parseForm reads a POST's form within its bound: maxForm, or for an
// upload (multipart) MaxUpload more, of which at most 1 MiB is held in
// memory and the rest in temporary files.
func (h *Handler) parseForm(w http.ResponseWriter, r *http.Request) error {
	var err error
	if strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/form-data") {
		r.Body = http.MaxBytesReader(w, r.Body, h.opts.MaxUpload+maxForm)
		err = r.ParseMultipartForm(1 << 20)
	} else {
		r.Body = http.MaxBytesReader(w, r.Body, maxForm)
		err = r.ParseForm()
	}
	if mbe := (*http.MaxBytesError)(nil); errors.As(err, &mbe) {
		return err
	}
	if err != nil {
		return httpError(http.StatusBadRequest, "the form cannot be read: %v", err)
	}
	return nil
}

// statusError is an error with the HTTP status of its page.
type statusError struct {
	status int
	msg    string
}

func (e *statusError) Error() string { return e.msg }

func httpError(status int, format string, args ...any) error {
	return &statusError{status: status, msg: fmt.Sprintf(format, args...)}
}

var errNotFound = httpError(http.StatusNotFound, "no such page")

// fail answers err with an error page: its status from statusError, or
// from dav.MapError for the engine's errors (the one mapping of the
// server), with an opaque message for internal errors, which are logged.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, q *request, err error) {
	status, msg := http.StatusInternalServerError, "internal error; see the server log"
	var se *statusError
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &se):
		status, msg = se.status, se.msg
	case errors.As(err, &mbe):
		status, msg = http.StatusRequestEntityTooLarge, fmt.Sprintf("the upload is over the limit of %d bytes", mbe.Limit)
	default:
		pe := dav.MapError(err, 0)
		if pe.IsInternal() {
			h.log.LogAttrs(r.Context(), slog.LevelError, "web: internal error",
				slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.String("error", err.Error()))
		} else {
			status, msg = pe.Status, pe.Msg
			if msg == "" {
				msg = http.StatusText(status)
			}
		}
	}
	d := h.base(q, "Error")
	d.Error = msg
	h.render(w, status, "error", d)
}

// page is what every template gets.
type page struct {
	Title string
	// Nav names the current section ("calendars", "agenda", ...).
	Nav   string
	User  string
	Admin bool
	CSRF  string
	Flash string
	Error string
	// Data is the page's own.
	Data any
}

func (h *Handler) base(q *request, title string) *page {
	p := &page{Title: title}
	if q != nil {
		p.User, p.CSRF, p.Flash = q.s.user, q.s.csrf, q.s.takeFlash()
		p.Admin = q.account != nil && q.account.Role == engine.RoleAdmin
	}
	return p
}

// show renders a signed-in user's page.
func (h *Handler) show(w http.ResponseWriter, q *request, name, title, nav string, data any) error {
	p := h.base(q, title)
	p.Nav, p.Data = nav, data
	h.render(w, http.StatusOK, name, p)
	return nil
}

// redirect ends a POST: the flash message shows on the next page.
func (h *Handler) redirect(w http.ResponseWriter, q *request, to, flash string) error {
	q.s.setFlash(flash)
	http.Redirect(w, q.Request, to, http.StatusSeeOther)
	return nil
}

// render executes the page template name into w with status.
func (h *Handler) render(w http.ResponseWriter, status int, name string, p *page) {
	t, ok := h.pages[name]
	if !ok {
		http.Error(w, "no template "+name, http.StatusInternalServerError)
		return
	}
	var b strings.Builder
	if err := t.ExecuteTemplate(&b, "layout", p); err != nil {
		h.log.Error("web: render", "page", name, "err", err)
		http.Error(w, "internal error rendering the page", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	io.WriteString(w, b.String())
}

// parseTemplates parses layout.html with each page template.
func (h *Handler) parseTemplates() error {
	funcs := template.FuncMap{
		"when": func(t time.Time) string {
			if t.IsZero() {
				return "—"
			}
			return t.UTC().Format("2006-01-02 15:04:05 UTC")
		},
		"bytes": humanBytes,
		"hexcolor": func(c, def string) string {
			if colorRE.MatchString(c) {
				return c[:7]
			}
			return def
		},
	}
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return err
	}
	h.pages = map[string]*template.Template{}
	for _, n := range names {
		base := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if base == "layout" {
			continue
		}
		t, err := template.New(base).Funcs(funcs).ParseFS(templateFS, "templates/layout.html", n)
		if err != nil {
			return fmt.Errorf("web: template %s: %w", n, err)
		}
		h.pages[base] = t
	}
	return nil
}

// humanBytes writes n in B, KiB, MiB or GiB.
func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	v, i := float64(n), -1
	for v >= unit && i < 2 {
		v /= unit
		i++
	}
	return fmt.Sprintf("%.1f %ciB", v, "KMG"[i])
}
