package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"sort"

	"github.com/almanac/almanac/dav"
	"github.com/almanac/almanac/dav/audit"
	"github.com/almanac/almanac/dav/auth"
	"github.com/almanac/almanac/engine"
	"github.com/prometheus/client_golang/prometheus"
)

// Command is a subcommand of the almanac binary.
type Command struct {
	// Name is the word that selects the command ("serve", "user").
	Name string
	// Usage is the synopsis after the command name ("[--data DIR] NAME").
	Usage string
	// Summary is one line for `almanac help`.
	Summary string
	// Run executes the command with the arguments after its name. An error
	// wrapping errUsage makes main print the usage and exit with status 2.
	Run func(ctx context.Context, args []string) error
}

// commands holds every registered subcommand by name. It is filled by init
// functions only, so it needs no lock.
var commands = map[string]Command{}

// register adds a subcommand. It is called from init() in the command's own
// file and panics on a duplicate name, a programming error.
func register(c Command) {
	if c.Name == "" || c.Run == nil {
		panic("almanac: register: command needs a Name and a Run")
	}
	if _, dup := commands[c.Name]; dup {
		panic(fmt.Sprintf("almanac: register: duplicate command %q", c.Name))
	}
	commands[c.Name] = c
}

// sortedCommands returns the registered commands in name order.
func sortedCommands() []Command {
	out := make([]Command, 0, len(commands))
	for _, c := range commands {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// ServeHook is a part of `almanac serve` started after the engine opens and
// stopped before it closes.
//
// Order of calls in serve:
//  1. Flags of every hook are registered on the serve FlagSet (in
//     registration order, which is init order: file name order in package
//     main); the env/TOML layering applies to them like to serve's own flags.
//  2. The engine opens and the auth.Verifier is built.
//  3. Start runs for each hook in registration order. A hook may add
//     handlers to env.Mux and may call env.SetAudit. If a Start fails, the
//     hooks already started are stopped in reverse order and serve exits.
//  4. The DAV handler is built (with the audit handler, if one was set) and
//     mounted at /dav/ and /.well-known/; the listener starts.
//  5. On SIGINT/SIGTERM: the listener stops accepting and in-flight requests
//     drain; then each stop func runs in reverse start order; then the engine
//     closes.
type ServeHook struct {
	// Name identifies the hook in logs and errors.
	Name string
	// Flags registers the hook's flags on fs (env/TOML apply to them too)
	// and returns the hook's start function, bound to the values fs holds
	// once parsed: each FlagSet, so each Main, gets its own. Set Flags or
	// Start, not both.
	Flags func(fs *flag.FlagSet) StartFunc
	// Start starts a hook that has no flags.
	Start StartFunc
}

// StartFunc starts a serve hook. The returned stop func (may be nil) must
// return once the hook's goroutines have ended or its context expires.
type StartFunc func(ctx context.Context, env *ServeEnv) (stop func(context.Context) error, err error)

// start returns h's start function, registering h's flags on fs.
func (h ServeHook) start(fs *flag.FlagSet) StartFunc {
	if h.Flags != nil {
		return h.Flags(fs)
	}
	return h.Start
}

// serveHooks holds the registered hooks in registration order.
var serveHooks []ServeHook

// registerServeHook adds a hook to `almanac serve`. It is called from init().
func registerServeHook(h ServeHook) {
	if h.Name == "" || (h.Start == nil) == (h.Flags == nil) {
		panic("almanac: registerServeHook: hook needs a Name and either Flags or Start")
	}
	for _, o := range serveHooks {
		if o.Name == h.Name {
			panic(fmt.Sprintf("almanac: registerServeHook: duplicate hook %q", h.Name))
		}
	}
	serveHooks = append(serveHooks, h)
}

// ServeEnv is what hooks get.
type ServeEnv struct {
	// DB is the open engine. Hooks must not close it.
	DB *engine.DB
	// Logger is the server's logger; hooks add their own attributes.
	Logger *slog.Logger
	// DataDir is the --data directory (the engine lives in DataDir/db);
	// hooks keep their own state in subdirectories of it.
	DataDir string
	// TLSCert and TLSKey are the certificate and key files; both are empty
	// when serving plain HTTP.
	TLSCert, TLSKey string
	// Mux is served on --listen beside /dav/ and /.well-known/: hooks add
	// /metrics, /admin/... Patterns must not overlap /dav/ or /.well-known/.
	Mux *http.ServeMux
	// Auth verifies user passwords (package dav/auth).
	Auth *auth.Verifier
	// FileGroup reports whether a group is defined by the --htgroup file
	// (nil without one): the admin API does not change such a group.
	FileGroup func(name string) bool
	// ServeGRPC serves h, a gRPC server, for the gRPC requests (HTTP/2,
	// Content-Type application/grpc) that arrive on --listen: h2c on plain
	// HTTP, ALPN "h2" under TLS. stop runs as soon as serve begins to shut
	// down, before in-flight requests drain, since streams never end by
	// themselves. Call it during Start; the last call wins.
	ServeGRPC func(h http.Handler, stop func())
	// Metrics is the registry /metrics serves (metrics.go); hooks register
	// their collectors in it.
	Metrics *prometheus.Registry
	// SetAudit hands the DAV handler its dav.Options.Audit handler (the
	// ?history and ?restore queries under a user's home). It must be called
	// during Start; the last call wins. The DAV handler is built after every
	// hook has started.
	SetAudit func(http.Handler)
	// SetPush hands the DAV handler its dav.Options.Push (WebDAV-Push,
	// push.go). It must be called during Start; the last call wins.
	SetPush func(dav.PushService)
	// SetEmail turns on dav.Options.Email (iMIP, imip.go) when send is
	// set; ready, when not nil, gets the DAV handler once it is built. It
	// must be called during Start.
	SetEmail func(send bool, ready func(*dav.Handler))
	// DAV returns the DAV handler once it is built (nil before: call it
	// at request time); the admin API's restore schedules through it.
	DAV func() *dav.Handler
	// DAVReady is closed once DAV returns the handler: a goroutine
	// started during Start waits on it before calling DAV.
	DAVReady <-chan struct{}
	// Getenv reads the environment (Main.Getenv).
	Getenv func(string) string
	// WebhookStatus, set by the webhook hook, reports what its delivery
	// loops know of a webhook; the admin and user APIs call it (nil: no
	// deliverer).
	WebhookStatus func(id string) audit.WebhookStatus
	// RunOnce runs a sender that must run on one node of a cluster at a
	// time (singleton.go): run gets a context that ends when this node
	// stops being that node or serve stops, and is called again each
	// time it becomes it; it must resume from its engine cursor. On a
	// single node run is called once, after every hook has started. Call
	// it during Start.
	RunOnce func(name string, run func(ctx context.Context))
	// Cluster is this node's log when it is a cluster node (cluster.go),
	// else nil.
	Cluster *clusterLog
}
