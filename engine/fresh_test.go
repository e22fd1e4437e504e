package engine

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/almanac/almanac/engine/internal/keys"
)

// TestOpenFreshNoRebuild opens a new, empty database twice, logging at
// debug level: neither Open says the projections come from another version
// or rebuilds, and the first records the projection version. A database
// whose version is stale still logs the rebuild (the capture works).
func TestOpenFreshNoRebuild(t *testing.T) {
	t.Parallel()
	fs := vfs.NewMem()
	var logs bytes.Buffer
	open := func() *DB {
		t.Helper()
		db, err := Open("db", &Options{FS: fs, Clock: fakeClock(),
			Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
		if err != nil {
			t.Fatal(err)
		}
		return db
	}
	for i := range 2 {
		db := open()
		if v, err := getCopy(db.pdb, keys.MetaKey(metaProjections)); err != nil || string(v) != projectionVersion {
			t.Errorf("open %d: projection version %q, %v; want %q", i, v, err, projectionVersion)
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		if s := logs.String(); strings.Contains(s, "another version") || strings.Contains(s, "rebuild") {
			t.Fatalf("open %d of a fresh database logged a rebuild:\n%s", i, s)
		}
	}
	db := open()
	if err := db.pdb.Set(keys.MetaKey(metaProjections), []byte("stale"), nil); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = open()
	defer db.Close()
	if !strings.Contains(logs.String(), "projections from another version") {
		t.Errorf("a stale database did not log its rebuild:\n%s", logs.String())
	}
}

// TestPing: Ping answers nil while the database is open, also right after
// writes, and ErrClosed after Close.
func TestPing(t *testing.T) {
	t.Parallel()
	fs := vfs.NewMem()
	db, err := Open("db", &Options{FS: fs, Clock: fakeClock()})
	if err != nil {
		t.Fatal(err)
	}
	MustCalendar(t, db)
	if err := db.Ping(ctx); err != nil {
		t.Errorf("Ping of an open database: %v", err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if err := db.Ping(ctx); !errors.Is(err, ErrClosed) {
		t.Errorf("Ping after Close: %v, want ErrClosed", err)
	}
}
