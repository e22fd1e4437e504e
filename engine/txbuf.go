package engine

import (
	"bytes"
	"fmt"
	"io"

	"github.com/almanac/almanac/engine/internal/keys"
	statev1 "github.com/almanac/almanac/proto/almanac/state/v1"
	"github.com/cockroachdb/pebble/v2"
)

// txBuffer is the writer's transaction buffer: the readWriter one group's
// commands read and apply their events through. Writes collect in a map;
// reads see them first, then cached earlier reads, then fall through to
// the database. Every key reaches the Pebble batch once, however often the
// group rewrote it (a collection record rewritten by every put of a group
// is encoded into the batch once), and a record read by several commands
// of a group is looked up in Pebble once.
//
// The buffer never commits: its writes move into an indexed batch when a
// command asks for an iterator, and the writer applies the batch (batch)
// at the end of the group, atomically. A rebuild applies the log through
// another readWriter, replay.Loader.
type txBuffer struct {
	db *pebble.DB
	// vals holds the writes and the cached reads (clean).
	vals   map[string]txVal
	dirty  []string    // keys written since the last move to the batch
	ranges [][2][]byte // ranges deleted since the last move to the batch
	// b holds the range deletions and whatever moved there; created on
	// demand: plain while it holds only range deletions, indexed once an
	// iterator needs to read the group's writes.
	b *pebble.Batch
}

type txVal struct {
	val     []byte
	deleted bool
	clean   bool // read from below, not written: the batch skips it
}

// newTxBuffer returns the buffer of one group of the writer; batch hands
// its writes over.
func newTxBuffer(db *pebble.DB) *txBuffer {
	return &txBuffer{db: db, vals: map[string]txVal{}}
}

type noopCloser struct{}

func (noopCloser) Close() error { return nil }

// Get returns the latest value of key, pebble.ErrNotFound if none. The
// value stays valid for the buffer's life and must not be modified.
func (t *txBuffer) Get(key []byte) ([]byte, io.Closer, error) {
	if v, ok := t.vals[string(key)]; ok {
		if v.deleted {
			return nil, nil, pebble.ErrNotFound
		}
		return v.val, noopCloser{}, nil
	}
	for _, r := range t.ranges {
		if bytes.Compare(key, r[0]) >= 0 && bytes.Compare(key, r[1]) < 0 {
			return nil, nil, pebble.ErrNotFound
		}
	}
	var below getter = t.db
	if t.b != nil && t.b.Indexed() {
		below = t.b
	}
	val, closer, err := below.Get(key)
	if err != nil {
		if err == pebble.ErrNotFound {
			t.vals[string(key)] = txVal{deleted: true, clean: true}
		}
		return nil, nil, err
	}
	v := append([]byte(nil), val...)
	closer.Close()
	t.vals[string(key)] = txVal{val: v, clean: true}
	return v, noopCloser{}, nil
}

// Set records key = value.
func (t *txBuffer) Set(key, value []byte, _ *pebble.WriteOptions) error {
	return t.SetOwned(key, append([]byte(nil), value...))
}

// SetOwned is Set of a value the buffer may keep as it is: the caller
// gives it up.
func (t *txBuffer) SetOwned(key, value []byte) error {
	t.write(string(key), txVal{val: value})
	return nil
}

// Delete records the deletion of key.
func (t *txBuffer) Delete(key []byte, _ *pebble.WriteOptions) error {
	t.write(string(key), txVal{deleted: true})
	return nil
}

// write buffers v as the new value of k, listing k among the keys to move
// to the batch unless it is already there.
func (t *txBuffer) write(k string, v txVal) {
	if old, ok := t.vals[k]; !ok || old.clean {
		t.dirty = append(t.dirty, k)
	}
	t.vals[k] = v
}

// Collection returns a fresh copy of the record of collection id, or
// ErrNotFound.
func (t *txBuffer) Collection(id uint64) (*statev1.Collection, error) {
	return readCollection(t, id)
}

// PutCollection writes collection c's record.
func (t *txBuffer) PutCollection(c *statev1.Collection) error {
	return setProto(t, keys.CollKey(c.Id), c)
}

// DeleteRange deletes [start, end): in the batch at once, so that the keys
// set later (moved there after it) win, and from the buffered writes.
func (t *txBuffer) DeleteRange(start, end []byte, _ *pebble.WriteOptions) error {
	for k := range t.vals {
		if k >= string(start) && k < string(end) {
			delete(t.vals, k)
		}
	}
	t.ranges = append(t.ranges, [2][]byte{append([]byte(nil), start...), append([]byte(nil), end...)})
	if t.b == nil {
		t.b = t.db.NewBatch()
	}
	return t.b.DeleteRange(start, end, nil)
}

// NewIter iterates the database as the buffer sees it: its writes move
// into its indexed batch. Commands iterate only for rare operations.
func (t *txBuffer) NewIter(opts *pebble.IterOptions) (*pebble.Iterator, error) {
	if t.b == nil || !t.b.Indexed() {
		ib := t.db.NewIndexedBatch()
		if t.b != nil {
			if err := ib.Apply(t.b, nil); err != nil {
				ib.Close()
				return nil, fmt.Errorf("engine: group batch: %w", err)
			}
			t.b.Close()
		}
		t.b = ib
	}
	if err := t.moveToBatch(); err != nil {
		return nil, err
	}
	return t.b.NewIter(opts)
}

// moveToBatch writes the buffered writes into the batch, which then holds
// everything, and forgets them (and the cached reads, which the batch
// answers as well).
func (t *txBuffer) moveToBatch() error {
	if t.b == nil {
		t.b = t.db.NewBatch()
	}
	for _, k := range t.dirty {
		v, ok := t.vals[k]
		if !ok || v.clean { // dropped by a range deletion, or listed twice
			continue
		}
		var op *pebble.DeferredBatchOp
		if v.deleted {
			op = t.b.DeleteDeferred(len(k))
		} else {
			op = t.b.SetDeferred(len(k), len(v.val))
			copy(op.Value, v.val)
		}
		copy(op.Key, k)
		if err := op.Finish(); err != nil {
			return fmt.Errorf("engine: batch: %w", err)
		}
	}
	t.dirty = t.dirty[:0]
	clear(t.vals)
	t.ranges = t.ranges[:0]
	return nil
}

// batch hands the buffer's writes over as one batch, which the caller
// applies or closes; the buffer is done.
func (t *txBuffer) batch() (*pebble.Batch, error) {
	if err := t.moveToBatch(); err != nil {
		t.close()
		return nil, err
	}
	b := t.b
	t.b = nil
	return b, nil
}

// close releases the batch of a buffer whose writes are abandoned.
func (t *txBuffer) close() {
	if t.b != nil {
		t.b.Close()
		t.b = nil
	}
}
