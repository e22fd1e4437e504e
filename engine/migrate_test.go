package engine

import (
	"fmt"
	"log/slog"
	"testing"

	"github.com/almanac/almanac/engine/internal/keys"
	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// TestOpenMovesLegacyLog: a database whose log has the old prefix gets it
// moved at Open, in several batches, and then reads, syncs and verifies as
// before; a crash in the middle of the move (old log whole, part of it
// copied) is finished by the next Open.
func TestOpenMovesLegacyLog(t *testing.T) {
	defer func(n int) { migrateBatchBytes = n }(migrateBatchBytes)
	migrateBatchBytes = 2048 // a few events per batch
	fs := vfs.NewMem()
	db, err := Open("db", &Options{FS: fs, Clock: fakeClock()})
	if err != nil {
		t.Fatal(err)
	}
	c := MustCalendar(t, db)
	for i := range 20 {
		name := fmt.Sprintf("e%d.ics", i)
		if _, err := db.PutObject(ctx, alice, c.Path, name, event(name), PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.DeleteObject(ctx, alice, c.Path, "e3.ics", ""); err != nil {
		t.Fatal(err)
	}
	head := db.Head()
	token := collectionToken(t, db, c.Path)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	// Back to the old layout, plus a crash mid-move: the first events
	// copied already.
	p, err := pebble.Open("db", &pebble.Options{FS: fs, FormatMajorVersion: pebble.FormatNewest, Logger: pebbleLogger{slog.New(slog.DiscardHandler)}})
	if err != nil {
		t.Fatal(err)
	}
	it, err := p.NewIter(&pebble.IterOptions{LowerBound: []byte{keys.Log}, UpperBound: []byte{keys.Log + 1}})
	if err != nil {
		t.Fatal(err)
	}
	b := p.NewBatch()
	n := 0
	for it.First(); it.Valid(); it.Next() {
		_ = b.Set(append([]byte{keys.LegacyLog}, it.Key()[1:]...), it.Value(), nil)
		if n++; n > 5 {
			_ = b.Delete(it.Key(), nil)
		}
	}
	it.Close()
	if err := b.Commit(pebble.Sync); err != nil {
		t.Fatal(err)
	}
	p.Close()

	db, err = Open("db", &Options{FS: fs, Clock: fakeClock()})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if db.Head() != head {
		t.Errorf("head after the move = %d, want %d", db.Head(), head)
	}
	if got := collectionToken(t, db, c.Path); got != token {
		t.Errorf("sync token after the move = %q, want %q", got, token)
	}
	if o, err := db.Object(c.Path, "e7.ics", true); err != nil {
		t.Errorf("e7.ics after the move: %v", err)
	} else if string(o.Body) != string(event("e7.ics")) {
		t.Errorf("e7.ics after the move: %q", o.Body)
	}
	v, err := db.View()
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	hist, err := v.History(c.Path, "e3.ics")
	if err != nil || len(hist) != 2 {
		t.Errorf("history of e3.ics after the move: %d events, %v", len(hist), err)
	}
	if err := db.Verify(ctx); err != nil {
		t.Error(err)
	}
	it, err = db.pdb.NewIter(&pebble.IterOptions{LowerBound: []byte{keys.LegacyLog}, UpperBound: []byte{keys.LegacyLog + 1}})
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	if it.First() {
		t.Errorf("old log record %q left after the move", it.Key())
	}
}

func collectionToken(t *testing.T, db *DB, path string) string {
	t.Helper()
	c, err := db.Collection(path)
	if err != nil {
		t.Fatal(err)
	}
	return c.SyncToken
}
