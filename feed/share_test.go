package feed

import (
	"slices"
	"testing"
	"time"

	"github.com/almanac/almanac/engine"
	feedv1 "github.com/almanac/almanac/proto/almanac/feed/v1"
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
				if sharingOp(c.Op) {
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
