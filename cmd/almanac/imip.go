package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/almanac/almanac/dav"
	"github.com/almanac/almanac/dav/sched"
	"github.com/almanac/almanac/engine"
	"github.com/almanac/almanac/imip"
	"github.com/almanac/almanac/itip"
	"golang.org/x/net/netutil"
)

// Email invitations (iMIP, package imip): --smtp-url turns them on; the
// sender follows the log while serve runs.

func init() {
	registerServeHook(ServeHook{
		Name: "imip",
		Flags: func(fs *flag.FlagSet) StartFunc {
			var c imipConfig
			fs.StringVar(&c.url, "smtp-url", "", "send invitations, replies and cancellations to addresses no user has by email through this SMTP server: `URL` smtp://[user@]host[:port] (STARTTLS, port 587) or smtps://[user@]host[:port] (TLS, 465); password in ALMANAC_SMTP_PASSWORD or --smtp-password-file (default: no email)")
			fs.StringVar(&c.from, "smtp-from", "", "envelope sender and Sender header of the emails, where bounces go (required with --smtp-url)")
			fs.StringVar(&c.passwordFile, "smtp-password-file", "", "`file` holding the SMTP user's password (one line); ALMANAC_SMTP_PASSWORD otherwise")
			fs.BoolVar(&c.insecure, "smtp-insecure", false, "send without STARTTLS (only for an smtp:// server on a loopback address)")
			fs.StringVar(&c.lmtp, "lmtp-listen", "", "receive scheduling messages by email (replies to the users' invitations; invitations and cancellations from organizers elsewhere): an LMTP listener an MTA delivers the users' mail to, a unix socket `path` (mode 0660) or a TCP address (default: none)")
			return func(ctx context.Context, env *ServeEnv) (func(context.Context) error, error) {
				return startIMIP(ctx, env, c)
			}
		},
	})
}

type imipConfig struct {
	url, from, passwordFile, lmtp string
	insecure                      bool
}

// smtp returns the SMTP of c, nil without --smtp-url.
func (c imipConfig) smtp(getenv func(string) string) (*imip.SMTP, error) {
	if c.url == "" {
		for _, f := range []struct {
			name string
			set  bool
		}{{"smtp-from", c.from != ""}, {"smtp-password-file", c.passwordFile != ""}, {"smtp-insecure", c.insecure}} {
			if f.set {
				return nil, &ConfigError{Field: f.name, Err: errors.New("needs --smtp-url")}
			}
		}
		return nil, nil
	}
	if c.from == "" {
		return nil, &ConfigError{Field: "smtp-from", Err: errors.New("required with --smtp-url")}
	}
	pw := getenv("ALMANAC_SMTP_PASSWORD")
	if c.passwordFile != "" {
		b, err := os.ReadFile(c.passwordFile)
		if err != nil {
			return nil, &ConfigError{Field: "smtp-password-file", Err: err}
		}
		pw = strings.TrimRight(string(b), "\r\n")
	}
	s, err := imip.ParseSMTP(c.url, pw, c.from, c.insecure)
	if err != nil {
		return nil, &ConfigError{Field: "smtp-url", Err: err}
	}
	return s, nil
}

// startIMIP starts the iMIP sender when --smtp-url is set: on one node
// of a cluster at a time (RunOnce), from its cursor.
func startIMIP(_ context.Context, env *ServeEnv, c imipConfig) (func(context.Context) error, error) {
	getenv := env.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	mail, err := c.smtp(getenv)
	if err != nil {
		return nil, err
	}
	var stop func(context.Context) error
	if c.lmtp != "" {
		r := &receiver{}
		if stop, err = startLMTP(env, c.lmtp, r); err != nil {
			return nil, err
		}
		env.SetEmail(mail != nil, r.ready)
	} else if mail != nil {
		env.SetEmail(true, nil)
	}
	if mail == nil {
		return stop, nil
	}
	s := &imip.Sender{DB: env.DB, Mail: mail, From: c.from, Logger: env.Logger.With("component", "imip")}
	env.RunOnce("imip", func(ctx context.Context) {
		for {
			err := s.Run(ctx)
			if ctx.Err() != nil || errors.Is(err, engine.ErrClosed) {
				return
			}
			// A failed cursor write (disk full): the messages stay in
			// the log; start again from the cursor after a pause.
			env.Logger.Error("imip: sender stopped, restarting in 10s", "err", err)
			select {
			case <-time.After(10 * time.Second):
			case <-ctx.Done():
				return
			}
		}
	})
	return stop, nil
}

// receiver applies the messages of the LMTP listener through the DAV
// handler once it is built (until then they wait: 451).
type receiver struct{ h atomic.Pointer[dav.Handler] }

func (r *receiver) ready(h *dav.Handler) { r.h.Store(h) }

// Receive implements imip.Receiver: a message from no invited attendee
// or no organizer of the meeting, to no user, with too many attendees,
// or no valid iTIP message is refused for good.
func (r *receiver) Receive(ctx context.Context, recipient, sender, method string, cal []byte) error {
	h := r.h.Load()
	if h == nil {
		return errors.New("the server is starting")
	}
	err := h.ReceiveEmail(ctx, engine.Meta{Actor: "mailto:" + sender, UserAgent: "almanac lmtp"}, recipient, sender, method, cal)
	var pe *itip.PreconditionError
	if errors.Is(err, sched.ErrNotInvited) || errors.Is(err, sched.ErrNoOrganizer) || errors.Is(err, sched.ErrMaxAttendees) ||
		errors.Is(err, itip.ErrInvalidMessage) || errors.As(err, &pe) {
		return fmt.Errorf("%w: %v", imip.ErrRefused, err)
	}
	return err
}

// startLMTP listens on addr for the scheduling messages an MTA delivers.
func startLMTP(env *ServeEnv, addr string, r imip.Receiver) (func(context.Context) error, error) {
	l, err := imip.Listen(addr)
	if err != nil {
		return nil, &ConfigError{Field: "lmtp-listen", Err: err}
	}
	l = netutil.LimitListener(l, maxLMTPConns)
	srv := (&imip.LMTP{Receiver: r, Logger: env.Logger.With("component", "lmtp")}).Server(true)
	go srv.Serve(l)
	env.Logger.Info("imip: LMTP listening", "addr", addr)
	return func(ctx context.Context) error {
		if err := srv.Shutdown(ctx); err != nil {
			return fmt.Errorf("lmtp: stop: %w", err)
		}
		return nil
	}, nil
}

// maxLMTPConns bounds the MTA's connections at once; more wait.
const maxLMTPConns = 16
