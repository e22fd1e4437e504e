package engine

import (
	"bytes"
	"fmt"
	"io"
	"slices"

	"github.com/almanac/almanac/engine/internal/keys"
	statev1 "github.com/almanac/almanac/proto/almanac/state/v1"
	"github.com/cockroachdb/pebble/v2"
)

// overlay is the readWriter that the writer and Rebuild apply events
// through. Writes collect in a map; reads see them first, then cached
// earlier reads, then fall through to the database. Every key reaches the
// Pebble batch once, however often a group rewrote it (a collection record
// rewritten by every put of a group is encoded into the batch once), and a
// record read by several commands of a group is looked up in Pebble once.
//
// The two modes differ in what a flush does. A replay overlay (Rebuild,
// Verify) commits its batch, so it may flush whenever it likes. A group
// overlay (the writer) never commits: its writes move into an indexed
// batch when a command asks for an iterator, and the writer applies the
// batch at the end of the group, atomically.
//
// A replay starts from empty projections, so its overlay also keeps, across
// flushes, every record of the families apply reads (see keptFamily) and
// answers a miss there without asking Pebble: in a
// rebuild, Pebble still holds the dropped projections under a range
// deletion, and every such miss would read their blocks. Past
// replayKeepBytes of kept records it forgets them and asks Pebble again.
type overlay struct {
	db     *pebble.DB
	replay bool
	// authoritative: vals holds every record of the kept families, so a
	// miss there is a miss. kept counts their bytes.
	authoritative bool
	kept          int
	vals          map[string]overlayVal
	dirty         []string // keys written since the last flush, maybe twice
	// colls holds a replay's decoded collection records (see
	// putCollection); collsDirty lists the ones changed since they were
	// last encoded into vals.
	colls      map[uint64]*statev1.Collection
	collsDirty []uint64
	// direct holds, in order, a replay's writes of the families apply
	// never reads back: they go to the batch as they are, without the map.
	direct []write
	ranges [][2][]byte // ranges deleted and not yet flushed
	// committing delivers the outcome of a replay's commit in flight.
	committing chan error
	// b holds what was flushed (and range deletions). A group overlay
	// creates it on demand: plain while it holds only range deletions,
	// indexed once an iterator needs to read the group's writes.
	b *pebble.Batch
}

type overlayVal struct {
	val     []byte
	deleted bool
	clean   bool // read from below, not written: flush skips it
}

// newReplayOverlay returns an overlay whose flushes commit to db, whose
// projections must be empty.
func newReplayOverlay(db *pebble.DB) *overlay {
	return &overlay{db: db, replay: true, authoritative: true, vals: map[string]overlayVal{}, b: db.NewBatch(),
		colls: map[uint64]*statev1.Collection{}}
}

// collection returns a replay's decoded record of collection id, decoded
// once; apply changes it in place and hands it back with putCollection.
func (o *overlay) collection(id uint64) (*statev1.Collection, error) {
	if c, ok := o.colls[id]; ok {
		return c, nil
	}
	c := &statev1.Collection{}
	if err := getProto(o, keys.CollKey(id), c); err != nil {
		return nil, err
	}
	o.colls[id] = c
	return c, nil
}

// putCollection records that a replay changed collection c's record.
func (o *overlay) putCollection(c *statev1.Collection) {
	if !slices.Contains(o.collsDirty, c.Id) {
		o.collsDirty = append(o.collsDirty, c.Id)
	}
	o.colls[c.Id] = c
}

// encodeCollections writes the changed decoded collection records into
// vals, before anything reads or flushes them there.
func (o *overlay) encodeCollections() error {
	for _, id := range o.collsDirty {
		data, err := marshal.Marshal(o.colls[id])
		if err != nil {
			return fmt.Errorf("engine: encode collection %d: %w", id, err)
		}
		o.write(string(keys.CollKey(id)), overlayVal{val: data})
	}
	o.collsDirty = o.collsDirty[:0]
	return nil
}

// replayKeepBytes bounds the records a replay overlay keeps in memory (a
// variable for tests).
var replayKeepBytes = 256 << 20

// keptFamily reports whether key belongs to a family a replay keeps: the
// ones apply reads (objects, tombstones, collections, users).
func keptFamily(key string) bool {
	if key == "" {
		return false
	}
	switch key[0] {
	case keys.Obj, keys.Tomb, keys.Coll, keys.User:
		return true
	}
	return false
}

// newGroupOverlay returns an overlay for one group of the writer; batch
// hands its writes over.
func newGroupOverlay(db *pebble.DB) *overlay {
	return &overlay{db: db, vals: map[string]overlayVal{}}
}

type noopCloser struct{}

func (noopCloser) Close() error { return nil }

// Get returns the latest value of key, pebble.ErrNotFound if none. The
// value stays valid for the overlay's life and must not be modified.
func (o *overlay) Get(key []byte) ([]byte, io.Closer, error) {
	if len(o.direct) > 0 && !keptFamily(string(key)) {
		// Not apply's reads; Pebble answers once the writes are there.
		if err := o.flush(pebble.NoSync); err != nil {
			return nil, nil, err
		}
	}
	if len(o.collsDirty) > 0 && len(key) > 0 && key[0] == keys.Coll {
		if err := o.encodeCollections(); err != nil {
			return nil, nil, err
		}
	}
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
	if o.authoritative && keptFamily(string(key)) {
		return nil, nil, pebble.ErrNotFound
	}
	var below getter = o.db
	if o.b != nil && o.b.Indexed() {
		below = o.b
	}
	if err := o.settle(); err != nil {
		return nil, nil, err
	}
	val, closer, err := below.Get(key)
	switch {
	case err == pebble.ErrNotFound:
		o.vals[string(key)] = overlayVal{deleted: true, clean: true}
		return nil, nil, err
	case err != nil:
		return nil, nil, err
	}
	v := overlayVal{val: append([]byte(nil), val...), clean: true}
	closer.Close()
	o.vals[string(key)] = v
	return v.val, noopCloser{}, nil
}

// Set records key = value.
func (o *overlay) Set(key, value []byte, _ *pebble.WriteOptions) error {
	v := overlayVal{val: append([]byte(nil), value...)}
	if o.replay && !keptFamily(string(key)) {
		o.direct = append(o.direct, write{string(key), v})
		return nil
	}
	o.write(string(key), v)
	return nil
}

// Delete records the deletion of key.
func (o *overlay) Delete(key []byte, _ *pebble.WriteOptions) error {
	if o.replay && !keptFamily(string(key)) {
		o.direct = append(o.direct, write{string(key), overlayVal{deleted: true}})
		return nil
	}
	o.write(string(key), overlayVal{deleted: true})
	return nil
}

// write buffers v as the new value of k, listing k among the keys to
// flush unless it is already there.
func (o *overlay) write(k string, v overlayVal) {
	old, ok := o.vals[k]
	if !ok || old.clean {
		o.dirty = append(o.dirty, k)
		if ok && !old.deleted && keptFamily(k) {
			o.kept -= len(k) + len(old.val) // counted when it was kept
		}
	}
	o.vals[k] = v
}

// DeleteRange deletes [start, end): in the batch at once, so that the keys
// set later (flushed after it) win, and from the buffered writes.
func (o *overlay) DeleteRange(start, end []byte, _ *pebble.WriteOptions) error {
	if len(o.direct) > 0 { // they come before the deletion
		if err := writeBatch(o.b, o.direct); err != nil {
			return err
		}
		o.direct = o.direct[:0]
	}
	for k := range o.vals {
		if k >= string(start) && k < string(end) {
			delete(o.vals, k)
		}
	}
	o.ranges = append(o.ranges, [2][]byte{append([]byte(nil), start...), append([]byte(nil), end...)})
	if o.b == nil {
		o.b = o.db.NewBatch()
	}
	return o.b.DeleteRange(start, end, nil)
}

// NewIter iterates the database as the overlay sees it: a replay overlay
// commits its writes first, a group overlay moves them into its indexed
// batch. Commands iterate only for rare operations.
func (o *overlay) NewIter(opts *pebble.IterOptions) (*pebble.Iterator, error) {
	if o.replay {
		if err := o.flush(pebble.NoSync); err != nil {
			return nil, err
		}
		if err := o.settle(); err != nil {
			return nil, err
		}
		return o.db.NewIter(opts)
	}
	if o.b == nil || !o.b.Indexed() {
		ib := o.db.NewIndexedBatch()
		if o.b != nil {
			if err := ib.Apply(o.b, nil); err != nil {
				ib.Close()
				return nil, fmt.Errorf("engine: group batch: %w", err)
			}
			o.b.Close()
		}
		o.b = ib
	}
	if err := o.moveToBatch(); err != nil {
		return nil, err
	}
	return o.b.NewIter(opts)
}

// moveToBatch writes the buffered writes into the batch, which then holds
// everything, and forgets them (and the cached reads, which the batch
// answers as well).
func (o *overlay) moveToBatch() error {
	if o.b == nil {
		o.b = o.db.NewBatch()
	}
	writes, err := o.takeWrites()
	if err != nil {
		return err
	}
	return writeBatch(o.b, writes)
}

// write is one buffered write taken out of an overlay.
type write struct {
	key string
	overlayVal
}

// takeWrites returns the buffered writes and forgets them, except what a
// replay keeps (as clean records) within its budget. It visits only the
// keys written since the last time, not everything a replay keeps.
func (o *overlay) takeWrites() ([]write, error) {
	if err := o.encodeCollections(); err != nil {
		return nil, err
	}
	keep := o.authoritative && o.kept < replayKeepBytes
	out := make([]write, 0, len(o.dirty)+len(o.direct))
	for _, k := range o.dirty {
		v, ok := o.vals[k]
		if !ok || v.clean { // dropped by a range deletion, or listed twice
			continue
		}
		out = append(out, write{k, v})
		if keep && !v.deleted && keptFamily(k) {
			o.vals[k] = overlayVal{val: v.val, clean: true}
			o.kept += len(k) + len(v.val)
		} else {
			delete(o.vals, k) // a kept family's miss is a miss anyway
		}
	}
	o.dirty = o.dirty[:0]
	out = append(out, o.direct...) // copies: direct's array can be reused
	o.direct = o.direct[:0]
	if !keep {
		clear(o.vals)
		o.kept = 0
	}
	o.authoritative = keep
	o.ranges = o.ranges[:0]
	return out, nil
}

// writeBatch adds writes to b.
func writeBatch(b *pebble.Batch, writes []write) error {
	for _, w := range writes {
		var err error
		if w.deleted {
			err = b.Delete([]byte(w.key), nil)
		} else {
			err = b.Set([]byte(w.key), w.val, nil)
		}
		if err != nil {
			return fmt.Errorf("engine: batch: %w", err)
		}
	}
	return nil
}

// batch hands a group overlay's writes over as one batch, which the caller
// applies or closes; the overlay is done.
func (o *overlay) batch() (*pebble.Batch, error) {
	if err := o.moveToBatch(); err != nil {
		o.close()
		return nil, err
	}
	b := o.b
	o.b = nil
	return b, nil
}

// flush commits a replay overlay's buffered writes: in the background,
// while the replay goes on, unless opts asks for a sync, which it waits
// for. Whatever needs Pebble to hold the writes (a read that falls
// through, an iterator, the next flush) settles the commit first.
func (o *overlay) flush(opts *pebble.WriteOptions) error {
	if err := o.settle(); err != nil {
		return err
	}
	writes, err := o.takeWrites()
	if err != nil {
		return err
	}
	b := o.b
	o.b = o.db.NewBatch()
	done := make(chan error, 1)
	go func() {
		err := writeBatch(b, writes)
		if err == nil {
			err = b.Commit(opts)
		}
		b.Close()
		done <- err
	}()
	o.committing = done
	if opts.Sync {
		return o.settle()
	}
	return nil
}

// settle waits for the commit in flight, if any.
func (o *overlay) settle() error {
	if o.committing == nil {
		return nil
	}
	err := <-o.committing
	o.committing = nil
	if err != nil {
		return fmt.Errorf("engine: replay commit: %w", err)
	}
	return nil
}

// close releases the batch of an overlay whose writes are abandoned, once
// its commit in flight is done.
func (o *overlay) close() {
	_ = o.settle()
	if o.b != nil {
		o.b.Close()
		o.b = nil
	}
}
