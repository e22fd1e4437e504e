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
func scheduling(tb testing.TB) (http.Handler, *engine.DB) {
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
