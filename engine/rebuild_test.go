package engine

import (
	"fmt"
	"log/slog"
	"testing"

	"github.com/almanac/almanac/engine/internal/keys"
	statev1 "github.com/almanac/almanac/proto/almanac/state/v1"
	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
	"google.golang.org/protobuf/proto"
)

// TestOpenRebuildsOldProjections: a database whose projections were
// written by an older layout (bodies in 'b' records, object records
// without body_seq, no version recorded) gets them rebuilt at Open, and
// then reads right and verifies.
func TestOpenRebuildsOldProjections(t *testing.T) {
	t.Parallel()
	fs := vfs.NewMem()
	db, err := Open("db", &Options{FS: fs, Clock: fakeClock()})
	if err != nil {
		t.Fatal(err)
	}
	c := MustCalendar(t, db)
	if _, err := db.PutObject(ctx, alice, c.Path, "a.ics", event("a"), PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	// Turn the projections into the old layout.
	p, err := pebble.Open("db", &pebble.Options{FS: fs, FormatMajorVersion: pebble.FormatNewest, Logger: pebbleLogger{slog.New(slog.DiscardHandler)}})
	if err != nil {
		t.Fatal(err)
	}
	rec := &statev1.Object{}
	if err := getProto(p, keys.ObjKey(c.ID, "a.ics"), rec); err != nil {
		t.Fatal(err)
	}
	rec.BodySeq = 0
	old, _ := proto.Marshal(rec)
	b := p.NewBatch()
	_ = b.Set(keys.ObjKey(c.ID, "a.ics"), old, nil)
	_ = b.Set(append(keys.IDPrefix('b', c.ID), "a.ics"...), event("a"), nil)
	_ = b.Delete(keys.MetaKey(metaProjections), nil)
	if err := b.Commit(pebble.Sync); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}

	db, err = Open("db", &Options{FS: fs, Clock: fakeClock()})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	o, err := db.Object(c.Path, "a.ics", true)
	if err != nil {
		t.Fatal(err)
	}
	if string(o.Body) != string(event("a")) {
		t.Errorf("body after the upgrade = %q", o.Body)
	}
	if err := db.Verify(ctx); err != nil {
		t.Error(err)
	}
	it, err := db.pdb.NewIter(&pebble.IterOptions{LowerBound: []byte{'b'}, UpperBound: []byte{'b' + 1}})
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	if it.First() {
		t.Errorf("a retired body record survived the rebuild: %q", it.Key())
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

// TestRebuildWithinReplayMemory: a rebuild whose replay is limited to a
// few KiB (kept records outgrown, many small runs, then batches) derives
// the projections a replay with the default budgets does: Verify, with
// the default budgets, finds them equal.
func TestRebuildWithinReplayMemory(t *testing.T) {
	t.Parallel()
	fs := vfs.NewMem()
	db, err := Open("db", &Options{FS: fs, Clock: fakeClock()})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	c := MustCalendar(t, db)
	for i := range 300 {
		name := fmt.Sprintf("e%d.ics", i)
		if _, err := db.PutObject(ctx, alice, c.Path, name, event(name), PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	// Deletions read back records written long before: past the kept
	// records' budget, from Pebble.
	for i := 0; i < 300; i += 7 {
		if err := db.DeleteObject(ctx, alice, c.Path, fmt.Sprintf("e%d.ics", i), ""); err != nil {
			t.Fatal(err)
		}
	}
	db.opts.ReplayMemory = 12 << 10
	if err := db.Rebuild(ctx); err != nil {
		t.Fatal(err)
	}
	db.opts.ReplayMemory = 0
	if err := db.Verify(ctx); err != nil {
		t.Error(err)
	}
	coll, err := db.Collection(c.Path)
	if err != nil {
		t.Fatal(err)
	}
	if want := int64(300 - 43); coll.Count != want {
		t.Errorf("count after the rebuild = %d, want %d", coll.Count, want)
	}
}
