package engine

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestOwnerLog: the owner index lists, for each owner, exactly the events
// of collections they own (both ends of a move), the same after a rebuild,
// and Verify checks it; LastOwned is its last entry.
func TestOwnerLog(t *testing.T) {
	t.Parallel()
	db := MustOpen(t)
	bob := Meta{Actor: "bob"}
	for _, c := range []CollectionSpec{
		{Path: "/alice/", Kind: KindHome, Owner: "alice"},
		{Path: "/alice/cal/", Kind: KindCalendar, Owner: "alice"},
		{Path: "/bob/", Kind: KindHome, Owner: "bob"},
		{Path: "/bob/cal/", Kind: KindCalendar, Owner: "bob"},
		{Path: "/bob/shared/", Kind: KindPlain},
	} {
		if _, err := db.CreateCollection(ctx, alice, c); err != nil {
			t.Fatal(err)
		}
	}
	mustPut := func(m Meta, path, name string) {
		t.Helper()
		if _, err := db.PutObject(ctx, m, path, name, event(name), PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	mustPut(alice, "/alice/cal/", "a.ics")
	mustPut(bob, "/bob/cal/", "b.ics")
	mustPut(bob, "/bob/cal/", "moved.ics")
	if _, err := db.MoveObject(ctx, bob, MoveRequest{FromPath: "/bob/cal/", FromName: "moved.ics", ToPath: "/alice/cal/", ToName: "moved.ics"}); err != nil {
		t.Fatal(err)
	}
	if err := db.DeleteObject(ctx, alice, "/alice/cal/", "a.ics", ""); err != nil {
		t.Fatal(err)
	}
	mustPut(bob, "/bob/cal/", "c.ics")
	if err := db.PutUser(ctx, alice, User{Name: "carol", PasswordHash: "x", Role: RoleUser}); err != nil {
		t.Fatal(err)
	}
	// The model: each event's collections' owners, read from the log.
	want := map[string][]Seq{}
	owners := map[uint64]string{}
	v, err := db.View()
	if err != nil {
		t.Fatal(err)
	}
	for ev, err := range v.Log(1) {
		if err != nil {
			t.Fatal(err)
		}
		if ev.Op == OpCollectionCreated {
			owners[ev.CollectionID] = ev.Owner
		}
		seen := map[string]bool{}
		for _, id := range []uint64{ev.CollectionID, ev.ToCollectionID} {
			if o := owners[id]; o != "" && !seen[o] {
				seen[o] = true
				want[o] = append(want[o], ev.Seq)
			}
		}
	}
	v.Close()
	check := func(what string) {
		t.Helper()
		v, err := db.View()
		if err != nil {
			t.Fatal(err)
		}
		defer v.Close()
		for _, owner := range []string{"alice", "bob", "carol", ""} {
			var got []Seq
			for ev, err := range v.OwnerLog(owner, 1) {
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, ev.Seq)
			}
			if diff := cmp.Diff(want[owner], got); diff != "" {
				t.Errorf("%s: OwnerLog(%q) (-want +got):\n%s", what, owner, diff)
			}
			last, err := v.LastOwned(owner)
			if err != nil {
				t.Fatal(err)
			}
			if w := want[owner]; len(w) > 0 && last != w[len(w)-1] || len(w) == 0 && last != 0 {
				t.Errorf("%s: LastOwned(%q) = %d", what, owner, last)
			}
			if len(want[owner]) > 1 {
				from := want[owner][1]
				var n int
				for range v.OwnerLog(owner, from) {
					n++
				}
				if n != len(want[owner])-1 {
					t.Errorf("%s: OwnerLog(%q, %d) has %d events, want %d", what, owner, from, n, len(want[owner])-1)
				}
			}
		}
	}
	check("live")
	if err := db.Verify(ctx); err != nil {
		t.Fatalf("verify: %v", err)
	}
	if err := db.Rebuild(ctx); err != nil {
		t.Fatal(err)
	}
	check("rebuilt")
}
