package imip

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/almanac/almanac/engine"
	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// SMTP says where and how to submit mail.
type SMTP struct {
	// URL is smtp://[user@]host[:port] (STARTTLS, port 587 by default) or
	// smtps://[user@]host[:port] (TLS from the start, port 465).
	URL *url.URL
	// Password is the user's, for AUTH PLAIN (only over TLS, or with
	// Insecure on a loopback host).
	Password string
	// From is the envelope sender (bounces come back to it) and the
	// Sender header when it is not the originator. Required.
	From string
	// Insecure allows smtp:// without STARTTLS; ParseSMTP accepts it
	// for a loopback host only.
	Insecure bool
	// TLS is the TLS configuration (tests: a private CA). Default: the
	// system's roots, the URL's host as server name.
	TLS *tls.Config
	// Timeout bounds one submission (connect, every command, the data).
	// Default 1 minute.
	Timeout time.Duration
}

// ParseSMTP checks rawURL, from and insecure and returns the SMTP they
// make.
func ParseSMTP(rawURL, password, from string, insecure bool) (*SMTP, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("imip: SMTP URL: %w", err)
	}
	if u.Scheme != "smtp" && u.Scheme != "smtps" {
		return nil, fmt.Errorf("imip: SMTP URL %q: the scheme must be smtp or smtps", u.Redacted())
	}
	if u.Hostname() == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
		return nil, fmt.Errorf("imip: SMTP URL %q: want smtp[s]://[user@]host[:port]", u.Redacted())
	}
	if _, set := u.User.Password(); set {
		return nil, fmt.Errorf("imip: SMTP URL %q holds a password: give it in ALMANAC_SMTP_PASSWORD or a file", u.Redacted())
	}
	if insecure && (u.Scheme != "smtp" || !loopback(u.Hostname())) {
		return nil, fmt.Errorf("imip: insecure SMTP (no STARTTLS) is only for smtp:// to a loopback host, not %s", u.Redacted())
	}
	if _, err := engine.NormalizeEmail(from); err != nil {
		return nil, fmt.Errorf("imip: the SMTP sender address: %w", err)
	}
	if password != "" && u.User.Username() == "" {
		return nil, fmt.Errorf("imip: an SMTP password without a user: give it in the URL (smtp://user@host)")
	}
	return &SMTP{URL: u, Password: password, From: from, Insecure: insecure}, nil
}

func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (s *SMTP) addr() string {
	port := s.URL.Port()
	if port == "" {
		port = "587"
		if s.URL.Scheme == "smtps" {
			port = "465"
		}
	}
	return net.JoinHostPort(s.URL.Hostname(), port)
}

func (s *SMTP) timeout() time.Duration {
	if s.Timeout > 0 {
		return s.Timeout
	}
	return time.Minute
}

func (s *SMTP) tlsConfig() *tls.Config {
	if s.TLS != nil {
		return s.TLS
	}
	return &tls.Config{ServerName: s.URL.Hostname(), MinVersion: tls.VersionTLS12}
}

// Send submits msg from the envelope sender s.From to rcpt. A refusal
// of the server comes back as a *smtp.SMTPError (Permanent tells whether
// to try again).
func (s *SMTP) Send(ctx context.Context, rcpt string, msg []byte) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout())
	defer cancel()
	d := &net.Dialer{}
	conn, err := d.DialContext(ctx, "tcp", s.addr())
	if err != nil {
		return fmt.Errorf("imip: connect to %s: %w", s.addr(), err)
	}
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() }) // leave when ctx ends
	defer stop()
	var c *smtp.Client
	switch {
	case s.URL.Scheme == "smtps":
		tc := tls.Client(conn, s.tlsConfig())
		if err := tc.HandshakeContext(ctx); err != nil {
			conn.Close()
			return fmt.Errorf("imip: TLS with %s: %w", s.addr(), err)
		}
		c = smtp.NewClient(tc)
	case s.Insecure:
		c = smtp.NewClient(conn)
	default:
		if c, err = smtp.NewClientStartTLS(conn, s.tlsConfig()); err != nil {
			conn.Close()
			return fmt.Errorf("imip: STARTTLS with %s: %w", s.addr(), err)
		}
	}
	defer c.Close()
	c.CommandTimeout, c.SubmissionTimeout = s.timeout(), s.timeout()
	if host, err := os.Hostname(); err == nil {
		if err := c.Hello(host); err != nil {
			return fmt.Errorf("imip: EHLO to %s: %w", s.addr(), err)
		}
	}
	if user := s.URL.User.Username(); user != "" {
		if err := c.Auth(sasl.NewPlainClient("", user, s.Password)); err != nil {
			return fmt.Errorf("imip: authenticate to %s as %s: %w", s.addr(), user, err)
		}
	}
	if err := c.SendMail(s.From, []string{rcpt}, bytes.NewReader(msg)); err != nil {
		return fmt.Errorf("imip: send to %s through %s: %w", rcpt, s.addr(), err)
	}
	_ = c.Quit() // the message is accepted; a failed QUIT changes nothing
	return nil
}

// Permanent reports whether err is a refusal for good (an SMTP 5xx reply):
// sending again would fail again.
func Permanent(err error) bool {
	var se *smtp.SMTPError
	return errors.As(err, &se) && se.Code >= 500 && se.Code < 600
}

// Submitter submits one email; *SMTP is one.
type Submitter interface {
	Send(ctx context.Context, rcpt string, msg []byte) error
}

// Sender sends the queued iMIP messages of the log.
type Sender struct {
	// DB is the log. Required.
	DB *engine.DB
	// Mail submits the messages. Required.
	Mail Submitter
	// From is the server's address (the Sender header, the Message-ID's
	// domain).
	From string
	// MinBackoff is the wait before the first retry of a message, doubled
	// on each failure up to MaxBackoff (each wait drawn between half and
	// all of it). Defaults 1s and 5m.
	MinBackoff, MaxBackoff time.Duration
	// MaxAge is how long a message is retried after it was queued before
	// it is given up on (an engine.OpIMIPFailed event). Default 72h, an
	// MTA's usual queue lifetime.
	MaxAge time.Duration
	// Logger receives a line per message sent, retried or given up on.
	// Default: discard.
	Logger *slog.Logger
	// Now is the clock. Default time.Now.
	Now func() time.Time

	// accepted, when set (tests), runs after the mail server accepted
	// the message of seq and before the cursor moves; its error stops
	// Run there, as a crash would.
	accepted func(seq engine.Seq) error
}

// readChunk bounds the events Run reads through one view (and holds).
const readChunk = 256

// Run sends until ctx ends: from the cursor on, every OpIMIPQueued event
// in order, one at a time, each retried until the mail server accepts or
// refuses it for good (or MaxAge passes), then waits for more. It returns
// ctx's error or engine.ErrClosed.
func (s *Sender) Run(ctx context.Context) error {
	s.defaults()
	cur, err := s.DB.Cursor(engine.IMIPCursor)
	if err != nil {
		return err
	}
	saved := cur
	for {
		batch, last, head, err := s.read(cur + 1)
		if err != nil {
			return err
		}
		for _, ev := range batch {
			if err := s.deliver(ctx, ev); err != nil {
				return err
			}
			if s.accepted != nil {
				if err := s.accepted(ev.Seq); err != nil {
					return err
				}
			}
			// The window of a duplicate: between the acceptance above
			// and this synced write.
			if err := s.DB.SetCursor(engine.IMIPCursor, ev.Seq); err != nil {
				return err
			}
			cur, saved = ev.Seq, ev.Seq
		}
		if last > cur {
			cur = last
		}
		if cur >= head {
			if cur != saved { // skipped other events: remember
				if err := s.DB.SetCursor(engine.IMIPCursor, cur); err != nil {
					return err
				}
				saved = cur
			}
			if _, err := s.DB.Wait(ctx, head); err != nil {
				return err
			}
		}
	}
}

func (s *Sender) defaults() {
	if s.MinBackoff <= 0 {
		s.MinBackoff = time.Second
	}
	if s.MaxBackoff < s.MinBackoff {
		s.MaxBackoff = max(5*time.Minute, s.MinBackoff)
	}
	if s.MaxAge <= 0 {
		s.MaxAge = 72 * time.Hour
	}
	if s.Logger == nil {
		s.Logger = slog.New(slog.DiscardHandler)
	}
	if s.Now == nil {
		s.Now = time.Now
	}
}

// read returns the OpIMIPQueued events of up to readChunk events from
// from on, the last seq read and the view's head.
func (s *Sender) read(from engine.Seq) (batch []*engine.Event, last, head engine.Seq, err error) {
	v, err := s.DB.View()
	if err != nil {
		return nil, 0, 0, err
	}
	defer v.Close()
	head = v.Head()
	n := 0
	for ev, err := range v.Log(from) {
		if err != nil {
			return nil, 0, 0, err
		}
		if ev.Op == engine.OpIMIPQueued && ev.IMIP != nil {
			batch = append(batch, ev)
		}
		last = ev.Seq
		if n++; n == readChunk {
			break
		}
	}
	return batch, last, head, nil
}

// deliver sends ev's message until it is accepted, refused for good or
// too old (both recorded as engine.OpIMIPFailed), or ctx ends.
func (s *Sender) deliver(ctx context.Context, ev *engine.Event) error {
	m := ev.IMIP
	log := s.Logger.With("seq", uint64(ev.Seq), "method", m.Method, "to", m.Recipient, "uid", m.UID)
	body, err := Compose(m, ev.Seq, ev.Time, s.From)
	if err != nil {
		return s.giveUp(ctx, ev, log, err)
	}
	rcpt := strings.TrimPrefix(m.Recipient, "mailto:")
	wait := s.MinBackoff
	for {
		err := s.Mail.Send(ctx, rcpt, body)
		switch {
		case err == nil:
			log.Info("imip: sent", "message_id", MessageID(m, ev.Seq, s.From))
			return nil
		case ctx.Err() != nil:
			return ctx.Err()
		case Permanent(err), s.Now().Sub(ev.Time) > s.MaxAge:
			return s.giveUp(ctx, ev, log, err)
		}
		d := wait/2 + rand.N(wait/2+1)
		log.Warn("imip: send failed, retrying", "err", err, "in", d.String())
		select {
		case <-time.After(d):
		case <-ctx.Done():
			return ctx.Err()
		}
		wait = min(wait*2, s.MaxBackoff)
	}
}

func (s *Sender) giveUp(ctx context.Context, ev *engine.Event, log *slog.Logger, cause error) error {
	log.Error("imip: message given up", "err", cause)
	return s.DB.IMIPFailed(ctx, engine.Meta{Actor: "imip", Reason: "iMIP message " + strconv.FormatUint(uint64(ev.Seq), 10) + " given up"},
		ev.Seq, ev.IMIP, cause.Error())
}
