package replay

import (
	"bytes"
	"fmt"
	"io"
	"slices"

	"github.com/almanac/almanac/engine/internal/keys"
	statev1 "github.com/almanac/almanac/proto/almanac/state/v1"
	"github.com/cockroachdb/pebble/v2"
	"google.golang.org/protobuf/proto"
)

// Loader is what a replay applies the log through into projections that
// start empty: the engine's apply reads and writes the projections through
// it as it would through the writer's transaction buffer. Writes collect
// in a map; reads see them first, then fall through to the database. Every
// key reaches Pebble once per flush, however often the events of a flush
// rewrote it. Flush commits the writes (or hands them to Runs), so the
// caller may flush whenever it likes.
//
// The projections start empty, so the loader also keeps, across flushes,
// every record of the families apply reads (see keptFamily) and answers a
// miss there without asking Pebble: in a rebuild, Pebble still holds the
// dropped projections under a range deletion, and every such miss would
// read their blocks. Past KeepBytes of kept records (or its Limit) it
// forgets them and asks Pebble again. The kept records are counted as the
// heap holds them (keptSize: the map's entries included), and with the
// run being collected they stay within the Limit. vals hold only the unflushed writes of the kept
// families, a small map; the flushed records move to kept. A loader that
// ingests runs writes them to kept at once.
type Loader struct {
	db *pebble.DB
	// vals holds the writes not yet flushed.
	vals  map[string]entry
	dirty []string // keys written since the last flush, maybe twice
	// kept holds the flushed records of the kept families, by bucket
	// (keptBucket): one per collection for objects and tombstones, so
	// that deleting a collection drops its records at once, and lookups
	// search a smaller map. authoritative: kept holds every such record,
	// so a miss there is a miss. keptBytes counts their bytes.
	kept          map[string]map[string][]byte
	authoritative bool
	keptBytes     int
	// colls holds the decoded collection records (see PutCollection);
	// collsDirty lists the ones changed since they were last encoded into
	// vals.
	colls      map[uint64]*statev1.Collection
	collsDirty []uint64
	// direct holds, in order, the writes of the families apply never
	// reads back: they go to the batch as they are, without the map.
	direct []write
	ranges [][2][]byte // ranges deleted and not yet flushed
	// committing delivers the outcome of a commit in flight.
	committing chan error
	// runs, when set, takes the flushed writes instead of batches: it
	// ingests them as sorted runs (see Runs). A loader that outgrows its
	// kept records' budget ingests what it has and commits batches from
	// then on.
	runs *Runs
	// b holds range deletions, and the flushed writes while they commit.
	b *pebble.Batch
	// keepBytes and runBytes are this Loader's budgets: KeepBytes and
	// RunBudget unless Limit lowered them; memory bounds the kept records
	// and the run together.
	keepBytes, runBytes, memory int
}

// entry is a buffered write: a value, or a deletion.
type entry struct {
	val     []byte
	deleted bool
}

// write is one buffered write taken out of a Loader.
type write struct {
	key string
	entry
}

// New returns a Loader whose flushes go to db, whose projections must be
// empty: through runs when it is set, else in batches that it commits.
// The Loader owns runs: Close closes it.
func New(db *pebble.DB, runs *Runs) *Loader {
	return &Loader{db: db, authoritative: true, vals: map[string]entry{}, b: db.NewBatch(),
		kept: map[string]map[string][]byte{}, colls: map[uint64]*statev1.Collection{}, runs: runs,
		keepBytes: KeepBytes, runBytes: RunBudget, memory: KeepBytes + RunBudget}
}

// Limit bounds what the Loader holds to about memory bytes, when it is
// positive and below the default budgets: the kept records and the writes
// a run collects before it is ingested together, a run at most a third,
// the kept records at most seven eighths (a run is ingested early when
// both would pass memory: the runs shrink as the kept records grow). A
// smaller budget ingests smaller runs (more tables for Pebble to compact)
// and, once the kept records outgrow theirs, reads apply's records back
// from Pebble and commits batches.
func (o *Loader) Limit(memory int) {
	if memory <= 0 {
		return
	}
	o.runBytes = min(RunBudget, max(memory/3, 1))
	o.keepBytes = min(KeepBytes, max(memory-memory/8, 1))
	o.memory = min(KeepBytes+RunBudget, memory)
}

// Collection returns the decoded record of collection id, decoded once;
// the caller changes it in place and hands it back with PutCollection. It
// returns an error wrapping pebble.ErrNotFound when there is none.
func (o *Loader) Collection(id uint64) (*statev1.Collection, error) {
	if c, ok := o.colls[id]; ok {
		return c, nil
	}
	v, _, err := o.Get(keys.CollKey(id))
	if err != nil {
		return nil, err
	}
	c := &statev1.Collection{}
	if err := proto.Unmarshal(v, c); err != nil {
		return nil, fmt.Errorf("engine: decode %T: %w", c, err)
	}
	o.colls[id] = c
	return c, nil
}

// PutCollection records that collection c's record changed; it is encoded
// once, when something reads or flushes it.
func (o *Loader) PutCollection(c *statev1.Collection) error {
	if !slices.Contains(o.collsDirty, c.Id) {
		o.collsDirty = append(o.collsDirty, c.Id)
	}
	o.colls[c.Id] = c
	return nil
}

var marshal = proto.MarshalOptions{Deterministic: true}

// encodeCollections writes the changed decoded collection records into
// vals, before anything reads or flushes them there.
func (o *Loader) encodeCollections() error {
	for _, id := range o.collsDirty {
		data, err := marshal.Marshal(o.colls[id])
		if err != nil {
			return fmt.Errorf("engine: encode collection %d: %w", id, err)
		}
		o.write(string(keys.CollKey(id)), entry{val: data})
	}
	o.collsDirty = o.collsDirty[:0]
	return nil
}

// KeepBytes bounds the records a Loader keeps in memory (a variable for
// tests).
var KeepBytes = 256 << 20

// keptEntryOverhead is what a kept record costs the heap beyond its key
// and value: the map's slot (a string and a slice header) and its share of
// the map's table, which is between 7/16 and 7/8 full, and the size
// classes the key and value are rounded up to. Measured 61–117 bytes for
// records of 60–400 bytes in buckets of 10–100,000 (Go 1.26's maps).
const keptEntryOverhead = 80

// keptSize is what the kept record k = v counts against keepBytes.
func keptSize(k string, v []byte) int { return len(k) + len(v) + keptEntryOverhead }

// keptFamily reports whether key belongs to a family a Loader keeps: the
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

// keptGet looks key up among the flushed records.
func (o *Loader) keptGet(key []byte) ([]byte, bool) {
	v, ok := o.kept[string(key[:keptBucket(key)])][string(key)]
	return v, ok
}

// keep records a flushed write of a kept family.
func (o *Loader) keep(k string, v entry) {
	b := k[:keptBucket(k)]
	m := o.kept[b]
	if m == nil {
		m = map[string][]byte{}
		o.kept[b] = m
	}
	if old, ok := m[k]; ok {
		o.keptBytes -= keptSize(k, old)
	}
	if v.deleted {
		delete(m, k)
		return
	}
	m[k] = v.val
	o.keptBytes += keptSize(k, v.val)
}

type noopCloser struct{}

func (noopCloser) Close() error { return nil }

// Get returns the latest value of key, pebble.ErrNotFound if none. The
// value stays valid for the Loader's life and must not be modified.
func (o *Loader) Get(key []byte) ([]byte, io.Closer, error) {
	kept := keptFamily(key)
	if len(o.direct) > 0 && !kept {
		// Not apply's reads; Pebble answers once the writes are there.
		if err := o.Flush(false); err != nil {
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
	if kept {
		if v, ok := o.keptGet(key); ok {
			return v, noopCloser{}, nil
		}
		if o.authoritative {
			return nil, nil, pebble.ErrNotFound
		}
	}
	if err := o.settle(); err != nil {
		return nil, nil, err
	}
	if err := o.ingestRun(); err != nil {
		return nil, nil, err
	}
	v, closer, err := o.db.Get(key)
	if err != nil {
		return nil, nil, err
	}
	out := append([]byte(nil), v...) // read once, or kept: no cache
	closer.Close()
	return out, noopCloser{}, nil
}

// Set records key = value.
func (o *Loader) Set(key, value []byte, _ *pebble.WriteOptions) error {
	return o.SetOwned(key, append([]byte(nil), value...))
}

// SetOwned is Set of a value the Loader may keep as it is: the caller
// gives it up.
func (o *Loader) SetOwned(key, value []byte) error {
	v := entry{val: value}
	if !keptFamily(key) {
		o.direct = append(o.direct, write{string(key), v})
		return nil
	}
	o.write(string(key), v)
	return nil
}

// Delete records the deletion of key.
func (o *Loader) Delete(key []byte, _ *pebble.WriteOptions) error {
	if !keptFamily(key) {
		o.direct = append(o.direct, write{string(key), entry{deleted: true}})
		return nil
	}
	o.write(string(key), entry{deleted: true})
	return nil
}

// write buffers v as the new value of k, listing k among the keys to
// flush unless it is already there. A Loader that ingests runs keeps it
// at once instead, and lists it for the sink: vals would only hold it
// until the next flush moved it to the kept records.
func (o *Loader) write(k string, v entry) {
	if o.runs != nil {
		o.keep(k, v)
		o.direct = append(o.direct, write{k, v})
		return
	}
	if _, ok := o.vals[k]; !ok {
		o.dirty = append(o.dirty, k)
	}
	o.vals[k] = v
}

// DeleteRange deletes [start, end): in the batch at once, so that the keys
// set later (flushed after it) win, and from the buffered writes and kept
// records.
func (o *Loader) DeleteRange(start, end []byte, _ *pebble.WriteOptions) error {
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
	return o.b.DeleteRange(start, end, nil)
}

// deleteRangeRuns is DeleteRange for a Loader that ingests runs: the
// writes in the range are dropped wherever they wait, and the runs
// ingested already lose it too.
func (o *Loader) deleteRangeRuns(start, end []byte) error {
	o.direct = slices.DeleteFunc(o.direct, func(w write) bool { return w.key >= string(start) && w.key < string(end) })
	for k := range o.vals {
		if k >= string(start) && k < string(end) {
			delete(o.vals, k)
		}
	}
	o.forgetKept(start, end) // kept stays authoritative: no need for ranges
	return o.runs.deleteRange(start, end)
}

// forgetKept drops the kept records in [start, end): a whole bucket at
// once when the range is one, as a collection's deletion is.
func (o *Loader) forgetKept(start, end []byte) {
	for b, m := range o.kept {
		hi := keys.PrefixEnd([]byte(b)) // the bucket is [b, hi); nil: no end
		if b >= string(end) || hi != nil && string(hi) <= string(start) {
			continue // apart from the range
		}
		if b >= string(start) && hi != nil && string(hi) <= string(end) {
			for k, v := range m {
				o.keptBytes -= keptSize(k, v)
			}
			delete(o.kept, b)
			continue
		}
		for k, v := range m {
			if k >= string(start) && k < string(end) {
				o.keptBytes -= keptSize(k, v)
				delete(m, k)
			}
		}
	}
}

// NewIter commits the buffered writes and iterates the database. apply
// iterates only for rare events.
func (o *Loader) NewIter(opts *pebble.IterOptions) (*pebble.Iterator, error) {
	if err := o.Flush(false); err != nil {
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

// takeWrites returns the buffered writes and forgets them, keeping the
// writes of the kept families within the budget.
func (o *Loader) takeWrites() ([]write, error) {
	if err := o.encodeCollections(); err != nil {
		return nil, err
	}
	keep := o.authoritative && o.keptBytes < o.keepBytes
	out := make([]write, 0, len(o.dirty)+len(o.direct))
	for _, k := range o.dirty {
		v, ok := o.vals[k]
		if !ok { // dropped by a range deletion
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
	if !keep {
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

// Flush commits the buffered writes: in the background, while the replay
// goes on, unless sync, which it waits for (and makes durable). Whatever
// needs Pebble to hold the writes (a read that falls through, an iterator,
// the next flush) settles the commit first.
func (o *Loader) Flush(sync bool) error {
	if err := o.settle(); err != nil {
		return err
	}
	writes, err := o.takeWrites()
	if err != nil {
		return err
	}
	if o.runs != nil {
		o.runs.add(writes)
		if sync || !o.authoritative || o.runs.bytes >= o.runBytes || o.keptBytes+o.runs.bytes >= o.memory {
			return o.ingestRun()
		}
		return nil
	}
	opts := pebble.NoSync
	if sync {
		opts = pebble.Sync
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
	if sync {
		return o.settle()
	}
	return nil
}

// ingestRun ingests the writes the runs collected, so that Pebble holds
// everything flushed. Once the Loader no longer keeps every record apply
// reads (past its budget), reads go to Pebble, which must then hold every
// write: the Loader commits batches from here on.
func (o *Loader) ingestRun() error {
	if o.runs == nil {
		return nil
	}
	if err := o.runs.ingest(); err != nil {
		return err
	}
	if !o.authoritative {
		o.runs.Close()
		o.runs = nil
	}
	return nil
}

// settle waits for the commit in flight, if any.
func (o *Loader) settle() error {
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

// Close abandons what was not flushed, once the commit in flight is done,
// and releases the runs and the batch.
func (o *Loader) Close() {
	_ = o.settle()
	if o.runs != nil {
		o.runs.Close()
		o.runs = nil
	}
	if o.b != nil {
		o.b.Close()
		o.b = nil
	}
}

// NewOver returns a Loader over projections that need not be empty (a
// node catching up with a shared log from where it was): it keeps no
// records across flushes, so reads its writes do not answer go to db, and
// its flushes commit batches.
func NewOver(db *pebble.DB) *Loader {
	o := New(db, nil)
	o.authoritative = false
	return o
}
