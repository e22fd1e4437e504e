package change

import (
	"context"
	"strings"
	"testing"

	"github.com/almanac/almanac/engine"
	feedv1 "github.com/almanac/almanac/proto/almanac/feed/v1"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// TestChangeIMIP: a queued email is OP_IMIP_QUEUED of the user it is
// sent for, with the meeting's UID, who sends what to whom (status 1.1)
// and the iTIP object as its body; giving it up is OP_IMIP_FAILED with
// status 5.1 and the mail server's answer in the reason; an ops filter
// selects them and the webhooks can name them.
func TestChangeIMIP(t *testing.T) {
	db := memDB(t)
	ctx := context.Background()
	cal := []byte("BEGIN:VCALENDAR\r\nMETHOD:REQUEST\r\nEND:VCALENDAR\r\n")
	msg := &engine.IMIP{Method: "REQUEST", Originator: "mailto:alice@x.test", Recipient: "mailto:ext@mail.test", User: "alice", UID: "m1", Calendar: cal}
	if _, err := db.WriteScheduled(ctx, []engine.ScheduledWrite{{Meta: engine.Meta{Actor: "alice"}, IMIP: msg}}); err != nil {
		t.Fatal(err)
	}
	queued := db.Head()
	if err := db.IMIPFailed(ctx, engine.Meta{Actor: "imip", Reason: "given up"}, queued, msg, "550 5.1.1 no such user"); err != nil {
		t.Fatal(err)
	}
	v, err := db.View()
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	c := NewConverter(db)
	var got []*feedv1.Change
	for ev, err := range v.Log(queued) {
		if err != nil {
			t.Fatal(err)
		}
		ch, err := c.Change(v, ev, true, 0)
		if err != nil {
			t.Fatal(err)
		}
		if ch != nil {
			got = append(got, ch)
		}
	}
	if len(got) != 2 {
		t.Fatalf("%d changes, want the queued and the failed email: %v", len(got), got)
	}
	q, f := got[0], got[1]
	if q.Op != feedv1.Op_OP_IMIP_QUEUED || q.Principal != "alice" || q.Uid != "m1" || string(q.Body) != string(cal) ||
		q.Schedule.GetMethod() != "REQUEST" || q.Schedule.GetOriginator() != msg.Originator || q.Schedule.GetRecipient() != msg.Recipient ||
		q.Schedule.GetStatus() != "1.1" || q.Collection != "" {
		t.Errorf("queued: %v", q)
	}
	if f.Op != feedv1.Op_OP_IMIP_FAILED || f.Principal != "alice" || f.Schedule.GetStatus() != "5.1" ||
		!strings.Contains(f.Reason, "550 5.1.1 no such user") || f.Schedule.GetRecipient() != msg.Recipient {
		t.Errorf("failed: %v", f)
	}
	if ch, _ := c.Change(v, mustEvent(t, v, queued), true, 10); !ch.BodyOmitted || ch.Body != nil {
		t.Errorf("a body over the limit: omitted %v, %d bytes", ch.BodyOmitted, len(ch.Body))
	}
	only := Filter{Reader: "alice", Principal: "alice", Ops: []feedv1.Op{feedv1.Op_OP_IMIP_FAILED}}
	if only.Match(q) || !only.Match(f) {
		t.Errorf("an OP_IMIP_FAILED filter: matches queued %v, failed %v", only.Match(q), only.Match(f))
	}
	for _, name := range []string{"imip-queued", "imip-failed"} {
		if _, err := engine.ParseOp(name); err != nil {
			t.Errorf("webhook op %s: %v", name, err)
		}
	}
}

// memDB is an empty store in memory, closed when the test ends.
func memDB(t *testing.T) *engine.DB {
	t.Helper()
	db, err := engine.Open("db", &engine.Options{FS: vfs.NewMem()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func mustEvent(t *testing.T, v *engine.View, seq engine.Seq) *engine.Event {
	t.Helper()
	ev, err := v.Event(seq)
	if err != nil {
		t.Fatal(err)
	}
	return ev
}
