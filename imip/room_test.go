package imip

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/almanac/almanac/dav"
	"github.com/almanac/almanac/dav/sched"
	"github.com/almanac/almanac/engine"
	"github.com/almanac/almanac/itip"
	"github.com/emersion/go-ical"
)

// davReceiver hands the LMTP listener's messages to the DAV handler as
// serve does (cmd/almanac's receiver): a forged or misdirected message
// is refused for good.
type davReceiver struct{ h *dav.Handler }

func (r davReceiver) Receive(ctx context.Context, rcpt, sender, method string, cal []byte) error {
	err := r.h.ReceiveEmail(ctx, engine.Meta{Actor: "mailto:" + sender}, rcpt, sender, method, cal)
	var pe *itip.PreconditionError
	if errors.Is(err, sched.ErrNotInvited) || errors.Is(err, sched.ErrNoOrganizer) || errors.Is(err, itip.ErrInvalidMessage) || errors.As(err, &pe) {
		return fmt.Errorf("%w: %v", ErrRefused, err)
	}
	return err
}

// externalInvite is an email from from carrying org's REQUEST (or
// CANCEL) of meeting uid at hour, inviting atts.
func externalInvite(from, method, org, uid string, hour int, atts ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "From: %s\r\nTo: rooms@example.org\r\nSubject: Invitation\r\nMIME-Version: 1.0\r\nContent-Type: text/calendar; method=%s; charset=utf-8\r\n\r\n"+
		"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//mail//EN\r\nMETHOD:%s\r\nBEGIN:VEVENT\r\nUID:%s\r\nDTSTAMP:20260102T000000Z\r\n"+
		"DTSTART:20260105T%02d0000Z\r\nDURATION:PT1H\r\nSUMMARY:Offsite\r\nSEQUENCE:0\r\nORGANIZER:mailto:%s\r\n", from, method, method, uid, hour, org)
	for _, a := range atts {
		b.WriteString("ATTENDEE;CUTYPE=ROOM;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:" + a + "\r\n")
	}
	b.WriteString("END:VEVENT\r\nEND:VCALENDAR\r\n")
	return b.String()
}

// roomReplies reads the emails from i on: each must be a REPLY from a
// room to its organizer, whose one ATTENDEE is the room (From) with a
// PARTSTAT; it returns "to uid room PARTSTAT", sorted.
func roomReplies(tb testing.TB, sk *sink, i int) []string {
	tb.Helper()
	var out []string
	for _, m := range sk.messages()[i:] {
		p := mustParse(tb, m.data)
		from, _ := p.header.AddressList("From")
		cal, err := ical.NewDecoder(bytes.NewReader(p.calendar)).Decode()
		if err != nil || len(from) != 1 || p.calParams["method"] != "REPLY" || cal.Props.Get(ical.PropMethod).Value != "REPLY" {
			tb.Fatalf("email to %s: From %v, method %q, calendar %v", m.to, from, p.calParams["method"], err)
		}
		for _, c := range cal.Events() {
			atts := c.Props.Values(ical.PropAttendee)
			uid, _ := c.Props.Text(ical.PropUID)
			if len(atts) != 1 || !strings.EqualFold(atts[0].Value, "mailto:"+from[0].Address) {
				tb.Fatalf("email to %s: ATTENDEEs %v, From %s", m.to, atts, from[0].Address)
			}
			out = append(out, m.to+" "+uid+" "+from[0].Address+" "+atts[0].Params.Get(ical.ParamParticipationStatus))
		}
	}
	slices.Sort(out)
	return out
}

// TestRoomAnswersEmail: an invitation that arrives by email (LMTP) for
// rooms' addresses from an organizer elsewhere is answered by each room's
// policy as a local one is: accept always accepts, accept-if-free accepts
// when free and declines when busy (no copy then), manual leaves it
// NEEDS-ACTION and sends nothing. Each answer goes back to the organizer
// as exactly one REPLY email, queued in the step that stores the room's
// copy as an event of the room (its own feed). Forged invitations (From
// not the ORGANIZER, another organizer for a meeting the room holds, an
// organizer in a local user's name) are refused with 550 and answer
// nothing.
func TestRoomAnswersEmail(t *testing.T) {
	h, db := scheduling(t)
	ctx := context.Background()
	for name, p := range map[string]engine.AutoSchedule{"room4": engine.AutoAcceptIfFree, "beamer": engine.AutoAccept, "hall": engine.AutoManual} {
		if err := db.AddUser(ctx, engine.Meta{Actor: "test"}, engine.User{Name: name, Disabled: true, Emails: []string{name + "@example.org"},
			Resource: &engine.Resource{Type: engine.ResourceRoom, AutoSchedule: p}}); err != nil {
			t.Fatal(err)
		}
		if err := dav.EnsureHome(ctx, db, name, engine.Meta{Actor: "test"}); err != nil {
			t.Fatal(err)
		}
	}
	sk := newSink(t)
	runSender(t, &Sender{DB: db, Mail: sk.smtp(t), From: "calendar@example.org"})
	sock := filepath.Join(t.TempDir(), "lmtp.sock")
	l, err := Listen("unix:" + sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := (&LMTP{Receiver: davReceiver{h}, Timeout: time.Minute}).Server(true)
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	partstat := func(room, uid string) string {
		t.Helper()
		v, err := db.View()
		if err != nil {
			t.Fatal(err)
		}
		defer v.Close()
		o, err := v.Object("/dav/home/"+room+"/calendar/", uid+".ics", true)
		if errors.Is(err, engine.ErrNotFound) {
			return "no copy"
		}
		if err != nil {
			t.Fatal(err)
		}
		cal, err := engine.ParseCalendar(o.Body)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range cal.Events()[0].Props.Values(ical.PropAttendee) {
			if strings.EqualFold(a.Value, "mailto:"+room+"@example.org") {
				return a.Params.Get(ical.ParamParticipationStatus)
			}
		}
		return "not invited"
	}
	deliver := func(what, msg string, want int, rcpts ...string) {
		t.Helper()
		for i, err := range lmtpDeliver(t, "unix", sock, msg, rcpts...) {
			if code(err) != want {
				t.Errorf("%s to %s: LMTP answer %v, want %d", what, rcpts[i], err, want)
			}
		}
	}
	const boss, other = "boss@corp.test", "other@corp.test"

	deliver("invitation", externalInvite(boss, "REQUEST", boss, "ext-1", 10, "room4@example.org", "beamer@example.org", "hall@example.org"), 250,
		"room4@example.org", "beamer@example.org", "hall@example.org")
	waitFor(t, "the sender to catch up", func() bool { return caughtUp(db) })
	got, want := roomReplies(t, sk, 0), []string{boss + " ext-1 beamer@example.org ACCEPTED", boss + " ext-1 room4@example.org ACCEPTED"}
	if !slices.Equal(got, want) {
		t.Errorf("answers to the invitation: %q, want %q", got, want)
	}
	for room, want := range map[string]string{"room4": "ACCEPTED", "beamer": "ACCEPTED", "hall": "NEEDS-ACTION"} {
		if got := partstat(room, "ext-1"); got != want {
			t.Errorf("%s's copy of ext-1: %s, want %s", room, got, want)
		}
	}

	// Another organizer books room4 over the same hour: declined.
	n := len(sk.messages())
	deliver("overlapping invitation", externalInvite(other, "REQUEST", other, "ext-2", 10, "room4@example.org", "beamer@example.org"), 250,
		"room4@example.org", "beamer@example.org")
	waitFor(t, "the sender to catch up", func() bool { return caughtUp(db) })
	got, want = roomReplies(t, sk, n), []string{other + " ext-2 beamer@example.org ACCEPTED", other + " ext-2 room4@example.org DECLINED"}
	if !slices.Equal(got, want) {
		t.Errorf("answers to the overlapping invitation: %q, want %q", got, want)
	}
	if got := partstat("room4", "ext-2"); got != "no copy" {
		t.Errorf("room4's copy of the declined ext-2: %s, want none", got)
	}

	// Forged: nothing answered, nothing stored.
	n, head := len(sk.messages()), db.Head()
	deliver("an invitation From another than its ORGANIZER", externalInvite("mallory@evil.test", "REQUEST", boss, "ext-3", 12, "beamer@example.org"), 550, "beamer@example.org")
	deliver("another organizer's update of ext-1", externalInvite("mallory@evil.test", "REQUEST", "mallory@evil.test", "ext-1", 14, "beamer@example.org"), 550, "beamer@example.org")
	deliver("an invitation in a local user's name", externalInvite("alice@example.org", "REQUEST", "alice@example.org", "ext-4", 12, "beamer@example.org"), 550, "beamer@example.org")
	deliver("an invitation not naming the room", externalInvite(boss, "REQUEST", boss, "ext-5", 12, "carol@corp.test"), 550, "beamer@example.org")
	if db.Head() != head || partstat("beamer", "ext-3") != "no copy" || partstat("beamer", "ext-1") != "ACCEPTED" {
		t.Errorf("refused invitations were written: head %d -> %d", head, db.Head())
	}

	// The answers are emails sent for the rooms: in their own feed.
	v, err := db.View()
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	for room, want := range map[string]int{"room4": 2, "beamer": 2, "hall": 0, "alice": 0} {
		queued := 0
		for ev, err := range v.ReadableLog(room, 1) {
			if err != nil {
				t.Fatal(err)
			}
			if ev.Op == engine.OpIMIPQueued {
				queued++
			}
		}
		if queued != want {
			t.Errorf("%s's own log holds %d queued emails, want %d", room, queued, want)
		}
	}
	if len(sk.messages()) != n {
		t.Errorf("refused invitations sent %d emails", len(sk.messages())-n)
	}
}
