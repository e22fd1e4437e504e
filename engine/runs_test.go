package engine

import (
	"fmt"
	"math/rand"
	"slices"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// TestMergeSpans: merging sorted spans yields every ref once, in the order
// a sort of all of them gives, the writes of one key in the order made.
func TestMergeSpans(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewSource(1))
	for round := 0; round < 50; round++ {
		var all []ref
		spans := make([][]ref, rng.Intn(6))
		for i := range spans {
			for j := rng.Intn(40); j > 0; j-- {
				r := ref{key: fmt.Sprint(rng.Intn(30)), at: uint64(len(all))}
				spans[i] = append(spans[i], r)
				all = append(all, r)
			}
			slices.SortFunc(spans[i], cmpRefs)
		}
		slices.SortFunc(all, cmpRefs)
		var got []ref
		if err := mergeSpans(spans, func(r ref) error { got = append(got, r); return nil }); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, all) {
			t.Fatalf("round %d: merged %v, want %v", round, got, all)
		}
	}
}

// TestOpenRebuildIngests: Open's rebuild of stale projections writes them
// once, as tables ingested below everything, not through the memtable:
// no flush or compaction rewrites them.
func TestOpenRebuildIngests(t *testing.T) {
	t.Parallel()
	fs := vfs.NewMem()
	db, err := Open("db", &Options{FS: fs, Clock: fakeClock()})
	if err != nil {
		t.Fatal(err)
	}
	c := MustCalendar(t, db)
	for i := range 200 {
		name := fmt.Sprintf("e%d.ics", i)
		if _, err := db.PutObject(ctx, alice, c.Path, name, event(name), PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	db = reopenStale(t, db, fs)
	defer db.Close()
	m := db.pdb.Metrics()
	for l, lm := range m.Levels {
		switch {
		case l == len(m.Levels)-1 && lm.TablesIngested == 0:
			t.Errorf("no table ingested into the bottom level")
		case l < len(m.Levels)-1 && lm.TablesIngested != 0:
			t.Errorf("%d tables ingested into L%d, above the bottom", lm.TablesIngested, l)
		}
	}
	if m.Compact.Count != 0 {
		t.Errorf("%d compactions during the rebuild, want none", m.Compact.Count)
	}
	coll, err := db.Collection(c.Path)
	if err != nil {
		t.Fatal(err)
	}
	if coll.Count != 200 {
		t.Errorf("count after the rebuild = %d, want 200", coll.Count)
	}
	if err := db.Verify(ctx); err != nil {
		t.Error(err)
	}
	if list, _ := fs.List("db/" + runsDirName); len(list) > 0 {
		t.Errorf("the rebuild left %v behind", list)
	}
}

// TestRebuildKeepsViews: a live Rebuild leaves the views readers hold
// whole (an excise would empty their snapshots).
func TestRebuildKeepsViews(t *testing.T) {
	t.Parallel()
	db := MustOpen(t)
	c := MustCalendar(t, db)
	if _, err := db.PutObject(ctx, alice, c.Path, "a.ics", event("a"), PutOptions{}); err != nil {
		t.Fatal(err)
	}
	v, err := db.View()
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	if err := db.Rebuild(ctx); err != nil {
		t.Fatal(err)
	}
	o, err := v.Object(c.Path, "a.ics", true)
	if err != nil {
		t.Fatalf("a view held across the rebuild: %v", err)
	}
	if string(o.Body) != string(event("a")) {
		t.Errorf("body through the old view = %q", o.Body)
	}
}
