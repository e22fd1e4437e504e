package engine

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/almanac/almanac/engine/internal/replay"
	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// Verify replays the log into a scratch database on the database's own
// filesystem, in a directory inside the database's (scratchPrefix and a
// random suffix, so that verifications at once do not meet), and removes
// it when it is done: the replayed projections take disk, about what the
// live ones take, not memory. (In memory they grew with the store: 1.4 GiB
// resident for 1M objects.) Pebble ignores the directory; a writable Open
// removes what a verification that crashed left (removeScratch).
const scratchPrefix = "verify-"

// verifyReplayed, when set (by tests), is called once Verify's replay is
// in its scratch database and before the comparison.
var verifyReplayed func()

// scratchDB is a verification's replay target and its sink for runs.
type scratchDB struct {
	pdb  *pebble.DB
	runs *replay.Runs
}

// openScratch creates a scratch database for Verify; done closes and
// removes it.
func (db *DB) openScratch() (_ *scratchDB, done func(), _ error) {
	fs := db.opts.FS
	suffix := make([]byte, 8)
	if _, err := rand.Read(suffix); err != nil {
		return nil, nil, fmt.Errorf("engine: verify: scratch store: %w", err)
	}
	dir := fs.PathJoin(db.dir, scratchPrefix+hex.EncodeToString(suffix))
	if err := fs.MkdirAll(dir, 0o700); err != nil {
		if !db.opts.ReadOnly {
			return nil, nil, noSpace(fmt.Errorf("engine: verify: scratch store: %w", err))
		}
		// A backup on read-only media still verifies, in memory as before.
		db.opts.Logger.Warn("engine: verify: no scratch store on disk, replaying in memory (memory grows with the store)",
			"dir", dir, "err", err)
		fs = vfs.NewMem()
	}
	remove := func() { _ = fs.RemoveAll(dir) }
	// The database's own block cache, to which Pebble charges the
	// scratch's memtables too: the verification stays within the memory
	// the database was given (a cache of its own, Pebble's default 8 MiB,
	// and its memtables took up to 16 MiB of C heap beyond it). Memtables
	// of at most Pebble's default 4 MiB: the replay ingests most of what
	// it writes as tables (replay.Runs) anyway. (Its write-ahead log
	// stays: the replay's last flush commits with Sync.)
	popts := &pebble.Options{FS: fs, FormatMajorVersion: pebble.FormatNewest, Logger: pebbleLogger{db.opts.Logger},
		Cache: db.cache, MemTableSize: uint64(min(db.opts.MemTableSize, 4<<20))}
	popts.EnsureDefaults()
	p, err := pebble.Open(dir, popts)
	if err != nil {
		remove()
		return nil, nil, noSpace(fmt.Errorf("engine: verify: scratch store: %w", err))
	}
	runs := replay.NewRuns(p, fs, fs.PathJoin(dir, runsDirName), popts.MakeWriterOptions(0, p.TableFormat()))
	return &scratchDB{pdb: p, runs: runs}, func() {
		_ = p.Close()
		remove()
	}, nil
}

// removeScratch removes the scratch databases that verifications which
// did not finish left in the database's directory.
func (db *DB) removeScratch() error {
	fs := db.opts.FS
	names, err := fs.List(db.dir)
	if err != nil {
		return fmt.Errorf("engine: list %s: %w", db.dir, err)
	}
	for _, name := range names {
		if strings.HasPrefix(name, scratchPrefix) {
			if err := fs.RemoveAll(fs.PathJoin(db.dir, name)); err != nil {
				return fmt.Errorf("engine: remove a verification's leftover %s: %w", name, err)
			}
		}
	}
	return nil
}
