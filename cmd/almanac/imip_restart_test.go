package main

import (
	"context"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/almanac/almanac/engine"
	"github.com/emersion/go-smtp"
)

// crashBox is an SMTP server that keeps what it accepts and lets the
// test stop the sender at two points of a submission: before the data
// (RCPT of the submission number atRcpt) and after the data was read but
// before the answer (submission number atData). At each it sends on
// reached and waits for release.
type crashBox struct {
	mu             sync.Mutex
	got            []string // "to\nbody"
	rcpts          int
	atRcpt, atData int
	reached        chan string
	release        chan struct{}
	addr           string
}

func newCrashBox(t *testing.T, atRcpt, atData int) *crashBox {
	t.Helper()
	b := &crashBox{atRcpt: atRcpt, atData: atData, reached: make(chan string, 2), release: make(chan struct{})}
	b.addr = serveSMTP(t, func() smtp.Session { return &crashSession{b: b} })
	return b
}

func (b *crashBox) messages() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.got...)
}

type crashSession struct {
	b  *crashBox
	to string
}

func (s *crashSession) Reset()                               {}
func (s *crashSession) Logout() error                        { return nil }
func (s *crashSession) Mail(string, *smtp.MailOptions) error { return nil }

func (s *crashSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.to = to
	s.b.mu.Lock()
	s.b.rcpts++
	n := s.b.rcpts
	s.b.mu.Unlock()
	if n == s.b.atRcpt {
		s.b.reached <- "rcpt"
		<-s.b.release
		return &smtp.SMTPError{Code: 421, Message: "the client is gone"}
	}
	return nil
}

func (s *crashSession) Data(r io.Reader) error {
	body, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.b.mu.Lock()
	s.b.got = append(s.b.got, s.to+"\n"+string(body))
	n := len(s.b.got)
	s.b.mu.Unlock()
	if n == s.b.atData { // accepted here; the client dies before the answer
		s.b.reached <- "data"
		<-s.b.release
	}
	return nil
}

var messageIDRe = regexp.MustCompile(`(?mi)^Message-Id: (<[^>]+>)`)

// TestIMIPKillRestart: three changes of a meeting with three attendees
// elsewhere queue nine emails; `almanac serve` is killed (SIGKILL) twice
// in the middle of sending them — once during a submission before the
// mail server has the data, once after it accepted the data but before
// its answer arrived — and started again each time. Every attendee gets
// exactly one email per change; the only second copy is the message the
// mail server accepted in the very moment of the kill (the window the
// design admits), and it has the same Message-ID and content; the
// sender's cursor ends past every queued message. A real process: the
// cursor's fsync and the log are what survives, nothing in memory.
func TestIMIPKillRestart(t *testing.T) {
	dir := t.TempDir()
	db, err := openDB(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.PutUser(context.Background(), engine.Meta{Actor: "test"}, engine.User{Name: "alice", PasswordHash: testHash(t),
		Role: engine.RoleUser, Emails: []string{"alice@example.org"}}); err != nil {
		t.Fatal(err)
	}
	db.Close()

	const atRcpt, atData = 3, 5 // stop in the third submission, then after the fifth message is accepted
	box := newCrashBox(t, atRcpt, atData)
	args := []string{"--listen=127.0.0.1:0", "--data=" + dir, "--smtp-url=smtp://" + box.addr, "--smtp-insecure", "--smtp-from=calendar@example.org"}
	cmd, url, stderr := startServeChild(t, args...)
	do := func(method, path, body string) int {
		req, err := http.NewRequest(method, url+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.SetBasicAuth("alice", testPassword)
		req.Header.Set("Content-Type", "text/calendar")
		req.Header.Set("Depth", "0")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	meeting := func(hour string) string {
		return "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\nUID:crash-1\r\nDTSTAMP:20260101T000000Z\r\n" +
			"DTSTART:20260105T" + hour + "0000Z\r\nDURATION:PT1H\r\nSUMMARY:Budget\r\nORGANIZER:mailto:alice@example.org\r\n" +
			"ATTENDEE;PARTSTAT=NEEDS-ACTION:mailto:ext1@mail.test\r\nATTENDEE;PARTSTAT=NEEDS-ACTION:mailto:ext2@mail.test\r\n" +
			"ATTENDEE;PARTSTAT=NEEDS-ACTION:mailto:ext3@mail.test\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
	}
	if code := do("PROPFIND", "/dav/home/alice/", ""); code != 207 {
		t.Fatalf("PROPFIND: %d", code)
	}
	const path = "/dav/home/alice/calendar/m.ics"
	for i, c := range []struct{ method, body string }{{"PUT", meeting("10")}, {"PUT", meeting("11")}, {"DELETE", ""}} {
		if code := do(c.method, path, c.body); code >= 300 {
			t.Fatalf("change %d: %s: %d\n%s", i, c.method, code, stderr)
		}
	}
	kill := func(cmd *exec.Cmd, at string) {
		t.Helper()
		select {
		case got := <-box.reached:
			if got != at {
				t.Fatalf("the sender stopped at %s, want %s", got, at)
			}
		case <-time.After(2 * time.Minute):
			t.Fatalf("the sender never reached the %s point; got %d emails; stderr:\n%s", at, len(box.messages()), stderr)
		}
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		cmd.Wait()
		box.release <- struct{}{}
	}
	kill(cmd, "rcpt")
	if n := len(box.messages()); n != atRcpt-1 {
		t.Fatalf("%d emails before the first kill, want %d", n, atRcpt-1)
	}
	cmd, _, stderr = startServeChild(t, args...)
	kill(cmd, "data")
	cmd, _, stderr = startServeChild(t, args...)
	const want = 9 + 1 // nine messages, the one accepted at the kill twice
	for deadline := time.Now().Add(2 * time.Minute); len(box.messages()) < want; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d emails, want %d; stderr:\n%s", len(box.messages()), want, stderr)
		}
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("serve exit: %v\n%s", err, stderr)
	}

	got := box.messages()
	if len(got) != want {
		t.Fatalf("%d emails after the sender caught up, want %d", len(got), want)
	}
	type key struct{ to, id string }
	seen := map[key][]string{}
	perTo := map[string]map[string]bool{} // recipient -> Message-IDs
	for _, m := range got {
		to, body, _ := strings.Cut(m, "\n")
		id := messageIDRe.FindStringSubmatch(body)
		if id == nil {
			t.Fatalf("an email without Message-Id:\n%s", body)
		}
		k := key{to, id[1]}
		seen[k] = append(seen[k], body)
		if perTo[to] == nil {
			perTo[to] = map[string]bool{}
		}
		perTo[to][id[1]] = true
	}
	for _, to := range []string{"ext1@mail.test", "ext2@mail.test", "ext3@mail.test"} {
		if n := len(perTo[to]); n != 3 {
			t.Errorf("%s got %d distinct messages, want one per change (3)", to, n)
		}
	}
	twice := 0
	for k, bodies := range seen {
		if len(bodies) == 1 {
			continue
		}
		twice++
		if len(bodies) != 2 || calendarPart(bodies[0]) != calendarPart(bodies[1]) {
			t.Errorf("%s got %s %d times, or with different calendars", k.to, k.id, len(bodies))
		}
		if sixth, _, _ := strings.Cut(got[atData-1], "\n"); k.to != sixth || !strings.Contains(got[atData-1], k.id) {
			t.Errorf("the second copy is of %s %s, want the message accepted at the kill", k.to, k.id)
		}
	}
	if twice != 1 {
		t.Errorf("%d messages sent twice, want exactly the one accepted at the kill", twice)
	}

	db, err = engine.Open(filepath.Join(dir, "db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	cur, err := db.Cursor(engine.IMIPCursor)
	if err != nil {
		t.Fatal(err)
	}
	v, err := db.View()
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	var last engine.Seq
	for ev, err := range v.Log(1) {
		if err != nil {
			t.Fatal(err)
		}
		if ev.Op == engine.OpIMIPQueued {
			last = ev.Seq
		}
	}
	if cur < last {
		t.Errorf("the sender's cursor is %d, before the last queued message %d: it would send again", cur, last)
	}
}

// calendarPart is the text/calendar part of an email (as sent: encoded),
// from its header on.
func calendarPart(body string) string {
	i := strings.Index(body, "Content-Type: text/calendar")
	if i < 0 {
		return ""
	}
	part, _, _ := strings.Cut(body[i:], "\r\n--")
	return part
}
