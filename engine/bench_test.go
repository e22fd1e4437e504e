package engine

import (
	"fmt"
	"github.com/almanac/almanac/engine/contentline"
	"github.com/almanac/almanac/internal/calgen"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"sort"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/almanac/almanac/engine/internal/keys"
	"github.com/cockroachdb/pebble/v2"
)

// Benchmarks run on the real disk with Sync on, since group commit is what
// they measure. Run: go test -run '^$' -bench . -benchtime 3s ./engine/

// asServed runs a benchmark with the garbage collector at GCPercent,
// unless GOGC says otherwise.
func asServed(b *testing.B) {
	if os.Getenv("GOGC") != "" {
		return
	}
	old := debug.SetGCPercent(GCPercent)
	b.Cleanup(func() { debug.SetGCPercent(old) })
}

// BenchmarkDiskFsync measures the disk's write+fdatasync rate, which bounds
// durable single-writer throughput; the put benchmarks compare with it.
func BenchmarkDiskFsync(b *testing.B) {
	f, err := os.Create(filepath.Join(b.TempDir(), "fsync"))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 1024)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := f.Write(buf); err != nil {
			b.Fatal(err)
		}
		if err := f.Sync(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "fsyncs/s")
}

// BenchmarkDiskFsyncInPlace measures write+fdatasync of blocks the file
// already holds within its size: no metadata to commit. The engine's logs
// sync this way (zeroedWAL); BenchmarkDiskFsync, appending, is the
// baseline the put benchmarks are held to.
func BenchmarkDiskFsyncInPlace(b *testing.B) {
	f, err := os.Create(filepath.Join(b.TempDir(), "fsync"))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	const size = 64 << 20
	if _, err := f.Write(make([]byte, size)); err != nil {
		b.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 1024)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := f.WriteAt(buf, int64(i*len(buf))%size); err != nil {
			b.Fatal(err)
		}
		if err := syscall.Fdatasync(int(f.Fd())); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "fsyncs/s")
}

// BenchmarkPut measures durable puts of ~1 KB events with 1, 16 and 64
// concurrent writers, and their latency.
func BenchmarkPut(b *testing.B) {
	asServed(b)
	for _, writers := range []int{1, 16, 64} {
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
			db := mustOpenDisk(b)
			MustCalendar(b, db)
			body := realisticEvent("bench")
			var next atomic.Int64
			lat := make([][]time.Duration, writers)
			b.SetBytes(int64(len(body)))
			b.ResetTimer()
			var wg sync.WaitGroup
			for w := 0; w < writers; w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						i := next.Add(1)
						if i > int64(b.N) {
							return
						}
						start := time.Now()
						name := fmt.Sprintf("e%d.ics", i)
						if _, err := db.PutObject(ctx, alice, "/alice/cal/", name, realisticEvent(name), PutOptions{}); err != nil {
							b.Error(err)
							return
						}
						lat[w] = append(lat[w], time.Since(start))
					}
				}()
			}
			wg.Wait()
			b.StopTimer()
			reportLatency(b, lat)
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "puts/s")
		})
	}
}

func reportLatency(b *testing.B, per [][]time.Duration) {
	var all []time.Duration
	for _, l := range per {
		all = append(all, l...)
	}
	if len(all) == 0 {
		return
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	b.ReportMetric(float64(all[len(all)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(all[len(all)*99/100].Microseconds()), "p99-µs")
}

// BenchmarkChanges measures an incremental sync after 10 changes in
// collections of 1k, 10k and 100k objects: it must not grow with size.
func BenchmarkChanges(b *testing.B) {
	asServed(b)
	for _, n := range []int{1000, 10000, 100000} {
		b.Run(fmt.Sprintf("objects=%d", n), func(b *testing.B) {
			db := filledDB(b, n)
			c, _ := db.Collection("/alice/cal/")
			for i := 0; i < 10; i++ {
				name := fmt.Sprintf("e%d.ics", i*7)
				if _, err := db.PutObject(ctx, alice, "/alice/cal/", name, realisticEvent(name), PutOptions{}); err != nil {
					b.Fatal(err)
				}
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				cs, err := db.Changes("/alice/cal/", c.SyncToken, 0)
				if err != nil || len(cs.Changes) != 10 {
					b.Fatalf("changes: %d, %v", len(cs.Changes), err)
				}
			}
		})
	}
}

// BenchmarkList measures listing names and ETags of a 10k-object collection.
func BenchmarkList(b *testing.B) {
	asServed(b)
	db := filledDB(b, 10000)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		v, _ := db.View()
		n := 0
		for o, err := range v.Objects("/alice/cal/", ListOptions{}) {
			if err != nil || o.ETag == "" {
				b.Fatal(err)
			}
			n++
		}
		v.Close()
		if n != 10000 {
			b.Fatalf("listed %d", n)
		}
	}
}

// BenchmarkListBodiesBlockCache measures reading every object of a
// 10k-object collection with its body (a first sync's reads) from a warm
// block cache and from one that DropBlockCache emptied before each
// listing, as serve's idle release leaves it: the tables then come from
// the kernel's page cache and their blocks are decompressed again.
func BenchmarkListBodiesBlockCache(b *testing.B) {
	benchListBlockCache(b, func(v *View) (n int) {
		for o, err := range v.Objects("/alice/cal/", ListOptions{Bodies: true}) {
			if err != nil || len(o.Body) == 0 {
				b.Fatal(err)
			}
			n++
		}
		return n
	})
}

// BenchmarkListBlockCache is BenchmarkListBodiesBlockCache for a PROPFIND
// Depth 1's reads: every member's record without its body
// (ObjectsTransient), from a warm block cache and from an emptied one.
func BenchmarkListBlockCache(b *testing.B) {
	benchListBlockCache(b, func(v *View) (n int) {
		for o, err := range v.ObjectsTransient("/alice/cal/") {
			if err != nil || o.ETag == "" {
				b.Fatal(err)
			}
			n++
		}
		return n
	})
}

// benchListBlockCache runs list over a filled 10k-object database, with
// the block cache warm and emptied before each listing, and reports the
// process's CPU per listing.
func benchListBlockCache(b *testing.B, list func(*View) int) {
	asServed(b)
	db := filledDB(b, 10000)
	for _, dropped := range []bool{false, true} {
		b.Run(fmt.Sprintf("dropped=%v", dropped), func(b *testing.B) {
			cpu := cpuTime()
			for b.Loop() {
				if dropped {
					db.DropBlockCache()
				}
				v, _ := db.View()
				n := list(v)
				v.Close()
				if n != 10000 {
					b.Fatalf("listed %d", n)
				}
			}
			b.ReportMetric(float64((cpuTime()-cpu).Microseconds())/float64(b.N)/1000, "cpu-ms/op")
		})
	}
}

// BenchmarkRebuild measures replaying the log into fresh projections.
// Each iteration rebuilds its own checkpoint of the same filled database,
// opened afresh, as Open does after an upgrade: rebuilding one database
// again and again would measure each rebuild on top of the compaction debt
// of the one before.
func BenchmarkRebuild(b *testing.B) {
	asServed(b)
	const n = 100000
	src := filledDB(b, n)
	events := int(src.Head())
	// at=open: Open finds the projections stale (as after an upgrade or an
	// interrupted rebuild) and rebuilds them before any reader comes.
	// at=live: Rebuild on an open database, while readers may hold views.
	for _, at := range []string{"open", "live"} {
		b.Run("at="+at, func(b *testing.B) {
			var cpu time.Duration
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				dir := filepath.Join(b.TempDir(), "checkpoint")
				if err := src.pdb.Checkpoint(dir); err != nil {
					b.Fatal(err)
				}
				if at == "open" {
					markStale(b, dir)
				}
				var db *DB
				if at == "live" {
					var err error
					if db, err = Open(dir, nil); err != nil {
						b.Fatal(err)
					}
				}
				b.StartTimer()
				start := cpuTime()
				var err error
				if at == "open" {
					db, err = Open(dir, nil)
				} else {
					err = db.Rebuild(ctx)
				}
				if err != nil {
					b.Fatal(err)
				}
				cpu += cpuTime() - start
				b.StopTimer()
				if err := db.Close(); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
			b.ReportMetric(float64(events*b.N)/b.Elapsed().Seconds(), "events/s")
			b.ReportMetric(float64(cpu.Microseconds())/float64(events*b.N), "cpu-µs/event")
		})
	}
}

// markStale records in the database in dir that its projections come from
// another layout version, so that Open rebuilds them.
func markStale(b *testing.B, dir string) {
	p, err := pebble.Open(dir, &pebble.Options{Logger: pebbleLogger{slog.New(slog.DiscardHandler)}})
	if err != nil {
		b.Fatal(err)
	}
	if err := p.Set(keys.MetaKey(metaProjections), []byte("stale"), pebble.Sync); err != nil {
		b.Fatal(err)
	}
	if err := p.Close(); err != nil {
		b.Fatal(err)
	}
}

// cpuTime returns the CPU time the process has used, user and system.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkOpenHeap measures the heap after opening a database that holds
// 1M objects in 1k collections: it must stay within Pebble's cache.
func BenchmarkOpenHeap(b *testing.B) {
	if testing.Short() {
		b.Skip("builds a 1M-object database")
	}
	dir := b.TempDir()
	db, err := Open(dir, &Options{MaxBatch: 4096})
	if err != nil {
		b.Fatal(err)
	}
	fill(b, db, 1000, 1000)
	if err := db.Close(); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		db, err := Open(dir, nil)
		if err != nil {
			b.Fatal(err)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/(1<<20), "heap-MiB")
		db.Close()
	}
}

var filled = map[int]*DB{}

// filledDB returns a disk database with n objects in /alice/cal/, built
// once per size and process.
func filledDB(b *testing.B, n int) *DB {
	if db, ok := filled[n]; ok {
		return db
	}
	dir, err := os.MkdirTemp("", "almanac-bench")
	if err != nil {
		b.Fatal(err)
	}
	db, err := Open(dir, &Options{MaxBatch: 4096})
	if err != nil {
		b.Fatal(err)
	}
	MustCalendar(b, db)
	fill(b, db, 1, n)
	quiesce(b, db)
	filled[n] = db
	return db
}

// quiesce flushes db's memtables and waits for its compactions to finish,
// so that they do not run during what a benchmark measures.
func quiesce(b *testing.B, db *DB) {
	if err := db.pdb.Flush(); err != nil {
		b.Fatal(err)
	}
	idle := 0 // consecutive polls without a compaction
	for deadline := time.Now().Add(time.Minute); idle < 10; time.Sleep(50 * time.Millisecond) {
		if db.pdb.Metrics().Compact.NumInProgress > 0 {
			idle = 0
		} else {
			idle++
		}
		if time.Now().After(deadline) {
			b.Log("compactions still running after a minute")
			return
		}
	}
}

// fill puts perColl objects into each of colls calendars with 64 writers.
func fill(b *testing.B, db *DB, colls, perColl int) {
	paths := []string{"/alice/cal/"}
	if colls > 1 {
		if _, err := db.CreateCollection(ctx, alice, CollectionSpec{Path: "/alice/", Kind: KindHome, Owner: "alice"}); err != nil {
			b.Fatal(err)
		}
		paths = nil
		for c := 0; c < colls; c++ {
			p := fmt.Sprintf("/alice/c%d/", c)
			if _, err := db.CreateCollection(ctx, alice, CollectionSpec{Path: p, Kind: KindCalendar, Owner: "alice"}); err != nil {
				b.Fatal(err)
			}
			paths = append(paths, p)
		}
	}
	var next atomic.Int64
	total := int64(colls * perColl)
	var wg sync.WaitGroup
	for w := 0; w < 64; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= total {
					return
				}
				name := fmt.Sprintf("e%d.ics", i/int64(colls))
				if _, err := db.PutObject(ctx, alice, paths[i%int64(colls)], name, realisticEvent(name), PutOptions{}); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

func mustOpenDisk(b *testing.B) *DB {
	db, err := Open(b.TempDir(), nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	return db
}

// realisticEvent returns a ~1 KB weekly meeting with attendees and an alarm.
func realisticEvent(uid string) []byte { return calgen.Realistic(uid) }

// BenchmarkValidate measures what every put of the realistic event costs
// its client's goroutine before the writer sees it: parsing, checks and
// the time envelope.
func BenchmarkValidate(b *testing.B) {
	asServed(b)
	coll := &Collection{Kind: KindCalendar}
	body := realisticEvent("bench")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := validate(coll, body, "", contentline.Defaults()); err != nil {
			b.Fatal(err)
		}
	}
}
