package engine

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/almanac/almanac/engine/internal/keys"
	eventv1 "github.com/almanac/almanac/proto/almanac/event/v1"
	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// PurgeResult says what a purge erased.
type PurgeResult struct {
	// Seq is the OP_CONTENT_PURGED event.
	Seq Seq
	// Erased lists the log records whose body was erased.
	Erased []Seq
	// Deleted lists what was live and got deleted first: "path" or
	// "path/name".
	Deleted []string
}

// PurgeContent erases an object (name set) or a collection with
// everything below it (name "") for good, as a GDPR erasure: it deletes
// what is live, erases the bodies from every log record and projection
// that held them (following moves to where the content went), records an
// OP_CONTENT_PURGED event listing the erased records without their
// content, then compacts Pebble and cycles its write-ahead logs so the
// bytes leave the files. Names, UIDs, collection properties and the
// who/when of every event stay. A COPY made earlier is a separate object
// and is not followed.
//
// Errors: ErrNotFound when nothing was ever recorded at path/name.
func (db *DB) PurgeContent(ctx context.Context, m Meta, path, name string) (*PurgeResult, error) {
	if err := db.rewritesLog(); err != nil {
		return nil, err
	}
	v, err := db.View()
	if err != nil {
		return nil, err
	}
	t, err := v.purgeTargets(path, name)
	v.Close()
	if err != nil {
		return nil, err
	}
	if m.Reason == "" {
		m.Reason = "purge " + path + name
	}
	cmd := &purgeCmd{m: m, path: path, name: name, t: t}
	if err := db.submit(ctx, cmd); err != nil {
		return nil, err
	}
	if err := db.scrub(ctx); err != nil {
		return nil, err
	}
	return &cmd.res, nil
}

// purgeTargets is what a purge erases and deletes.
type purgeTargets struct {
	seqs    []Seq
	objects [][2]string // live objects to delete: path, name
	colls   []string    // collection trees to delete
	collID  uint64      // the (last) collection that had path
}

func (v *View) purgeTargets(path, name string) (*purgeTargets, error) {
	t := &purgeTargets{}
	ids, err := v.CollectionIDs(path)
	if err != nil {
		return nil, err
	}
	if len(ids) == 0 {
		return nil, fmt.Errorf("%w: no collection ever had %s", ErrNotFound, path)
	}
	t.collID = ids[len(ids)-1]
	seen := map[[2]string]bool{}
	var work [][2]string
	if name != "" {
		work = append(work, [2]string{path, name})
	} else {
		t.colls = append(t.colls, path)
		evs, err := v.HistoryUnder(path, time.Time{}, time.Time{})
		if err != nil {
			return nil, err
		}
		for _, e := range evs {
			if len(e.Body) > 0 {
				t.seqs = append(t.seqs, e.Seq)
			}
			if e.Op == OpObjectMoved && !strings.HasPrefix(e.ToCollectionPath, path) {
				work = append(work, [2]string{e.ToCollectionPath, e.ToObject})
			}
		}
	}
	for len(work) > 0 {
		o := work[0]
		work = work[1:]
		if seen[o] {
			continue
		}
		seen[o] = true
		evs, err := v.History(o[0], o[1])
		if err != nil {
			return nil, err
		}
		for _, e := range evs {
			if len(e.Body) > 0 {
				t.seqs = append(t.seqs, e.Seq)
			}
			if e.Op == OpObjectMoved && e.CollectionPath == o[0] && e.Object == o[1] {
				work = append(work, [2]string{e.ToCollectionPath, e.ToObject})
			}
		}
		if _, err := v.Object(o[0], o[1], false); err == nil {
			t.objects = append(t.objects, o)
		}
	}
	if name != "" && len(t.seqs) == 0 && len(t.objects) == 0 {
		return nil, fmt.Errorf("%w: nothing recorded at %s%s", ErrNotFound, path, name)
	}
	sort.Slice(t.seqs, func(i, j int) bool { return t.seqs[i] < t.seqs[j] })
	t.seqs = slices.Compact(t.seqs)
	return t, nil
}

type purgeCmd struct {
	m          Meta
	path, name string
	t          *purgeTargets
	res        PurgeResult
}

func (c *purgeCmd) run(tx *txn) error {
	// Checks first: what is still live now.
	var objs [][2]string
	for _, o := range c.t.objects {
		coll, err := collectionByPath(tx.rw, o[0])
		if err != nil {
			continue
		}
		if _, err := getObject(tx.rw, coll.Id, o[1]); err == nil {
			objs = append(objs, o)
		}
	}
	var trees []string
	for _, p := range c.t.colls {
		if _, err := collectionByPath(tx.rw, p); err == nil {
			trees = append(trees, p)
		}
	}
	for _, o := range objs {
		if err := (&deleteCmd{m: c.m, path: o[0], name: o[1]}).run(tx); err != nil {
			return err
		}
		c.res.Deleted = append(c.res.Deleted, o[0]+o[1])
	}
	for _, p := range trees {
		if err := (&deleteCollectionCmd{m: c.m, path: p}).run(tx); err != nil {
			return err
		}
		c.res.Deleted = append(c.res.Deleted, p)
	}
	ev := &eventv1.Event{
		Op:             eventv1.Op_OP_CONTENT_PURGED,
		CollectionId:   c.t.collID,
		CollectionPath: c.path,
		Object:         c.name,
	}
	for _, s := range c.t.seqs {
		ev.PurgedSeqs = append(ev.PurgedSeqs, uint64(s))
	}
	c.res.Seq = tx.next
	if err := tx.append(c.m, ev); err != nil {
		return err
	}
	c.res.Erased = c.t.seqs
	return eraseBodies(tx, c.t.seqs)
}

// applyContentPurged records the purge in the history of the collection
// (and object) it names, without touching the state: the deletions that
// preceded it changed the state.
func applyContentPurged(rw readWriter, ev *eventv1.Event) error {
	if ev.CollectionId == 0 {
		return nil
	}
	if err := rw.Set(keys.CollHistKey(ev.CollectionId, ev.Seq), nil, nil); err != nil {
		return err
	}
	if ev.Object == "" {
		return nil
	}
	return rw.Set(keys.ObjHistKey(ev.CollectionId, ev.Object, ev.Seq), nil, nil)
}

// scrubRotations is how many times scrub switches to a new write-ahead
// log, so every log that held erased bytes becomes obsolete and is deleted:
// Pebble keeps none for recycling (noRecycleCleaner), and were it to keep
// some again (up to MemTableStopWritesThreshold+1, 3 by default), six
// rotations would still pass them all, and scrubFS removes a recycled log.
const scrubRotations = 6

// scrub makes erased bytes leave the files: flush the memtable, compact
// every key to the bottom (dropping overwritten versions; no view older
// than the purge pins them once readers finish), and rotate the WAL so that
// old logs are not kept for recycling.
func (db *DB) scrub(ctx context.Context) error {
	if err := db.space.admit(0); err != nil {
		return fmt.Errorf("engine: scrub: %w", err)
	}
	if err := db.pdb.Flush(); err != nil {
		return fmt.Errorf("engine: scrub: flush: %w", err)
	}
	if err := db.pdb.Compact(ctx, []byte{0}, []byte{0xff}, true); err != nil {
		return fmt.Errorf("engine: scrub: compact: %w", err)
	}
	for i := 0; i < scrubRotations; i++ {
		db.walMu.RLock()
		err := db.pdb.Set(keys.MetaKey("scrub"), []byte{byte(i)}, pebble.Sync)
		db.walMu.RUnlock()
		if err != nil {
			return fmt.Errorf("engine: scrub: %w", err)
		}
		if err := db.pdb.Flush(); err != nil {
			return fmt.Errorf("engine: scrub: flush: %w", err)
		}
	}
	return nil
}

// scrubFS is the filesystem the engine gives Pebble: it never reuses a
// recycled write-ahead log in place (whose tail would keep old bytes) but
// removes it and creates a fresh file, whose space it fills with zeros
// (see zeroedWAL).
type scrubFS struct{ vfs.FS }

// Create creates name; a write-ahead log gets its space zeroed.
func (fs scrubFS) Create(name string, category vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := fs.FS.Create(name, category)
	if err != nil || !isWAL(name, category) {
		return f, err
	}
	return newZeroedWAL(f), nil
}

// ReuseForWrite removes oldname and creates newname.
func (fs scrubFS) ReuseForWrite(oldname, newname string, category vfs.DiskWriteCategory) (vfs.File, error) {
	if err := fs.FS.Remove(oldname); err != nil {
		return nil, err
	}
	return fs.Create(newname, category)
}
