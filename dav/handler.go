package dav

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/almanac/almanac/dav/query"
	"github.com/almanac/almanac/dav/sched"
	"github.com/almanac/almanac/engine"
	"github.com/almanac/almanac/internal/logbound"
)

// Authenticator checks a user's password. *auth.Verifier (package dav/auth)
// implements it.
type Authenticator interface {
	// Authenticate returns the user whose password matches, or an error
	// (bad credentials, rate limited, or an internal failure).
	Authenticate(ctx context.Context, user, password, remoteAddr string) (*engine.User, error)
}

// DefaultMaxRequestBody is the default of Options.MaxRequestBody: 10 MiB.
const DefaultMaxRequestBody = 10 << 20

// DefaultMaxXMLBody is the default of Options.MaxXMLBody: 4 MiB, room for
// a calendar-multiget of some 40,000 hrefs and for a PROPPATCH of the
// engine's largest property set (1 MiB).
const DefaultMaxXMLBody = 4 << 20

// Options configure a Handler.
type Options struct {
	// DB is the store served. Required.
	DB *engine.DB
	// Auth verifies Basic credentials. Required.
	Auth Authenticator
	// Logger receives one line per request. Default: discard.
	Logger *slog.Logger
	// MaxRequestBody is the largest request body accepted, in bytes; larger
	// bodies get 413. Default DefaultMaxRequestBody.
	MaxRequestBody int64
	// MaxXMLBody is the largest XML request body (PROPFIND, PROPPATCH,
	// MKCOL, MKCALENDAR, REPORT) accepted, in bytes; larger bodies get
	// 413. The parser's element and attribute budget (package davxml)
	// bounds what a body within it may cost. Default DefaultMaxXMLBody.
	MaxXMLBody int64
	// Audit, if set, serves requests under a user's own home whose URL
	// query has a "history" or "restore" parameter (e.g. GET
	// /dav/home/U/calendar/a.ics?history, POST
	// /dav/home/U/calendar/?restore=2026-11-21T10:00:00Z), after
	// authentication and the ownership check.
	Audit http.Handler
	// ShareInvitations makes a share wait for each sharee's acceptance
	// (CS:invite-reply) before it appears in their home; by default
	// (false, serve --share-auto-accept) it appears at once, as DAVx5 and
	// Thunderbird, which show no invitations, need.
	ShareInvitations bool
	// QueryLimits bound the work of one calendar-query or free-busy-query:
	// the recurrence instances expanded per object and the longest expand
	// range (zero fields take dav/query's defaults: 10000 and 10 years).
	QueryLimits query.Limits
	// Email queues an iMIP message (package imip sends it) for each
	// scheduling message to a mailto: address no user has (sched.Scheduler.Email).
	Email bool
	// Push, when set, enables WebDAV-Push (webpush.go): the discovery
	// properties, registration by POST and Push-Dont-Notify.
	Push PushService
}

// Handler serves /.well-known/caldav, /.well-known/carddav and everything
// under /dav/. Create it with NewHandler.
type Handler struct {
	db      *engine.DB
	auth    Authenticator
	log     *slog.Logger
	maxBody int64
	maxXML  int64
	audit   http.Handler
	limits  query.Limits
	// refusedLog and anonLog write the lines a client can cause at
	// will, a refused login and a request without a user, within
	// logbound's budgets.
	refusedLog, anonLog *logbound.Limiter
	// invitations is Options.ShareInvitations.
	invitations bool
	// querySlots bounds concurrent expensive REPORTs (query_slots.go).
	querySlots chan struct{}
	// objects caches parsed calendar objects for queries (Limits.ObjectCache).
	objects *query.ObjectCache

	// homes caches the users whose home is known to exist, so that the
	// home check is a map lookup after a user's first request.
	homes sync.Map // user name -> struct{}

	// quota caches DAV:quota-used-bytes per collection (quota.go).
	quota quotaCache
	// push is Options.Push.
	push PushService
	// sched does implicit scheduling (schedule.go).
	sched *sched.Scheduler
}

// NewHandler returns a Handler for opts. It fails when DB or Auth is
// missing or MaxRequestBody is negative.
func NewHandler(opts Options) (*Handler, error) {
	if opts.DB == nil {
		return nil, errors.New("dav: Options.DB is required")
	}
	if opts.Auth == nil {
		return nil, errors.New("dav: Options.Auth is required")
	}
	if opts.MaxRequestBody < 0 {
		return nil, fmt.Errorf("dav: Options.MaxRequestBody %d is negative", opts.MaxRequestBody)
	}
	if opts.MaxXMLBody < 0 {
		return nil, fmt.Errorf("dav: Options.MaxXMLBody %d is negative", opts.MaxXMLBody)
	}
	h := &Handler{db: opts.DB, auth: opts.Auth, log: opts.Logger, maxBody: opts.MaxRequestBody, audit: opts.Audit,
		limits: opts.QueryLimits, invitations: opts.ShareInvitations, push: opts.Push}
	h.querySlots = newQuerySlots(opts.QueryLimits)
	h.objects = newObjectCache(opts.QueryLimits)
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	h.refusedLog = logbound.New(h.log, slog.LevelInfo, "login refused", logbound.Limits{})
	h.anonLog = logbound.New(h.log, slog.LevelInfo, "request", logbound.Limits{})
	if h.maxBody == 0 {
		h.maxBody = DefaultMaxRequestBody
	}
	h.maxXML = opts.MaxXMLBody
	if h.maxXML == 0 {
		h.maxXML = DefaultMaxXMLBody
	}
	h.sched = &sched.Scheduler{DB: opts.DB, Dir: directory{h}, Email: opts.Email}
	return h, nil
}

type ctxKey struct{}

// reqState is what the front of the handler learns about a request and
// the method handlers use: who asks, and the Meta for engine writes.
type reqState struct {
	user string
	meta engine.Meta
	tgt  target
	// app is the app password the request signed in with (nil for the
	// account's password); limitToScope narrows acc to its scope.
	app *engine.AppPassword
	// acc is the user's access to the target (access.go); share is set
	// when it comes from a share.
	acc   access
	share *engine.Share
	// mountFrom and mountTo are the owner's collection path and the
	// user's mount of it, for a request through the mount; mountRoot is
	// set when the request addresses the mount itself.
	mountFrom, mountTo string
	mountRoot          bool
}

// UserFromContext returns the authenticated user of a request being served
// by a Handler, or "" if none.
func UserFromContext(ctx context.Context) string {
	if st, ok := ctx.Value(ctxKey{}).(*reqState); ok {
		return st.user
	}
	return ""
}

func state(r *http.Request) *reqState {
	st, _ := r.Context().Value(ctxKey{}).(*reqState)
	return st
}

// ServeHTTP serves one request and logs it: every request of a user, and
// those without one (no or refused credentials, public links, OPTIONS)
// within logbound's budgets, which a client could otherwise make fill
// the log.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	id := newRequestID()
	w.Header().Set("X-Request-Id", id)
	rec := &statusRecorder{ResponseWriter: w}
	st := &reqState{meta: engine.Meta{UserAgent: r.UserAgent(), RequestID: id}}
	r = r.WithContext(context.WithValue(r.Context(), ctxKey{}, st))
	if err := h.serve(rec, r); err != nil {
		h.writeError(rec, r, err)
	}
	attrs := [...]slog.Attr{
		slog.String("method", r.Method),
		slog.String("path", r.URL.Path),
		slog.Int("status", rec.statusCode()),
		slog.Duration("duration", time.Since(start)),
		slog.String("user", st.user),
		slog.String("user_agent", r.UserAgent()),
		slog.String("request_id", id),
	}
	if st.user == "" {
		h.anonLog.Log(r.Context(), r.RemoteAddr, attrs[:]...)
		return
	}
	h.log.LogAttrs(r.Context(), slog.LevelInfo, "request", attrs[:]...)
}

// serve authenticates, resolves the path and dispatches on the method.
func (h *Handler) serve(w http.ResponseWriter, r *http.Request) error {
	switch strings.TrimSuffix(r.URL.Path, "/") {
	case "/.well-known/caldav", "/.well-known/carddav":
		http.Redirect(w, r, "/dav/", http.StatusMovedPermanently)
		return nil
	}
	if strings.HasPrefix(r.URL.Path, pubPrefix) {
		return h.servePublic(w, r) // public links (public.go): no credentials
	}
	if r.URL.Path != "/dav" && !strings.HasPrefix(r.URL.Path, "/dav/") {
		return errNotFound
	}
	if r.Method == http.MethodOptions {
		// Capability probes and CORS preflights come without credentials
		// (Fetch's preflight never carries them). The answer is the same
		// for every path under /dav/, so it tells nothing about which
		// users or resources exist.
		return h.options(w, r)
	}
	user, err := h.authenticate(w, r)
	if err != nil {
		return err
	}
	if !safeMethod(r.Method) {
		// A cluster node behind the log catches up first, so that the
		// checks below see every write acknowledged before.
		if err := h.db.Sync(r.Context()); err != nil {
			return err
		}
	}
	st := state(r)
	st.user, st.meta.Actor = user, user
	if err := h.ensureHome(r.Context(), user, st.meta); err != nil {
		return err
	}
	if h.push != nil {
		st.meta.DontNotify = parseDontNotify(r.Header.Values("Push-Dont-Notify"))
		if strings.HasPrefix(r.URL.Path, pushPrefix) {
			return h.servePushRegistration(w, r)
		}
	}
	tgt, err := parseTarget(r.URL.EscapedPath(), user)
	if err != nil {
		return err
	}
	if err := h.checkLengths(tgt); err != nil {
		return err
	}
	st.tgt = tgt
	if err := h.resolve(st); err != nil {
		return err
	}
	if err := st.authorize(r.Method); err != nil {
		return err
	}
	if q := r.URL.Query(); h.audit != nil && tgt.kind == targetHome && (q.Has("history") || q.Has("restore") || q.Has("webhooks")) {
		return h.serveAudit(w, r, st)
	}
	return h.dispatch(w, r)
}

// dispatch calls the method's handler.
func (h *Handler) dispatch(w http.ResponseWriter, r *http.Request) error {
	switch r.Method {
	case "PROPFIND":
		return h.propfind(w, r)
	case "PROPPATCH":
		return h.proppatch(w, r)
	case "MKCOL":
		return h.mkcol(w, r)
	case "MKCALENDAR":
		return h.mkcalendar(w, r)
	case http.MethodGet, http.MethodHead:
		return h.get(w, r)
	case http.MethodPut:
		return h.put(w, r)
	case http.MethodDelete:
		return h.delete(w, r)
	case "COPY", "MOVE":
		return h.copyMove(w, r)
	case "REPORT":
		return h.report(w, r)
	case "ACL":
		return h.acl(w, r)
	case http.MethodPost:
		return h.post(w, r)
	}
	w.Header().Set("Allow", allowed)
	return httpErrorf(http.StatusMethodNotAllowed, "method %s is not supported", r.Method)
}

// allowed is the Allow header: every method Almanac implements.
const allowed = "OPTIONS, GET, HEAD, POST, PUT, DELETE, PROPFIND, PROPPATCH, MKCOL, MKCALENDAR, COPY, MOVE, REPORT, ACL"

// options answers OPTIONS (RFC 4918 §10.1, RFC 4791 §5.1, RFC 6352 §6.1)
// for any path under /dav/, before authentication. It sends no CORS
// headers: cross-origin requests stay refused by browsers.
func (h *Handler) options(w http.ResponseWriter, r *http.Request) error {
	dav := "1, 3, access-control, calendar-access, calendar-auto-schedule, addressbook, extended-mkcol, resource-sharing, calendarserver-sharing, calendar-proxy"
	if h.push != nil {
		dav += ", webdav-push"
	}
	w.Header().Set("DAV", dav)
	w.Header().Set("Allow", allowed)
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusOK)
	return nil
}

// authenticate checks the Basic credentials of r, or its bearer token
// (bearer.go). A login refused by the limiter (an error with a RetryAfter
// method, as *auth.RateLimitError) is answered 429 with Retry-After (RFC
// 6585 §4), not 401: the client should wait, not ask the user for another
// password. One refused because the server is busy (Overloaded) or its
// user directory down (ServiceUnavailable) gets 503 with Retry-After.
func (h *Handler) authenticate(w http.ResponseWriter, r *http.Request) (string, error) {
	name, password, ok := r.BasicAuth()
	tok, bearer := bearerToken(r)
	if !ok && !bearer {
		return "", errUnauthorized
	}
	var u *engine.User
	var err error
	if bearer {
		name = "(bearer)"
		u, err = h.authenticateBearer(r, tok)
	} else if da, ok := h.auth.(DeviceAuthenticator); ok {
		u, state(r).app, err = da.AuthenticateDevice(r.Context(), name, password, r.RemoteAddr, r.UserAgent())
	} else {
		u, err = h.auth.Authenticate(r.Context(), name, password, r.RemoteAddr)
	}
	if err != nil && r.Context().Err() != nil {
		return "", err // the client went away while its login waited
	}
	if err != nil {
		// Not "authentication failed": that WARN line of dav/auth is the
		// one fail2ban reads. Within logbound's budgets: a flood of
		// logins refused at once (503, 429) costs the client nothing.
		h.refusedLog.Log(r.Context(), r.RemoteAddr,
			slog.String("user", logbound.Cut(name)), slog.String("remote", r.RemoteAddr), slog.String("error", err.Error()))
		if secs, limited := RetryAfter(err); limited {
			w.Header().Set("Retry-After", strconv.Itoa(secs))
			return "", httpErrorf(http.StatusTooManyRequests, "too many failed logins; retry in %d seconds", secs)
		}
		if _, secs, busy := Overloaded(err); busy {
			w.Header().Set("Retry-After", strconv.Itoa(secs))
			return "", MapError(err, 0)
		}
		if secs, down := ServiceUnavailable(err); down {
			w.Header().Set("Retry-After", strconv.Itoa(secs))
			return "", httpErrorf(http.StatusServiceUnavailable, "the user directory or token issuer is unavailable; retry in %d seconds", secs)
		}
	}
	if err != nil || u == nil || u.Name == "" || strings.ContainsAny(u.Name, "/\x00") {
		if bearer {
			w.Header().Set("WWW-Authenticate", bearerChallenge)
		}
		return "", errUnauthorized
	}
	return u.Name, nil
}

// RetryAfter reports whether err (from an Authenticator) refuses a login
// for a while, and for how many seconds: it looks for an error with a
// method RetryAfter() int, as *auth.RateLimitError has.
func RetryAfter(err error) (seconds int, ok bool) {
	var ra interface{ RetryAfter() int }
	if !errors.As(err, &ra) {
		return 0, false
	}
	return max(1, ra.RetryAfter()), true
}

// ServiceUnavailable reports whether err (from an Authenticator) is a
// login that could not be checked now, such as a user directory being
// down (*auth.UnavailableError), and the seconds to wait: an error with a
// method ServiceUnavailable() int. It is answered 503, never 401: the
// password may be right.
func ServiceUnavailable(err error) (seconds int, ok bool) {
	var su interface{ ServiceUnavailable() int }
	if !errors.As(err, &su) {
		return 0, false
	}
	return max(1, su.ServiceUnavailable()), true
}

// Overloaded reports whether err (from an Authenticator) refuses a login
// because a bound of the server is reached for now, such as every
// password-hashing slot staying busy (*auth.BusyError): an error with
// methods Limit() string, naming the limit for the client, and
// ServiceUnavailable() int, the seconds to wait. It is answered 503 with
// Retry-After (MapError), never 401: the password may be right.
func Overloaded(err error) (limit string, seconds int, ok bool) {
	var o overloadedError
	if !errors.As(err, &o) {
		return "", 0, false
	}
	return o.Limit(), max(1, o.ServiceUnavailable()), true
}

// overloadedError is an error of Overloaded.
type overloadedError interface {
	Limit() string
	ServiceUnavailable() int
}

func newRequestID() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// statusRecorder remembers the status written, for the request log.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(p []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(p)
}

// Flush passes flushes through, so streamed answers reach the client.
func (s *statusRecorder) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap gives http.ResponseController the original writer.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

func (s *statusRecorder) statusCode() int {
	if s.status == 0 {
		return http.StatusOK
	}
	return s.status
}

// safeMethod reports whether method only reads (RFC 9110 §9.2.1; PROPFIND
// and REPORT read too).
func safeMethod(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, "PROPFIND", "REPORT":
		return true
	}
	return false
}
