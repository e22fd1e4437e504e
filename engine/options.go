package engine

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// Options configure a DB. The zero value of every field means its default.
type Options struct {
	// CacheSize is Pebble's block cache in bytes. Default 64 MiB. Pebble
	// also charges its memtables (up to MemTableSize each; one or two) to
	// the cache, which is made one memtable larger than this.
	CacheSize int64
	// MemTableSize is the largest size of Pebble's memtables in bytes; it
	// also sizes the write-ahead logs, which hold a memtable's writes.
	// Pebble grows memtables to it from 256 KiB as writes need, and holds
	// up to two (one written, one flushing). Default 16 MiB: Pebble's 4 MiB
	// default flushed puts' memtables so often that compactions cost a
	// third of a put's CPU; 32 MiB measured no faster than 16 MiB (puts,
	// rebuild), and held 22 MB more of a server's memory once a
	// 100k-object load had filled it.
	MemTableSize int64
	// MaxObjectSize is the largest object body accepted, in bytes
	// (CALDAV:max-resource-size). Default 10 MiB.
	MaxObjectSize int64
	// MaxBatch is how many commands one group commit takes at most.
	// Default 512.
	MaxBatch int
	// Clock returns the time recorded in events. Default time.Now.
	Clock func() time.Time
	// Logger receives the engine's logs. Default: discard.
	Logger *slog.Logger
	// MinFreeSpace is how many bytes the filesystem of the database must
	// keep available: a write that would leave less is refused with
	// ErrNoSpace (space.go). Default 128 MiB; negative turns the check
	// off (Pebble then meets a full disk itself, which it does not
	// survive).
	MinFreeSpace int64
	// ReserveSize is the most the reserve file takes, the file that a
	// write meeting a full disk releases for Pebble's own writes
	// (space.go): it is sized to the memtable (reserveNeed: 2 MiB and
	// 1 MiB of room besides MemTableSize, 5 MiB with the default
	// --memory-budget) up to this. Default 64 MiB; negative means no
	// reserve.
	ReserveSize int64
	// Rebuild makes Open drop every projection and derive it again from
	// the log before anything reads them (`almanac rebuild` on a stopped
	// data directory). Open drops them by excising their tables, without
	// reading them, so this also recovers from damaged projection blocks,
	// which DB.Rebuild on an open database (range deletions, kept readable
	// for the snapshots of readers) may still have to read. Default false.
	Rebuild bool
	// FS is the filesystem Pebble uses. Default vfs.Default; tests use
	// vfs.NewMem().
	FS vfs.FS
	// Limits bound names and properties; see Limits for the defaults.
	Limits Limits
	// ReadOnly opens the database without writing anything to its
	// directory (`almanac backup --verify`): Pebble opens read-only, no
	// reserve file is made, a backup stays unforked (see DB.Backup), and
	// every write is refused with ErrNoSpace. A database that needs a
	// write to open (a new one, an interrupted rebuild, projections of
	// another version) fails to open. Default false.
	ReadOnly bool
	// ReplayMemory bounds, in bytes, what a replay of the log (Rebuild,
	// Verify, the check that ends Backup, a node's bulk catch-up) holds in
	// memory: the records apply reads back (counted as the heap holds
	// them, at most seven eighths; past that it reads them from Pebble) and
	// the sorted writes collected before each run is ingested (at most a
	// third) together. Default 0: 384 MiB (128 + 256), the fastest
	// replay; `almanac rebuild`, `verify`, `backup` and `import` set it
	// from their --memory-budget.
	ReplayMemory int64
	// Log, when set, is the shared log this database appends its events
	// to and follows (see SharedLog): a node of a cluster. Default nil:
	// the database's own Pebble is the log.
	Log SharedLog

	// catchUp is the catch-up's sizes (see catchUpSizes): the constants
	// unless a test sets smaller ones.
	catchUp catchUpSizes
}

// EnsureDefaults fills in every zero field with its default.
func (o *Options) EnsureDefaults() {
	if o.CacheSize == 0 {
		o.CacheSize = 64 << 20
	}
	if o.MemTableSize == 0 {
		o.MemTableSize = 16 << 20
	}
	if o.MaxObjectSize == 0 {
		o.MaxObjectSize = 10 << 20
	}
	if o.MinFreeSpace == 0 {
		o.MinFreeSpace = 128 << 20
	}
	if o.ReserveSize == 0 {
		o.ReserveSize = 64 << 20
	}
	if o.MaxBatch == 0 {
		o.MaxBatch = 512
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.FS == nil {
		o.FS = vfs.Default
	}
	o.Limits.ensureDefaults()
	if o.catchUp == (catchUpSizes{}) {
		o.catchUp = defaultCatchUp
	}
}

// Validate reports the first invalid field.
func (o *Options) Validate() error {
	var errs []error
	if o.CacheSize < 0 {
		errs = append(errs, fmt.Errorf("engine: Options.CacheSize %d is negative", o.CacheSize))
	}
	if o.MemTableSize < 0 || o.MemTableSize > 1<<30 {
		errs = append(errs, fmt.Errorf("engine: Options.MemTableSize %d is not between 0 and 1 GiB", o.MemTableSize))
	}
	if o.MaxObjectSize < 0 {
		errs = append(errs, fmt.Errorf("engine: Options.MaxObjectSize %d is negative", o.MaxObjectSize))
	}
	if o.ReplayMemory < 0 {
		errs = append(errs, fmt.Errorf("engine: Options.ReplayMemory %d is negative", o.ReplayMemory))
	}
	if o.MaxBatch < 0 {
		errs = append(errs, fmt.Errorf("engine: Options.MaxBatch %d is negative", o.MaxBatch))
	}
	errs = append(errs, o.Limits.validate())
	return errors.Join(errs...)
}

// GCPercent is the garbage collector setting (GOGC) the engine's
// benchmarks run with. `almanac serve` runs at Go's 100 instead, under the
// soft memory limit of its --memory-budget, where 400 only made the heap
// fill the limit (cmd/almanac/budget.go). A put allocates about 25 KB
// (parsing the body with go-ical and expanding its recurrences for the
// time envelope) and keeps next to none, and the live heap is small: Pebble's cache and
// memtables live outside it. At Go's default of 100 the collector then runs
// every few megabytes, and on a 2-core machine its mark phase takes one
// core from the group commit: 64-writer puts measured 14,700-15,000/s at
// 100 and 23,200-24,400/s at 400.
const GCPercent = 400
