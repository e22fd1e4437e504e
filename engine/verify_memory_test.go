package engine

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
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
// memory, as they were, grew by ~1.4 MiB between these sizes: 120 bytes
// an object of this small event, compressed).
// Not parallel: it reads the process's heap. It takes ~4 s (minutes under
// -race on a loaded machine): the store must be large enough for the
// growth to stand out of the heap's noise.
func TestVerifyMemoryFlat(t *testing.T) {
	const small = 4000
	// A small block cache: under -race Pebble allocates it on the Go heap,
	// where Verify's reads of the log would fill it (64 MiB by default).
	// A memtable that holds the load (on disk it is in the write-ahead
	// log): a put's lookups of keys not yet written open an iterator per
	// sstable, for each of which the race build takes a stack trace; with
	// the default 16 MiB, flushed as the load went, the load was three
	// quarters of the test's CPU (31.5 CPU-s at CI's scale, 10.5 now).
	// Flushing before each Verify (reading the tables instead) made the
	// heap noisy: the flush's compactions and memtables moved it by MiBs.
	db, err := Open(filepath.Join(t.TempDir(), "db"), &Options{MinFreeSpace: -1, ReserveSize: -1, CacheSize: 256 << 10, MemTableSize: 64 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	MustCalendar(t, db)
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
	if grew := held[1] - held[0]; grew > 768<<10 {
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

// BenchmarkOfflineHeap reports the most heap (live objects, sampled every
// 5 ms: peak-heap-MiB) that Verify, Rebuild and Backup use on a database of
// 100,000 ~1 KB objects on disk, beyond what the open database held before,
// and the CPU they take (cpu-s/op, the process's user and system time:
// wall time means little on a loaded machine), with the replay's default
// budgets (replay=default) and with the 32 MiB the offline commands give
// it under the default --memory-budget (replay=32MiB) (the figures for
// README's "Memory and disk").
func BenchmarkOfflineHeap(b *testing.B) {
	dir := b.TempDir()
	db := mustCalendarOnDisk(b, filepath.Join(dir, "db"))
	const n = 100000
	for lo := 0; lo < n; lo += 1000 {
		puts := make([]ObjectPut, 0, 1000)
		for i := lo; i < lo+1000; i++ {
			name := fmt.Sprintf("r%06d", i)
			puts = append(puts, ObjectPut{Name: name + ".ics", Body: realisticEvent(name)})
		}
		if _, errs := db.PutObjects(ctx, alice, "/alice/cal/", puts); errs[0] != nil {
			b.Fatal(errs[0])
		}
	}
	ops := map[string]func(i int) error{
		"verify":  func(int) error { return db.Verify(ctx) },
		"rebuild": func(int) error { return db.Rebuild(ctx) },
		"backup": func(i int) error {
			dest := filepath.Join(dir, fmt.Sprintf("backup%d", i))
			defer os.RemoveAll(dest)
			_, err := db.Backup(ctx, dest)
			return err
		},
	}
	for _, run := range []struct {
		name   string
		memory int64
	}{{"verify", 0}, {"rebuild", 0}, {"backup", 0}, {"verify", 32 << 20}, {"rebuild", 32 << 20}, {"backup", 32 << 20}} {
		label := "default"
		if run.memory > 0 {
			label = fmt.Sprintf("%dMiB", run.memory>>20)
		}
		name := run.name
		b.Run(name+"/replay="+label, func(b *testing.B) {
			db.opts.ReplayMemory = run.memory
			defer func() { db.opts.ReplayMemory = 0 }()
			var peak uint64
			cpu0 := cpuTime()
			for i := 0; i < b.N; i++ {
				base := uint64(liveHeap())
				stop, done := make(chan struct{}), make(chan uint64)
				go func() {
					s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
					var most uint64
					for {
						metrics.Read(s)
						most = max(most, s[0].Value.Uint64())
						select {
						case <-stop:
							done <- most
							return
						case <-time.After(5 * time.Millisecond):
						}
					}
				}()
				if err := ops[name](i); err != nil {
					b.Fatal(err)
				}
				close(stop)
				if most := <-done; most > base {
					peak = max(peak, most-base)
				}
			}
			b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
			b.ReportMetric((cpuTime()-cpu0).Seconds()/float64(b.N), "cpu-s/op")
		})
	}
}

// TestVerifyScratchSharesCache: Verify's scratch database reads its
// blocks into the database's own block cache (the memory the database was
// given), not into a cache of its own: a block read through the scratch
// shows in the database's cache metrics.
func TestVerifyScratchSharesCache(t *testing.T) {
	db := mustCalendarOnDisk(t, t.TempDir())
	scratch, done, err := db.openScratch()
	if err != nil {
		t.Fatal(err)
	}
	defer done()
	if err := scratch.pdb.Set([]byte("k"), []byte("v"), pebble.Sync); err != nil {
		t.Fatal(err)
	}
	if err := scratch.pdb.Flush(); err != nil {
		t.Fatal(err)
	}
	before := db.pdb.Metrics().BlockCache
	for range 2 { // the first read loads the block, the second hits it
		v, closer, err := scratch.pdb.Get([]byte("k"))
		if err != nil || string(v) != "v" {
			t.Fatalf("scratch Get: %q, %v", v, err)
		}
		closer.Close()
	}
	after := db.pdb.Metrics().BlockCache
	if after.Count <= before.Count || after.Hits <= before.Hits {
		t.Errorf("the database's block cache: %d blocks and %d hits before the scratch's reads, %d and %d after: the scratch has a cache of its own",
			before.Count, before.Hits, after.Count, after.Hits)
	}
}
