package imip

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/almanac/almanac/engine"
	"github.com/emersion/go-smtp"
)

// request is a REQUEST of meeting uid for attendee to.
func request(uid, to string) []byte {
	return []byte("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nMETHOD:REQUEST\r\nBEGIN:VEVENT\r\nUID:" + uid +
		"\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20260105T100000Z\r\nDTEND:20260105T110000Z\r\nSUMMARY:Plan, review\r\n" +
		"ORGANIZER:mailto:alice@example.org\r\nATTENDEE;PARTSTAT=NEEDS-ACTION:mailto:" + to + "\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")
}

// queue appends one OpIMIPQueued per recipient, each its own step.
func queue(tb testing.TB, db *engine.DB, to ...string) []engine.Seq {
	tb.Helper()
	var seqs []engine.Seq
	for i, rcpt := range to {
		uid := fmt.Sprintf("m%d", i)
		_, err := db.WriteScheduled(context.Background(), []engine.ScheduledWrite{{Meta: engine.Meta{Actor: "alice"},
			IMIP: &engine.IMIP{Method: "REQUEST", Originator: "mailto:alice@example.org", Recipient: "mailto:" + rcpt,
				User: "alice", UID: uid, Calendar: request(uid, rcpt)}}})
		if err != nil {
			tb.Fatal(err)
		}
		seqs = append(seqs, db.Head())
	}
	return seqs
}

// TestSenderCrashWindow: a sender that stops after the mail server
// accepted a message and before its cursor moved sends that message
// again on restart — with the same Message-ID — and nothing else twice;
// no message is lost.
func TestSenderCrashWindow(t *testing.T) {
	db := mustOpen(t)
	sk := newSink(t)
	seqs := queue(t, db, "a@x.test", "b@x.test", "c@x.test")
	crash := errors.New("crash")
	s := &Sender{DB: db, Mail: sk.smtp(t), From: "calendar@example.org",
		accepted: func(seq engine.Seq) error {
			if seq == seqs[1] {
				return crash
			}
			return nil
		}}
	if err := <-runSender(t, s); !errors.Is(err, crash) {
		t.Fatalf("Run = %v, want the crash", err)
	}
	if c, _ := db.Cursor(engine.IMIPCursor); c != seqs[0] {
		t.Fatalf("cursor after the crash = %d, want %d (the first message's)", c, seqs[0])
	}
	runSender(t, &Sender{DB: db, Mail: sk.smtp(t), From: "calendar@example.org"})
	waitFor(t, "the sender to catch up", func() bool { return caughtUp(db) })
	var tos, ids []string
	for _, m := range sk.messages() {
		tos = append(tos, m.to)
		ids = append(ids, mustParse(t, m.data).messageID)
	}
	if got, want := strings.Join(tos, " "), "a@x.test b@x.test b@x.test c@x.test"; got != want {
		t.Fatalf("received for %s, want %s (b twice: the crash window)", got, want)
	}
	if ids[1] != ids[2] || ids[0] == ids[1] || ids[2] == ids[3] {
		t.Errorf("Message-IDs %q: the duplicate must have the first's, the others their own", ids)
	}
}

// TestSenderRetries: a temporary refusal (4xx) is retried until accepted;
// a permanent one (5xx) is given up at once, recorded as OpIMIPFailed
// with the server's answer, and the next message goes out.
func TestSenderRetries(t *testing.T) {
	db := mustOpen(t)
	sk := newSink(t)
	sk.refuse = func(to string, n int) error {
		switch {
		case to == "a@x.test" && n <= 2:
			return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try later"}
		case to == "gone@x.test":
			return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such mailbox"}
		}
		return nil
	}
	seqs := queue(t, db, "a@x.test", "gone@x.test", "c@x.test")
	runSender(t, &Sender{DB: db, Mail: sk.smtp(t), From: "calendar@example.org", MinBackoff: time.Millisecond, MaxBackoff: time.Millisecond})
	waitFor(t, "the sender to catch up", func() bool { return caughtUp(db) })
	var tos []string
	for _, m := range sk.messages() {
		tos = append(tos, m.to)
	}
	if got, want := strings.Join(tos, " "), "a@x.test c@x.test"; got != want {
		t.Errorf("received for %s, want %s", got, want)
	}
	if n := sk.offered("a@x.test"); n != 3 {
		t.Errorf("a@x.test offered %d times, want 3 (two refused for now)", n)
	}
	v, err := db.View()
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	var failed []*engine.IMIP
	for ev, err := range v.Log(seqs[2] + 1) {
		if err != nil {
			t.Fatal(err)
		}
		if ev.Op == engine.OpIMIPFailed {
			failed = append(failed, ev.IMIP)
		}
	}
	if len(failed) != 1 || failed[0].QueuedSeq != seqs[1] || failed[0].Recipient != "mailto:gone@x.test" ||
		!strings.Contains(failed[0].Status, "no such mailbox") || failed[0].Calendar != nil {
		t.Errorf("OpIMIPFailed events = %+v, want one for gone@x.test naming the 550", failed)
	}
}

// TestParseSMTP: the URL forms, and what is refused: another scheme, a
// password in the URL, insecure SMTP to a host that is not loopback.
func TestParseSMTP(t *testing.T) {
	for _, c := range []struct {
		url      string
		insecure bool
		addr     string
	}{
		{"smtp://mail.example.org", false, "mail.example.org:587"},
		{"smtps://me@mail.example.org", false, "mail.example.org:465"},
		{"smtp://127.0.0.1:25", true, "127.0.0.1:25"},
		{"smtp://localhost:2525", true, "localhost:2525"},
	} {
		s, err := ParseSMTP(c.url, "", "cal@example.org", c.insecure)
		if err != nil || s.addr() != c.addr {
			t.Errorf("ParseSMTP(%s) = %v, %v; want %s", c.url, s, err, c.addr)
		}
	}
	for _, c := range []struct {
		url, pw, from string
		insecure      bool
	}{
		{"http://mail.example.org", "", "cal@example.org", false},
		{"smtp://me:pw@mail.example.org", "", "cal@example.org", false},
		{"smtp://mail.example.org", "", "cal@example.org", true},
		{"smtps://127.0.0.1", "", "cal@example.org", true},
		{"smtp://mail.example.org", "", "not an address", false},
		{"smtp://mail.example.org", "pw", "cal@example.org", false},
		{"smtp://mail.example.org/path", "", "cal@example.org", false},
	} {
		if _, err := ParseSMTP(c.url, c.pw, c.from, c.insecure); err == nil {
			t.Errorf("ParseSMTP(%s, pw %q, %q, insecure %v) accepted", c.url, c.pw, c.from, c.insecure)
		}
	}
}
