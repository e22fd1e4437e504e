package engine

import (
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// putN puts n objects into /alice/cal/ of db with PutObjects, in groups.
func putN(tb testing.TB, db *DB, from, n int) {
	tb.Helper()
	const group = 1000
	for lo := from; lo < from+n; lo += group {
		puts := make([]ObjectPut, 0, group)
		for i := lo; i < min(lo+group, from+n); i++ {
			name := fmt.Sprintf("m%06d", i)
			puts = append(puts, ObjectPut{Name: name + ".ics", Body: event(name)})
		}
		_, errs := db.PutObjects(ctx, alice, "/alice/cal/", puts)
		for _, err := range errs {
			if err != nil {
				tb.Fatal(err)
			}
		}
	}
}

// liveHeap returns the bytes of live heap objects after a collection.
func liveHeap() int64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}

// TestVerifyMemoryFlat: the live heap Verify holds once its replay is
// done (the whole replayed projections, were they in memory) does not grow
// with the store. Verified at two sizes of one database on disk, 4x apart:
// the difference must stay under a small constant (replayed projections in
// memory, as they were, grew by ~2.9 MiB between these sizes: 120 bytes
// an object of this small event, compressed).
// Not parallel: it reads the process's heap.
func TestVerifyMemoryFlat(t *testing.T) {
	const small = 8000
	db := mustCalendarOnDisk(t, filepath.Join(t.TempDir(), "db"))
	var held []int64
	defer func() { verifyReplayed = nil }()
	have := 0
	for _, n := range []int{small, 4 * small} {
		putN(t, db, have, n-have)
		have = n
		base := liveHeap()
		var at int64
		verifyReplayed = func() { at = liveHeap() }
		if err := db.Verify(ctx); err != nil {
			t.Fatal(err)
		}
		held = append(held, at-base)
		t.Logf("%d objects: Verify held %d KiB after its replay", n, (at-base)>>10)
	}
	if grew := held[1] - held[0]; grew > 1<<20 {
		t.Fatalf("Verify's heap after its replay grew by %d KiB from %d to %d objects (%d -> %d KiB): it grows with the store",
			grew>>10, small, 4*small, held[0]>>10, held[1]>>10)
	}
}

// TestVerifyScratchRemoved: Verify leaves no scratch database behind, a
// writable Open removes what a crashed verification left, and a read-only
// Open (VerifyBackup's) leaves the directory as it is.
func TestVerifyScratchRemoved(t *testing.T) {
	t.Parallel()
	fs := vfs.NewMem()
	db, err := Open("db", &Options{FS: fs})
	if err != nil {
		t.Fatal(err)
	}
	MustCalendar(t, db)
	putN(t, db, 0, 10)
	if err := db.Verify(ctx); err != nil {
		t.Fatal(err)
	}
	scratches := func() (n int) {
		names, err := fs.List("db")
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range names {
			if strings.HasPrefix(name, scratchPrefix) {
				n++
			}
		}
		return n
	}
	if n := scratches(); n != 0 {
		t.Fatalf("Verify left %d scratch database(s)", n)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if err := fs.MkdirAll("db/"+scratchPrefix+"crashed/replay", 0o700); err != nil {
		t.Fatal(err)
	}
	ro, err := Open("db", &Options{FS: fs, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := ro.Close(); err != nil {
		t.Fatal(err)
	}
	if n := scratches(); n != 1 {
		t.Fatalf("a read-only Open changed the directory: %d scratch databases, want the 1 left", n)
	}
	db, err = Open("db", &Options{FS: fs})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if n := scratches(); n != 0 {
		t.Fatalf("a writable Open left %d scratch database(s) of a crashed verification", n)
	}
}
