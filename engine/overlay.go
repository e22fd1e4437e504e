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
// A replay's vals hold only its unflushed writes of the kept families,
// a small map; the flushed records move to kept. A replay that ingests
// runs writes them to kept at once.
type overlay struct {
	db     *pebble.DB
	replay bool
	// vals holds the writes not yet flushed, and a group overlay's cached
	// reads (clean).
	vals  map[string]overlayVal
	dirty []string // keys written since the last flush, maybe twice
	// kept holds a replay's flushed records of the kept families, by
	// bucket (keptBucket): one per collection for objects and tombstones,
	// so that deleting a collection drops its records at once, and
	// lookups search a smaller map. authoritative: kept holds every such
	// record, so a miss there is a miss. keptBytes counts their bytes.
	kept          map[string]map[string][]byte
	authoritative bool
	keptBytes     int
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
	// runs, when set, takes a replay's flushed writes instead of batches:
	// it ingests them as sorted runs (see runSink). A replay that outgrows
	// its kept records' budget ingests what it has and commits batches
	// from then on.
	runs *runSink
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

// newReplayOverlay returns an overlay whose flushes go to db, whose
// projections must be empty: through runs when it is set, else in
// batches that it commits.
func newReplayOverlay(db *pebble.DB, runs *runSink) *overlay {
	return &overlay{db: db, replay: true, authoritative: true, vals: map[string]overlayVal{}, b: db.NewBatch(),
		kept: map[string]map[string][]byte{}, colls: map[uint64]*statev1.Collection{}, runs: runs}
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
// ones apply reads (objects, tombstones, collections, users, sharing).
func keptFamily[K string | []byte](key K) bool {
	if len(key) == 0 {
		return false
	}
	switch key[0] {
	case keys.Obj, keys.Tomb, keys.Coll, keys.User:
		return true
	}
	return slices.Contains(keys.SharingPrefixes, key[0])
}

// keptBucket returns the length of the prefix of a kept key that names its
// bucket: the family and collection id for objects and tombstones, the
// family alone for the others.
func keptBucket[K string | []byte](key K) int {
	if (key[0] == keys.Obj || key[0] == keys.Tomb) && len(key) >= keys.IDPrefixLen {
		return keys.IDPrefixLen
	}
	return 1
}

// keptGet looks key up among a replay's flushed records.
func (o *overlay) keptGet(key []byte) ([]byte, bool) {
	v, ok := o.kept[string(key[:keptBucket(key)])][string(key)]
	return v, ok
}

// keep records a replay's flushed write of a kept family.
func (o *overlay) keep(k string, v overlayVal) {
	b := k[:keptBucket(k)]
	m := o.kept[b]
	if m == nil {
		m = map[string][]byte{}
		o.kept[b] = m
	}
	if old, ok := m[k]; ok {
		o.keptBytes -= len(k) + len(old)
	}
	if v.deleted {
		delete(m, k)
		return
	}
	m[k] = v.val
	o.keptBytes += len(k) + len(v.val)
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
	kept := keptFamily(key)
	if len(o.direct) > 0 && !kept {
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
	if o.replay && kept {
		if v, ok := o.keptGet(key); ok {
			return v, noopCloser{}, nil
		}
		if o.authoritative {
			return nil, nil, pebble.ErrNotFound
		}
	}
	var below getter = o.db
	if o.b != nil && o.b.Indexed() {
		below = o.b
	}
	if err := o.settle(); err != nil {
		return nil, nil, err
	}
	if err := o.ingestRun(); err != nil {
		return nil, nil, err
	}
	val, closer, err := below.Get(key)
	if err != nil {
		if err == pebble.ErrNotFound && !o.replay {
			o.vals[string(key)] = overlayVal{deleted: true, clean: true}
		}
		return nil, nil, err
	}
	v := append([]byte(nil), val...)
	closer.Close()
	if !o.replay { // a replay reads records once, or keeps them
		o.vals[string(key)] = overlayVal{val: v, clean: true}
	}
	return v, noopCloser{}, nil
}

// Set records key = value.
func (o *overlay) Set(key, value []byte, _ *pebble.WriteOptions) error {
	return o.setOwned(key, append([]byte(nil), value...))
}

// setOwned is Set of a value the overlay may keep as it is: the caller
// gives it up.
func (o *overlay) setOwned(key, value []byte) error {
	v := overlayVal{val: value}
	if o.replay && !keptFamily(key) {
		o.direct = append(o.direct, write{string(key), v})
		return nil
	}
	o.write(string(key), v)
	return nil
}

// Delete records the deletion of key.
func (o *overlay) Delete(key []byte, _ *pebble.WriteOptions) error {
	if o.replay && !keptFamily(key) {
		o.direct = append(o.direct, write{string(key), overlayVal{deleted: true}})
		return nil
	}
	o.write(string(key), overlayVal{deleted: true})
	return nil
}

// write buffers v as the new value of k, listing k among the keys to
// flush unless it is already there. A replay that ingests runs keeps it at
// once instead, and lists it for the sink: vals would only hold it until
// the next flush moved it to the kept records.
func (o *overlay) write(k string, v overlayVal) {
	if o.runs != nil {
		o.keep(k, v)
		o.direct = append(o.direct, write{k, v})
		return
	}
	if old, ok := o.vals[k]; !ok || old.clean {
		o.dirty = append(o.dirty, k)
	}
	o.vals[k] = v
}

// DeleteRange deletes [start, end): in the batch at once, so that the keys
// set later (flushed after it) win, and from the buffered writes and kept
// records.
func (o *overlay) DeleteRange(start, end []byte, _ *pebble.WriteOptions) error {
	if o.runs != nil {
		return o.deleteRangeRuns(start, end)
	}
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
	o.forgetKept(start, end)
	o.ranges = append(o.ranges, [2][]byte{append([]byte(nil), start...), append([]byte(nil), end...)})
	if o.b == nil {
		o.b = o.db.NewBatch()
	}
	return o.b.DeleteRange(start, end, nil)
}

// deleteRangeRuns is DeleteRange for a replay that ingests runs: the
// writes in the range are dropped wherever they wait, and the runs
// ingested already lose it too.
func (o *overlay) deleteRangeRuns(start, end []byte) error {
	o.direct = slices.DeleteFunc(o.direct, func(w write) bool { return w.key >= string(start) && w.key < string(end) })
	for k := range o.vals {
		if k >= string(start) && k < string(end) {
			delete(o.vals, k)
		}
	}
	o.forgetKept(start, end) // kept stays authoritative: no need for ranges
	return o.runs.deleteRange(start, end)
}

// forgetKept drops a replay's kept records in [start, end): a whole bucket
// at once when the range is one, as a collection's deletion is.
func (o *overlay) forgetKept(start, end []byte) {
	for b, m := range o.kept {
		hi := keys.PrefixEnd([]byte(b)) // the bucket is [b, hi); nil: no end
		if b >= string(end) || hi != nil && string(hi) <= string(start) {
			continue // apart from the range
		}
		if b >= string(start) && hi != nil && string(hi) <= string(end) {
			for k, v := range m {
				o.keptBytes -= len(k) + len(v)
			}
			delete(o.kept, b)
			continue
		}
		for k, v := range m {
			if k >= string(start) && k < string(end) {
				o.keptBytes -= len(k) + len(v)
				delete(m, k)
			}
		}
	}
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
		if err := o.ingestRun(); err != nil {
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

// takeWrites returns the buffered writes and forgets them. A replay keeps
// its writes of the kept families, within its budget.
func (o *overlay) takeWrites() ([]write, error) {
	if err := o.encodeCollections(); err != nil {
		return nil, err
	}
	keep := o.replay && o.authoritative && o.keptBytes < replayKeepBytes
	out := make([]write, 0, len(o.dirty)+len(o.direct))
	for _, k := range o.dirty {
		v, ok := o.vals[k]
		if !ok || v.clean { // dropped by a range deletion, or listed twice
			continue
		}
		out = append(out, write{k, v})
		if keep {
			o.keep(k, v)
		}
	}
	o.dirty = o.dirty[:0]
	out = append(out, o.direct...) // copies: direct's array can be reused
	o.direct = o.direct[:0]
	clear(o.vals)
	if o.replay && !keep {
		clear(o.kept)
		o.keptBytes = 0
		o.authoritative = false
	}
	o.ranges = o.ranges[:0]
	return out, nil
}

// writeBatch adds writes to b, copying each key straight into the batch.
func writeBatch(b *pebble.Batch, writes []write) error {
	for _, w := range writes {
		var op *pebble.DeferredBatchOp
		if w.deleted {
			op = b.DeleteDeferred(len(w.key))
		} else {
			op = b.SetDeferred(len(w.key), len(w.val))
			copy(op.Value, w.val)
		}
		copy(op.Key, w.key)
		if err := op.Finish(); err != nil {
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
	if o.runs != nil {
		o.runs.add(writes)
		if opts.Sync || !o.authoritative || o.runs.bytes >= runBudget {
			return o.ingestRun()
		}
		return nil
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

// ingestRun ingests the writes a replay's runs collected, so that Pebble
// holds everything flushed. Once the overlay no longer keeps every record
// apply reads (past its budget), reads go to Pebble, which must then hold
// every write: the replay commits batches from here on.
func (o *overlay) ingestRun() error {
	if o.runs == nil {
		return nil
	}
	if err := o.runs.ingest(); err != nil {
		return err
	}
	if !o.authoritative {
		o.runs.close()
		o.runs = nil
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
	if o.runs != nil {
		o.runs.close()
		o.runs = nil
	}
	if o.b != nil {
		o.b.Close()
		o.b = nil
	}
}
