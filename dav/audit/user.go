package audit

import (
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/almanac/almanac/dav"
	"github.com/almanac/almanac/engine"
)

// User is the handler for dav.Options.Audit: the DAV handler hands it
// requests under a user's own home, after authentication and the
// ownership check, whose query has "history" or "restore":
//
//	GET  <object-or-collection-url>?history[&since=RFC3339] -> JSON [Change]
//	POST <object-or-collection-url>?restore=<RFC3339|seq>[&dry-run=1][&reschedule=1] -> JSON RestoreReport
//	GET  <url>?webhooks                          -> JSON WebhookResult (the user's webhooks)
//	POST <collection-url>?webhooks {url, kinds, ops, include_body} -> JSON WebhookResult
//	                                                (a webhook of the collection and below; its secret, once)
//	POST <url>?webhooks=ID&delete|resume|pause   -> JSON WebhookResult
//
// A user's webhooks read what the user may read (their collections and
// those shared with them), and never reach internal addresses (package
// webhook).
type User struct {
	DB *engine.DB
	// WebhookStatus reports what the delivery loop knows of a webhook;
	// nil: nothing.
	WebhookStatus func(id string) WebhookStatus
	// Logger receives internal errors. Default: discard.
	Logger *slog.Logger
	// Scheduler returns the server's scheduler for ?restore with
	// &reschedule=1 (nil, or returning nil: refused with 400).
	Scheduler func() Rescheduler
}

// ServeHTTP answers a history or restore request of the user's own data.
func (u *User) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	user := dav.UserFromContext(r.Context())
	if user == "" {
		writeJSONError(w, http.StatusUnauthorized, fmt.Errorf("authentication required"))
		return
	}
	l := &Local{DB: u.DB, Meta: engine.Meta{Actor: user, UserAgent: r.UserAgent(), RequestID: w.Header().Get("X-Request-Id")},
		WebhookStatus: u.WebhookStatus, Scheduler: schedulerOf(u.Scheduler)}
	q := r.URL.Query()
	var out any
	var err error
	switch {
	case q.Has("webhooks"):
		r.Body = http.MaxBytesReader(w, r.Body, maxWebhookBody)
		out, err = l.userWebhook(r)
	case q.Has("history") && (r.Method == http.MethodGet || r.Method == http.MethodHead):
		var since time.Time
		if s := q.Get("since"); s != "" {
			if since, err = time.Parse(time.RFC3339, s); err != nil {
				writeJSONError(w, http.StatusBadRequest, err)
				return
			}
		}
		out, err = l.History(r.Context(), r.URL.Path, since)
	case q.Has("restore") && r.Method == http.MethodPost:
		dry := q.Get("dry-run") == "1" || q.Get("dry-run") == "true"
		resched := q.Get("reschedule") == "1" || q.Get("reschedule") == "true"
		out, err = l.Restore(r.Context(), RestoreQuery{Path: r.URL.Path, AsOf: q.Get("restore"), DryRun: dry, Reschedule: resched})
	default:
		w.Header().Set("Allow", "GET, POST")
		writeJSONError(w, http.StatusMethodNotAllowed, fmt.Errorf("use GET ?history or POST ?restore=TIME"))
		return
	}
	if err != nil {
		writeMapped(w, r, u.Logger, err, false)
		return
	}
	writeJSON(w, http.StatusOK, out)
}
