package main

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/almanac/almanac/engine"
	"github.com/emersion/go-smtp"
)

// mailbox is an SMTP server (go-smtp) on a loopback port that keeps the
// recipients and bodies it accepts.
type mailbox struct {
	mu   sync.Mutex
	got  []string // "to\nbody"
	addr string
}

func newMailbox(t *testing.T) *mailbox {
	t.Helper()
	mb := &mailbox{}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &mailboxSession{mb: mb}, nil }))
	srv.Domain, srv.AllowInsecureAuth = "mailbox.test", true
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	mb.addr = l.Addr().String()
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return mb
}

func (mb *mailbox) messages() []string {
	mb.mu.Lock()
	defer mb.mu.Unlock()
	return append([]string(nil), mb.got...)
}

type mailboxSession struct {
	mb *mailbox
	to string
}

func (s *mailboxSession) Reset()                                    {}
func (s *mailboxSession) Logout() error                             { return nil }
func (s *mailboxSession) Mail(string, *smtp.MailOptions) error      { return nil }
func (s *mailboxSession) Rcpt(to string, _ *smtp.RcptOptions) error { s.to = to; return nil }
func (s *mailboxSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.mb.mu.Lock()
	defer s.mb.mu.Unlock()
	s.mb.got = append(s.mb.got, s.to+"\n"+string(b))
	return nil
}

// TestServeEmail: serve with --smtp-url emails an invitation for an
// attendee no user has, and marks them 1.1 in the organizer's copy.
func TestServeEmail(t *testing.T) {
	mb := newMailbox(t)
	srv := startServer(t, "--smtp-url=smtp://"+mb.addr, "--smtp-insecure", "--smtp-from=calendar@example.org")
	ctx := context.Background()
	if err := srv.DB.UpdateUser(ctx, engine.Meta{Actor: "test"}, "alice", func(u *engine.User) error {
		u.Emails = []string{"alice@example.org"}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	body := "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\nUID:serve-mail\r\nDTSTAMP:20260101T000000Z\r\n" +
		"DTSTART:20260105T100000Z\r\nDURATION:PT1H\r\nSUMMARY:Budget\r\nORGANIZER:mailto:alice@example.org\r\n" +
		"ATTENDEE;PARTSTAT=NEEDS-ACTION:mailto:ext@mail.test\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
	srv.Do(t, "PROPFIND", "/dav/home/alice/", "alice", "", "Depth", "0")
	if resp, b := srv.Do(t, "PUT", "/dav/home/alice/calendar/m.ics", "alice", body, "Content-Type", "text/calendar"); resp.StatusCode != 201 && resp.StatusCode != 204 {
		t.Fatalf("PUT: %d %s", resp.StatusCode, b)
	}
	for deadline := time.Now().Add(60 * time.Second); len(mb.messages()) == 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no email; logs:\n%s", srv.Logs)
		}
	}
	m := mb.messages()[0]
	if !strings.HasPrefix(m, "ext@mail.test\n") || !strings.Contains(m, "method=REQUEST") || !strings.Contains(m, "Subject: Invitation: Budget") {
		t.Errorf("email:\n%s", m)
	}
	if _, b := srv.Do(t, "GET", "/dav/home/alice/calendar/m.ics", "alice", ""); !strings.Contains(b, "SCHEDULE-STATUS=1.1:mailto:ext@mail.test") {
		t.Errorf("organizer's copy:\n%s", b)
	}
}

// TestIMIPConfig: the --smtp-* flags that need --smtp-url, and --smtp-from
// with it.
func TestIMIPConfig(t *testing.T) {
	getenv := func(string) string { return "" }
	for _, c := range []imipConfig{{from: "a@x.test"}, {insecure: true}, {passwordFile: "/p"}, {url: "smtp://mail.test"},
		{url: "smtp://mail.test", from: "a@x.test", insecure: true}} {
		var ce *ConfigError
		if _, err := c.smtp(getenv); !errors.As(err, &ce) {
			t.Errorf("%+v: %v, want a ConfigError", c, err)
		}
	}
	s, err := imipConfig{url: "smtp://me@mail.test", from: "a@x.test"}.smtp(func(k string) string {
		if k == "ALMANAC_SMTP_PASSWORD" {
			return "pw"
		}
		return ""
	})
	if err != nil || s.Password != "pw" {
		t.Errorf("password from the environment: %+v, %v", s, err)
	}
}
