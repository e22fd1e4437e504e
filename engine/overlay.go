package engine

import (
	"bytes"
	"fmt"
	"io"

	"github.com/cockroachdb/pebble/v2"
)

// overlay is the readWriter Rebuild and Verify replay into: writes collect
// in a map, reads see them first and fall through to the database, and
// flush writes each key once in a plain (non-indexed) batch. A collection
// record rewritten by every event of a batch is written once, and reads
// never walk a batch's skiplist.
type overlay struct {
	db     *pebble.DB
	vals   map[string]overlayVal
	ranges [][2][]byte // ranges deleted since the last flush
	b      *pebble.Batch
}

type overlayVal struct {
	val     []byte
	deleted bool
}

func newOverlay(db *pebble.DB) *overlay {
	return &overlay{db: db, vals: map[string]overlayVal{}, b: db.NewBatch()}
}

type noopCloser struct{}

func (noopCloser) Close() error { return nil }

// Get returns the latest value of key, pebble.ErrNotFound if none.
func (o *overlay) Get(key []byte) ([]byte, io.Closer, error) {
	if v, ok := o.vals[string(key)]; ok {
		if v.deleted {
			return nil, nil, pebble.ErrNotFound
		}
		return v.val, noopCloser{}, nil
	}
	for _, r := range o.ranges {
		if bytes.Compare(key, r[0]) >= 0 && bytes.Compare(key, r[1]) < 0 {
			return nil, nil, pebble.ErrNotFound
		}
	}
	return o.db.Get(key)
}

// Set records key = value.
func (o *overlay) Set(key, value []byte, _ *pebble.WriteOptions) error {
	o.vals[string(key)] = overlayVal{val: append([]byte(nil), value...)}
	return nil
}

// Delete records the deletion of key.
func (o *overlay) Delete(key []byte, _ *pebble.WriteOptions) error {
	o.vals[string(key)] = overlayVal{deleted: true}
	return nil
}

// DeleteRange deletes [start, end): in the batch at once, so that the keys
// set later (flushed after it) win, and from the buffered writes.
func (o *overlay) DeleteRange(start, end []byte, _ *pebble.WriteOptions) error {
	for k := range o.vals {
		if k >= string(start) && k < string(end) {
			delete(o.vals, k)
		}
	}
	o.ranges = append(o.ranges, [2][]byte{append([]byte(nil), start...), append([]byte(nil), end...)})
	return o.b.DeleteRange(start, end, nil)
}

// NewIter commits the buffered writes, which a replay may do at any point,
// and iterates the database (apply iterates only for rare events).
func (o *overlay) NewIter(opts *pebble.IterOptions) (*pebble.Iterator, error) {
	if err := o.flush(pebble.NoSync); err != nil {
		return nil, err
	}
	return o.db.NewIter(opts)
}

// flush commits the buffered writes.
func (o *overlay) flush(opts *pebble.WriteOptions) error {
	for k, v := range o.vals {
		var err error
		if v.deleted {
			err = o.b.Delete([]byte(k), nil)
		} else {
			err = o.b.Set([]byte(k), v.val, nil)
		}
		if err != nil {
			return fmt.Errorf("engine: replay batch: %w", err)
		}
	}
	if err := o.b.Commit(opts); err != nil {
		return fmt.Errorf("engine: replay commit: %w", err)
	}
	o.b.Close()
	o.b = o.db.NewBatch()
	clear(o.vals)
	o.ranges = o.ranges[:0]
	return nil
}

func (o *overlay) close() { o.b.Close() }
