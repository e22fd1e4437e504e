package feed

import (
	"slices"
	"testing"
	"time"

	"github.com/almanac/almanac/change"
	"github.com/almanac/almanac/engine"
	feedv1 "github.com/almanac/almanac/proto/almanac/feed/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// TestSubscribeShared checks that a sharee's Subscribe includes the
// changes of a collection shared with them, from the grant on, and stops
// including them once the share is revoked; a free-busy share includes
// nothing.
func TestSubscribeShared(t *testing.T) {
	db := MustOpenDB(t)
	ts := MustServe(t, db, Options{})
	alice := engine.Meta{Actor: "alice"}
	stream, err := ts.client(t, basic("bob", "secret")).Subscribe(deadline(t, time.Minute), &feedv1.SubscribeRequest{FromSeq: uint64(db.Head()) + 1})
	if err != nil {
		t.Fatal(err)
	}
	names := func(chs []*feedv1.Change) []string {
		var out []string
		for _, c := range chs {
			if c.Op == feedv1.Op_OP_OBJECT_PUT {
				out = append(out, c.Principal+"/"+c.Object)
			}
		}
		return out
	}
	if err := db.Grant(bg, alice, home("alice")+"calendar/", "bob", engine.AccessFreeBusy, engine.GrantOptions{AutoAccept: true}); err != nil {
		t.Fatal(err)
	}
	MustPut(t, db, "alice", "a0.ics")
	b0 := MustPut(t, db, "bob", "b0.ics")
	if got, want := names(collect(t, stream, uint64(b0.Seq))), []string{"bob/b0.ics"}; !slices.Equal(got, want) {
		t.Errorf("free-busy share: %q, want %q", got, want)
	}
	if err := db.Grant(bg, alice, home("alice")+"calendar/", "bob", engine.AccessRead, engine.GrantOptions{AutoAccept: true}); err != nil {
		t.Fatal(err)
	}
	MustPut(t, db, "alice", "a1.ics")
	b1 := MustPut(t, db, "bob", "b1.ics")
	if got, want := names(collect(t, stream, uint64(b1.Seq))), []string{"alice/a1.ics", "bob/b1.ics"}; !slices.Equal(got, want) {
		t.Errorf("while shared: %q, want %q", got, want)
	}
	if err := db.Revoke(bg, alice, home("alice")+"calendar/", "bob"); err != nil {
		t.Fatal(err)
	}
	MustPut(t, db, "alice", "a2.ics")
	b2 := MustPut(t, db, "bob", "b2.ics")
	if got, want := names(collect(t, stream, uint64(b2.Seq))), []string{"bob/b2.ics"}; !slices.Equal(got, want) {
		t.Errorf("after the revocation: %q, want %q", got, want)
	}
}

// TestSubscribeShareEvents checks the sharing events of the feed: the
// owner's subscription carries every grant, reply, revocation and link
// (grantee, access, link id, and their subject names), a sharee's only
// those naming them, never another sharee's.
func TestSubscribeShareEvents(t *testing.T) {
	db := MustOpenDB(t)
	ts := MustServe(t, db, Options{})
	if err := db.PutUser(bg, engine.Meta{}, engine.User{Name: "carol", PasswordHash: "x"}); err != nil {
		t.Fatal(err)
	}
	from := uint64(db.Head()) + 1
	ctx := deadline(t, time.Minute)
	subscribe := func(user string) func(until uint64) []string {
		s, err := ts.client(t, basic(user, "secret")).Subscribe(ctx, &feedv1.SubscribeRequest{FromSeq: from})
		if err != nil {
			t.Fatal(err)
		}
		return func(until uint64) []string {
			var out []string
			for _, c := range collect(t, s, until) {
				if change.SharingOp(c.Op) {
					out = append(out, Subject(c)+" "+c.Grantee+" "+c.Access+" "+c.LinkId)
				}
			}
			return out
		}
	}
	aliceFeed, bobFeed := subscribe("alice"), subscribe("bob")
	alice, cal := engine.Meta{Actor: "alice"}, home("alice")+"calendar/"
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(db.Grant(bg, alice, cal, "bob", engine.AccessRead, engine.GrantOptions{}))
	must(db.Grant(bg, alice, cal, "carol", engine.AccessReadWrite, engine.GrantOptions{AutoAccept: true}))
	must(db.ReplyShare(bg, engine.Meta{Actor: "bob"}, "bob", cal, true, ""))
	_, link, err := db.CreateLink(bg, alice, cal, true)
	must(err)
	must(db.Revoke(bg, alice, cal, "carol"))
	last := MustPut(t, db, "alice", "last.ics").Seq // bob reads it: the calendar is shared with him
	want := []string{
		"almanac.alice.calendar.calendar.share-granted bob read ",
		"almanac.alice.calendar.calendar.share-granted carol read-write ",
		"almanac.alice.calendar.calendar.share-replied bob accepted ",
		"almanac.alice.calendar.calendar.link-created  freebusy " + link.ID,
		"almanac.alice.calendar.calendar.share-revoked carol  ",
	}
	if got := aliceFeed(uint64(last)); !slices.Equal(got, want) {
		t.Errorf("alice's feed:\n%q\nwant\n%q", got, want)
	}
	if got, want := bobFeed(uint64(last)), []string{want[0], want[2]}; !slices.Equal(got, want) {
		t.Errorf("bob's feed:\n%q\nwant\n%q", got, want)
	}
}

// TestGetEventAndHistoryShared: GetEvent and History answer a sharee as
// Subscribe does: while alice's calendar is shared with bob at read, he
// gets its events (those before the grant too) and its history, with the
// sharing events naming him and not those naming another; without a
// share, with a free-busy share, and once the share is revoked, both
// answer NotFound as for a path that never existed; a delegate reads the
// delegator's calendar.
func TestGetEventAndHistoryShared(t *testing.T) {
	db := MustOpenDB(t)
	ts := MustServe(t, db, Options{})
	alice, cal := engine.Meta{Actor: "alice"}, home("alice")+"calendar/"
	bob := ts.client(t, basic("bob", "secret"))
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	a1 := uint64(MustPut(t, db, "alice", "a1.ics").Seq)
	must(db.Grant(bg, alice, cal, "admin", engine.AccessRead, engine.GrantOptions{AutoAccept: true})) // names another
	refused := func(desc string) {
		t.Helper()
		if _, err := bob.GetEvent(bg, &feedv1.GetEventRequest{Seq: a1, IncludeBody: true}); status.Code(err) != codes.NotFound {
			t.Errorf("%s: bob's GetEvent of alice's put: %v, want NotFound", desc, err)
		}
		if _, err := bob.History(bg, &feedv1.HistoryRequest{Path: cal}); status.Code(err) != codes.NotFound {
			t.Errorf("%s: bob's History of alice's calendar: %v, want NotFound", desc, err)
		}
	}
	refused("not shared")
	must(db.Grant(bg, alice, cal, "bob", engine.AccessFreeBusy, engine.GrantOptions{AutoAccept: true}))
	refused("free-busy share")
	must(db.Grant(bg, alice, cal, "bob", engine.AccessRead, engine.GrantOptions{AutoAccept: true}))
	resp, err := bob.History(bg, &feedv1.HistoryRequest{Path: cal})
	must(err)
	var got []string
	for _, c := range resp.Changes {
		got = append(got, c.Op.String()+" "+c.Object+c.Grantee+" "+c.Access)
	}
	want := []string{"OP_SHARE_GRANTED bob read", "OP_SHARE_GRANTED bob freebusy", "OP_OBJECT_PUT a1.ics ", "OP_COLLECTION_CREATED  "}
	if !slices.Equal(got, want) {
		t.Errorf("bob's History while shared = %q, want %q", got, want)
	}
	if ev, err := bob.GetEvent(bg, &feedv1.GetEventRequest{Seq: a1, IncludeBody: true}); err != nil || len(ev.Change.Body) == 0 {
		t.Errorf("bob's GetEvent while shared: %v, %v", ev, err)
	}
	if _, err := bob.GetEvent(bg, &feedv1.GetEventRequest{Seq: a1 + 1}); status.Code(err) != codes.NotFound {
		t.Errorf("bob's GetEvent of the grant to admin: %v, want NotFound", err)
	}
	must(db.Revoke(bg, alice, cal, "bob"))
	refused("revoked")
	must(db.SetProxy(bg, alice, "alice", "bob", engine.AccessRead))
	if _, err := bob.GetEvent(bg, &feedv1.GetEventRequest{Seq: a1}); err != nil {
		t.Errorf("bob, alice's delegate, GetEvent: %v", err)
	}
	if _, err := bob.History(bg, &feedv1.HistoryRequest{Path: cal + "a1.ics"}); err != nil {
		t.Errorf("bob, alice's delegate, History: %v", err)
	}
}
