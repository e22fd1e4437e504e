package main

import (
	"log/slog"
	"net/http"

	"github.com/almanac/almanac/dav"
	"github.com/almanac/almanac/dav/auth"
	"github.com/almanac/almanac/dav/query"
	"github.com/almanac/almanac/engine"
)

// The engine's users are checked by dav/auth on behalf of the DAV handler.
var _ dav.Authenticator = (*auth.Verifier)(nil)

// davWiring is what serve hands the DAV handler.
type davWiring struct {
	DB             *engine.DB
	Auth           *auth.Verifier
	Logger         *slog.Logger
	MaxRequestBody int64
	MaxXMLBody     int64
	Audit          http.Handler
	QueryLimits    query.Limits
	// ShareInvitations is dav.Options.ShareInvitations.
	ShareInvitations bool
	// Push is dav.Options.Push (nil: WebDAV-Push off).
	Push dav.PushService
	// Email is dav.Options.Email; OnHandler, when set, gets the handler.
	Email     bool
	OnHandler func(*dav.Handler)
}

// newDAVHandler builds the handler served at /dav/, /.well-known/ and /.
func newDAVHandler(w davWiring) (http.Handler, error) {
	h, err := dav.NewHandler(dav.Options{
		DB:               w.DB,
		Auth:             w.Auth,
		Logger:           w.Logger.With("component", "dav"),
		MaxRequestBody:   w.MaxRequestBody,
		MaxXMLBody:       w.MaxXMLBody,
		Audit:            w.Audit,
		QueryLimits:      w.QueryLimits,
		ShareInvitations: w.ShareInvitations,
		Push:             w.Push,
		Email:            w.Email,
	})
	if err != nil {
		return nil, err
	}
	if w.OnHandler != nil {
		w.OnHandler(h)
	}
	return rootAsDAV(h), nil
}

// rootAsDAV serves requests for "/" as requests for "/dav/": clients told
// only the server's address (python-caldav, some DAVx5 setups) start
// discovery with a PROPFIND of current-user-principal on the root, and a
// redirect would make some of them drop the request body.
func rootAsDAV(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/" {
			r2 := r.Clone(r.Context())
			r2.URL.Path, r2.URL.RawPath = "/dav/", ""
			r = r2
		}
		h.ServeHTTP(w, r)
	})
}
