package engine

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// smallFS is a filesystem of a fixed capacity on top of an in-memory one:
// a write that does not fit fails with ENOSPC, as a full disk's does, and
// GetDiskUsage reports what is left. other is space taken by "another
// process", which a test sets to fill the disk or to free it.
type smallFS struct {
	vfs.FS
	mu       sync.Mutex
	capacity int64
	other    int64
	writes   atomic.Int64 // Write and WriteAt calls that wrote
}

func newSmallFS(capacity int64) *smallFS { return &smallFS{FS: vfs.NewMem(), capacity: capacity} }

// used sums the sizes of every file (called with mu held).
func (fs *smallFS) used() int64 {
	n := fs.other
	var walk func(dir string)
	walk = func(dir string) {
		names, _ := fs.FS.List(dir)
		for _, name := range names {
			p := fs.FS.PathJoin(dir, name)
			fi, err := fs.FS.Stat(p)
			if err != nil {
				continue
			}
			if fi.IsDir() {
				walk(p)
			} else {
				n += fi.Size()
			}
		}
	}
	walk("")
	return n
}

func (fs *smallFS) free() int64 {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return fs.capacity - fs.used()
}

// fill makes another process take all but left bytes of the free space
// (left < 0: give back everything it took).
func (fs *smallFS) fill(left int64) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.other = 0
	if left >= 0 {
		fs.other = max(0, fs.capacity-fs.used()-left)
	}
}

// take reserves n bytes for a write, or fails with ENOSPC.
func (fs *smallFS) take(n int) error {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if fs.used()+int64(n) > fs.capacity {
		return &os.PathError{Op: "write", Path: "smallfs", Err: syscall.ENOSPC}
	}
	return nil
}

func (fs *smallFS) GetDiskUsage(string) (vfs.DiskUsage, error) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	u := fs.used()
	return vfs.DiskUsage{AvailBytes: uint64(max(0, fs.capacity-u)), TotalBytes: uint64(fs.capacity), UsedBytes: uint64(u)}, nil
}

func (fs *smallFS) Create(name string, cat vfs.DiskWriteCategory) (vfs.File, error) {
	if err := fs.take(0); err != nil && fs.free() <= 0 {
		return nil, err
	}
	f, err := fs.FS.Create(name, cat)
	if err != nil {
		return nil, err
	}
	return &smallFile{File: f, fs: fs}, nil
}

func (fs *smallFS) ReuseForWrite(oldname, newname string, cat vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := fs.FS.ReuseForWrite(oldname, newname, cat)
	if err != nil {
		return nil, err
	}
	return &smallFile{File: f, fs: fs}, nil
}

func (fs *smallFS) OpenReadWrite(name string, cat vfs.DiskWriteCategory, opts ...vfs.OpenOption) (vfs.File, error) {
	f, err := fs.FS.OpenReadWrite(name, cat, opts...)
	if err != nil {
		return nil, err
	}
	return &smallFile{File: f, fs: fs}, nil
}

type smallFile struct {
	vfs.File
	fs *smallFS
}

func (f *smallFile) Write(p []byte) (int, error) {
	if err := f.fs.take(len(p)); err != nil {
		return 0, err
	}
	f.fs.writes.Add(1)
	return f.File.Write(p)
}

func (f *smallFile) WriteAt(p []byte, off int64) (int, error) {
	if err := f.fs.take(len(p)); err != nil {
		return 0, err
	}
	f.fs.writes.Add(1)
	return f.File.WriteAt(p, off)
}

// TestDiskFull fills the disk under a running database: writes get
// ErrNoSpace at once (not a hang, not a panic), reads go on, and once
// space is free again writes succeed without a restart; nothing
// acknowledged is lost and Verify passes. A write of Pebble's that meets
// the full disk itself (a flush) lands in the released reserve.
func TestDiskFull(t *testing.T) {
	defer func(d, e time.Duration) { spaceProbeInterval, statfsEvery = d, e }(spaceProbeInterval, statfsEvery)
	spaceProbeInterval, statfsEvery = 10*time.Millisecond, 0
	const minFree, reserve = 1 << 20, 2 << 20
	fs := newSmallFS(64 << 20)
	var logs syncBuffer
	opts := &Options{FS: fs, Clock: fakeClock(), MinFreeSpace: minFree, ReserveSize: reserve,
		Logger: slog.New(slog.NewTextHandler(&logs, nil))}
	db, err := Open("db", opts)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { db.Close() }()
	if fi, err := fs.Stat("db/" + reserveName); err != nil || fi.Size() != reserve {
		t.Fatalf("reserve file: %v, %v", fi, err)
	}
	acked := map[string]bool{}
	put := fiftyAcked(t, db, acked)
	readAll := func(when string) {
		t.Helper()
		for name := range acked {
			if _, err := db.Object("/alice/cal/", name, true); err != nil {
				t.Fatalf("%s: read %s: %v", when, name, err)
			}
		}
	}

	// Another process leaves less than MinFreeSpace: refused at once,
	// before Pebble sees the write (nothing is written to the disk: a
	// count, where this test timed the refusals before).
	fs.fill(minFree / 2)
	writes := fs.writes.Load()
	for i := range 20 {
		if err := put(fmt.Sprintf("b%d.ics", i)); !errors.Is(err, ErrNoSpace) {
			t.Fatalf("put on a full disk: %v, want ErrNoSpace", err)
		}
	}
	if n := fs.writes.Load() - writes; n != 0 {
		t.Errorf("20 refused puts wrote to the disk %d times, want none", n)
	}
	if err := db.SetCursor("nats", 1); !errors.Is(err, ErrNoSpace) {
		t.Errorf("SetCursor on a full disk: %v, want ErrNoSpace", err)
	}
	readAll("disk full")

	// The disk fills completely: Pebble's own flush meets ENOSPC, the
	// reserve is released and the flush lands.
	fs.fill(0)
	if err := db.pdb.Flush(); err != nil {
		t.Fatalf("flush on a full disk with the reserve: %v", err)
	}
	if _, err := fs.Stat("db/" + reserveName); !os.IsNotExist(err) {
		t.Errorf("the reserve was not released: %v", err)
	}
	if err := put("c.ics"); !errors.Is(err, ErrNoSpace) {
		t.Fatalf("put after the reserve went: %v, want ErrNoSpace", err)
	}
	readAll("reserve released")

	// Space returns: writes succeed again, without a restart, once the
	// probe has put the reserve back.
	fs.fill(-1)
	deadline := time.Now().Add(time.Minute)
	for {
		err := put("d.ics")
		if err == nil {
			break
		}
		if !errors.Is(err, ErrNoSpace) || time.Now().After(deadline) {
			t.Fatalf("put after space returned (retried for up to a minute while refused for want of space): %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if fi, err := fs.Stat("db/" + reserveName); err != nil || fi.Size() != reserve {
		t.Errorf("the reserve is not back: %v, %v", fi, err)
	}
	readAll("space back")
	if err := db.Verify(ctx); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"disk full: refusing writes", "released the reserve", "writes are accepted"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, logs.String())
		}
	}
	if n := strings.Count(logs.String(), "level=ERROR"); n > 10 {
		t.Errorf("%d error lines for one disk-full episode: the log must not flood", n)
	}

	// Nothing acknowledged is lost across a restart.
	db, err = Open("db", &Options{FS: fs, Clock: fakeClock(), MinFreeSpace: minFree, ReserveSize: reserve})
	if err != nil {
		t.Fatal(err)
	}
	readAll("reopened")
	if err := db.Verify(ctx); err != nil {
		t.Fatalf("Verify after reopening: %v", err)
	}
}

// fiftyAcked makes alice's calendar in db and puts 50 objects into it.
// It returns a put whose acknowledged names, like those 50, go to acked.
func fiftyAcked(t *testing.T, db *DB, acked map[string]bool) func(name string) error {
	t.Helper()
	MustCalendar(t, db)
	put := func(name string) error {
		_, err := db.PutObject(ctx, alice, "/alice/cal/", name, event("uid-"+name), PutOptions{})
		if err == nil {
			acked[name] = true
		}
		return err
	}
	for i := range 50 {
		if err := put(fmt.Sprintf("a%d.ics", i)); err != nil {
			t.Fatal(err)
		}
	}
	return put
}

// TestReserveLeavesZerosAlone writes the reserve through a filesystem
// that changes the buffers it writes (Pebble's MemFS under the race
// detector flips their bytes): the zeros the WAL zeroer shares must stay
// zeros, else a log's preallocated tail gets other bytes.
func TestReserveLeavesZerosAlone(t *testing.T) {
	t.Parallel()
	fs := newSmallFS(64 << 20)
	db, err := Open("db", &Options{FS: fs, Clock: fakeClock(), MinFreeSpace: 1 << 20, ReserveSize: zeroChunk})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if fi, err := fs.Stat("db/" + reserveName); err != nil || fi.Size() != zeroChunk {
		t.Fatalf("reserve file: %v, %v", fi, err)
	}
	if zeros != [zeroChunk]byte{} {
		t.Fatal("writing the reserve changed the WAL zeroer's zeros")
	}
}

// TestOpenOnFullDisk starts a server on a full disk: with the reserve it
// opens normally, without it read-only; either way reads are served and
// writes get ErrNoSpace.
func TestOpenOnFullDisk(t *testing.T) {
	t.Parallel()
	const minFree, reserve = 1 << 20, 2 << 20
	fs := newSmallFS(64 << 20)
	opts := Options{FS: fs, Clock: fakeClock(), MinFreeSpace: minFree, ReserveSize: reserve,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	o := opts
	db, err := Open("db", &o)
	if err != nil {
		t.Fatal(err)
	}
	MustCalendar(t, db)
	for i := range 20 {
		if _, err := db.PutObject(ctx, alice, "/alice/cal/", fmt.Sprintf("a%d.ics", i), event(fmt.Sprintf("u%d", i)), PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	for _, tc := range []struct {
		name         string
		dropReserve  bool
		wantReadOnly bool
	}{
		{"WithReserve", false, false},
		{"WithoutReserve", true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs.fill(-1)
			if tc.dropReserve {
				if err := fs.Remove("db/" + reserveName); err != nil && !os.IsNotExist(err) {
					t.Fatal(err)
				}
			}
			fs.fill(0)
			o := opts
			db, err := Open("db", &o)
			if err != nil {
				t.Fatalf("open on a full disk: %v", err)
			}
			defer db.Close()
			if !tc.dropReserve {
				if _, err := fs.Stat("db/" + reserveName); !os.IsNotExist(err) {
					t.Errorf("Open on a full disk did not use the reserve: %v", err)
				}
			}
			if db.space.readOnly != tc.wantReadOnly {
				t.Errorf("read-only = %v, want %v", db.space.readOnly, tc.wantReadOnly)
			}
			for i := range 20 {
				if _, err := db.Object("/alice/cal/", fmt.Sprintf("a%d.ics", i), true); err != nil {
					t.Fatalf("read on a full disk: %v", err)
				}
			}
			if _, err := db.PutObject(ctx, alice, "/alice/cal/", "new.ics", event("new"), PutOptions{}); !errors.Is(err, ErrNoSpace) {
				t.Fatalf("put on a full disk: %v, want ErrNoSpace", err)
			}
		})
	}
}

// TestReserveSizedToStore: with the default ReserveSize (64 MiB, now a
// cap) a small store's reserve is what reserveNeed gives for it, a few
// MiB; recovery from a full disk still works with it (Pebble's flush on a
// completely full disk lands in the released reserve, writes resume
// without a restart, nothing acknowledged is lost); the reserve does not
// grow with the tables, since a compaction that meets the full disk fails
// without taking it (compactionFS) and runs again once space returned;
// and a restart cuts a reserve left larger than the store needs (the
// fixed 64 MiB of older versions, the grown ones of session 13).
func TestReserveSizedToStore(t *testing.T) {
	defer func(d, e time.Duration) { spaceProbeInterval, statfsEvery = d, e }(spaceProbeInterval, statfsEvery)
	spaceProbeInterval, statfsEvery = 10*time.Millisecond, 0
	const minFree = 1 << 20
	fs := newSmallFS(48 << 20) // a 64 MiB reserve would not even fit
	open := func(reserve int64) *DB {
		t.Helper()
		db, err := Open("db", &Options{FS: fs, Clock: fakeClock(), MinFreeSpace: minFree, ReserveSize: reserve,
			MemTableSize: 1 << 20, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			t.Fatal(err)
		}
		return db
	}
	reserveFile := func() int64 {
		t.Helper()
		fi, err := fs.Stat("db/" + reserveName)
		if err != nil {
			t.Fatalf("reserve file: %v", err)
		}
		return fi.Size()
	}
	db := open(0)
	defer func() { db.Close() }()
	small := reserveFile()
	if want := reserveNeed(1 << 20); small != want || small != db.space.reserveSize() {
		t.Fatalf("a new store's reserve is %d bytes (sized %d), want reserveNeed's %d", small, db.space.reserveSize(), want)
	}
	acked := map[string]bool{}
	put := fiftyAcked(t, db, acked)

	// The disk fills: refused first, then Pebble's own flush meets ENOSPC
	// and lands in the small reserve.
	fs.fill(minFree / 2)
	if err := put("b.ics"); !errors.Is(err, ErrNoSpace) {
		t.Fatalf("put on a full disk: %v, want ErrNoSpace", err)
	}
	fs.fill(0)
	if err := db.pdb.Flush(); err != nil {
		t.Fatalf("flush on a full disk with the store's reserve of %d bytes: %v", small, err)
	}
	if _, err := fs.Stat("db/" + reserveName); !os.IsNotExist(err) {
		t.Fatalf("the reserve was not released: %v", err)
	}
	fs.fill(-1)
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(10 * time.Millisecond) {
		err := put("c.ics")
		if err == nil {
			break
		}
		if !errors.Is(err, ErrNoSpace) || time.Now().After(deadline) {
			t.Fatalf("put after space returned (retried for up to a minute while refused for want of space): %v", err)
		}
	}
	if got := reserveFile(); got < small || got >= 64<<20 {
		t.Errorf("the reserve came back at %d bytes, want its store's size (>= %d, < 64 MiB)", got, small)
	}

	// The store grows, the reserve does not: a compaction that meets the
	// full disk fails without taking it, writes are refused, and the
	// reserve is still there for the log and a flush.
	for i := range 100 {
		if err := put(fmt.Sprintf("g%d.ics", i)); err != nil {
			t.Fatal(err)
		}
		if i%25 == 24 {
			if err := db.pdb.Flush(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if got := reserveFile(); got != small {
		t.Errorf("after 100 more objects the reserve is %d bytes, want %d: it does not grow with the tables", got, small)
	}
	fs.fill(0)
	if err := db.pdb.Compact(ctx, []byte{0}, []byte{0xff}, true); err == nil {
		t.Fatal("a compaction of every table on a full disk succeeded")
	} else if isNoSpace(err) {
		t.Fatalf("the compaction's error is ENOSPC (the reserve's release would have retried it): %v", err)
	}
	if got := reserveFile(); got != small {
		t.Fatalf("a compaction on a full disk took the reserve: %d bytes left of %d", got, small)
	}
	if err := put("h.ics"); !errors.Is(err, ErrNoSpace) {
		t.Fatalf("put after a compaction met the full disk: %v, want ErrNoSpace", err)
	}
	fs.fill(-1)
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(10 * time.Millisecond) {
		err := put("h.ics")
		if err == nil {
			break
		}
		if !errors.Is(err, ErrNoSpace) || time.Now().After(deadline) {
			t.Fatalf("put after space returned (retried for up to a minute while refused for want of space): %v", err)
		}
	}
	if err := db.pdb.Compact(ctx, []byte{0}, []byte{0xff}, true); err != nil {
		t.Fatalf("compaction once space returned: %v", err)
	}

	// A restart on the full disk with that reserve: the logs (objects
	// not yet flushed) are replayed and flushed into the released
	// reserve, the store opens for reads, and once space returns writes
	// and a compaction go through.
	for i := range 20 {
		if err := put(fmt.Sprintf("r%d.ics", i)); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	fs.fill(0)
	db = open(0)
	if db.space.readOnly {
		t.Fatal("restarted on a full disk with the reserve, the store opened read-only")
	}
	if m := db.pdb.Metrics(); m.Flush.Count == 0 {
		t.Fatal("restarted on a full disk, the replayed logs were not flushed")
	}
	put = func(name string) error {
		_, err := db.PutObject(ctx, alice, "/alice/cal/", name, event("uid-"+name), PutOptions{})
		if err == nil {
			acked[name] = true
		}
		return err
	}
	if err := put("s.ics"); !errors.Is(err, ErrNoSpace) {
		t.Fatalf("put after a restart on a full disk: %v, want ErrNoSpace", err)
	}
	fs.fill(-1)
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(10 * time.Millisecond) {
		err := put("s.ics")
		if err == nil {
			break
		}
		if !errors.Is(err, ErrNoSpace) || time.Now().After(deadline) {
			t.Fatalf("put after space returned (retried for up to a minute while refused for want of space): %v", err)
		}
	}
	if err := db.pdb.Compact(ctx, []byte{0}, []byte{0xff}, true); err != nil {
		t.Fatalf("compaction after the restart, once space returned: %v", err)
	}
	for name := range acked {
		if _, err := db.Object("/alice/cal/", name, true); err != nil {
			t.Fatalf("read %s: %v", name, err)
		}
	}
	if err := db.Verify(ctx); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	db.Close()

	// A reserve larger than the store needs (an older version's) is cut
	// at the next start; a smaller cap holds.
	f, err := fs.Create("db/"+reserveName, vfs.WriteCategoryUnspecified)
	if err != nil {
		t.Fatal(err)
	}
	if err := allocateIn(f, 0, 20<<20); err != nil {
		t.Fatal(err)
	}
	db = open(0)
	// (The sizing may be extending it after the flush Open made: at most
	// its size, never the old one.)
	if got := reserveFile(); got > db.space.reserveSize() || got >= 20<<20 || got < reserveNeed(1<<20) {
		t.Errorf("a 20 MiB reserve left from before is %d bytes after a start (sized %d)", got, db.space.reserveSize())
	}
	db.Close()
	db = open(2 << 20)
	if got := reserveFile(); got != 2<<20 {
		t.Errorf("with ReserveSize 2 MiB the reserve is %d bytes", got)
	}
	for name := range acked {
		if _, err := db.Object("/alice/cal/", name, true); err != nil {
			t.Fatalf("reopened: read %s: %v", name, err)
		}
	}
}

// TestFlushIdle: FlushIdle flushes at once (the idle flush's ticker never
// fires here) a store whose logs hold idleFlushMin, not one whose logs
// hold less, and does nothing after Close.
func TestFlushIdle(t *testing.T) {
	defer func(d time.Duration) { idleFlushAfter = d }(idleFlushAfter)
	idleFlushAfter = time.Hour
	const memtable = 1 << 20
	opts := &Options{FS: vfs.NewMem(), Clock: fakeClock(), MemTableSize: memtable, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	db, err := Open("db", opts)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { db.Close() }()
	put := fiftyAcked(t, db, map[string]bool{})
	if err := put("a.ics"); err != nil {
		t.Fatal(err)
	}
	db.FlushIdle(ctx)
	if m := db.pdb.Metrics(); m.Table.Local.LiveSize > 0 {
		t.Fatalf("logs of %d bytes (under %d) were flushed", m.WAL.Size, idleFlushMin(memtable))
	}
	for i := 0; int64(db.pdb.Metrics().WAL.Size) < idleFlushMin(memtable); i++ {
		if err := put(fmt.Sprintf("b%d.ics", i)); err != nil {
			t.Fatal(err)
		}
	}
	db.FlushIdle(ctx)
	if m := db.pdb.Metrics(); int64(m.WAL.Size) >= idleFlushMin(memtable) || m.Table.Local.LiveSize == 0 {
		t.Fatalf("after FlushIdle the logs hold %d bytes, the tables %d: no flush", m.WAL.Size, m.Table.Local.LiveSize)
	}
	db.Close()
	db.FlushIdle(ctx)
}

// TestDropBlockCache: the blocks that reads brought into Pebble's cache
// are gone after DropBlockCache, the objects still read the same (from
// the tables again), and it does nothing after Close.
func TestDropBlockCache(t *testing.T) {
	db, err := Open("db", &Options{FS: vfs.NewMem(), Clock: fakeClock(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { db.Close() }()
	fiftyAcked(t, db, map[string]bool{})
	if err := db.pdb.Flush(); err != nil {
		t.Fatal(err)
	}
	readAll := func() {
		t.Helper()
		for i := range 50 {
			o, err := db.Object("/alice/cal/", fmt.Sprintf("a%d.ics", i), true)
			if err != nil || !bytes.Equal(o.Body, event(fmt.Sprintf("uid-a%d.ics", i))) {
				t.Fatalf("a%d.ics: %v", i, err)
			}
		}
	}
	readAll()
	if n := db.pdb.Metrics().BlockCache.Size; n == 0 {
		t.Fatal("the reads left no block in the cache")
	}
	db.DropBlockCache()
	if m := db.pdb.Metrics().BlockCache; m.Size != 0 || m.Count != 0 {
		t.Fatalf("after DropBlockCache the cache holds %d blocks, %d bytes", m.Count, m.Size)
	}
	readAll()
	if n := db.pdb.Metrics().BlockCache.Size; n == 0 {
		t.Fatal("the cache took no block again after the drop")
	}
	db.Close()
	db.DropBlockCache()
}

// TestIdleFlush writes a burst and goes quiet: the idle flush turns the
// memtables into tables, so the write-ahead log no longer holds the
// burst, and everything acknowledged is still there after a reopen.
func TestIdleFlush(t *testing.T) {
	defer func(d time.Duration) { idleFlushAfter = d }(idleFlushAfter)
	idleFlushAfter = 10 * time.Millisecond
	fs := vfs.NewMem()
	const memtable = 1 << 20
	opts := &Options{FS: fs, Clock: fakeClock(), MemTableSize: memtable, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	db, err := Open("db", opts)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { db.Close() }()
	acked := map[string]bool{}
	put := fiftyAcked(t, db, acked)
	for i := 0; int64(db.pdb.Metrics().WAL.Size) < idleFlushMin(memtable); i++ {
		if err := put(fmt.Sprintf("b%d.ics", i)); err != nil {
			t.Fatal(err)
		}
	}
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(10 * time.Millisecond) {
		m := db.pdb.Metrics()
		if int64(m.WAL.Size) < idleFlushMin(memtable) && m.Table.Local.LiveSize > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a quiet store kept %d bytes in its write-ahead log (%d in tables): no idle flush", m.WAL.Size, m.Table.Local.LiveSize)
		}
	}
	db.Close()
	if db, err = Open("db", opts); err != nil {
		t.Fatal(err)
	}
	for name := range acked {
		if _, err := db.Object("/alice/cal/", name, true); err != nil {
			t.Fatalf("read %s after the idle flush and a reopen: %v", name, err)
		}
	}
	if err := db.Verify(ctx); err != nil {
		t.Fatalf("Verify: %v", err)
	}
}
