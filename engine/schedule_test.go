package engine

import (
	"errors"
	"testing"
)

// TestWriteScheduled: the writes of one scheduling step commit together
// (an organizer's put, a delivery into the inbox and the attendee's copy,
// the deliveries recording their Schedule in the log) or, when one fails
// its precondition, none of them does.
func TestWriteScheduled(t *testing.T) {
	db := MustOpen(t)
	mustCreate(t, db,
		CollectionSpec{Path: "/dav/home/alice/", Kind: KindHome, Owner: "alice"},
		CollectionSpec{Path: "/dav/home/alice/calendar/", Kind: KindCalendar, Owner: "alice"},
		CollectionSpec{Path: "/dav/home/bob/", Kind: KindHome, Owner: "bob"},
		CollectionSpec{Path: "/dav/home/bob/calendar/", Kind: KindCalendar, Owner: "bob"},
		CollectionSpec{Path: "/dav/home/bob/inbox/", Kind: KindInbox, Owner: "bob"},
	)
	msg := []byte("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nMETHOD:REQUEST\r\n" +
		"BEGIN:VEVENT\r\nUID:m\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20260105T100000Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")
	sched := &Schedule{Method: "REQUEST", Originator: "mailto:alice@x.test", Recipient: "mailto:bob@x.test", RecipientUser: "bob", Status: "1.2"}
	writes := func(ifMatch string) []ScheduledWrite {
		return []ScheduledWrite{
			{Path: "/dav/home/alice/calendar/", Name: "m.ics", Body: event("m"), Meta: alice},
			{Path: "/dav/home/bob/inbox/", Name: "1.ics", Body: msg, Meta: alice, Schedule: sched},
			{Path: "/dav/home/bob/calendar/", Name: "m.ics", Body: event("m"), IfMatch: ifMatch, Meta: alice, Schedule: sched},
		}
	}
	// bob's copy does not exist: If-Match fails, and nothing is written.
	var em *ETagMismatchError
	if _, err := db.WriteScheduled(ctx, writes(`"x"`)); !errors.As(err, &em) {
		t.Fatalf("a failing third write: %v, want ETagMismatchError", err)
	}
	for _, p := range []string{"/dav/home/alice/calendar/m.ics", "/dav/home/bob/inbox/1.ics"} {
		i := len(p) - 5
		if p[i-1] != '/' {
			i--
		}
		if _, err := db.Object(p[:i], p[i:], false); !errors.Is(err, ErrNotFound) {
			t.Errorf("%s after a failed step: %v, want ErrNotFound", p, err)
		}
	}
	res, err := db.WriteScheduled(ctx, writes(""))
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 3 || !res[0].Created || res[2].ETag == "" || res[0].Seq+2 != res[2].Seq {
		t.Fatalf("results %+v: want three creations with consecutive seqs", res)
	}
	v, err := db.View()
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	var got []string
	for ev, err := range v.Log(res[0].Seq) {
		if err != nil {
			t.Fatal(err)
		}
		s := ev.CollectionPath + ev.Object
		if ev.Schedule != nil {
			s += " " + ev.Schedule.Method + " " + ev.Schedule.RecipientUser + " " + ev.Schedule.Status
		}
		got = append(got, s)
	}
	want := []string{"/dav/home/alice/calendar/m.ics", "/dav/home/bob/inbox/1.ics REQUEST bob 1.2", "/dav/home/bob/calendar/m.ics REQUEST bob 1.2"}
	if len(got) != len(want) {
		t.Fatalf("log %q, want %q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("log[%d] = %q, want %q", i, got[i], want[i])
		}
	}
}
