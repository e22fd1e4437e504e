package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"

	"github.com/almanac/almanac/dav"
	"github.com/almanac/almanac/dav/auth"
	"github.com/almanac/almanac/engine"
)

func init() {
	register(Command{
		Name:    "serve",
		Usage:   "[--listen ADDR] [--data DIR] [--htpasswd FILE] [--config FILE] [--tls-cert FILE --tls-key FILE] [flags]",
		Summary: "run the CalDAV/CardDAV server",
		Run:     runServe,
	})
}

// runServe is `almanac serve`: it runs until ctx is cancelled (SIGINT,
// SIGTERM) or the listener fails, then shuts down gracefully.
func runServe(ctx context.Context, args []string) error {
	m := NewMain()
	if err := m.ParseFlags(args); err != nil {
		return err
	}
	if err := m.Run(ctx); err != nil {
		return err
	}
	free := freeMemory
	if m.Config.ReleaseCodePages {
		free = m.releaseCode()
	}
	// The memtables are flushed first and the compactions waited for, and
	// the block cache is emptied, so that what they free goes back in the
	// same release.
	stopIdle := startIdleRelease(&m.activity, func(ctx context.Context) {
		m.DB.FlushIdle(ctx)
		m.DB.DropBlockCache()
		free()
	})
	stopReload := m.reloadOnSIGHUP()
	var serveErr error
	select {
	case <-ctx.Done():
		m.Logger.Info("shutting down", "timeout", m.Config.ShutdownTimeout)
	case serveErr = <-m.Done():
		m.Logger.Error("server failed", "err", serveErr)
	}
	stopReload()
	stopIdle()
	closeCtx, cancel := context.WithTimeout(context.Background(), m.Config.ShutdownTimeout)
	defer cancel()
	return errors.Join(serveErr, m.Close(closeCtx))
}

// releaseCode runs releaseCodePages and returns what the idle release
// calls after a burst: freeMemory, then unmapCodePages, which
// drops the code pages the burst mapped again (they stay in the page
// cache).
func (m *Main) releaseCode() (free func()) {
	if n, cached, err := releaseCodePages(); err != nil {
		m.Logger.Warn("code pages stay resident", "err", err)
	} else {
		m.Logger.Debug("released code pages", "bytes", n, "still_cached", cached)
	}
	spans, err := ownCodeMappings()
	if err != nil {
		m.Logger.Warn("code pages stay resident after bursts", "err", err)
		return freeMemory
	}
	return func() {
		freeMemory()
		if err := unmapCodePages(spans); err != nil {
			m.Logger.Debug("code pages stay resident after a burst", "err", err)
		}
	}
}

// defaultDataDir is the default of every command's --data.
const defaultDataDir = "./data"

// ServeConfig holds the settings of `almanac serve`.
type ServeConfig struct {
	Listen         string
	DataDir        string
	Htpasswd       string
	Htgroup        string
	ConfigFile     string
	TLSCert        string
	TLSKey         string
	LogLevel       string
	LogFormat      string
	MaxObjectSize  int64
	MinFreeSpace   int64 // engine.Options.MinFreeSpace (-1: off)
	DiskReserve    int64 // engine.Options.ReserveSize (-1: none)
	MaxInstances   int
	MaxExpandRange time.Duration
	// ShareAutoAccept mounts a share in each sharee's home at once
	// (dav.Options.ShareInvitations is its negation).
	ShareAutoAccept bool
	Query           QueryConfig // recurrence work and query concurrency (serve_query.go)
	ShutdownTimeout time.Duration
	GCPercent       int
	MemoryBudget    int64 // bytes, divided by splitMemoryBudget (budget.go)
	// ReleaseCodePages calls releaseCodePages once serve listens.
	ReleaseCodePages bool
	// The login limiter and the proxies whose X-Forwarded-For is believed
	// (dav/auth).
	LoginMaxFailures        int
	LoginMaxAddressFailures int
	LoginMaxTracked         int
	LoginMaxHashes          int
	LoginHashWait           time.Duration
	LoginMaxHashWaiters     int
	TrustedProxies          auth.TrustedProxies
	// Limits bound names, properties and XML bodies (limits.go).
	Limits limitsConfig
	// Cluster makes this a node of a cluster (cluster.go).
	Cluster clusterConfig
	// LDAP is the directory users may also sign in from (ldap.go).
	LDAP ldapConfig
	// OIDC is the OpenID Connect issuer (oidc.go).
	OIDC oidcConfig
}

// Main is `almanac serve` as a value: ParseFlags, Run, then Close. Tests
// run it in-process on 127.0.0.1:0.
type Main struct {
	// Config is filled by ParseFlags.
	Config ServeConfig
	// Hooks are started by Run; NewMain sets them to every registered hook.
	Hooks []ServeHook
	// Getenv reads the environment (os.Getenv by default).
	Getenv func(string) string
	// Stdout gets the startup banner; LogOutput gets the logs and the
	// first-run block with the admin's password.
	Stdout, LogOutput io.Writer
	// Program is how the binary was invoked, for the commands the banner
	// suggests (programName of os.Args[0]).
	Program string

	// Set by Run.
	Logger *slog.Logger
	DB     *engine.DB
	Auth   *auth.Verifier

	starts []StartFunc // per hook, bound to the flags ParseFlags parsed
	// noFirstRun skips the first-run admin (tests add their own users).
	noFirstRun bool
	firstRun   *firstRunAdmin  // the admin made by this start, if any
	certs      *certReloader   // nil without TLS
	groups     *auth.GroupFile // nil without --htgroup
	ldapGroups *ldapGroups     // nil without --ldap-group-base
	grpc       http.Handler    // gRPC served on the listener (ServeEnv.ServeGRPC)
	activity   requestActivity // the HTTP requests, for the idle release (budget_idle.go)
	grpcStop   func()
	listener   net.Listener
	server     *http.Server
	cluster    *clusterLog // nil unless a cluster node
	publishers *singletons // the senders that run once per cluster
	stops      []hookStop
	done       chan error
}

type hookStop struct {
	name string
	stop func(context.Context) error
}

// NewMain returns a Main with the registered hooks, the process
// environment, and stdout/stderr.
func NewMain() *Main {
	return &Main{
		Hooks:     append([]ServeHook(nil), serveHooks...),
		Getenv:    os.Getenv,
		Stdout:    os.Stdout,
		LogOutput: os.Stderr,
		Program:   programName(os.Args[0]),
	}
}

// ParseFlags reads the configuration from args, the environment and the
// TOML file, in that order of precedence, and validates it.
//
// Errors: flag.ErrHelp, errUsage, *ConfigError.
func (m *Main) ParseFlags(args []string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(m.LogOutput)
	c := &m.Config
	fs.StringVar(&c.Listen, "listen", defaultListen, "`address` to listen on (host:port)")
	fs.StringVar(&c.DataDir, "data", defaultDataDir, "data `directory`; the database lives in DIR/db")
	fs.StringVar(&c.Htpasswd, "htpasswd", "", "Apache htpasswd `file` with more users: bcrypt ($2y$), apr1 MD5 ($apr1$), {SHA}, salted {SSHA}, crypt SHA-256/512 ($5$, $6$); reread on change")
	fs.StringVar(&c.Htgroup, "htgroup", "", "Apache htgroup `file` of groups (\"group: user user...\" lines), kept in the log as groups; reread on change")
	fs.StringVar(&c.ConfigFile, configFlag, "", "TOML `file` whose keys are flag names")
	fs.StringVar(&c.TLSCert, "tls-cert", "", "TLS certificate `file` (PEM); serve HTTPS when set with --tls-key")
	fs.StringVar(&c.TLSKey, "tls-key", "", "TLS private key `file` (PEM)")
	fs.StringVar(&c.LogLevel, "log-level", "info", "log `level`: debug, info, warn, error")
	fs.StringVar(&c.LogFormat, "log-format", "text", "log `format`: text or json")
	fs.Int64Var(&c.MaxObjectSize, "max-object-size", 10<<20, "largest calendar or contact object in `bytes`")
	fs.Int64Var(&c.MinFreeSpace, "min-free-space", 128<<20, "`bytes` the data directory's filesystem must keep free: writes that would leave less get 507 (-1: off)")
	fs.Int64Var(&c.DiskReserve, "disk-reserve", 64<<20, "most `bytes` of the reserve file, released for the database's own writes when the disk fills; it is sized to the memtable, 5 MiB at the default --memory-budget (-1: none)")
	fs.IntVar(&c.MaxInstances, "max-instances", 10000, "most recurrence instances one query expands per object (more: CALDAV:max-instances)")
	fs.DurationVar(&c.MaxExpandRange, "max-expand-range", 10*366*24*time.Hour, "longest time range of expand, limit-recurrence-set and free-busy-query")
	c.Query.addFlags(fs)
	fs.BoolVar(&c.ShareAutoAccept, "share-auto-accept", true, "a shared calendar or address book appears in the sharee's home at once; false: after they accept the invitation (CS:invite-reply)")
	fs.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", 15*time.Second, "how long to let in-flight requests finish on shutdown")
	fs.IntVar(&c.GCPercent, "gc-percent", defaultGCPercent, "garbage collector `percent` (as GOGC, which wins when set; negative: off)")
	addMemoryBudgetFlag(fs, &c.MemoryBudget)
	addCodePagesFlag(fs, &c.ReleaseCodePages)
	fs.IntVar(&c.LoginMaxFailures, "login-max-failures", 10, "failed logins of one user from one address per minute before that pair gets 429")
	fs.IntVar(&c.LoginMaxAddressFailures, "login-max-address-failures", 100, "failed logins from one address per minute before each user from it gets only 3")
	fs.IntVar(&c.LoginMaxTracked, "login-max-tracked", 100000, "most (user, address) pairs and addresses the login limiter remembers")
	fs.IntVar(&c.LoginMaxHashes, "login-max-concurrent-hashes", 0, "most passwords hashed at once; more logins wait for a turn (0: GOMAXPROCS)")
	fs.DurationVar(&c.LoginHashWait, "login-hash-wait", 5*time.Second, "longest a login waits for a password-hashing turn; then 503 with Retry-After of this wait in seconds, rounded up")
	fs.IntVar(&c.LoginMaxHashWaiters, "login-max-hash-waiters", 100, "most logins waiting for a password-hashing turn; one more gets 503 with Retry-After (--login-hash-wait) at once")
	fs.Var(&c.TrustedProxies, "trusted-proxies", "comma-separated `CIDRs` of reverse proxies whose X-Forwarded-For is believed (default none)")
	c.Limits.flags(fs)
	c.Cluster.flags(fs)
	c.LDAP.flags(fs)
	c.OIDC.flags(fs)
	m.starts = m.starts[:0]
	for _, h := range m.Hooks {
		m.starts = append(m.starts, h.start(fs))
	}
	if err := parseLayered(fs, args, m.Getenv, true); err != nil {
		return err
	}
	return c.Validate()
}

// Validate reports the first invalid field as a *ConfigError.
func (c *ServeConfig) Validate() error {
	bad := func(field, format string, a ...any) error {
		return &ConfigError{Field: field, Err: fmt.Errorf(format, a...)}
	}
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		return bad("listen", "want host:port, got %q", c.Listen)
	}
	if c.DataDir == "" {
		return bad("data", "must not be empty")
	}
	if _, err := parseLogLevel(c.LogLevel); err != nil {
		return bad("log-level", "%v", err)
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		return bad("log-format", "want text or json, got %q", c.LogFormat)
	}
	if c.MaxObjectSize <= 0 {
		return bad("max-object-size", "must be positive, got %d", c.MaxObjectSize)
	}
	if c.MinFreeSpace < -1 || c.MinFreeSpace == 0 {
		return bad("min-free-space", "must be positive or -1 (off), got %d", c.MinFreeSpace)
	}
	if c.DiskReserve < -1 || c.DiskReserve == 0 {
		return bad("disk-reserve", "must be positive or -1 (none), got %d", c.DiskReserve)
	}
	if err := c.Limits.validate(); err != nil {
		return err
	}
	if err := c.LDAP.validate(); err != nil {
		return err
	}
	if err := c.OIDC.validate(); err != nil {
		return err
	}
	if c.MaxInstances <= 0 {
		return bad("max-instances", "must be positive, got %d", c.MaxInstances)
	}
	if c.MaxExpandRange <= 0 {
		return bad("max-expand-range", "must be positive, got %s", c.MaxExpandRange)
	}
	if err := c.Query.validate(); err != nil {
		return err
	}
	if c.LoginMaxFailures <= 0 {
		return bad("login-max-failures", "must be positive, got %d", c.LoginMaxFailures)
	}
	if c.LoginMaxAddressFailures <= 0 {
		return bad("login-max-address-failures", "must be positive, got %d", c.LoginMaxAddressFailures)
	}
	if c.LoginMaxHashes < 0 {
		return bad("login-max-concurrent-hashes", "must be positive or 0 (GOMAXPROCS), got %d", c.LoginMaxHashes)
	}
	if c.LoginHashWait <= 0 {
		return bad("login-hash-wait", "must be positive, got %s", c.LoginHashWait)
	}
	if c.LoginMaxHashWaiters <= 0 {
		return bad("login-max-hash-waiters", "must be positive, got %d", c.LoginMaxHashWaiters)
	}
	if c.LoginMaxTracked <= 0 {
		return bad("login-max-tracked", "must be positive, got %d", c.LoginMaxTracked)
	}
	if err := validateMemoryBudget(c.MemoryBudget); err != nil {
		return err
	}
	if c.ShutdownTimeout <= 0 {
		return bad("shutdown-timeout", "must be positive, got %s", c.ShutdownTimeout)
	}
	if err := c.Cluster.validate(); err != nil {
		return err
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		if c.TLSCert == "" {
			return bad("tls-cert", "--tls-key needs --tls-cert")
		}
		return bad("tls-key", "--tls-cert needs --tls-key")
	}
	return nil
}

func parseLogLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return 0, fmt.Errorf("want debug, info, warn or error, got %q", s)
	}
	return l, nil
}

// newLogger builds the server's logger from the configuration.
func (m *Main) newLogger() *slog.Logger {
	level, _ := parseLogLevel(m.Config.LogLevel) // validated
	ho := &slog.HandlerOptions{Level: level}
	if m.Config.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(m.LogOutput, ho))
	}
	return slog.New(slog.NewTextHandler(m.LogOutput, ho))
}

// Run opens the engine, starts the hooks and the HTTP server, and returns
// once the server listens. Serving errors arrive on Done. On error, what
// was started is stopped again.
func (m *Main) Run(ctx context.Context) (err error) {
	m.Logger = m.newLogger()
	if m.Getenv("GOGC") == "" {
		debug.SetGCPercent(m.Config.GCPercent)
	}
	defer func() {
		if err != nil {
			_ = m.Close(context.Background())
		}
	}()
	eopts := &engine.Options{
		Logger:        m.Logger.With("component", "engine"),
		MaxObjectSize: m.Config.MaxObjectSize,
		MinFreeSpace:  m.Config.MinFreeSpace,
		ReserveSize:   m.Config.DiskReserve,
		Limits:        m.Config.Limits.engine(),
	}
	splitMemoryBudget(m.Config.MemoryBudget, pebbleInGoHeap).apply(eopts, m.Getenv)
	if m.Config.Cluster.enabled() {
		if m.cluster, err = startClusterLog(ctx, m.Config.Cluster, m.Config.DataDir, m.Config.MaxObjectSize, m.Logger.With("component", "cluster")); err != nil {
			return err
		}
		eopts.Log = m.cluster.log
	}
	if m.cluster != nil {
		m.DB, err = m.openClusterDB(eopts)
	} else {
		m.DB, err = openDB(m.Config.DataDir, eopts)
	}
	if err != nil {
		return err
	}
	if m.Config.Htpasswd == "" && !m.noFirstRun {
		if m.firstRun, err = createFirstRunAdmin(ctx, m.DB, m.Getenv); err != nil {
			return err
		}
	}
	dir, err := m.Config.LDAP.directory()
	if err != nil {
		return err
	}
	var directory auth.Directory
	var dirLogin func(string)
	if dir != nil {
		directory = dir
	}
	oidcProvider, err := m.Config.OIDC.provider(m.DB, m.Logger.With("component", "oidc"))
	if err != nil {
		return err
	}
	var bearer auth.BearerVerifier
	if oidcProvider != nil {
		bearer = oidcProvider
	}
	if m.ldapGroups = m.newLDAPGroups(dir); m.ldapGroups != nil {
		dirLogin = m.ldapGroups.signedIn
	}
	m.Auth, err = auth.New(auth.Options{
		DB:                  m.DB,
		HtpasswdFile:        m.Config.Htpasswd,
		Directory:           directory,
		Bearer:              bearer,
		DirectoryLogin:      dirLogin,
		Logger:              m.Logger, // no extra attributes: the fail2ban line stays `msg=... user=... remote=...`
		MaxFailures:         m.Config.LoginMaxFailures,
		MaxAddressFailures:  m.Config.LoginMaxAddressFailures,
		MaxTracked:          m.Config.LoginMaxTracked,
		MaxConcurrentHashes: m.Config.LoginMaxHashes,
		HashWait:            m.Config.LoginHashWait,
		MaxHashWaiters:      m.Config.LoginMaxHashWaiters,
	})
	if err != nil {
		return &ConfigError{Field: "htpasswd", Err: err}
	}
	if err := m.startHtgroup(ctx); err != nil {
		return err
	}
	m.startLDAPGroups(m.ldapGroups)
	mux := http.NewServeMux()
	reg := newRegistry()
	var audit http.Handler
	var pushSvc dav.PushService
	var email bool
	var emailReady func(*dav.Handler)
	var built *dav.Handler // set before serving starts
	davReady := make(chan struct{})
	env := &ServeEnv{
		DAV:       func() *dav.Handler { return built },
		DAVReady:  davReady,
		Metrics:   reg,
		DB:        m.DB,
		Logger:    m.Logger,
		DataDir:   m.Config.DataDir,
		TLSCert:   m.Config.TLSCert,
		TLSKey:    m.Config.TLSKey,
		Mux:       mux,
		Auth:      m.Auth,
		FileGroup: m.fileGroup(),
		SetAudit:  func(h http.Handler) { audit = h },
		SetPush:   func(p dav.PushService) { pushSvc = p },
		SetEmail:  func(send bool, ready func(*dav.Handler)) { email, emailReady = send, ready },
		Getenv:    m.Getenv,
		ServeGRPC: func(h http.Handler, stop func()) { m.grpc, m.grpcStop = h, stop },
	}
	once := &singletons{db: m.DB, log: m.Logger.With("component", "cluster")}
	m.publishers = once
	env.RunOnce, env.Cluster = once.add, m.cluster
	if m.cluster != nil {
		if once.lease, once.cursors, err = m.cluster.publisherLease(ctx, m.Config.Cluster, once.log); err != nil {
			return err
		}
		if err := registerLeaseMetrics(reg, once.lease); err != nil {
			return err
		}
	}
	if len(m.starts) != len(m.Hooks) {
		return errors.New("serve: Run before ParseFlags")
	}
	for i, h := range m.Hooks {
		stop, err := m.starts[i](ctx, env)
		if err != nil {
			return fmt.Errorf("start %s: %w", h.Name, err)
		}
		if stop != nil {
			m.stops = append(m.stops, hookStop{h.Name, stop})
		}
		m.Logger.Debug("serve hook started", "hook", h.Name)
	}
	once.start()
	m.stops = append(m.stops, hookStop{"publishers", once.stop})
	env.RunOnce = func(name string, _ func(context.Context)) {
		m.Logger.Error("RunOnce called after the hooks started; ignored", "name", name)
	}
	env.SetAudit = func(http.Handler) {
		m.Logger.Error("SetAudit called after the hooks started; ignored")
	}
	env.SetPush = func(dav.PushService) {
		m.Logger.Error("SetPush called after the hooks started; ignored")
	}
	env.SetEmail = func(bool, func(*dav.Handler)) {
		m.Logger.Error("SetEmail called after the hooks started; ignored")
	}
	env.ServeGRPC = func(http.Handler, func()) {
		m.Logger.Error("ServeGRPC called after the hooks started; ignored")
	}
	davHandler, err := newDAVHandler(davWiring{DB: m.DB, Auth: m.Auth, Logger: m.Logger, MaxRequestBody: m.Config.MaxObjectSize + 1<<20, MaxXMLBody: m.Config.Limits.MaxXMLBody, Audit: audit,
		QueryLimits: m.Config.Query.limits(m.Config.MaxInstances, m.Config.MaxExpandRange), ShareInvitations: !m.Config.ShareAutoAccept, Push: pushSvc,
		Email: email, OnHandler: func(h *dav.Handler) {
			if built = h; emailReady != nil {
				emailReady(h)
			}
			close(davReady)
		}})
	if err != nil {
		return fmt.Errorf("build DAV handler: %w", err)
	}
	mux.Handle("/dav/", davHandler)
	mux.Handle("/.well-known/", davHandler)
	mux.Handle("/pub/", davHandler) // public links
	webHandler, err := newWebHandler(m.DB, m.Auth, oidcProvider, m.Logger, m.Config.TLSCert != "", m.Config.ShareAutoAccept,
		webExtras{webhookStatus: env.WebhookStatus, push: pushSvc, runtime: webRuntime(m.DB, once.lease)})
	if err != nil {
		return fmt.Errorf("build web app: %w", err)
	}
	mux.Handle("/{$}", rootRouter(davHandler, webHandler)) // DAV clients that start discovery at the root; browsers
	mux.Handle("/", webHandler)                            // the web app (package web)
	// A cluster node forwards its clients' writes to the writer
	// (cluster_writes.go).
	served, err := m.startForwarding(mux, once.lease, reg)
	if err != nil {
		return err
	}
	// The HTTP metrics count requests, not gRPC streams, which the feed's
	// metrics count.
	h, err := instrumentHTTP(reg, m.activity.wrap(served))
	if err != nil {
		return err
	}
	if m.grpc != nil {
		h = grpcRouter(m.grpc, h)
	}
	// Behind a trusted reverse proxy every handler (the login limiter, the
	// logs) sees the client's address from X-Forwarded-For.
	return m.listen(m.Config.TrustedProxies.Handler(h))
}

// grpcRouter sends gRPC requests (HTTP/2 with Content-Type
// application/grpc or application/grpc+proto) to g, and the rest to next.
// A gRPC stream lives as long as its subscriber: the server's write
// timeout, meant for HTTP answers, is lifted for it (the feed bounds its
// streams itself: --feed-max-lag, --feed-send-buffer).
func grpcRouter(g, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ProtoMajor == 2 && strings.HasPrefix(r.Header.Get("Content-Type"), "application/grpc") {
			_ = http.NewResponseController(w).SetWriteDeadline(time.Time{})
			g.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// listen binds the listener and starts serving in a goroutine.
func (m *Main) listen(h http.Handler) error {
	ln, err := net.Listen("tcp", m.Config.Listen)
	if err != nil {
		return &ConfigError{Field: "listen", Err: err}
	}
	m.listener = ln
	m.server = &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       5 * time.Minute,
		WriteTimeout:      10 * time.Minute,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(m.Logger.Handler(), slog.LevelWarn),
	}
	if m.grpc != nil {
		// gRPC clients speak HTTP/2 from the first byte on plain HTTP
		// (h2c with prior knowledge); under TLS they negotiate "h2".
		p := new(http.Protocols)
		p.SetHTTP1(true)
		p.SetHTTP2(true)
		p.SetUnencryptedHTTP2(true)
		m.server.Protocols = p
		m.server.RegisterOnShutdown(m.grpcStop)
	}
	scheme := "http"
	if m.Config.TLSCert != "" {
		tc, certs, err := newTLSConfig(m.Config.TLSCert, m.Config.TLSKey, m.Logger)
		if err != nil {
			_ = ln.Close()
			return err
		}
		m.server.TLSConfig, m.certs = tc, certs
		scheme = "https"
	}
	m.done = make(chan error, 1)
	srv := m.server // Close clears the field, maybe before this goroutine runs
	go func() {
		var err error
		if scheme == "https" {
			err = srv.ServeTLS(ln, "", "")
		} else {
			err = srv.Serve(ln)
		}
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		m.done <- err
	}()
	url := fmt.Sprintf("%s://%s/", scheme, m.Addr())
	m.Logger.Info("listening", "url", url, "data", m.Config.DataDir)
	info := serverInfo{URL: localURL(scheme, ln.Addr()), PID: os.Getpid()}
	if scheme == "https" {
		info.TLSServerName = tlsServerName(m.Config.TLSCert)
		info.TLSCert, _ = filepath.Abs(m.Config.TLSCert)
	}
	if err := writeServerInfo(m.Config.DataDir, info); err != nil {
		m.Logger.Warn("`almanac user` and `token` will need --server", "err", err)
	}
	dataArg := ""
	if m.Config.DataDir != defaultDataDir {
		dataArg = " --data " + m.Config.DataDir
	}
	if m.firstRun != nil {
		m.firstRun.print(m.LogOutput, url, m.Program, dataArg)
	}
	fmt.Fprintf(m.Stdout, "Almanac is serving CalDAV and CardDAV at %s\n", url)
	fmt.Fprintf(m.Stdout, "Add a user with: %s user add NAME%s\n", m.Program, dataArg)
	return nil
}

// Addr returns the address the server listens on ("" before Run).
func (m *Main) Addr() string {
	if m.listener == nil {
		return ""
	}
	return m.listener.Addr().String()
}

// Done delivers the serving goroutine's error (nil after a clean Close).
func (m *Main) Done() <-chan error { return m.done }

// Close shuts down in order: stop accepting and drain in-flight requests
// until ctx expires, stop the hooks in reverse order, close the engine. It
// returns every error met on the way.
func (m *Main) Close(ctx context.Context) error {
	var errs []error
	if m.server != nil {
		if err := m.server.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("drain requests: %w", err))
			_ = m.server.Close()
		}
		m.server = nil
		removeServerInfo(m.Config.DataDir)
	}
	for i := len(m.stops) - 1; i >= 0; i-- {
		s := m.stops[i]
		if err := s.stop(ctx); err != nil {
			errs = append(errs, fmt.Errorf("stop %s: %w", s.name, err))
		}
	}
	m.stops = nil
	if m.DB != nil {
		if err := m.DB.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close engine: %w", err))
		}
		m.DB = nil
	}
	if m.cluster != nil {
		m.cluster.close()
		m.cluster = nil
	}
	return errors.Join(errs...)
}
