package audit

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/almanac/almanac/engine"
	"github.com/almanac/almanac/internal/testscale"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// TestImportInItemOrder checks that an import, which hands a collection's
// items to the engine together, still gives each item the outcome it had
// when items were written one at a time, in order: a name given twice
// ends with the later bytes (both counted as imported), a UID given under
// two names keeps the first and reports the second, errors are listed in
// item order, and an import run again changes nothing.
func TestImportInItemOrder(t *testing.T) {
	db := mustOpen(t)
	l := &Local{DB: db, Meta: aliceMeta}
	items := []Item{
		{Name: "a.ics", Body: calObject(vevent("a", "first"))},
		{Err: "broken.ics: not a calendar"},
		{Name: "b.ics", Body: calObject(vevent("b", "b"))},
		{Name: "a.ics", Body: calObject(vevent("a", "second"))},
		{Name: "c.ics", Body: calObject(vevent("b", "b under another name"))},
		{Name: "d.ics", Body: calObject(vevent("d", "d"))},
	}
	req := ImportRequest{Collections: []ImportCollection{{Path: cal, Kind: "calendar", Items: items}}}
	rep, err := l.Import(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Imported != 4 || rep.Unchanged != 0 || len(rep.Errors) != 2 ||
		!strings.HasPrefix(rep.Errors[0], cal+": broken.ics") || !strings.HasPrefix(rep.Errors[1], cal+"c.ics: ") {
		t.Fatalf("import: %+v", rep)
	}
	if o, err := db.Object(cal, "a.ics", true); err != nil || !bytes.Equal(o.Body, items[3].Body) {
		t.Fatalf("a.ics after two versions in one import: %v\n%s", err, o.Body)
	}
	rep, err = l.Import(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	// a.ics: the first version replaces the second, then the second the
	// first again; b.ics and d.ics are unchanged; c.ics conflicts again.
	if rep.Imported != 2 || rep.Unchanged != 2 || len(rep.Errors) != 2 {
		t.Fatalf("import again: %+v", rep)
	}
	if err := db.Verify(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestImportPowerLoss cuts the power (Pebble's crashable in-memory
// filesystem: what was synced survives, and a random part of what was
// not) while an import of many items into two collections runs. The
// store that opens afterwards must verify, hold in each collection a
// prefix of the items in their order (each with its bytes), and an
// import run again must add exactly the rest. It runs 3 cuts times
// ALMANAC_TEST_SCALE, each after a random number of committed events.
func TestImportPowerLoss(t *testing.T) {
	t.Parallel()
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	const per = 600
	var req ImportRequest
	for _, c := range []string{cal, "/dav/home/alice/work/"} {
		ic := ImportCollection{Path: c, Kind: "calendar"}
		for i := range per {
			uid := fmt.Sprintf("%s-%04d", strings.Trim(c, "/"), i)
			ic.Items = append(ic.Items, Item{Name: fmt.Sprintf("%04d.ics", i), Body: calObject(vevent(uid, uid))})
		}
		req.Collections = append(req.Collections, ic)
	}
	for round := range testscale.N(t, 3) {
		fs := vfs.NewCrashableMem()
		db, err := engine.Open("db", &engine.Options{FS: fs})
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() {
			_, err := (&Local{DB: db, Meta: aliceMeta}).Import(ctx, req)
			done <- err
		}()
		target := engine.Seq(10 + rng.IntN(2*per))
		for db.Head() < target {
			if _, err := db.Wait(ctx, db.Head()); err != nil {
				t.Fatal(err)
			}
		}
		clone := fs.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: rng.IntN(100), RNG: rng})
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		db.Close()

		after, err := engine.Open("db", &engine.Options{FS: clone})
		if err != nil {
			t.Fatalf("round %d: open after power loss: %v", round, err)
		}
		if err := after.Verify(ctx); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		kept := 0
		for _, c := range req.Collections {
			// One listing of the collection, not an Object per item: under
			// -race Pebble records a stack for every sstable iterator
			// opened: 2,400 lookups a round were a quarter of the test's CPU.
			held, err := listBodies(after, c.Path)
			if err != nil {
				t.Fatalf("round %d: %v", round, err)
			}
			n := 0
			for ; n < len(c.Items); n++ {
				body, ok := held[c.Items[n].Name]
				if !ok {
					break
				}
				if !bytes.Equal(body, c.Items[n].Body) {
					t.Fatalf("round %d: %s%s holds other bytes than imported", round, c.Path, c.Items[n].Name)
				}
			}
			for _, it := range c.Items[n:] {
				if _, ok := held[it.Name]; ok {
					t.Fatalf("round %d: %s%s kept though %s%s, before it, was lost", round, c.Path, it.Name, c.Path, c.Items[n].Name)
				}
			}
			if len(held) != n {
				t.Fatalf("round %d: %s holds %d objects, %d of them imported items", round, c.Path, len(held), n)
			}
			kept += n
		}
		rep, err := (&Local{DB: after, Meta: aliceMeta}).Import(ctx, req)
		if err != nil || rep.Unchanged != kept || rep.Imported != 2*per-kept || len(rep.Errors) != 0 {
			t.Fatalf("round %d: import again after keeping %d: %+v %v", round, kept, rep, err)
		}
		if err := after.Verify(ctx); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		after.Close()
		t.Logf("round %d: cut after event %d, %d of %d items kept", round, target, kept, 2*per)
	}
}

// listBodies returns the body of every object in the collection at path
// of db, by name; none when the collection does not exist.
func listBodies(db *engine.DB, path string) (map[string][]byte, error) {
	v, err := db.View()
	if err != nil {
		return nil, err
	}
	defer v.Close()
	held := map[string][]byte{}
	for o, err := range v.Objects(path, engine.ListOptions{Bodies: true}) {
		if errors.Is(err, engine.ErrNotFound) {
			return held, nil
		}
		if err != nil {
			return nil, fmt.Errorf("listing %s: %w", path, err)
		}
		held[o.Name] = o.Body
	}
	return held, nil
}
