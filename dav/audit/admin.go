package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/almanac/almanac/dav"
	"github.com/almanac/almanac/engine"
)

// Authenticator checks a user's password (dav/auth.Verifier).
type Authenticator interface {
	Authenticate(ctx context.Context, user, password, remoteAddr string) (*engine.User, error)
}

// Admin serves the admin API under /admin/ for users with role admin:
//
//	GET  /admin/history?path=P[&since=T]   -> [Change]
//	GET  /admin/version?seq=N              -> Version
//	GET  /admin/export?path=P[&as_of=T]    -> text/calendar or text/vcard
//	GET  /admin/export?path=P&tree=1[&as_of=T] -> ImportRequest (every object as stored)
//	POST /admin/restore  {path, as_of, dry_run, reschedule} -> RestoreReport
//	POST /admin/undelete {path}            -> RestoreReport
//	POST /admin/import   ImportRequest     -> ImportReport
//	POST /admin/compact  {keep}            -> engine.CompactResult
//	POST /admin/purge    {path}            -> engine.PurgeResult
//	POST /admin/rebuild, POST /admin/verify -> {"ok": true}
//	GET  /admin/users                      -> [Account] (with their tokens)
//	POST /admin/users {name, password, admin, emails}  -> {"ok": true}
//	POST /admin/users/emails {name, emails, remove}    -> {"ok": true}
//	POST /admin/users/password {name, password}        -> {"ok": true}
//	POST /admin/users/password {name, check: true}     -> {"ok": true} if it could be (nothing changes)
//	POST /admin/users/delete|disable|enable {name}     -> {"ok": true}
//	POST /admin/tokens {name, label}       -> NewToken (its secret, once)
//	POST /admin/tokens/revoke {name, id}   -> {"ok": true}
//	POST /admin/app-passwords {name, device, read_only, collections} -> NewAppPassword (once)
//	POST /admin/app-passwords/revoke {name, id} -> {"ok": true}
//	POST /admin/backup   {dest}            -> BackupReport
//	POST /admin/sharing  ShareRequest      -> ShareResult (at most 256 KiB)
//	POST /admin/webhooks WebhookRequest    -> WebhookResult (at most 64 KiB)
//	POST /admin/resources ResourceRequest  -> ResourceResult (at most 64 KiB)
//
// Account and token bodies are at most 64 KiB; names and passwords travel
// only in bodies, never in URLs. An admin cannot delete or disable the
// account they are signed in as (409).
//
// Errors are {"error": "...", "condition": "..."} with the status of
// dav.MapError (the DAV handler's mapping), 400 for a malformed request,
// 403 for a backup outside BackupDir, 401, 403 and 429 (with Retry-After)
// for authentication, 404 for an unknown endpoint.
type Admin struct {
	DB     *engine.DB
	Auth   Authenticator
	Logger *slog.Logger
	// FileGroup, when set, reports whether a group is defined by serve's
	// htgroup file: POST /admin/sharing refuses to change such a group
	// (409), since the file is its truth.
	FileGroup func(name string) bool
	// NewToken makes API tokens for POST /admin/tokens.
	NewToken TokenMaker
	// BackupDir is the directory, on the server's filesystem, under which
	// POST /admin/backup may write (serve's --backup-dir); empty turns the
	// endpoint off (403).
	BackupDir string
	// WebhookStatus reports what the server's delivery loop knows of a
	// webhook (POST /admin/webhooks, list); nil: nothing.
	WebhookStatus func(id string) WebhookStatus
	// Scheduler returns the server's scheduler for POST /admin/restore
	// with "reschedule" (nil, or returning nil: refused with 400).
	Scheduler func() Rescheduler
}

// maxAdminBody bounds a request body (imports carry whole calendars).
const maxAdminBody = 512 << 20

// ServeHTTP authenticates an admin and dispatches.
func (a *Admin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	user, pass, ok := r.BasicAuth()
	if !ok {
		w.Header().Set("WWW-Authenticate", `Basic realm="almanac admin"`)
		writeJSONError(w, http.StatusUnauthorized, errors.New("authentication required"))
		return
	}
	u, err := a.Auth.Authenticate(r.Context(), user, pass, r.RemoteAddr)
	if secs, limited := dav.RetryAfter(err); limited {
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		writeJSONError(w, http.StatusTooManyRequests, errors.New("too many failed logins"))
		return
	}
	if limit, secs, busy := dav.Overloaded(err); busy {
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		writeJSONError(w, http.StatusServiceUnavailable, fmt.Errorf("%s; retry in %d seconds", limit, secs))
		return
	}
	if secs, down := dav.ServiceUnavailable(err); down {
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		writeJSONError(w, http.StatusServiceUnavailable, fmt.Errorf("the user directory is not answering; retry in %d seconds", secs))
		return
	}
	if err != nil {
		w.Header().Set("WWW-Authenticate", `Basic realm="almanac admin"`)
		writeJSONError(w, http.StatusUnauthorized, errors.New("bad credentials"))
		return
	}
	if u.Role != engine.RoleAdmin {
		writeJSONError(w, http.StatusForbidden, fmt.Errorf("user %s is not an admin", u.Name))
		return
	}
	ua := r.UserAgent()
	l := &Local{DB: a.DB, Meta: engine.Meta{Actor: u.Name, UserAgent: ua, RequestID: r.Header.Get("X-Request-Id")},
		NewToken: a.NewToken, WebhookStatus: a.WebhookStatus, Scheduler: schedulerOf(a.Scheduler)}
	limit := int64(maxAdminBody)
	if strings.HasPrefix(r.URL.Path, "/admin/users") || strings.HasPrefix(r.URL.Path, "/admin/tokens") ||
		strings.HasPrefix(r.URL.Path, "/admin/app-passwords") {
		limit = maxAccountBody
	} else if r.URL.Path == "/admin/sharing" {
		limit = maxShareBody
	} else if r.URL.Path == "/admin/webhooks" || r.URL.Path == "/admin/resources" {
		limit = maxWebhookBody
	}
	r.Body = http.MaxBytesReader(w, r.Body, limit)
	out, ok, err := accountRoutes(r, l, u.Name)
	if !ok {
		out, ok, err = sharingRoute(r, l, a.FileGroup)
	}
	if !ok {
		out, ok, err = appPasswordRoutes(r, l)
	}
	if !ok {
		out, ok, err = webhookRoute(r, l)
	}
	if !ok {
		out, ok, err = resourceRoute(r, l)
	}
	if !ok {
		out, err = a.dispatch(r, l)
	}
	if err != nil {
		if a.Logger != nil {
			a.Logger.Warn("admin request failed", "path", r.URL.Path, "user", u.Name, "err", err)
		}
		writeMapped(w, r, nil, err, true)
		return
	}
	if b, ok := out.([]byte); ok {
		// Only export answers bytes: one VCALENDAR, or vCards (none for an
		// empty address book).
		ct := "text/vcard; charset=utf-8"
		if bytes.HasPrefix(b, []byte("BEGIN:VCALENDAR")) {
			ct = "text/calendar; charset=utf-8"
		}
		w.Header().Set("Content-Type", ct)
		w.Write(b)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (a *Admin) dispatch(r *http.Request, l *Local) (any, error) {
	q := r.URL.Query()
	ctx := r.Context()
	get, post := r.Method == http.MethodGet, r.Method == http.MethodPost
	switch {
	case get && r.URL.Path == "/admin/history":
		var since time.Time
		if s := q.Get("since"); s != "" {
			t, err := time.Parse(time.RFC3339, s)
			if err != nil {
				return nil, badRequest(err)
			}
			since = t
		}
		return l.History(ctx, q.Get("path"), since)
	case get && r.URL.Path == "/admin/version":
		seq, err := strconv.ParseUint(q.Get("seq"), 10, 64)
		if err != nil {
			return nil, badRequest(err)
		}
		return l.Version(ctx, seq)
	case get && r.URL.Path == "/admin/export" && q.Get("tree") != "":
		return l.ExportTree(ctx, q.Get("path"), q.Get("as_of"))
	case get && r.URL.Path == "/admin/export":
		return l.Export(ctx, q.Get("path"), q.Get("as_of"))
	case post && r.URL.Path == "/admin/restore":
		var req RestoreQuery
		if err := decode(r, &req); err != nil {
			return nil, err
		}
		return l.Restore(ctx, req)
	case post && r.URL.Path == "/admin/undelete":
		var req struct{ Path string }
		if err := decode(r, &req); err != nil {
			return nil, err
		}
		return l.Undelete(ctx, req.Path)
	case post && r.URL.Path == "/admin/import":
		var req ImportRequest
		if err := decode(r, &req); err != nil {
			return nil, err
		}
		return l.Import(ctx, req)
	case post && r.URL.Path == "/admin/compact":
		var req struct{ Keep string }
		if err := decode(r, &req); err != nil {
			return nil, err
		}
		return l.Compact(ctx, req.Keep)
	case post && r.URL.Path == "/admin/purge":
		var req struct{ Path string }
		if err := decode(r, &req); err != nil {
			return nil, err
		}
		return l.Purge(ctx, req.Path)
	case post && r.URL.Path == "/admin/rebuild":
		return map[string]bool{"ok": true}, l.Rebuild(ctx)
	case post && r.URL.Path == "/admin/verify":
		return map[string]bool{"ok": true}, l.Verify(ctx)
	case post && r.URL.Path == "/admin/backup":
		var req BackupRequest
		if err := decode(r, &req); err != nil {
			return nil, err
		}
		return a.backup(ctx, req)
	}
	return nil, errNoRoute
}

var errNoRoute = errors.New("no such admin endpoint")

type badRequestError struct{ error }

func (e badRequestError) Unwrap() error { return e.error }

func badRequest(err error) error { return badRequestError{err} }

// tooLargeError is a request body over its bound: 413.
type tooLargeError struct{ limit int64 }

func (e tooLargeError) Error() string {
	return fmt.Sprintf("request body over the limit of %d bytes", e.limit)
}

func decode(r *http.Request, v any) error {
	if err := json.NewDecoder(r.Body).Decode(v); err != nil {
		if mbe := (*http.MaxBytesError)(nil); errors.As(err, &mbe) {
			return tooLargeError{mbe.Limit}
		}
		return badRequest(fmt.Errorf("decode request: %w", err))
	}
	return nil
}

// writeMapped answers err with the status and condition dav.MapError
// gives it (the one mapping shared with the DAV handler), as
// {"error": "...", "condition": "..."}. Errors of this package's own
// routing and decoding are 404 and 400, its refusals 403. An internal error is logged; its
// details reach the client only when reveal is set (the admin API).
func writeMapped(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error, reveal bool) {
	var bad badRequestError
	var forbidden forbiddenError
	switch {
	case errors.Is(err, errNoRoute):
		writeJSONError(w, http.StatusNotFound, err)
		return
	case errors.As(err, new(tooLargeError)):
		writeJSONError(w, http.StatusRequestEntityTooLarge, err)
		return
	case errors.As(err, &bad):
		writeJSONError(w, http.StatusBadRequest, err)
		return
	case errors.As(err, &forbidden):
		writeJSONError(w, http.StatusForbidden, err)
		return
	}
	pe := dav.MapError(err, 0)
	msg := err.Error()
	if pe.IsInternal() {
		if log != nil {
			log.LogAttrs(r.Context(), slog.LevelError, "internal error",
				slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.String("error", err.Error()))
		}
		if !reveal {
			msg = "internal error; see the server log"
		}
	}
	body := map[string]string{"error": msg}
	if pe.Cond.Local != "" {
		body["condition"] = pe.Cond.Local
	}
	writeJSON(w, pe.Status, body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

func writeJSONError(w http.ResponseWriter, status int, err error) {
	writeJSON(w, status, map[string]string{"error": err.Error()})
}
