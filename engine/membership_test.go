package engine

import (
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// TestGroupCache: a delegation through a group resolves from the cached
// decoded group list while the user's groups stay the same (the same
// slice comes back, nothing is decoded again), and a member leaving or
// joining the group is seen on the next view.
func TestGroupCache(t *testing.T) {
	db := sharingDB(t, vfs.NewMem())
	must(t, db.PutGroup(ctx, alice, Group{Name: "team", Members: []string{"bob"}}))
	must(t, db.PutGroup(ctx, alice, Group{Name: "other", Members: []string{"bob"}}))
	must(t, db.SetProxy(ctx, alice, "alice", "team", AccessReadWrite))
	if r := access(t, db, "bob", "/h/alice/cal/x.ics"); r.Access != AccessReadWrite {
		t.Fatalf("bob through team: %v", r.Access)
	}
	v, err := db.View()
	must(t, err)
	first, err := db.groups.groupsOf(v.v.snap, "bob")
	must(t, err)
	again, err := db.groups.groupsOf(v.v.snap, "bob")
	must(t, err)
	v.Close()
	if len(first) != 2 || &first[0] != &again[0] {
		t.Errorf("bob's groups %q, then %q: want the cached slice both times", first, again)
	}
	must(t, db.PutGroup(ctx, alice, Group{Name: "team", Members: []string{"carol"}}))
	if r := access(t, db, "bob", "/h/alice/cal/x.ics"); r.Access != AccessNone {
		t.Errorf("bob after leaving team: %v, want none", r.Access)
	}
	if r := access(t, db, "carol", "/h/alice/cal/x.ics"); r.Access != AccessReadWrite {
		t.Errorf("carol after joining team: %v, want read-write", r.Access)
	}
	must(t, db.PutGroup(ctx, alice, Group{Name: "team", Members: []string{"bob", "carol"}}))
	if r := access(t, db, "bob", "/h/alice/cal/x.ics"); r.Access != AccessReadWrite {
		t.Errorf("bob back in team: %v, want read-write", r.Access)
	}
}
