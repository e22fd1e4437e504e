package change

import (
	"context"
	"fmt"
	"testing"

	"github.com/almanac/almanac/engine"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// TestChangeBodyOmitted: with bodies asked for, a change carries an
// object's body up to maxBody bytes; a larger one is left out and
// BodyOmitted set (a webhook's --include-body, README's Limits); without
// bodies asked for, neither; maxBody 0 sets no limit.
func TestChangeBodyOmitted(t *testing.T) {
	db, err := engine.Open("db", &engine.Options{FS: vfs.NewMem()})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	m := engine.Meta{Actor: "alice"}
	for _, spec := range []engine.CollectionSpec{
		{Path: "/dav/home/alice/", Kind: engine.KindHome, Owner: "alice"},
		{Path: "/dav/home/alice/calendar/", Kind: engine.KindCalendar, Owner: "alice"},
	} {
		if _, err := db.CreateCollection(ctx, m, spec); err != nil {
			t.Fatal(err)
		}
	}
	body := []byte("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\nUID:b\r\n" +
		"DTSTAMP:20260101T000000Z\r\nDTSTART:20260105T100000Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")
	res, err := db.PutObject(ctx, m, "/dav/home/alice/calendar/", "b.ics", body, engine.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	v, err := db.View()
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	var ev *engine.Event
	for e, err := range v.Log(res.Seq) {
		if err != nil {
			t.Fatal(err)
		}
		ev = e
		break
	}
	if ev == nil || ev.Seq != res.Seq {
		t.Fatalf("the put's event at %d not in the log: %+v", res.Seq, ev)
	}
	c := NewConverter(db)
	n := len(ev.Body)
	for _, tc := range []struct {
		withBody          bool
		maxBody, wantBody int
		omitted           bool
	}{
		{true, n, n, false},
		{true, n - 1, 0, true},
		{true, 0, n, false},
		{false, n - 1, 0, false},
	} {
		ch, err := c.Change(v, ev, tc.withBody, tc.maxBody)
		if err != nil {
			t.Fatal(err)
		}
		if got := fmt.Sprint(len(ch.Body), ch.BodyOmitted); got != fmt.Sprint(tc.wantBody, tc.omitted) {
			t.Errorf("withBody %v, maxBody %d of a %d-byte body: body bytes, omitted = %s, want %d %v", tc.withBody, tc.maxBody, n, got, tc.wantBody, tc.omitted)
		}
	}
}
