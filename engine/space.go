package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
	"golang.org/x/sys/unix"
)

// Disk full. Pebble cannot survive a failed write of its write-ahead log or
// its MANIFEST: a failed WAL write panics in the commit pipeline (with its
// mutex held), a failed WAL rotation panics, a failed MANIFEST write calls
// Fatalf, and a failed fsync is never retried ("fsyncgate"). Flushes and
// compactions that fail are retried, and while flushes fail the memtables
// fill and every commit stalls. Those were the 500s, the panics and the
// 70-second PUTs. Pebble is not at fault: its answer is to keep the disk
// from filling under it, and so is the engine's, in three layers:
//
//  1. The writer refuses a group, with ErrNoSpace and before Pebble sees
//     it, when committing it would leave the filesystem less than
//     MinFreeSpace free (a statfs at most every statfsEvery, and before
//     each group once the estimate nears the minimum). The database's
//     other writes (feed cursors, rebuild, purge) check the same. A refused write costs a statfs: it never
//     waits. Reads go on as before.
//  2. A reserve file (at most ReserveSize: see reserveNeed;
//     "almanac-reserve" in the database directory) is released when,
//     despite 1, a write of Pebble's meets ENOSPC (another process filled
//     the disk): vfs.OnDiskFull removes it and retries the write once, so
//     Pebble's own WAL, MANIFEST and flush writes land. The engine then
//     refuses writes until space returns. Compactions never take it
//     (compactionFS): a compaction that meets the full disk fails, as
//     every compaction does while writes are refused, and Pebble tries it
//     again later.
//  3. Write-ahead logs are preallocated (110% of a memtable) and zeroed
//     ahead of the log (walfile.go), so a log's fsync never needs new
//     blocks: delayed allocation cannot turn it into a late ENOSPC.
//
// While writes are refused a probe checks the free space every
// spaceProbeInterval; once MinFreeSpace plus the reserve are free again it
// allocates the reserve again and lets writes in: no restart. What was
// acknowledged before stays, since a refused group writes nothing, and
// the log and projections are committed in one batch as always.
//
// A server started on a full disk opens with the reserve's room (Pebble
// writes an OPTIONS file, a MANIFEST and a WAL as it opens). When even that
// fails with ENOSPC or EDQUOT, Open opens Pebble read-only: every read is
// served and every write gets ErrNoSpace until a restart with space.
//
// Limits: statfs does not see a user's disk quota, so EDQUOT is caught
// only where Pebble returns errors (flushes, compactions, rebuild tables);
// keep a quota well above the data. A filesystem that fills faster than
// the reserve drains (another process writing gigabytes at once) can
// still fail a WAL write, which Pebble does not survive; the acknowledged
// writes are safe in the synced log and come back at the next start.

// reserveNeed is the reserve a store needs (before ReserveSize caps it):
// the room for what Pebble may still write once the disk is full and
// writes are refused, so that none of its unretried writes (a WAL append,
// a new WAL, a MANIFEST edit) meets ENOSPC after the reserve went:
//
//   - openRoom, for a restart: an OPTIONS file, a MANIFEST, a log's first
//     blocks;
//   - zeroLead, the groups admitted just before the disk filled, appended
//     past the zeros the WAL zeroer wrote ahead (walfile.go);
//   - memtable, Options.MemTableSize: a flush writes at most about one
//     memtable's records (Pebble queues its growing first memtables until
//     they add up to one), and a flush that meets the full disk first
//     takes the released reserve (vfs.OnDiskFull retries whichever write
//     met ENOSPC); a restart on the full disk likewise flushes the logs
//     it replays, at most a memtable's.
//
// Compactions are not in it: compactionFS keeps them from the reserve. Up
// to session 13 the reserve also held the store's live tables, which a
// compaction may rewrite all at once (a small store's L0 → Lbase takes
// every table), so that a compaction meeting the full disk first could
// take the reserve and leave room for the WAL: 13.4 MiB at 10,000 events,
// 1.2× their raw size, and ReserveSize's 64 MiB from some 90,000 on.
//
// With the default --memory-budget (a 2 MiB memtable) that is 5 MiB
// whatever the store's size. Open sizes the reserve, and cuts a larger
// one left from before (sizeAtOpen).
func reserveNeed(memtable int64) int64 {
	return openRoom + zeroLead + max(0, memtable)
}

// reserveName is the reserve file, in the database directory. Pebble
// ignores files whose names it does not know.
const reserveName = "almanac-reserve"

// spaceProbeInterval is how often a refusing engine looks for space
// again (a variable for tests).
var spaceProbeInterval = time.Second

// space is the engine's guard of free space.
type space struct {
	fs      vfs.FS // the filesystem under Pebble's wrappers
	dir     string
	reserve string // path of the reserve file
	opts    *Options

	full     atomic.Bool // writes are refused until the probe finds space
	readOnly bool        // Pebble was opened read-only: refuse every write

	size    atomic.Int64   // the reserve's size: reserveNeed, at most ReserveSize
	running sync.WaitGroup // idleFlush
	fileMu  sync.Mutex     // ensureReserve: the probe and Open take turns

	cache struct { // admit's statfs (availFor)
		sync.Mutex
		avail, spent int64
		at           time.Time
	}

	mu      sync.Mutex
	probing bool // a probe goroutine runs
	closed  bool
	stop    chan struct{}
}

func newSpace(fs vfs.FS, dir string, opts *Options) *space {
	return &space{fs: fs, dir: dir, reserve: fs.PathJoin(dir, reserveName), opts: opts, stop: make(chan struct{})}
}

// start flushes the memtables of a quiet store (idleFlush) until close.
func (s *space) start(pdb *pebble.DB) {
	if s.readOnly {
		return
	}
	s.running.Add(1)
	go func() {
		defer s.running.Done()
		s.idleFlush(pdb)
	}()
}

// idleFlushAfter is how long the store's write-ahead log must stay
// unchanged before idleFlush flushes the memtables (a variable for tests).
var idleFlushAfter = 2 * time.Second

// idleFlushMin is the least the write-ahead logs must hold for a quiet
// store's flush: a quarter of a memtable, so a store written a few
// objects at a time is not flushed (a small table, soon compacted) after
// each of them.
func idleFlushMin(memtable int64) int64 { return max(64<<10, memtable/4) }

// idleFlush flushes the memtables once the write-ahead log has not grown
// for idleFlushAfter and holds at least idleFlushMin. Pebble flushes a
// memtable only once it is full, so a store that went quiet kept its last
// burst twice on disk until then: in its logs, which hold every record
// (the event and its projections, uncompressed) plus the zeros written
// ahead of each (walfile.go), and keep the small first memtables Pebble
// queues until they add up to a full one. Flushed, the same records are
// compressed tables and one new log of a few zeros: at 1,000 objects the
// logs were 3× the objects' raw size, the tables they become 0.6×. The
// flush is Pebble's ordinary one, durable before the logs go; it is
// skipped while writes are refused and, like every write, when it would
// leave less than MinFreeSpace free.
func (s *space) idleFlush(pdb *pebble.DB) {
	t := time.NewTicker(idleFlushAfter)
	defer t.Stop()
	last := uint64(0) // the log's BytesIn at the last tick
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		m := pdb.Metrics()
		quiet := m.WAL.BytesIn == last
		last = m.WAL.BytesIn
		if quiet {
			s.flushQuiet(pdb, m)
		}
	}
}

// flushQuiet flushes the memtables of a quiet store whose write-ahead
// logs (m's) hold at least idleFlushMin, unless writes are refused or the
// flush would leave less than MinFreeSpace free, and waits for the flush
// or for close.
func (s *space) flushQuiet(pdb *pebble.DB, m *pebble.Metrics) {
	if int64(m.WAL.Size) < idleFlushMin(s.opts.MemTableSize) || s.full.Load() || s.admit(int64(m.WAL.Size)) != nil {
		return
	}
	done, err := pdb.AsyncFlush()
	if err != nil {
		s.opts.Logger.Warn("engine: flush of a quiet store", "err", err)
		return
	}
	select {
	case <-done:
	case <-s.stop:
	}
}

// FlushIdle flushes the memtables now, as the idle flush does once the
// write-ahead log has stayed unchanged for idleFlushAfter, then waits for
// the compactions running (the flush's tables into the levels below) to
// end: serve calls it when its requests went quiet, before it hands a
// burst's memory back to the kernel (cmd/almanac, budget_idle.go), so
// that the flush's garbage, the memtable it frees and the cached blocks
// of the tables the compaction replaces go back in the same release
// instead of arriving seconds after it. The flush is skipped when the
// logs hold less than idleFlushMin or writes are refused; nothing is done
// on a read-only or closed store. It returns when ctx ends or the store
// closes, whatever is still running.
func (db *DB) FlushIdle(ctx context.Context) {
	s := db.space
	s.mu.Lock()
	if s.closed || s.readOnly {
		s.mu.Unlock()
		return
	}
	s.running.Add(1) // close waits for it
	s.mu.Unlock()
	defer s.running.Done()
	s.flushQuiet(db.pdb, db.pdb.Metrics())
	for db.pdb.Metrics().Compact.NumInProgress > 0 {
		select {
		case <-ctx.Done():
			return
		case <-s.stop:
			return
		case <-time.After(compactionPoll):
		}
	}
}

// compactionPoll is how often FlushIdle looks whether the compactions
// ended.
const compactionPoll = 20 * time.Millisecond

// DropBlockCache evicts every block of Pebble's block cache that no read
// holds (those held go when their reads end): serve calls it in its idle
// release, after FlushIdle and before it trims the C heap, so that the
// blocks a burst read (a first sync of 10,000 events reads every table)
// go back to the kernel with the rest of the burst instead of staying
// resident while the server sits idle. The tables stay in the kernel's
// page cache, compressed; the first reads after it decompress their
// blocks again. The memtables, also charged to the cache, are not
// touched. Nothing is done on a closed store.
func (db *DB) DropBlockCache() {
	s := db.space
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.running.Add(1) // close waits for it, and the cache outlives it
	s.mu.Unlock()
	defer s.running.Done()
	// A reservation of the whole cache leaves it no room for blocks: each
	// shard evicts all it can. Released at once, the room returns.
	db.cache.Reserve(int(db.cache.MaxSize()))()
}

// avail returns the bytes available to the database, or -1 when the
// filesystem cannot tell (an in-memory one).
func (s *space) avail() int64 {
	u, err := s.fs.GetDiskUsage(s.dir)
	if err != nil {
		return -1
	}
	return int64(u.AvailBytes)
}

// statfsEvery is how long admit trusts a statfs, less what it admitted
// since, while that leaves more than twice MinFreeSpace (a variable for
// tests). A statfs costs ~8 µs on the development VM, 7% of a group's
// fsync; the reserve covers what another process writes in between.
var statfsEvery = 100 * time.Millisecond

// availFor returns the bytes available before a write of n bytes: the
// last statfs less what was admitted since, or a new statfs when that one
// is old or the estimate nears the minimum. -1: the filesystem cannot
// tell.
func (s *space) availFor(n int64) int64 {
	s.cache.Lock()
	defer s.cache.Unlock()
	now := time.Now()
	if s.cache.at.IsZero() || now.Sub(s.cache.at) >= statfsEvery ||
		s.cache.avail-s.cache.spent-n < 2*s.opts.MinFreeSpace {
		s.cache.avail, s.cache.at, s.cache.spent = s.avail(), now, 0
	}
	if s.cache.avail < 0 {
		return -1
	}
	a := s.cache.avail - s.cache.spent
	s.cache.spent += n
	return a
}

// admit returns nil when n more bytes may be written, or ErrNoSpace.
func (s *space) admit(n int64) error {
	if s.readOnly {
		return fmt.Errorf("%w: the database was opened read-only on a full disk; restart the server once space is free", ErrNoSpace)
	}
	if s.full.Load() {
		return fmt.Errorf("%w: writes are refused until %d bytes are free", ErrNoSpace, s.opts.MinFreeSpace+s.reserveSize())
	}
	if s.opts.MinFreeSpace <= 0 {
		return nil
	}
	a := s.availFor(n)
	if a < 0 || a-n >= s.opts.MinFreeSpace {
		return nil
	}
	s.setFull(fmt.Sprintf("%d bytes free, %d needed with the minimum of %d", a, n, s.opts.MinFreeSpace))
	return fmt.Errorf("%w: %d bytes free, the write needs %d and %d must stay free", ErrNoSpace, a, n, s.opts.MinFreeSpace)
}

func (s *space) reserveSize() int64 { return s.size.Load() }

// setFull starts refusing writes and probing for space.
func (s *space) setFull(why string) {
	if s.full.Swap(true) {
		return
	}
	s.opts.Logger.Error("engine: disk full: refusing writes (507) until space is free; reads go on", "why", why,
		"need_free", s.opts.MinFreeSpace+s.reserveSize())
	s.startProbe()
}

// onDiskFull is vfs.OnDiskFull's callback: a write of Pebble's met
// ENOSPC. It releases the reserve so that the write, retried once, lands.
// Writes to the filesystem wait while it runs: it only removes a file.
func (s *space) onDiskFull() {
	err := s.fs.Remove(s.reserve)
	s.opts.Logger.Error("engine: a write met a full disk: released the reserve for Pebble's own writes", "reserve", s.reserve,
		"released", err == nil)
	s.setFull("ENOSPC")
}

// openRoom is the free space Open wants besides the write-ahead logs it
// may flush: an OPTIONS file, a new MANIFEST, the first blocks of a log.
const openRoom = 1 << 20

// beforeOpen runs before Pebble opens (and writes): with less than
// MinFreeSpace free, the engine starts refusing writes and releases the
// reserve for Pebble's own writes; otherwise it makes sure the reserve
// exists. It reports whether there is room to open read-write: openRoom
// plus the size of the logs, which Open replays and flushes.
func (s *space) beforeOpen() bool {
	a := s.avail()
	if a < 0 {
		return true
	}
	s.sizeAtOpen()
	if a < s.opts.MinFreeSpace {
		released := s.fs.Remove(s.reserve) == nil
		s.setFull(fmt.Sprintf("%d bytes free at start, released the reserve: %v", a, released))
		a = s.avail()
	} else {
		s.ensureReserve()
	}
	need := int64(openRoom)
	if names, err := s.fs.List(s.dir); err == nil {
		for _, name := range names {
			if strings.HasSuffix(name, ".log") {
				if fi, err := s.fs.Stat(s.fs.PathJoin(s.dir, name)); err == nil {
					need += fi.Size()
				}
			}
		}
	}
	return a >= need
}

// sizeAtOpen sizes the reserve (reserveNeed, at most ReserveSize), and
// cuts a larger reserve left by an earlier start (a lower ReserveSize, or
// an older version's, which grew with the tables or was a fixed 64 MiB)
// down to that size, freeing the difference.
func (s *space) sizeAtOpen() {
	s.size.Store(min(max(0, s.opts.ReserveSize), reserveNeed(s.opts.MemTableSize)))
	if fi, err := s.fs.Stat(s.reserve); err == nil && fi.Size() > s.reserveSize() {
		if err := s.fs.Remove(s.reserve); err == nil {
			s.opts.Logger.Info("engine: the free-space reserve is smaller for this store", "was", fi.Size(), "now", s.reserveSize())
		}
	}
}

// ensureReserve allocates the reserve file, or extends it, when it is
// missing or smaller than its size and there is room for that beside
// MinFreeSpace. It reports whether the reserve exists at its size.
func (s *space) ensureReserve() bool {
	s.fileMu.Lock()
	defer s.fileMu.Unlock()
	size := s.reserveSize()
	if size == 0 {
		return true
	}
	have := int64(-1) // no file
	if fi, err := s.fs.Stat(s.reserve); err == nil {
		if have = fi.Size(); have >= size {
			return true
		}
	}
	a := s.avail()
	if a < 0 {
		return true // a filesystem that cannot tell its free space (in memory)
	}
	if a < size-max(0, have)+s.opts.MinFreeSpace {
		return false
	}
	var err error
	if have < 0 {
		err = s.allocate(size)
	} else {
		err = s.extend(have, size)
	}
	if err != nil {
		_ = s.fs.Remove(s.reserve)
		s.opts.Logger.Warn("engine: cannot allocate the free-space reserve", "reserve", s.reserve, "err", err)
		return false
	}
	return true
}

// allocate makes the reserve file: size bytes allocated with fallocate,
// or written as zeros where the filesystem cannot fallocate.
func (s *space) allocate(size int64) error {
	f, err := s.fs.Create(s.reserve+".tmp", vfs.WriteCategoryUnspecified)
	if err != nil {
		return err
	}
	if err := allocateIn(f, 0, size); err != nil {
		_ = s.fs.Remove(s.reserve + ".tmp")
		return err
	}
	return s.fs.Rename(s.reserve+".tmp", s.reserve)
}

// extend grows the reserve file in place from have to size bytes.
func (s *space) extend(have, size int64) error {
	f, err := s.fs.OpenReadWrite(s.reserve, vfs.WriteCategoryUnspecified)
	if err != nil {
		return err
	}
	return allocateIn(f, have, size)
}

// allocateIn allocates f's bytes from off to size, with fallocate or
// written as zeros, syncs and closes f.
func allocateIn(f vfs.File, off, size int64) error {
	if fd := f.Fd(); fd != vfs.InvalidFd && unix.Fallocate(int(fd), 0, off, size-off) == nil {
		off = size
	}
	// A buffer of its own, not the WAL zeroer's shared zeros: a vfs.FS may
	// change what it is given to write (Pebble's MemFS flips every byte
	// when its invariants are on, as under the race detector).
	buf := make([]byte, min(zeroChunk, max(0, size-off)))
	for off < size {
		n := min(int64(len(buf)), size-off)
		if _, err := f.WriteAt(buf[:n], off); err != nil {
			f.Close()
			return err
		}
		off += n
	}
	return errors.Join(f.Sync(), f.Close())
}

// startProbe starts the probe unless one runs.
func (s *space) startProbe() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.probing || s.closed || s.readOnly {
		return
	}
	s.probing = true
	go s.probe()
}

// probe waits for MinFreeSpace and the reserve to fit, allocates the
// reserve again and lets writes in.
func (s *space) probe() {
	t := time.NewTicker(spaceProbeInterval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		a := s.avail()
		if a >= 0 && a < s.opts.MinFreeSpace+s.reserveSize() {
			continue
		}
		if !s.ensureReserve() {
			continue
		}
		s.mu.Lock()
		s.full.Store(false)
		s.probing = false
		s.mu.Unlock()
		s.opts.Logger.Info("engine: space is free again: writes are accepted", "free", a)
		return
	}
}

// close stops the probe and the idle flush, and waits for the idle flush
// (it uses Pebble) to stop.
func (s *space) close() {
	s.mu.Lock()
	if !s.closed {
		s.closed = true
		close(s.stop)
	}
	s.mu.Unlock()
	s.running.Wait()
}

// compactionFS keeps Pebble's compactions out of the reserve. A
// compaction writes new tables before it deletes the ones it rewrites, as
// much as every table at once in a small store; if its write were the one
// that met the full disk, vfs.OnDiskFull would release the reserve to it,
// and the WAL append after it would meet ENOSPC with nothing left to
// release (Pebble panics then). So a compaction's write that meets ENOSPC
// fails with an error that is not ENOSPC (ErrNoSpace), which OnDiskFull
// passes on without releasing anything, and the engine refuses writes as
// for any full disk; while writes are refused every compaction's write
// fails at once, so none fills the room the reserve freed for the WAL and
// the flushes. Pebble reports the failed compaction and tries it again
// later (it skips the same key spans for 30 s); once the probe found space
// again and made the reserve, compactions resume. Flushes go through:
// they are what the reserve's memtable share is for.
type compactionFS struct {
	vfs.FS
	s *space
}

// isCompaction reports whether Pebble writes a file of category c for a
// compaction (not a flush: pebble-memtable-flush).
func isCompaction(c vfs.DiskWriteCategory) bool {
	return c == "pebble-compaction" || c == "pebble-blob-file-rewrite"
}

// Create creates name, through the gate for a compaction's output.
func (fs compactionFS) Create(name string, c vfs.DiskWriteCategory) (vfs.File, error) {
	if !isCompaction(c) {
		return fs.FS.Create(name, c)
	}
	if err := fs.s.compactionWaits(name, nil); err != nil {
		return nil, err
	}
	f, err := fs.FS.Create(name, c)
	if err != nil {
		return nil, fs.s.compactionWaits(name, err)
	}
	return compactionFile{File: f, name: name, s: fs.s}, nil
}

// Unwrap returns the filesystem under the gate.
func (fs compactionFS) Unwrap() vfs.FS { return fs.FS }

// compactionWaits returns the error a compaction's write of name gets: err
// (the write's own) unless it is ENOSPC, which turns into ErrNoSpace and
// refuses writes, and ErrNoSpace for any write while writes are refused.
func (s *space) compactionWaits(name string, err error) error {
	if isNoSpace(err) {
		s.setFull("a compaction met ENOSPC")
		return fmt.Errorf("engine: compaction output %s: %w (%v); the reserve is kept for the log", name, ErrNoSpace, err.Error())
	}
	if err == nil && (s.full.Load() || s.readOnly) {
		return fmt.Errorf("engine: compaction output %s: %w: compactions wait for free space", name, ErrNoSpace)
	}
	return err
}

// compactionFile is a compaction's output file behind the gate.
type compactionFile struct {
	vfs.File
	name string
	s    *space
}

func (f compactionFile) Write(p []byte) (int, error) {
	if err := f.s.compactionWaits(f.name, nil); err != nil {
		return 0, err
	}
	n, err := f.File.Write(p)
	return n, f.s.compactionWaits(f.name, err)
}

func (f compactionFile) WriteAt(p []byte, off int64) (int, error) {
	if err := f.s.compactionWaits(f.name, nil); err != nil {
		return 0, err
	}
	n, err := f.File.WriteAt(p, off)
	return n, f.s.compactionWaits(f.name, err)
}

func (f compactionFile) Preallocate(off, n int64) error {
	return f.s.compactionWaits(f.name, f.File.Preallocate(off, n))
}

func (f compactionFile) Sync() error { return f.s.compactionWaits(f.name, f.File.Sync()) }

func (f compactionFile) SyncData() error { return f.s.compactionWaits(f.name, f.File.SyncData()) }

func (f compactionFile) SyncTo(length int64) (bool, error) {
	full, err := f.File.SyncTo(length)
	return full, f.s.compactionWaits(f.name, err)
}

// isNoSpace reports whether err is the filesystem's ENOSPC or EDQUOT.
func isNoSpace(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}

// noSpace turns a filesystem's ENOSPC or EDQUOT into ErrNoSpace, keeping
// the original in the message; other errors pass unchanged.
func noSpace(err error) error {
	if err != nil && isNoSpace(err) && !errors.Is(err, ErrNoSpace) {
		return fmt.Errorf("%w: %w", ErrNoSpace, err)
	}
	return err
}
