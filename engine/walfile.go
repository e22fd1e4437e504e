package engine

import (
	"strings"
	"sync"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
	"golang.org/x/sys/unix"
)

// Pebble's write-ahead logs are the engine's commit path: each durable
// group ends in one fdatasync of the log. An fdatasync of blocks that the
// file already holds within its size writes data only; an append, or a
// write into space reserved with fallocate, also commits the file's
// metadata (its size, its extents) to the filesystem journal. On this
// project's development disk that is 110 µs against 150–180 µs per sync
// (bench/RESULTS.md). Pebble gets the fast kind by recycling old logs in
// place, which scrubFS forbids (a recycled log keeps erased bytes). A new
// log instead gets its preallocated space written with zeros, ahead of
// the log and off the commit path, as PostgreSQL does for its WAL
// segments. Pebble's recovery reads zeros after the last record as the
// log's end, as it does for preallocated and recycled logs.

// walCategory is the write category Pebble creates its logs with.
const walCategory vfs.DiskWriteCategory = "pebble-wal"

// zeroChunk is how much the zeroer writes under the file's lock: a log
// write waits at most for one chunk's copy into the page cache.
const zeroChunk = 64 << 10

// zeroLead is how far ahead of the log the zeroer keeps zeros, written
// and synced. It tops them up when less than half is left, in bursts of
// about half of it: each burst commits metadata once and slows the one
// log sync that meets it, where zeroing the whole preallocation at once
// would slow every sync for as long as it lasts.
const zeroLead = 2 << 20

// minZeroLead is the lead of a new log: the lead grows with the log, to
// zeroLead once the log holds that much. Pebble grows its memtables from
// 256 KiB, and keeps a small database's first few logs (each the size of
// its memtable) until they add up to a full memtable: 2 MiB of zeros ahead
// of each held four times their records.
const minZeroLead = 256 << 10

// lead is how far ahead of a log holding written bytes zeros are kept.
func lead(written int64) int64 { return min(zeroLead, max(minZeroLead, written)) }

var zeros [zeroChunk]byte

// zeroedWAL is a new write-ahead log whose preallocated space is written
// with zeros, just ahead of the log, by a background zeroer.
type zeroedWAL struct {
	vfs.File
	fd   int
	wake chan struct{} // the log's end came near the zeros

	mu      sync.Mutex
	written int64 // end of the log's own writes: zeros only go beyond it
	zeroed  int64 // zeros are written and synced up to here
	target  int64 // Preallocate asked for space up to here
	closed  bool
	done    chan struct{} // closed when the zeroer stops; nil until it starts
}

// newZeroedWAL wraps f, a freshly created log, or returns f as it is when
// it has no file descriptor (an in-memory filesystem).
func newZeroedWAL(f vfs.File) vfs.File {
	fd := f.Fd()
	if fd == vfs.InvalidFd {
		return f
	}
	return &zeroedWAL{File: f, fd: int(fd), wake: make(chan struct{}, 1)}
}

// Write appends p to the log and wakes the zeroer when the log's end
// nears the zeros.
func (f *zeroedWAL) Write(p []byte) (int, error) {
	f.mu.Lock()
	n, err := f.File.Write(p)
	f.written += int64(n)
	low := f.written+lead(f.written)/2 > f.zeroed && f.zeroed < f.target
	f.mu.Unlock()
	if low {
		f.poke()
	}
	return n, err
}

func (f *zeroedWAL) poke() {
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

// Preallocate lets the zeroer write zeros into the space, ahead of the log
// (see lead). It does not reserve the space with fallocate as the
// filesystem would: Pebble asks for 1.1 memtables at a time, and keeps
// three old logs for recycling (which scrubFS removes instead of reusing),
// so a small database held 70 MiB of reserved log blocks for 2 MiB of
// records. The zeros written ahead are allocated blocks all the same, so a
// log write still lands in space the file already holds.
func (f *zeroedWAL) Preallocate(offset, length int64) error {
	f.mu.Lock()
	f.target = max(f.target, offset+length)
	if f.done == nil && !f.closed {
		f.done = make(chan struct{})
		go f.zero(f.done)
	}
	f.mu.Unlock()
	f.poke()
	return nil
}

// zero keeps zeros ahead of the log until the file closes. It writes a
// chunk at a time under the lock, from the log's end on, so it never
// writes over the log: the log's writes only move its end forward.
// Zeroing is an optimization: on an error it stops, and the log appends
// as it would without it.
func (f *zeroedWAL) zero(done chan struct{}) {
	defer close(done)
	var pos int64 // zeros are written, maybe not synced, up to here
	for range f.wake {
		for {
			f.mu.Lock()
			if f.closed {
				f.mu.Unlock()
				return
			}
			pos = max(pos, f.zeroed, f.written)
			end := min(f.target, f.written+lead(f.written))
			if pos >= end {
				f.mu.Unlock()
				break
			}
			n := min(zeroChunk, end-pos)
			_, err := unix.Pwrite(f.fd, zeros[:n], pos)
			f.mu.Unlock()
			if err != nil {
				return
			}
			if pos += n; pos < end {
				continue
			}
			if unix.Fdatasync(f.fd) != nil {
				return
			}
			f.mu.Lock()
			f.zeroed = pos
			f.mu.Unlock()
		}
	}
}

// Close stops the zeroer and closes the file.
func (f *zeroedWAL) Close() error {
	f.mu.Lock()
	f.closed = true
	done := f.done
	f.mu.Unlock()
	if done != nil {
		f.poke()
		<-done
	}
	return f.File.Close()
}

// isWAL reports whether Pebble creates name as a write-ahead log.
func isWAL(name string, category vfs.DiskWriteCategory) bool {
	return category == walCategory && strings.HasSuffix(name, ".log")
}

// noRecycleCleaner deletes Pebble's obsolete files, as its default
// cleaner does, and also turns off its keeping of old write-ahead logs for
// recycling: scrubFS removes a recycled log rather than reuse it in place,
// so the up to three logs Pebble kept (a memtable's worth each) only held
// disk. Pebble skips recycling for a cleaner that needs the contents of
// the files it cleans, which it tells by an unexported method only its
// ArchiveCleaner has. ArchiveCleaner sits one level deeper than
// DeleteCleaner here, so this type gets that method from it and Clean and
// String from DeleteCleaner. TestNoRecycledLogs checks that it works.
type noRecycleCleaner struct {
	pebble.DeleteCleaner
	needsContents
}

type needsContents struct{ pebble.ArchiveCleaner }
