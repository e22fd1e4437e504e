package feed

import (
	"slices"
	"testing"
	"time"

	"github.com/almanac/almanac/engine"
	feedv1 "github.com/almanac/almanac/proto/almanac/feed/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// TestSubscribeIMIP: the emails queued and given up on for a user (iMIP)
// are in that user's own subscription, GetEvent and history, never in
// another user's: bob, subscribed from the same point, sees none of
// alice's and may not read them by sequence number.
func TestSubscribeIMIP(t *testing.T) {
	db := MustOpenDB(t)
	ts := MustServe(t, db, Options{})
	from := uint64(db.Head()) + 1
	alice, bob := ts.client(t, basic("alice", "secret")), ts.client(t, basic("bob", "secret"))
	aliceStream, err := alice.Subscribe(deadline(t, time.Minute), &feedv1.SubscribeRequest{FromSeq: from})
	if err != nil {
		t.Fatal(err)
	}
	bobStream, err := bob.Subscribe(deadline(t, time.Minute), &feedv1.SubscribeRequest{FromSeq: from})
	if err != nil {
		t.Fatal(err)
	}
	msg := &engine.IMIP{Method: "REPLY", Originator: "mailto:alice@x.test", Recipient: "mailto:org@mail.test", User: "alice", UID: "m1",
		Calendar: []byte("BEGIN:VCALENDAR\r\nMETHOD:REPLY\r\nEND:VCALENDAR\r\n")}
	if _, err := db.WriteScheduled(bg, []engine.ScheduledWrite{{Meta: engine.Meta{Actor: "alice"}, IMIP: msg}}); err != nil {
		t.Fatal(err)
	}
	queued := uint64(db.Head())
	if err := db.IMIPFailed(bg, engine.Meta{Actor: "imip"}, engine.Seq(queued), msg, "550 no such user"); err != nil {
		t.Fatal(err)
	}
	a := MustPut(t, db, "alice", "a.ics")
	b := MustPut(t, db, "bob", "b.ics")
	ops := func(chs []*feedv1.Change) []string {
		var out []string
		for _, c := range chs {
			out = append(out, c.Op.String()+" "+c.Principal)
		}
		return out
	}
	if got, want := ops(collect(t, aliceStream, uint64(a.Seq))), []string{"OP_IMIP_QUEUED alice", "OP_IMIP_FAILED alice", "OP_OBJECT_PUT alice"}; !slices.Equal(got, want) {
		t.Errorf("alice's subscription: %q, want %q", got, want)
	}
	if got, want := ops(collect(t, bobStream, uint64(b.Seq))), []string{"OP_OBJECT_PUT bob"}; !slices.Equal(got, want) {
		t.Errorf("bob's subscription: %q, want %q", got, want)
	}
	if ev, err := alice.GetEvent(bg, &feedv1.GetEventRequest{Seq: queued}); err != nil || ev.Change.GetOp() != feedv1.Op_OP_IMIP_QUEUED || ev.Change.GetSchedule().GetRecipient() != msg.Recipient {
		t.Errorf("alice's GetEvent of her email: %v, %v", ev, err)
	}
	for _, seq := range []uint64{queued, queued + 1} {
		if _, err := bob.GetEvent(bg, &feedv1.GetEventRequest{Seq: seq}); status.Code(err) != codes.NotFound {
			t.Errorf("bob's GetEvent of alice's email %d: %v, want NotFound", seq, err)
		}
	}
}
