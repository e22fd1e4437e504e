package imip

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// replyMail is an email from from whose calendar part is cal.
func replyMail(from, cal string) string {
	return "From: " + from + "\r\nTo: alice@example.org\r\nSubject: Accepted\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/mixed; boundary=b1\r\n\r\n--b1\r\nContent-Type: text/plain\r\n\r\nI will come.\r\n" +
		"--b1\r\nContent-Type: multipart/alternative; boundary=b2\r\n\r\n--b2\r\nContent-Type: text/html\r\n\r\n<p>yes</p>\r\n" +
		"--b2\r\nContent-Type: text/calendar; method=REPLY; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
		b64(cal) + "\r\n--b2--\r\n--b1--\r\n"
}

func b64(s string) string {
	var b bytes.Buffer
	enc := []byte(s)
	const line = 57
	for len(enc) > 0 {
		n := min(line, len(enc))
		b.WriteString(base64.StdEncoding.EncodeToString(enc[:n]) + "\r\n")
		enc = enc[n:]
	}
	return b.String()
}

func TestParseMessage(t *testing.T) {
	cal := "BEGIN:VCALENDAR\r\nMETHOD:REPLY\r\nEND:VCALENDAR\r\n"
	m, err := ParseMessage(strings.NewReader(replyMail("Ext One <ext1@mail.test>", cal)), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if m.From != "ext1@mail.test" || m.Method != "REPLY" || string(m.Calendar) != cal {
		t.Errorf("ParseMessage = %+v", m)
	}
	for what, c := range map[string]struct {
		msg  string
		lim  Limits
		want error
	}{
		"no calendar": {"From: a@x.test\r\nContent-Type: text/plain\r\n\r\nhello\r\n", Limits{}, ErrNoCalendar},
		"too large":   {replyMail("a@x.test", cal), Limits{MaxSize: 100}, ErrTooLarge},
		"many parts":  {replyMail("a@x.test", cal), Limits{MaxParts: 2}, ErrTooLarge},
		"two senders": {"From: a@x.test, b@x.test\r\nContent-Type: text/calendar\r\n\r\n" + cal, Limits{}, nil},
	} {
		_, err := ParseMessage(strings.NewReader(c.msg), c.lim)
		if err == nil || (c.want != nil && !errors.Is(err, c.want)) {
			t.Errorf("%s: err = %v, want %v", what, err, c.want)
		}
	}
}

// FuzzParseMessage: any bytes parse or fail within the bounds, never a
// panic; a calendar found is within the message.
func FuzzParseMessage(f *testing.F) {
	f.Add(replyMail("a@x.test", "BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n"))
	f.Add("From: a@x.test\r\nContent-Type: text/calendar; method=reply\r\n\r\nBEGIN:VCALENDAR\r\n")
	f.Add("From: =?utf-8?q?x?= <a@x.test>\r\nContent-Type: multipart/mixed; boundary=\"\"\r\n\r\n--\r\n")
	f.Fuzz(func(t *testing.T, msg string) {
		m, err := ParseMessage(strings.NewReader(msg), Limits{MaxSize: 64 << 10, MaxParts: 8})
		if err == nil && (m.From == "" || len(m.Calendar) > len(msg)) {
			t.Errorf("ParseMessage = %+v", m)
		}
	})
}

// fakeReceiver records messages and refuses those of refused senders.
type fakeReceiver struct {
	mu      sync.Mutex
	got     []string
	refused string
}

func (r *fakeReceiver) Receive(_ context.Context, rcpt, sender, method string, cal []byte) error {
	if sender == r.refused {
		return fmt.Errorf("%w: %s is not invited", ErrRefused, sender)
	}
	if sender == "flaky@mail.test" {
		return errors.New("disk full")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, rcpt+" "+sender+" "+method+" "+strings.TrimSpace(string(cal)))
	return nil
}

// lmtpDeliver sends msg over LMTP to each of rcpts and returns the
// per-recipient answers (nil: accepted).
func lmtpDeliver(t *testing.T, network, addr, msg string, rcpts ...string) []error {
	t.Helper()
	conn, err := net.Dial(network, addr)
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
	for _, r := range rcpts {
		if err := c.Rcpt(r, nil); err != nil {
			t.Fatal(err)
		}
	}
	w, err := c.Data()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte(msg)); err != nil {
		t.Fatal(err)
	}
	out := make([]error, len(rcpts))
	if _, err := w.CloseWithLMTPResponse(); err != nil {
		var le smtp.LMTPDataError
		if !errors.As(err, &le) {
			t.Fatal(err)
		}
		for i, r := range rcpts {
			if e := le[r]; e != nil {
				out[i] = e
			}
		}
	}
	return out
}

func code(err error) int {
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		return se.Code
	}
	if err != nil {
		return -1
	}
	return 250
}

// TestLMTP: over a unix socket, a message reaches the Receiver per
// recipient with its method; a refusal is 550 for that recipient only, a
// passing failure 451, a message without a calendar or with a method not
// taken by email 550 for all.
func TestLMTP(t *testing.T) {
	r := &fakeReceiver{refused: "forger@mail.test"}
	sock := filepath.Join(t.TempDir(), "lmtp.sock")
	l, err := Listen("unix:" + sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := (&LMTP{Receiver: r, Timeout: time.Minute}).Server(true)
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	cal := "BEGIN:VCALENDAR\r\nMETHOD:REPLY\r\nEND:VCALENDAR"
	if got := lmtpDeliver(t, "unix", sock, replyMail("ext1@mail.test", cal), "alice@example.org", "carol@example.org"); code(got[0]) != 250 || code(got[1]) != 250 {
		t.Errorf("reply: %v", got)
	}
	if got := lmtpDeliver(t, "unix", sock, replyMail("forger@mail.test", cal), "alice@example.org"); code(got[0]) != 550 {
		t.Errorf("forged reply: %v, want 550", got)
	}
	if got := lmtpDeliver(t, "unix", sock, replyMail("flaky@mail.test", cal), "alice@example.org"); code(got[0]) != 451 {
		t.Errorf("failing store: %v, want 451", got)
	}
	if got := lmtpDeliver(t, "unix", sock, "From: ext1@mail.test\r\n\r\nhello\r\n", "alice@example.org"); code(got[0]) != 550 {
		t.Errorf("no calendar: %v, want 550", got)
	}
	counter := strings.Replace(replyMail("ext1@mail.test", cal), "method=REPLY", "method=COUNTER", 1)
	if got := lmtpDeliver(t, "unix", sock, counter, "alice@example.org"); code(got[0]) != 550 {
		t.Errorf("a COUNTER by email: %v, want 550", got)
	}
	request := strings.Replace(replyMail("ext1@mail.test", cal), "method=REPLY", "method=request", 1)
	if got := lmtpDeliver(t, "unix", sock, request, "bob@example.org"); code(got[0]) != 250 {
		t.Errorf("a REQUEST by email: %v, want 250", got)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	want := []string{"alice@example.org ext1@mail.test REPLY " + cal, "carol@example.org ext1@mail.test REPLY " + cal,
		"bob@example.org ext1@mail.test REQUEST " + cal}
	if strings.Join(r.got, "|") != strings.Join(want, "|") {
		t.Errorf("replies = %q, want %q", r.got, want)
	}
}
