package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/almanac/almanac/dav/auth"
	"github.com/almanac/almanac/engine"
	"github.com/almanac/almanac/feed"
	"github.com/nats-io/nats.go"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
)

func init() {
	registerServeHook(ServeHook{Name: "feed", Flags: func(fs *flag.FlagSet) StartFunc {
		cfg := &feedConfig{}
		cfg.register(fs)
		return func(ctx context.Context, env *ServeEnv) (func(context.Context) error, error) {
			return startFeed(ctx, env, *cfg)
		}
	}})
}

// feedConfig holds the flags of the change feed (gRPC, NATS).
type feedConfig struct {
	GRPCListen   string
	NATS         string
	NATSListen   string
	NATSURL      string
	NATSCreds    string
	NATSReaders  string
	NATSTLSCA    string
	NATSFormat   string
	NATSBody     bool
	NATSStream   string
	NATSRetain   string
	NATSReplicas int
	NATSMaxAge   time.Duration
	NATSMaxBytes int64
	SendBuffer   int
	MaxLag       int
}

func (c *feedConfig) register(fs *flag.FlagSet) {
	fs.StringVar(&c.GRPCListen, "grpc-listen", "", "separate `address` for the gRPC change feed (default: served on --listen, HTTP/2); off disables it")
	fs.StringVar(&c.NATS, "nats", "on", "publish changes to NATS JetStream: on or off")
	fs.StringVar(&c.NATSListen, "nats-listen", "", "TCP client `address` of the embedded NATS server, for --nats-readers (default: none, in-process only)")
	fs.StringVar(&c.NATSURL, "nats-url", "", "`URL` of an external NATS server (nats://...); no embedded server then")
	fs.StringVar(&c.NATSCreds, "nats-creds", "", "NATS credentials `file` for --nats-url")
	fs.StringVar(&c.NATSReaders, "nats-readers", "", "`file` of read-only users of the embedded NATS server, one name:bcrypt-hash a line (htpasswd -nB NAME)")
	fs.StringVar(&c.NATSTLSCA, "nats-tls-ca", "", "CA certificate `file` to verify --nats-url's TLS")
	fs.StringVar(&c.NATSFormat, "nats-format", feed.FormatProto, "payload `format` of published changes: proto or json")
	fs.BoolVar(&c.NATSBody, "nats-body", true, "include object bodies in published changes")
	fs.StringVar(&c.NATSStream, "nats-stream", "ALMANAC", "JetStream stream `name` (created when missing)")
	fs.StringVar(&c.NATSRetain, "nats-retention", "limits", "retention of a created stream: limits, interest or workqueue")
	fs.IntVar(&c.NATSReplicas, "nats-replicas", 1, "replicas of a created stream")
	fs.DurationVar(&c.NATSMaxAge, "nats-max-age", 0, "max age of messages in a created stream (0: forever)")
	fs.Int64Var(&c.NATSMaxBytes, "nats-max-bytes", defaultNATSMaxBytes, "`bytes` a created stream keeps: beyond, its oldest changes are dropped (0: no limit; at least 1 MiB)")
	fs.IntVar(&c.SendBuffer, "feed-send-buffer", 256, "changes queued per gRPC subscriber")
	fs.IntVar(&c.MaxLag, "feed-max-lag", 10000, "events a live gRPC subscriber may fall behind before it is cut off")
}

// defaultNATSMaxBytes is --nats-max-bytes's default. The stream is a
// window on the log for consumers, not a second copy of it: the log keeps
// every change, and a consumer that fell further behind resumes from it
// (gRPC Subscribe from a seq). 8 MiB holds about 4,900 changes of 1 KB
// events with their bodies (~1.7 KB each in the stream's files): what a
// consumer can miss and still resume from the stream. It was 32 MiB, which
// made the stream the largest part of a 10,000-event data directory (16.3
// of 38.5 MiB) and kept it over twice the raw size of the objects.
const defaultNATSMaxBytes = 8 << 20

// feedRuntime is what a running feed hook holds.
type feedRuntime struct {
	grpcAddr   string // bound gRPC address, "" when off or on --listen
	grpcOnHTTP bool   // served on the --listen address
	nats       *feed.Embedded
	natsConn   *nats.Conn
	publisher  *feed.Publisher
	metrics    *feed.Metrics // subscribers and publisher lag, for the status page
}

// feedRuntimes maps an open engine to its feed, for tests.
var feedRuntimes sync.Map // *engine.DB -> *feedRuntime

func runtimeFor(db *engine.DB) *feedRuntime {
	r, _ := feedRuntimes.Load(db)
	rt, _ := r.(*feedRuntime)
	return rt
}

// startFeed registers the feed's metrics and starts the gRPC server and the
// NATS publisher (with the embedded server unless --nats-url is set).
func startFeed(ctx context.Context, env *ServeEnv, cfg feedConfig) (stop func(context.Context) error, err error) {
	if cfg.NATS != "on" && cfg.NATS != "off" {
		return nil, &ConfigError{Field: "nats", Err: fmt.Errorf("want on or off, got %q", cfg.NATS)}
	}
	log := env.Logger.With("component", "feed")
	metrics, err := feed.NewMetrics(env.Metrics, env.DB)
	if err != nil {
		return nil, err
	}

	rt := &feedRuntime{metrics: metrics}
	var stops []func(context.Context) error
	stopAll := func(ctx context.Context) error {
		var errs []error
		for i := len(stops) - 1; i >= 0; i-- {
			errs = append(errs, stops[i](ctx))
		}
		feedRuntimes.Delete(env.DB)
		return errors.Join(errs...)
	}
	defer func() {
		if err != nil {
			_ = stopAll(context.Background())
		}
	}()

	if cfg.GRPCListen != "off" {
		s, err := startGRPC(env, cfg, metrics, log)
		if err != nil {
			return nil, err
		}
		rt.grpcAddr, rt.grpcOnHTTP = s.addr, s.addr == ""
		stops = append(stops, s.stop)
	}
	if cfg.NATS == "on" {
		if err := startNATS(env, cfg, metrics, log, rt, &stops); err != nil {
			return nil, err
		}
	}
	feedRuntimes.Store(env.DB, rt)
	return stopAll, nil
}

type grpcServer struct {
	addr string
	stop func(context.Context) error
}

func startGRPC(env *ServeEnv, cfg feedConfig, metrics *feed.Metrics, log *slog.Logger) (*grpcServer, error) {
	srv, err := feed.NewServer(feed.Options{
		DB:          env.DB,
		Passwords:   env.Auth,
		Bearer:      env.Auth,
		RateLimited: func(err error) bool { return errors.Is(err, auth.ErrRateLimited) },
		Logger:      env.Logger.With("component", "feed"),
		SendBuffer:  cfg.SendBuffer,
		MaxLag:      cfg.MaxLag,
		Metrics:     metrics,
	})
	if err != nil {
		return nil, err
	}
	var opts []grpc.ServerOption
	if env.TLSCert != "" && cfg.GRPCListen != "" {
		creds, err := credentials.NewServerTLSFromFile(env.TLSCert, env.TLSKey)
		if err != nil {
			return nil, fmt.Errorf("grpc: tls: %w", err)
		}
		opts = append(opts, grpc.Creds(creds))
	}
	if cfg.GRPCListen == "" {
		g := srv.NewGRPCServer()
		env.ServeGRPC(g, g.Stop)
		log.Info("gRPC change feed served on the HTTP listener (HTTP/2)", "tls", env.TLSCert != "")
		return &grpcServer{stop: func(context.Context) error { g.Stop(); return nil }}, nil
	}
	lis, err := net.Listen("tcp", cfg.GRPCListen)
	if err != nil {
		return nil, fmt.Errorf("grpc: cannot listen on %s (change --grpc-listen, or set it to off): %w", cfg.GRPCListen, err)
	}
	g := srv.NewGRPCServer(opts...)
	done := make(chan struct{})
	go func() { defer close(done); _ = g.Serve(lis) }()
	log.Info("gRPC change feed listening", "addr", lis.Addr().String(), "tls", env.TLSCert != "")
	return &grpcServer{addr: lis.Addr().String(), stop: func(ctx context.Context) error {
		// Subscribe streams never end by themselves: close them (clients
		// resume from their last seq) instead of waiting.
		g.Stop()
		select {
		case <-done:
			return nil
		case <-ctx.Done():
			return fmt.Errorf("grpc: stop: %w", ctx.Err())
		}
	}}, nil
}

func startNATS(env *ServeEnv, cfg feedConfig, metrics *feed.Metrics, log *slog.Logger, rt *feedRuntime, stops *[]func(context.Context) error) error {
	var nc *nats.Conn
	var err error
	if cfg.NATSMaxBytes != 0 && cfg.NATSMaxBytes < 1<<20 {
		return &ConfigError{Field: "nats-max-bytes", Err: fmt.Errorf("want 0 (no limit) or at least 1 MiB (a change's largest message), got %d", cfg.NATSMaxBytes)}
	}
	if cfg.NATSURL != "" && cfg.NATSReaders != "" {
		return &ConfigError{Field: "nats-readers", Err: errors.New("is for the embedded server; with --nats-url, manage users on that server")}
	}
	if cfg.NATSURL == "" && cfg.NATSReaders != "" && cfg.NATSListen == "" {
		return &ConfigError{Field: "nats-readers", Err: errors.New("readers connect over TCP: set --nats-listen too (e.g. 127.0.0.1:4222)")}
	}
	if env.Cluster != nil && cfg.NATSURL == "" {
		// A cluster node publishes to the log's NATS (the nodes' embedded
		// servers, or --log-nats-url), when it holds the publisher lease.
		if cfg.NATSListen != "" || cfg.NATSReaders != "" {
			return &ConfigError{Field: "nats-listen", Err: errors.New("a cluster node publishes changes to the log's NATS servers, which take no readers: use --nats-url (a NATS of your own) or --nats=off")}
		}
		if nc, err = env.Cluster.connect(nats.Name("almanac"), nats.MaxReconnects(-1), nats.ReconnectBufSize(-1)); err != nil {
			return err
		}
		cfg.NATSReplicas = max(cfg.NATSReplicas, env.Cluster.replicas)
		log.Info("publishing changes to the log's NATS while this node holds the publisher lease", "stream", cfg.NATSStream, "replicas", cfg.NATSReplicas)
	} else if cfg.NATSURL != "" {
		// No reconnect buffer: the publisher re-sends from its cursor
		// (feed.PublisherOptions.Conn).
		opts := []nats.Option{nats.Name("almanac"), nats.RetryOnFailedConnect(true), nats.MaxReconnects(-1), nats.ReconnectBufSize(-1)}
		if cfg.NATSCreds != "" {
			opts = append(opts, nats.UserCredentials(cfg.NATSCreds))
		}
		if cfg.NATSTLSCA != "" {
			opts = append(opts, nats.RootCAs(cfg.NATSTLSCA))
		}
		if nc, err = nats.Connect(cfg.NATSURL, opts...); err != nil {
			return fmt.Errorf("nats: connect %s (--nats-url): %w", cfg.NATSURL, err)
		}
		log.Info("publishing to external NATS", "url", cfg.NATSURL)
	} else {
		var readers []feed.Reader
		if cfg.NATSReaders != "" {
			f, err := os.Open(cfg.NATSReaders)
			if err != nil {
				return &ConfigError{Field: "nats-readers", Err: err}
			}
			readers, err = feed.ReadReaders(f)
			f.Close()
			if err != nil {
				return &ConfigError{Field: "nats-readers", Err: fmt.Errorf("%s: %w", cfg.NATSReaders, err)}
			}
		}
		ns, err := feed.StartEmbedded(feed.EmbeddedOptions{
			StoreDir: filepath.Join(env.DataDir, "nats"), Listen: cfg.NATSListen, ListenFlag: "--nats-listen",
			Stream: cfg.NATSStream, Readers: readers,
		})
		if err != nil {
			return err
		}
		rt.nats = ns
		*stops = append(*stops, func(context.Context) error { ns.Shutdown(); ns.WaitForShutdown(); return nil })
		// In process, as the publisher user (its password lives only in
		// this process's memory).
		nc, err = nats.Connect("", nats.InProcessServer(ns.Server), ns.Auth(), nats.Name("almanac"), nats.ReconnectBufSize(-1), nats.Timeout(inProcessConnectTimeout))
		if err != nil {
			return fmt.Errorf("nats: connect to the embedded server: %w", err)
		}
		if cfg.NATSListen == "" {
			log.Info("embedded NATS in-process only (no TCP port; --nats-listen opens one)", "store", filepath.Join(env.DataDir, "nats"))
		} else {
			log.Info("embedded NATS listening", "addr", ns.ClientURL(), "store", filepath.Join(env.DataDir, "nats"), "readers", len(readers))
		}
	}
	rt.natsConn = nc
	*stops = append(*stops, func(context.Context) error { nc.Close(); return nil })
	p, err := feed.NewPublisher(feed.PublisherOptions{
		DB: env.DB, Conn: nc,
		Stream: feed.StreamConfig{Name: cfg.NATSStream, Retention: cfg.NATSRetain, Replicas: cfg.NATSReplicas, MaxAge: cfg.NATSMaxAge, MaxBytes: cfg.NATSMaxBytes},
		Format: cfg.NATSFormat, IncludeBody: cfg.NATSBody,
		Logger: env.Logger.With("component", "nats"), Metrics: metrics,
	})
	if err != nil {
		return &ConfigError{Field: "nats", Err: err}
	}
	rt.publisher = p
	env.RunOnce("nats", func(ctx context.Context) {
		if err := p.Run(ctx); err != nil {
			log.Error("nats: publisher stopped", "err", err)
		}
	})
	return nil
}
