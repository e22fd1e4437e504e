package main

import (
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"

	"github.com/almanac/almanac/dav/auth"
	"github.com/almanac/almanac/dav/auth/oidcauth"
	"github.com/almanac/almanac/engine"
	"github.com/almanac/almanac/web"
)

// newWebHandler builds the web app (package web), served for every path
// the DAV handler, the admin API and the hooks do not own, and for GET
// and HEAD of "/".
func newWebHandler(db *engine.DB, v *auth.Verifier, op *oidcauth.Provider, logger *slog.Logger, tls, shareAutoAccept bool) (http.Handler, error) {
	var b strings.Builder
	bi, _ := debug.ReadBuildInfo()
	printVersion(&b, bi)
	version, _, _ := strings.Cut(b.String(), "\n")
	var oidc web.OIDC
	if op != nil { // --oidc-issuer: "Sign in with" the issuer
		oidc = op
	}
	return web.New(web.Options{DB: db, Auth: v, Logger: logger.With("component", "web"), Secure: tls, ShareAutoAccept: shareAutoAccept,
		Version: strings.TrimPrefix(version, "almanac "), OIDC: oidc})
}

// rootRouter serves a browser's GET or HEAD of "/" with the web app and
// every other request of "/" (PROPFIND, OPTIONS, REPORT ... of clients
// that start discovery at the root) with the DAV handler.
func rootRouter(davH, webH http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet || r.Method == http.MethodHead {
			webH.ServeHTTP(w, r)
			return
		}
		davH.ServeHTTP(w, r)
	})
}
