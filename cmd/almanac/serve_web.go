package main

import (
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/almanac/almanac/dav"
	"github.com/almanac/almanac/dav/audit"
	"github.com/almanac/almanac/dav/auth"
	"github.com/almanac/almanac/dav/auth/oidcauth"
	"github.com/almanac/almanac/engine"
	"github.com/almanac/almanac/lease"
	"github.com/almanac/almanac/push"
	"github.com/almanac/almanac/web"
)

// newWebHandler builds the web app (package web), served for every path
// the DAV handler, the admin API and the hooks do not own, and for GET
// and HEAD of "/".
func newWebHandler(db *engine.DB, v *auth.Verifier, op *oidcauth.Provider, logger *slog.Logger, tls, shareAutoAccept bool, x webExtras) (http.Handler, error) {
	var b strings.Builder
	bi, _ := debug.ReadBuildInfo()
	printVersion(&b, bi)
	version, _, _ := strings.Cut(b.String(), "\n")
	var oidc web.OIDC
	if op != nil { // --oidc-issuer: "Sign in with" the issuer
		oidc = op
	}
	return web.New(web.Options{DB: db, Auth: v, Logger: logger.With("component", "web"), Secure: tls, ShareAutoAccept: shareAutoAccept,
		Version: strings.TrimPrefix(version, "almanac "), OIDC: oidc, Started: time.Now(),
		WebhookStatus: x.webhookStatus, PushLastDelivery: x.pushLastDelivery(), Runtime: x.runtime})
}

// webExtras is what the web app shows of the hooks: the webhook
// deliverer's status (ServeEnv.WebhookStatus), the push sender's last
// deliveries, and the feed and the cluster on the status page.
type webExtras struct {
	webhookStatus func(id string) audit.WebhookStatus
	push          dav.PushService
	runtime       func() web.Runtime
}

// webRuntime returns what the status page shows of db's change feed
// (looked up at each view: the feed hook may be off) and of the cluster
// (l, the publisher lease; nil on a single node).
func webRuntime(db *engine.DB, l *lease.Lease) func() web.Runtime {
	return func() web.Runtime {
		var r web.Runtime
		if rt := runtimeFor(db); rt != nil {
			r.GRPCFeed = rt.grpcAddr != "" || rt.grpcOnHTTP
			r.NATS = rt.publisher != nil
			r.FeedSubscribers, r.NATSLag = rt.metrics.Subscribers(), rt.metrics.PublishLag()
		}
		if l != nil {
			r.Cluster, r.LeaseHolder = true, l.Holder()
		}
		return r
	}
}

var _ interface{ LastDelivery(string) time.Time } = (*push.Sender)(nil) // what pushLastDelivery finds

// pushLastDelivery is the push sender's LastDelivery, or nil without one.
func (x webExtras) pushLastDelivery() func(string) time.Time {
	if p, ok := x.push.(interface{ LastDelivery(string) time.Time }); ok {
		return p.LastDelivery
	}
	return nil
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
