package main

import (
	"context"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/almanac/almanac/engine"
)

// invitation is an email from from (the header) carrying an iTIP message
// of method for meeting uid organized by org, inviting atts.
func invitation(from, method, org, uid string, seq int, atts ...string) string {
	var b strings.Builder
	b.WriteString("From: " + from + "\r\nTo: alice@example.org\r\nSubject: Invitation\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: text/calendar; method=" + method + "; charset=utf-8\r\n\r\n" +
		"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//mail//EN\r\nMETHOD:" + method + "\r\nBEGIN:VEVENT\r\nUID:" + uid + "\r\n" +
		"DTSTAMP:20260102T000000Z\r\nDTSTART:20260105T100000Z\r\nDURATION:PT1H\r\nSUMMARY:Offsite\r\n" +
		"SEQUENCE:" + strconv.Itoa(seq) + "\r\nORGANIZER:mailto:" + org + "\r\n")
	if method == "CANCEL" {
		b.WriteString("STATUS:CANCELLED\r\n")
	}
	for _, a := range atts {
		b.WriteString("ATTENDEE;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:" + a + "\r\n")
	}
	b.WriteString("END:VEVENT\r\nEND:VCALENDAR\r\n")
	return b.String()
}

// TestServeInvitationByEmail: an organizer elsewhere invites alice by
// email (LMTP): the invitation lands in her inbox and her calendar as a
// local one would; her acceptance goes back by email (SMTP); the
// organizer's CANCEL cancels her copy. Forged messages are refused with
// 550 and change nothing: a CANCEL from another address than the
// ORGANIZER, a CANCEL or REQUEST by another organizer of her meeting's
// UID, an invitation from another address than its ORGANIZER, one in the
// name of a local user (bob), one that does not invite
// alice, one to an address no user has, a CANCEL of a meeting she does
// not have, a method mismatch between the email and the calendar.
func TestServeInvitationByEmail(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "lmtp.sock")
	mb := newMailbox(t)
	srv := startServer(t, "--lmtp-listen=unix:"+sock, "--smtp-url=smtp://"+mb.addr, "--smtp-insecure", "--smtp-from=calendar@example.org")
	aliceOrganizes(t, srv)
	if err := srv.DB.UpdateUser(context.Background(), engine.Meta{Actor: "test"}, "bob", func(u *engine.User) error {
		u.Emails = []string{"bob@example.org"}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	srv.Do(t, "PROPFIND", "/dav/home/alice/", "alice", "", "Depth", "0")
	const org, path = "boss@corp.test", "/dav/home/alice/calendar/ext-1.ics"
	copyOf := func() string {
		resp, b := srv.Do(t, "GET", path, "alice", "")
		if resp.StatusCode != 200 {
			return ""
		}
		return strings.ReplaceAll(b, "\r\n ", "")
	}
	inbox := func() int {
		_, b := srv.Do(t, "PROPFIND", "/dav/home/alice/inbox/", "alice", "", "Depth", "1")
		return strings.Count(b, ".ics</")
	}

	if got := lmtpSend(t, sock, "alice@Example.ORG", invitation("Boss <"+org+">", "REQUEST", org, "ext-1", 0, "alice@example.org", "carol@corp.test")); got != 250 {
		t.Fatalf("invitation: LMTP answer %d, want 250; logs:\n%s", got, srv.Logs)
	}
	c := copyOf()
	if !strings.Contains(c, "ORGANIZER:mailto:"+org) || !strings.Contains(c, "PARTSTAT=NEEDS-ACTION") || strings.Contains(c, "METHOD") {
		t.Fatalf("alice's copy after the invitation:\n%s", c)
	}
	if n := inbox(); n != 1 {
		t.Errorf("alice's inbox holds %d messages, want the invitation", n)
	}

	refused := map[string]struct{ rcpt, msg string }{
		"CANCEL from another address":  {"alice@example.org", invitation("mallory@evil.test", "CANCEL", org, "ext-1", 1, "alice@example.org")},
		"CANCEL by another organizer":  {"alice@example.org", invitation("mallory@evil.test", "CANCEL", "mallory@evil.test", "ext-1", 1, "alice@example.org")},
		"REQUEST by another organizer": {"alice@example.org", invitation("mallory@evil.test", "REQUEST", "mallory@evil.test", "ext-1", 5, "alice@example.org")},
		"in a local user's name":       {"alice@example.org", invitation("bob@example.org", "REQUEST", "bob@example.org", "ext-2", 0, "alice@example.org")},
		"in another's name":            {"alice@example.org", invitation("mallory@evil.test", "REQUEST", org, "ext-6", 0, "alice@example.org")},
		"alice not invited":            {"alice@example.org", invitation(org, "REQUEST", org, "ext-3", 0, "carol@corp.test")},
		"to an address no user has":    {"nobody@example.org", invitation(org, "REQUEST", org, "ext-4", 0, "nobody@example.org")},
		"CANCEL of no meeting":         {"alice@example.org", invitation(org, "CANCEL", org, "ext-5", 0, "alice@example.org")},
		"method mismatch":              {"alice@example.org", strings.Replace(invitation(org, "CANCEL", org, "ext-1", 1, "alice@example.org"), "method=CANCEL", "method=REQUEST", 1)},
	}
	for what, r := range refused {
		if got := lmtpSend(t, sock, r.rcpt, r.msg); got != 550 {
			t.Errorf("%s: LMTP answer %d, want 550", what, got)
		}
	}
	if after := copyOf(); after != c {
		t.Errorf("refused messages changed alice's copy:\n%s", after)
	}
	if n := inbox(); n != 1 {
		t.Errorf("refused messages reached alice's inbox: %d messages, want 1", n)
	}

	// alice accepts in her calendar program: the REPLY goes by email.
	accepted := strings.Replace(c, "PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:alice", "PARTSTAT=ACCEPTED:mailto:alice", 1)
	if accepted == c {
		t.Fatalf("alice's ATTENDEE not found in her copy:\n%s", c)
	}
	if resp, b := srv.Do(t, "PUT", path, "alice", accepted, "Content-Type", "text/calendar"); resp.StatusCode >= 300 {
		t.Fatalf("alice accepts: %d %s", resp.StatusCode, b)
	}
	for deadline := time.Now().Add(60 * time.Second); len(mb.messages()) == 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no REPLY email; logs:\n%s", srv.Logs)
		}
	}
	// (quoted-printable: PARTSTAT=3DACCEPTED)
	if m := mb.messages(); len(m) != 1 || !strings.HasPrefix(m[0], org+"\n") || !strings.Contains(m[0], "method=REPLY") ||
		!strings.Contains(m[0], "ACCEPTED:mailto:alice@example.org") {
		t.Errorf("emails after alice accepted: %q", m)
	}

	// The organizer cancels: alice's copy says so, her inbox has it.
	if got := lmtpSend(t, sock, "alice@example.org", invitation(org, "CANCEL", org, "ext-1", 1, "alice@example.org")); got != 250 {
		t.Fatalf("the organizer's CANCEL: LMTP answer %d, want 250; logs:\n%s", got, srv.Logs)
	}
	if c := copyOf(); !strings.Contains(c, "STATUS:CANCELLED") {
		t.Errorf("alice's copy after the CANCEL:\n%s", c)
	}
	if n := inbox(); n != 2 {
		t.Errorf("alice's inbox holds %d messages, want the invitation and the CANCEL", n)
	}
}
