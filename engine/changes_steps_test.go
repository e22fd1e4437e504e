package engine

import (
	"fmt"
	"testing"
)

// TestChangesReadsOnlyChanges: an incremental sync reads the blocks of the
// changes after its token, not the collection (README: "sync is
// O(changes)"). Two calendars, of 200 and 2,000 objects, each get the
// same 10 changes after a token; with everything flushed to tables,
// Pebble's block lookups (cache hits and misses) of Changes from the
// token are counted: the large calendar's may exceed the small one's by
// an index block or two, never by its size, and stay under a third of
// its full listing's (measured: 13 and 11 lookups, including the
// collection's own; 44 for the listing).
func TestChangesReadsOnlyChanges(t *testing.T) {
	t.Parallel()
	db := MustOpen(t)
	MustCalendar(t, db)
	if _, err := db.CreateCollection(ctx, alice, CollectionSpec{Path: "/alice/big/", Kind: KindCalendar, Owner: "alice"}); err != nil {
		t.Fatal(err)
	}
	lookups := func() int64 {
		m := db.pdb.Metrics()
		return m.BlockCache.Hits + m.BlockCache.Misses
	}
	counted := func(path, token string) (int64, int) {
		t.Helper()
		before := lookups()
		cs, err := db.Changes(path, token, 0)
		if err != nil {
			t.Fatal(err)
		}
		return lookups() - before, len(cs.Changes)
	}
	tokens := map[string]string{}
	for path, n := range map[string]int{"/alice/cal/": 200, "/alice/big/": 2000} {
		for i := range n {
			name := fmt.Sprintf("e%d.ics", i)
			if _, err := db.PutObject(ctx, alice, path, name, event(name), PutOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		c, err := db.Collection(path)
		if err != nil {
			t.Fatal(err)
		}
		tokens[path] = c.SyncToken
	}
	for path := range tokens {
		for i := range 10 {
			name := fmt.Sprintf("new%d.ics", i)
			if _, err := db.PutObject(ctx, alice, path, name, event(name), PutOptions{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := db.pdb.Flush(); err != nil {
		t.Fatal(err)
	}
	small, ns := counted("/alice/cal/", tokens["/alice/cal/"])
	big, nb := counted("/alice/big/", tokens["/alice/big/"])
	full, nf := counted("/alice/big/", "")
	if ns != 10 || nb != 10 || nf != 2010 {
		t.Fatalf("changes: %d and %d after the tokens, want 10 each; full listing %d, want 2010", ns, nb, nf)
	}
	t.Logf("block lookups: 10 changes of 200 objects %d, of 2,000 %d; full listing of 2,000 %d", small, big, full)
	if big > small+2 || big*3 > full {
		t.Errorf("block lookups: 10 changes of 200 objects %d, of 2,000 %d, full listing of 2,000 %d: the incremental sync reads the collection", small, big, full)
	}
}
