package imip

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/almanac/almanac/dav"
	"github.com/almanac/almanac/engine"
	"github.com/emersion/go-ical"
)

// The tests of this file run the whole path: a client's PUT through
// package dav (scheduling with Email set), the queued events, the Sender,
// an SMTP server. imip's own code does not import dav: only the tests do.

type fakeAuth struct{}

func (fakeAuth) Authenticate(_ context.Context, user, password, _ string) (*engine.User, error) {
	if password == user {
		return &engine.User{Name: user, Role: engine.RoleUser}, nil
	}
	return nil, errors.New("bad credentials")
}

// scheduling returns a handler with Email set over a fresh store where
// alice and bob have accounts with NAME@example.org.
func scheduling(tb testing.TB) (*dav.Handler, *engine.DB) {
	tb.Helper()
	db := mustOpen(tb)
	for _, u := range []string{"alice", "bob"} {
		if err := db.PutUser(context.Background(), engine.Meta{Actor: "test"}, engine.User{Name: u, Emails: []string{u + "@example.org"}}); err != nil {
			tb.Fatal(err)
		}
	}
	h, err := dav.NewHandler(dav.Options{DB: db, Auth: fakeAuth{}, Email: true})
	if err != nil {
		tb.Fatal(err)
	}
	for _, u := range []string{"alice", "bob"} {
		if rec := do(h, u, "PROPFIND", "/dav/home/"+u+"/", ""); rec.Code >= 300 {
			tb.Fatalf("PROPFIND of %s's home: %d %s", u, rec.Code, rec.Body)
		}
	}
	return h, db
}

func do(h http.Handler, user, method, path, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.SetBasicAuth(user, user)
	req.Header.Set("Content-Type", "text/calendar")
	req.Header.Set("Depth", "0")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// event is alice's meeting uid at hour with attendees.
func event(uid string, hour int, attendees ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\nUID:%s\r\nDTSTAMP:20260101T000000Z\r\n"+
		"DTSTART:20260105T%02d0000Z\r\nDURATION:PT1H\r\nSUMMARY:Review\r\nLOCATION:Room 4\r\nORGANIZER:mailto:alice@example.org\r\n", uid, hour)
	for _, a := range attendees {
		fmt.Fprintf(&b, "ATTENDEE;PARTSTAT=NEEDS-ACTION:mailto:%s\r\n", a)
	}
	b.WriteString("END:VEVENT\r\nEND:VCALENDAR\r\n")
	return b.String()
}

// sent is what an email says, read back: recipient and method.
type sent struct{ to, method string }

// readSent parses the emails from i on and checks each is a correct
// iMIP message of alice's meeting uid: From alice, Sender the server,
// multipart/alternative of text/plain and text/calendar with the
// method (also the VCALENDAR's METHOD), the UID, and an ATTENDEE that is
// the recipient.
func readSent(tb testing.TB, sk *sink, i int, uid string) []sent {
	tb.Helper()
	var out []sent
	for _, m := range sk.messages()[i:] {
		p := mustParse(tb, m.data)
		from, _ := p.header.AddressList("From")
		to, _ := p.header.AddressList("To")
		if p.contentType != "multipart/alternative" || len(from) != 1 || from[0].Address != "alice@example.org" ||
			len(to) != 1 || to[0].Address != m.to || m.from != "calendar@example.org" || p.sender != "<calendar@example.org>" {
			tb.Errorf("email to %s: type %s, From %v, To %v, envelope from %s, Sender %q", m.to, p.contentType, from, to, m.from, p.sender)
		}
		if p.text == "" || !strings.Contains(p.text, "Review") || p.calParams["charset"] != "utf-8" {
			tb.Errorf("email to %s: text part %q, calendar params %v", m.to, p.text, p.calParams)
		}
		cal, err := ical.NewDecoder(bytes.NewReader(p.calendar)).Decode()
		if err != nil {
			tb.Fatalf("email to %s: calendar part: %v", m.to, err)
		}
		method := cal.Props.Get(ical.PropMethod)
		if method == nil || method.Value != strings.ToUpper(p.calParams["method"]) {
			tb.Errorf("email to %s: METHOD %v, content type method %q", m.to, method, p.calParams["method"])
		}
		var atts []string
		for _, c := range cal.Events() {
			if u, _ := c.Props.Text(ical.PropUID); u != uid {
				tb.Errorf("email to %s: UID %q, want %q", m.to, u, uid)
			}
			for _, a := range c.Props.Values(ical.PropAttendee) {
				atts = append(atts, strings.ToLower(a.Value))
			}
		}
		if !slices.Contains(atts, "mailto:"+m.to) {
			tb.Errorf("email to %s: ATTENDEEs %v do not name the recipient", m.to, atts)
		}
		out = append(out, sent{m.to, p.calParams["method"]})
	}
	slices.SortFunc(out, func(a, b sent) int { return strings.Compare(a.to, b.to) })
	return out
}

// TestScheduleByEmail: each change of an organizer's meeting sends
// exactly one correct email to each external attendee it concerns (the
// local attendee gets none: the inbox delivery is theirs), and the
// organizer's copy says 1.1 (sent) for them.
func TestScheduleByEmail(t *testing.T) {
	h, db := scheduling(t)
	sk := newSink(t)
	runSender(t, &Sender{DB: db, Mail: sk.smtp(t), From: "calendar@example.org"})
	path := "/dav/home/alice/calendar/m.ics"
	steps := []struct {
		what, body string
		want       []sent
	}{
		{"invite", event("m1", 10, "bob@example.org", "ext1@mail.test", "ext2@mail.test"),
			[]sent{{"ext1@mail.test", "REQUEST"}, {"ext2@mail.test", "REQUEST"}}},
		{"move", event("m1", 11, "bob@example.org", "ext1@mail.test", "ext2@mail.test"),
			[]sent{{"ext1@mail.test", "REQUEST"}, {"ext2@mail.test", "REQUEST"}}},
		{"same again", event("m1", 11, "bob@example.org", "ext1@mail.test", "ext2@mail.test"), nil},
		{"remove ext2", event("m1", 11, "bob@example.org", "ext1@mail.test"),
			[]sent{{"ext1@mail.test", "REQUEST"}, {"ext2@mail.test", "CANCEL"}}},
		{"delete", "", []sent{{"ext1@mail.test", "CANCEL"}}},
	}
	for _, s := range steps {
		before := len(sk.messages())
		method := "PUT"
		if s.body == "" {
			method = "DELETE"
		}
		if rec := do(h, "alice", method, path, s.body); rec.Code >= 300 {
			t.Fatalf("%s: %s: %d %s", s.what, method, rec.Code, rec.Body)
		}
		if s.what == "invite" {
			v, _ := db.View()
			o, err := v.Object("/dav/home/alice/calendar/", "m.ics", true)
			v.Close()
			if err != nil || !bytes.Contains(o.Body, []byte("SCHEDULE-STATUS=1.1:mailto:ext1@mail.test")) ||
				!bytes.Contains(o.Body, []byte("SCHEDULE-STATUS=1.2:mailto:bob@example.org")) {
				t.Errorf("organizer's copy: %v\n%s", err, o.Body)
			}
		}
		waitFor(t, "the sender to catch up", func() bool { return caughtUp(db) })
		if got := readSent(t, sk, before, "m1"); !slices.Equal(got, s.want) {
			t.Errorf("%s: sent %v, want %v", s.what, got, s.want)
		}
	}
}

// inboxSize is the number of messages in user's schedule inbox.
func inboxSize(tb testing.TB, db *engine.DB, user string) int {
	tb.Helper()
	v, err := db.View()
	if err != nil {
		tb.Fatal(err)
	}
	defer v.Close()
	n := 0
	for _, err := range v.Objects("/dav/home/"+user+"/inbox/", engine.ListOptions{}) {
		if err != nil {
			tb.Fatal(err)
		}
		n++
	}
	return n
}

// FuzzReceiveEmail: any message received by email, from any sender to
// either user, is applied or refused, never a panic; and a message that
// reached a user's inbox names them — as an ATTENDEE of an invitation or
// cancellation, as the ORGANIZER of a reply — and comes from an address no
// user has (never a delivery to a user the message is not for, never a
// message in a local user's name).
func FuzzReceiveEmail(f *testing.F) {
	invite := "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//f//EN\r\nMETHOD:REQUEST\r\nBEGIN:VEVENT\r\nUID:f1\r\n" +
		"DTSTAMP:20260101T000000Z\r\nDTSTART:20260105T100000Z\r\nDURATION:PT1H\r\nSEQUENCE:0\r\n" +
		"ORGANIZER:mailto:ext@mail.test\r\nATTENDEE;PARTSTAT=NEEDS-ACTION:mailto:bob@example.org\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
	f.Add("bob@example.org", "ext@mail.test", invite)
	f.Add("bob@example.org", "ext@mail.test", strings.ReplaceAll(invite, "REQUEST", "CANCEL"))
	f.Add("alice@example.org", "ext@mail.test", strings.ReplaceAll(invite, "REQUEST", "REPLY"))
	f.Add("bob@example.org", "alice@example.org", strings.NewReplacer("ext@mail.test", "alice@example.org", "UID:f1", "UID:f2").Replace(invite))
	f.Add("alice@example.org", "ext@mail.test", strings.ReplaceAll(invite, "bob@", "alice@"))
	f.Add("alice@example.org", "ext@mail.test", strings.ReplaceAll(invite, "UID:f1", "UID:f3"))
	h, db := scheduling(f)
	f.Fuzz(func(t *testing.T, rcpt, sender, body string) {
		if len(body) > 16<<10 {
			return
		}
		before := map[string]int{"alice": inboxSize(t, db, "alice"), "bob": inboxSize(t, db, "bob")}
		err := h.ReceiveEmail(context.Background(), engine.Meta{Actor: "mailto:" + sender}, rcpt, sender, "", []byte(body))
		for user, n := range before {
			if inboxSize(t, db, user) == n {
				continue
			}
			if err != nil {
				t.Fatalf("a refused message (%v) reached %s's inbox", err, user)
			}
			low := strings.ToLower(strings.ReplaceAll(body, "\r\n ", ""))
			if !strings.Contains(low, "mailto:"+user+"@example.org") {
				t.Fatalf("a message reached %s's inbox without naming them:\n%s", user, body)
			}
			if s := strings.ToLower(sender); strings.HasSuffix(s, "@example.org") && !strings.Contains(low, "method:reply") {
				t.Fatalf("a message in a local user's name (%s) reached %s's inbox", sender, user)
			}
		}
	})
}
