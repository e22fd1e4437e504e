package change

import (
	"context"
	"testing"

	"github.com/almanac/almanac/engine"
	feedv1 "github.com/almanac/almanac/proto/almanac/feed/v1"
)

// TestChangeSchedule: of one step of implicit scheduling, the delivery
// into bob's inbox is OP_SCHEDULE_REQUEST (a REPLY OP_SCHEDULE_REPLY)
// with who sent what to whom, the processed copy in bob's calendar an
// OP_OBJECT_PUT with the same schedule, the organizer's own write a plain
// put; a filter on the schedule ops of one's own collections gives bob
// his invitation and alice nothing.
func TestChangeSchedule(t *testing.T) {
	db := memDB(t)
	ctx := context.Background()
	m := engine.Meta{Actor: "alice"}
	for _, spec := range []engine.CollectionSpec{
		{Path: "/dav/home/alice/", Kind: engine.KindHome, Owner: "alice"},
		{Path: "/dav/home/alice/calendar/", Kind: engine.KindCalendar, Owner: "alice"},
		{Path: "/dav/home/alice/inbox/", Kind: engine.KindInbox, Owner: "alice"},
		{Path: "/dav/home/bob/", Kind: engine.KindHome, Owner: "bob"},
		{Path: "/dav/home/bob/calendar/", Kind: engine.KindCalendar, Owner: "bob"},
		{Path: "/dav/home/bob/inbox/", Kind: engine.KindInbox, Owner: "bob"},
	} {
		if _, err := db.CreateCollection(ctx, m, spec); err != nil {
			t.Fatal(err)
		}
	}
	event := func(method string) []byte {
		s := "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\n"
		if method != "" {
			s += "METHOD:" + method + "\r\n"
		}
		return []byte(s + "BEGIN:VEVENT\r\nUID:m\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20260105T100000Z\r\n" +
			"ORGANIZER:mailto:alice@x.test\r\nATTENDEE:mailto:bob@x.test\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")
	}
	req := &engine.Schedule{Method: "REQUEST", Originator: "mailto:alice@x.test", Recipient: "mailto:bob@x.test", RecipientUser: "bob", Status: "1.2"}
	reply := &engine.Schedule{Method: "REPLY", Originator: "mailto:bob@x.test", Recipient: "mailto:alice@x.test", RecipientUser: "alice", Status: "1.2"}
	res, err := db.WriteScheduled(ctx, []engine.ScheduledWrite{
		{Path: "/dav/home/alice/calendar/", Name: "m.ics", Body: event(""), Meta: m},
		{Path: "/dav/home/bob/inbox/", Name: "1.ics", Body: event("REQUEST"), Meta: m, Schedule: req},
		{Path: "/dav/home/bob/calendar/", Name: "m.ics", Body: event(""), Meta: m, Schedule: req},
		{Path: "/dav/home/alice/inbox/", Name: "2.ics", Body: event("REPLY"), Meta: m, Schedule: reply},
	})
	if err != nil {
		t.Fatal(err)
	}
	v, err := db.View()
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	c := NewConverter(db)
	var got []*feedv1.Change
	for ev, err := range v.Log(res[0].Seq) {
		if err != nil {
			t.Fatal(err)
		}
		ch, err := c.Change(v, ev, false, 0)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, ch)
	}
	want := []struct {
		op     feedv1.Op
		method string
	}{{feedv1.Op_OP_OBJECT_PUT, ""}, {feedv1.Op_OP_SCHEDULE_REQUEST, "REQUEST"}, {feedv1.Op_OP_OBJECT_PUT, "REQUEST"}, {feedv1.Op_OP_SCHEDULE_REPLY, "REPLY"}}
	if len(got) != len(want) {
		t.Fatalf("%d changes, want %d", len(got), len(want))
	}
	for i, w := range want {
		if got[i].Op != w.op || got[i].GetSchedule().GetMethod() != w.method {
			t.Errorf("change %d (%s%s): %v %v, want %v with method %q", i, got[i].Collection, got[i].Object, got[i].Op, got[i].Schedule, w.op, w.method)
		}
	}
	if s := got[1].Schedule; s.Originator != req.Originator || s.Recipient != req.Recipient || s.RecipientUser != "bob" || s.Status != "1.2" {
		t.Errorf("the delivery's schedule %v, want %+v", s, req)
	}
	invitations := func(reader string) (n int) {
		f := Filter{Reader: reader, Principal: reader, Ops: []feedv1.Op{feedv1.Op_OP_SCHEDULE_REQUEST}}
		for _, ch := range got {
			if f.Match(ch) {
				n++
			}
		}
		return n
	}
	if invitations("bob") != 1 || invitations("alice") != 0 {
		t.Errorf("schedule-request changes bob sees %d, alice %d; want 1 and 0", invitations("bob"), invitations("alice"))
	}
}
