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
