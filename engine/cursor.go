package engine

import (
	"errors"
	"fmt"

	"github.com/almanac/almanac/engine/internal/keys"
	"github.com/cockroachdb/pebble/v2"
)

// cursorPrefix starts the meta keys of named cursors.
const cursorPrefix = "cursor/"

// Cursor returns the durable position of a named log consumer (the NATS
// publisher, for one), 0 when it was never set. Cursors are positions of
// readers, not state derived from the log: Rebuild keeps them.
func (db *DB) Cursor(name string) (Seq, error) {
	v, err := getCopy(db.pdb, keys.MetaKey(cursorPrefix+name))
	if errors.Is(err, pebble.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("engine: read cursor %s: %w", name, err)
	}
	seq, err := keys.ParseU64(v)
	if err != nil {
		return 0, fmt.Errorf("engine: cursor %s: %w", name, err)
	}
	return Seq(seq), nil
}

// Cursors returns every named cursor with its position: what a cluster
// node that hands its consumers (the publishers) to another copies over.
func (db *DB) Cursors() (map[string]Seq, error) {
	lo := keys.MetaKey(cursorPrefix)
	it, err := db.pdb.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: keys.PrefixEnd(lo)})
	if err != nil {
		return nil, fmt.Errorf("engine: list cursors: %w", err)
	}
	defer it.Close()
	out := make(map[string]Seq)
	for it.First(); it.Valid(); it.Next() {
		seq, err := keys.ParseU64(it.Value())
		if err != nil {
			return nil, fmt.Errorf("engine: cursor %s: %w", it.Key()[len(lo):], err)
		}
		out[string(it.Key()[len(lo):])] = Seq(seq)
	}
	if err := it.Error(); err != nil {
		return nil, fmt.Errorf("engine: list cursors: %w", err)
	}
	return out, nil
}

// SetCursor stores a named consumer's position durably (synced).
//
// Errors: ErrNoSpace while the disk is full.
func (db *DB) SetCursor(name string, seq Seq) error {
	if err := db.space.admit(64); err != nil {
		return fmt.Errorf("engine: write cursor %s: %w", name, err)
	}
	db.walMu.RLock()
	err := db.pdb.Set(keys.MetaKey(cursorPrefix+name), keys.U64(uint64(seq)), pebble.Sync)
	db.walMu.RUnlock()
	if err != nil {
		return fmt.Errorf("engine: write cursor %s: %w", name, err)
	}
	return nil
}

// SyncToken returns the RFC 6578 sync token of collection id as of seq, the
// token a client holds after reading the collection at that point.
func (db *DB) SyncToken(id uint64, seq Seq) string { return db.syncToken(id, seq) }
