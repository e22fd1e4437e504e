package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/almanac/almanac/engine"
	"github.com/almanac/almanac/push"
)

// WebDAV-Push: the serve hook starts the push sender (package push) and
// hands it to the DAV handler; `almanac push key rotate` replaces the
// VAPID key pair in DATA/push/vapid.json.

func init() {
	registerServeHook(ServeHook{Name: "push", Flags: func(fs *flag.FlagSet) StartFunc {
		cfg := &pushConfig{}
		cfg.register(fs)
		return func(ctx context.Context, env *ServeEnv) (func(context.Context) error, error) {
			return startPush(ctx, env, *cfg)
		}
	}})
	register(Command{
		Name:    "push",
		Usage:   "key rotate [--data DIR]",
		Summary: "replace the VAPID key pair of WebDAV-Push; every registration gets a property-update (a running server picks it up within 2 s)",
		Run: func(ctx context.Context, args []string) error {
			return runPushCLI(ctx, args, os.Stdout, os.Getenv)
		},
	})
}

// pushConfig holds serve's WebDAV-Push flags.
type pushConfig struct {
	Push             string
	MinInterval      time.Duration
	PrivateEndpoints bool
	Contact          string
	Concurrency      int
	Timeout          time.Duration
}

func (c *pushConfig) register(fs *flag.FlagSet) {
	fs.StringVar(&c.Push, "push", "on", "WebDAV-Push to phones and desktops (DAVx5 with a UnifiedPush distributor): on or off")
	fs.DurationVar(&c.MinInterval, "push-min-interval", time.Second, "least time between two push messages to one registration; changes in between are merged (the latest sync-token goes)")
	fs.BoolVar(&c.PrivateEndpoints, "push-private-endpoints", false, "let push resources be plain http and loopback, private or link-local addresses (a push service on your LAN); by default only https to public addresses")
	fs.StringVar(&c.Contact, "push-contact", "mailto:postmaster@localhost", "`URL` (mailto: or https:) push services may contact about this server's messages (VAPID sub)")
	fs.IntVar(&c.Concurrency, "push-concurrency", 32, "most push POSTs in flight")
	fs.DurationVar(&c.Timeout, "push-timeout", 10*time.Second, "time limit of one push POST, connection included")
}

// pushDir is where the VAPID keys live.
func pushDir(dataDir string) string { return filepath.Join(dataDir, "push") }

// keyPoll is how often a running server looks for a rotated key file.
const keyPoll = 2 * time.Second

func startPush(ctx context.Context, env *ServeEnv, c pushConfig) (func(context.Context) error, error) {
	switch c.Push {
	case "off":
		return nil, nil
	case "on":
	default:
		return nil, &ConfigError{Field: "push", Err: fmt.Errorf("%q is neither on nor off", c.Push)}
	}
	if c.MinInterval <= 0 || c.Concurrency <= 0 || c.Timeout <= 0 {
		return nil, &ConfigError{Field: "push-min-interval", Err: errors.New("--push-min-interval, --push-concurrency and --push-timeout must be positive")}
	}
	keys, created, err := push.LoadKeys(pushDir(env.DataDir))
	if err != nil {
		return nil, err
	}
	log := env.Logger.With("component", "push")
	if created {
		log.Info("push: VAPID key pair made", "file", keys.Path())
	}
	// Records the first key, and a rotation made while the server was
	// stopped: the sender then sends every registration a property-update.
	if err := env.DB.RotatePushKey(ctx, engine.Meta{Actor: "almanac"}, keys.Current().Public); err != nil {
		return nil, fmt.Errorf("record the VAPID key: %w", err)
	}
	m, err := push.NewMetrics(env.Metrics)
	if err != nil {
		return nil, err
	}
	s, err := push.NewSender(push.Options{DB: env.DB, Keys: keys, MinInterval: c.MinInterval, Concurrency: c.Concurrency,
		Timeout: c.Timeout, Contact: c.Contact, AllowPrivate: c.PrivateEndpoints, Logger: log, Metrics: m})
	if err != nil {
		return nil, err
	}
	env.RunOnce("push", func(ctx context.Context) {
		if err := s.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
			log.Error("push: sender stopped", "err", err)
		}
	})
	// Every node watches the key file: a rotation is recorded once (an
	// event), by whichever node sees it first.
	rctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		watchKeys(rctx, env.DB, keys, log)
	}()
	env.SetPush(s)
	return func(ctx context.Context) error {
		cancel()
		select {
		case <-done:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}, nil
}

// watchKeys reloads the key file when `almanac push key rotate` replaced
// it and records the rotation in the log.
func watchKeys(ctx context.Context, db *engine.DB, keys *push.Keys, log interface {
	Info(string, ...any)
	Warn(string, ...any)
}) {
	last := modTime(keys.Path())
	t := time.NewTicker(keyPoll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		mt := modTime(keys.Path())
		if mt.Equal(last) {
			continue
		}
		if err := keys.Reload(); err != nil {
			log.Warn("push: reload VAPID keys", "err", err)
			continue
		}
		last = mt
		if err := db.RotatePushKey(ctx, engine.Meta{Actor: "almanac"}, keys.Current().Public); err != nil {
			log.Warn("push: record the VAPID key", "err", err)
			continue
		}
		log.Info("push: VAPID key rotated", "public_key", keys.Current().Public)
	}
}

func modTime(path string) time.Time {
	fi, err := os.Stat(path)
	if err != nil {
		return time.Time{}
	}
	return fi.ModTime()
}

// runPushCLI is `almanac push key rotate`.
func runPushCLI(ctx context.Context, args []string, stdout io.Writer, getenv func(string) string) error {
	if len(args) > 0 && isHelpArg(args[0]) {
		args = []string{"-h"}
	}
	fs := flag.NewFlagSet("push", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	data := fs.String("data", defaultDataDir, "data `directory` of the server (the keys are DIR/push/vapid.json)")
	fs.String(configFlag, "", "TOML `file` of the server, for its data setting")
	pos, err := parseInterspersed(fs, args, getenv)
	if err != nil {
		return err
	}
	if len(pos) != 2 || pos[0] != "key" || pos[1] != "rotate" {
		return fmt.Errorf("%w: push key rotate", errUsage)
	}
	keys, err := push.RotateKeys(pushDir(*data))
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "new VAPID public key %s\n", keys.Current().Public)
	db, err := openDB(*data, nil)
	if errors.Is(err, errDataDirInUse) {
		fmt.Fprintf(stdout, "the running server sends every registration a property-update within %v\n", keyPoll)
		return nil
	}
	if err != nil {
		return err
	}
	defer db.Close()
	if err := db.RotatePushKey(ctx, engine.Meta{Actor: "cli"}, keys.Current().Public); err != nil {
		return fmt.Errorf("record the VAPID key: %w", err)
	}
	fmt.Fprintln(stdout, "recorded; every registration gets a property-update when the server starts")
	return nil
}
