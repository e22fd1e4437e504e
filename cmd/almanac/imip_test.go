package main

import (
	"context"
	"errors"
	"io"
	"net"
	"path/filepath"
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
	mb.addr = serveSMTP(t, func() smtp.Session { return &mailboxSession{mb: mb} })
	return mb
}

// serveSMTP runs an SMTP server (go-smtp) on a loopback port whose
// sessions session makes, until the test ends, and returns its address.
func serveSMTP(t *testing.T, session func() smtp.Session) string {
	t.Helper()
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return session(), nil }))
	srv.Domain, srv.AllowInsecureAuth = "mailbox.test", true
	srv.ReadTimeout, srv.WriteTimeout = time.Minute, time.Minute
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return l.Addr().String()
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

// aliceOrganizes gives alice the address alice@example.org.
func aliceOrganizes(t *testing.T, srv *testServer) {
	t.Helper()
	if err := srv.DB.UpdateUser(context.Background(), engine.Meta{Actor: "test"}, "alice", func(u *engine.User) error {
		u.Emails = []string{"alice@example.org"}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// TestServeEmail: serve with --smtp-url emails an invitation for an
// attendee no user has, and marks them 1.1 in the organizer's copy.
func TestServeEmail(t *testing.T) {
	mb := newMailbox(t)
	srv := startServer(t, "--smtp-url=smtp://"+mb.addr, "--smtp-insecure", "--smtp-from=calendar@example.org")
	aliceOrganizes(t, srv)
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

// lmtpSend delivers msg over LMTP on the unix socket sock to rcpt and
// returns the SMTP code of the answer.
func lmtpSend(t *testing.T, sock, rcpt, msg string) int {
	t.Helper()
	conn, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	c := smtp.NewClientLMTP(conn)
	defer c.Close()
	if err := c.Hello("mta.test"); err != nil {
		t.Fatal(err)
	}
	if err := c.Mail("bounce@mail.test", nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Rcpt(rcpt, nil); err != nil {
		t.Fatal(err)
	}
	w, err := c.Data()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(w, msg); err != nil {
		t.Fatal(err)
	}
	_, err = w.CloseWithLMTPResponse()
	var le smtp.LMTPDataError
	var se *smtp.SMTPError
	switch {
	case err == nil:
		return 250
	case errors.As(err, &le) && errors.As(le[rcpt], &se):
		return se.Code
	}
	t.Fatalf("LMTP DATA: %v", err)
	return 0
}

// emailReply is a reply email from from whose VEVENT's ATTENDEE att
// answers partstat to alice's meeting uid.
func emailReply(from, att, uid, partstat string) string {
	return "From: " + from + "\r\nTo: alice@example.org\r\nSubject: Re: Budget\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: text/calendar; method=REPLY; charset=utf-8\r\n\r\n" +
		"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//mail//EN\r\nMETHOD:REPLY\r\nBEGIN:VEVENT\r\nUID:" + uid + "\r\n" +
		"DTSTAMP:20260102T000000Z\r\nDTSTART:20260105T100000Z\r\nORGANIZER:mailto:alice@example.org\r\n" +
		"ATTENDEE;PARTSTAT=" + partstat + ":mailto:" + att + "\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
}

// TestServeLMTP: a REPLY an MTA delivers over --lmtp-listen updates the
// organizer's copy (and reaches her inbox); a reply from an address the
// meeting does not invite, or whose ATTENDEE is not its sender, or for a
// meeting alice does not have, is refused with 550 and changes nothing.
func TestServeLMTP(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "lmtp.sock")
	srv := startServer(t, "--lmtp-listen=unix:"+sock)
	aliceOrganizes(t, srv)
	body := "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\nUID:lmtp-1\r\nDTSTAMP:20260101T000000Z\r\n" +
		"DTSTART:20260105T100000Z\r\nDURATION:PT1H\r\nSUMMARY:Budget\r\nORGANIZER:mailto:alice@example.org\r\n" +
		"ATTENDEE;PARTSTAT=NEEDS-ACTION:mailto:ext1@mail.test\r\nATTENDEE;PARTSTAT=NEEDS-ACTION:mailto:ext2@mail.test\r\n" +
		"END:VEVENT\r\nEND:VCALENDAR\r\n"
	srv.Do(t, "PROPFIND", "/dav/home/alice/", "alice", "", "Depth", "0")
	if resp, b := srv.Do(t, "PUT", "/dav/home/alice/calendar/m.ics", "alice", body, "Content-Type", "text/calendar"); resp.StatusCode != 201 && resp.StatusCode != 204 {
		t.Fatalf("PUT: %d %s", resp.StatusCode, b)
	}
	copyOf := func() string {
		_, b := srv.Do(t, "GET", "/dav/home/alice/calendar/m.ics", "alice", "")
		return strings.ReplaceAll(b, "\r\n ", "")
	}
	before := copyOf()
	for what, c := range map[string]struct{ from, att, uid string }{
		"not invited":           {"ext9@mail.test", "ext9@mail.test", "lmtp-1"},
		"another's ATTENDEE":    {"ext9@mail.test", "ext2@mail.test", "lmtp-1"},
		"no such meeting":       {"ext1@mail.test", "ext1@mail.test", "other"},
		"to an address no user": {"ext1@mail.test", "ext1@mail.test", "lmtp-1"},
	} {
		rcpt := "alice@example.org"
		if what == "to an address no user" {
			rcpt = "nobody@example.org"
		}
		if got := lmtpSend(t, sock, rcpt, emailReply(c.from, c.att, c.uid, "ACCEPTED")); got != 550 {
			t.Errorf("%s: LMTP answer %d, want 550", what, got)
		}
	}
	if after := copyOf(); after != before {
		t.Errorf("refused replies changed the organizer's copy:\n%s", after)
	}
	if got := lmtpSend(t, sock, "alice@example.org", emailReply("Ext One <EXT1@Mail.test>", "ext1@mail.test", "lmtp-1", "ACCEPTED")); got != 250 {
		t.Fatalf("invited attendee's reply: LMTP answer %d, want 250; logs:\n%s", got, srv.Logs)
	}
	after := copyOf()
	if !strings.Contains(after, "PARTSTAT=ACCEPTED") || !strings.Contains(after, "PARTSTAT=NEEDS-ACTION") {
		t.Errorf("organizer's copy after ext1 accepted:\n%s", after)
	}
	if _, b := srv.Do(t, "PROPFIND", "/dav/home/alice/inbox/", "alice", "", "Depth", "1"); strings.Count(b, ".ics</") != 1 {
		t.Errorf("alice's inbox, want the one reply:\n%s", b)
	}
}
