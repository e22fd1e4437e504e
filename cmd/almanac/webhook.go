package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/almanac/almanac/dav/audit"
	"github.com/almanac/almanac/engine"
	"github.com/almanac/almanac/webhook"
)

func init() {
	register(Command{
		Name: "webhook",
		Usage: "add URL [--owner USER] [--principal P] [--collection PREFIX] [--kinds calendar,contacts] [--ops put,delete,...] [--include-body] | " +
			"list | delete ID | resume ID | pause ID" + shareTarget,
		Summary: "POST every change (JSON almanac.feed.v1.Change, Standard Webhooks signature) to a URL; while a server runs on --data, through its admin API",
		Run: func(ctx context.Context, args []string) error {
			return newShareCLI().webhook(ctx, args)
		},
	})
	registerServeHook(ServeHook{
		Name: "webhook",
		Flags: func(fs *flag.FlagSet) StartFunc {
			maxOutage := fs.Duration("webhook-max-outage", 24*time.Hour, "a webhook failing this long is paused (`almanac webhook resume ID` continues from its cursor)")
			timeout := fs.Duration("webhook-timeout", 10*time.Second, "how long one webhook POST may take")
			private := fs.Bool("webhook-allow-private", false, "let users' webhooks reach loopback, private and link-local addresses (administrators' webhooks always may)")
			return func(ctx context.Context, env *ServeEnv) (func(context.Context) error, error) {
				return startWebhooks(ctx, env, webhook.Options{MaxOutage: *maxOutage, Timeout: *timeout, AllowPrivate: *private})
			}
		},
	})
}

// startWebhooks starts the delivery of webhooks and hands the admin and
// user APIs what it knows of each.
func startWebhooks(_ context.Context, env *ServeEnv, opts webhook.Options) (func(context.Context) error, error) {
	if opts.MaxOutage <= 0 || opts.Timeout <= 0 {
		return nil, &ConfigError{Field: "webhook-max-outage", Err: errors.New("--webhook-max-outage and --webhook-timeout must be positive")}
	}
	m, err := webhook.NewMetrics(env.Metrics)
	if err != nil {
		return nil, err
	}
	opts.DB, opts.Logger, opts.Metrics = env.DB, env.Logger.With("component", "webhook"), m
	d, err := webhook.New(opts)
	if err != nil {
		return nil, err
	}
	env.WebhookStatus = func(id string) audit.WebhookStatus {
		s := d.Status(id)
		return audit.WebhookStatus{Running: s.Running, Cursor: s.Cursor, LastError: s.LastError, FailingSince: s.FailingSince}
	}
	env.RunOnce("webhook", func(ctx context.Context) { _ = d.Run(ctx) })
	return nil, nil
}

// webhook is `almanac webhook add|list|delete|resume|pause`.
func (c *shareCLI) webhook(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: missing subcommand (add, list, delete, resume, pause)", errUsage)
	}
	sub, args := args[0], args[1:]
	if isHelpArg(sub) {
		sub, args = "add", []string{"-h"}
	}
	n := map[string]int{"add": 1, "list": 0, "delete": 1, "resume": 1, "pause": 1}[sub]
	if _, ok := map[string]bool{"add": true, "list": true, "delete": true, "resume": true, "pause": true}[sub]; !ok {
		return fmt.Errorf("%w: unknown subcommand %q (add, list, delete, resume, pause)", errUsage, sub)
	}
	var q audit.WebhookRequest
	var kinds, ops string
	cmd, err := c.cliFlags("webhook", sub, args, n, func(fs *flag.FlagSet) {
		if sub != "add" {
			return
		}
		fs.StringVar(&q.Owner, "owner", "", "send only what `USER` may read, and keep off internal addresses (default: everything, any address)")
		fs.StringVar(&q.Principal, "principal", "", "only the changes of this `user`'s collections")
		fs.StringVar(&q.Collection, "collection", "", "only the changes of collections whose path starts with `PREFIX` (USER/NAME or /dav/home/...)")
		fs.StringVar(&kinds, "kinds", "", "only these comma-separated collection `kinds` (calendar, contacts)")
		fs.StringVar(&ops, "ops", "", "only these comma-separated `operations` ("+opNames()+")")
		fs.BoolVar(&q.IncludeBody, "include-body", false, "send object bodies (up to 1 MiB each)")
	})
	if err != nil {
		return err
	}
	q.Op = "webhook-" + sub
	switch sub {
	case "add":
		q.URL = cmd.pos[0]
		if q.Collection != "" {
			q.Collection = collectionPath(q.Collection)
		}
		q.Kinds, q.Ops = splitList(kinds), splitList(ops)
	case "delete", "resume", "pause":
		q.ID = cmd.pos[0]
	}
	res, err := c.runWebhook(ctx, cmd, "webhook "+sub, q)
	if err != nil {
		return fmt.Errorf("webhook %s: %w", sub, err)
	}
	switch sub {
	case "add":
		w := res.Webhook
		if w == nil {
			return errors.New("webhook add: the answer holds no webhook")
		}
		fmt.Fprintf(c.stdout, "webhook %s -> %s\nsecret (shown once; verify each request's webhook-signature with it):\n  %s\n", w.ID, w.URL, w.Secret)
	case "list":
		for _, w := range res.Webhooks {
			state := "active"
			if w.Paused {
				state = "paused"
			} else if w.LastError != "" {
				state = "failing"
			}
			owner := w.Owner
			if owner == "" {
				owner = "(admin)"
			}
			fmt.Fprintf(c.stdout, "%s\t%s\t%s\towner=%s\tcursor=%d\tlag=%d", w.ID, state, w.URL, owner, w.Cursor, w.Lag)
			for _, f := range []struct{ k, v string }{{"principal", w.Principal}, {"collection", w.Collection},
				{"kinds", strings.Join(w.Kinds, ",")}, {"ops", strings.Join(w.Ops, ",")}, {"reason", w.Reason}, {"last_error", w.LastError}} {
				if f.v != "" {
					fmt.Fprintf(c.stdout, "\t%s=%q", f.k, f.v)
				}
			}
			if w.IncludeBody {
				fmt.Fprint(c.stdout, "\tinclude-body")
			}
			fmt.Fprintln(c.stdout)
		}
	default:
		fmt.Fprintf(c.stdout, "webhook %s: %s\n", q.ID, map[string]string{"delete": "deleted", "resume": "resumed", "pause": "paused"}[sub])
	}
	return nil
}

// runWebhook sends q to the data directory or the running server's admin
// API, like run does for sharing.
func (c *shareCLI) runWebhook(ctx context.Context, cmd *shareCmd, what string, q audit.WebhookRequest) (*audit.WebhookResult, error) {
	acc, release, err := c.open(cmd, what)
	if err != nil {
		return nil, err
	}
	defer release()
	s, ok := acc.(audit.Webhooks)
	if !ok {
		return nil, fmt.Errorf("%s: %T cannot manage webhooks", what, acc)
	}
	return s.Webhook(ctx, q)
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func opNames() string {
	var names []string
	for _, o := range engine.WebhookOps {
		names = append(names, o.String())
	}
	return strings.Join(names, ", ")
}
