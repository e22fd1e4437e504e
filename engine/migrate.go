package engine

import (
	"fmt"

	"github.com/almanac/almanac/engine/internal/keys"
	"github.com/cockroachdb/pebble/v2"
)

// migrateBatchBytes bounds the batches migrateLog copies the log in (a
// variable for tests).
var migrateBatchBytes = 16 << 20

// migrateLog moves the log of a database written before the log sorted
// first (prefix keys.LegacyLog) to keys.Log, before anything reads it.
// It copies in batches and deletes the old records in the same batch as
// the last copies: a crash before that leaves the old log whole, and the
// next Open copies it again.
func migrateLog(pdb *pebble.DB) (moved int, err error) {
	lo, hi := []byte{keys.LegacyLog}, []byte{keys.LegacyLog + 1}
	it, err := pdb.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return 0, fmt.Errorf("engine: migrate log: %w", err)
	}
	defer it.Close()
	b := pdb.NewBatch()
	defer func() { b.Close() }()
	for it.First(); it.Valid(); it.Next() {
		val, err := it.ValueAndErr()
		if err != nil {
			return moved, fmt.Errorf("engine: migrate log: %w", err)
		}
		k := append([]byte{keys.Log}, it.Key()[1:]...)
		if err := b.Set(k, val, nil); err != nil {
			return moved, fmt.Errorf("engine: migrate log: %w", err)
		}
		moved++
		if b.Len() >= migrateBatchBytes {
			if err := b.Commit(pebble.NoSync); err != nil {
				return moved, fmt.Errorf("engine: migrate log: %w", err)
			}
			b.Close()
			b = pdb.NewBatch()
		}
	}
	if err := it.Error(); err != nil {
		return moved, fmt.Errorf("engine: migrate log: %w", err)
	}
	if moved == 0 {
		return 0, nil
	}
	if err := b.DeleteRange(lo, hi, nil); err != nil {
		return moved, fmt.Errorf("engine: migrate log: %w", err)
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return moved, fmt.Errorf("engine: migrate log: %w", err)
	}
	return moved, nil
}
