package engine

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/almanac/almanac/engine/internal/keys"
	eventv1 "github.com/almanac/almanac/proto/almanac/event/v1"
	statev1 "github.com/almanac/almanac/proto/almanac/state/v1"
	"github.com/cockroachdb/pebble/v2"
	"google.golang.org/protobuf/proto"
)

// CompactResult says what a compaction did.
type CompactResult struct {
	// Horizon is the last event at or before the cut-off time.
	Horizon Seq
	// Erased is how many log records lost the body of a version that was
	// superseded at or before Horizon.
	Erased int
	// Seq is the OP_LOG_COMPACTED event (0 when there was nothing before
	// the cut-off).
	Seq Seq
}

// CompactLog applies the retention policy: it drops the bodies of object
// versions that were superseded (by a later put, a delete, a move or the
// deletion of their collection) at or before the last event older than
// before, and expires the tombstones up to that horizon, so sync
// tokens that would need them get ErrTokenExpired. Who, when and what of
// every event stays forever; only bodies go. The log records are rewritten
// in place; this and PurgeContent are the only rewrites of the log.
func (db *DB) CompactLog(ctx context.Context, m Meta, before time.Time) (*CompactResult, error) {
	if err := db.rewritesLog(); err != nil {
		return nil, err
	}
	v, err := db.View()
	if err != nil {
		return nil, err
	}
	horizon, err := v.ResolveAsOf(AsOf{Time: before})
	if err != nil {
		v.Close()
		return nil, err
	}
	var seqs []Seq
	if horizon > 0 {
		seqs, err = v.supersededBodies(horizon)
	}
	v.Close()
	if err != nil || horizon == 0 {
		return &CompactResult{}, err
	}
	if m.Reason == "" {
		m.Reason = "retention: keep history after " + before.UTC().Format(time.RFC3339)
	}
	cmd := &compactCmd{m: m, horizon: horizon, seqs: seqs}
	if err := db.submit(ctx, cmd); err != nil {
		return nil, err
	}
	return &CompactResult{Horizon: horizon, Erased: len(seqs), Seq: cmd.seq}, nil
}

// supersededBodies lists the log records up to horizon that hold a body
// superseded at or before horizon. Superseded stays superseded, so the
// list stays right while writes go on.
func (v *View) supersededBodies(horizon Seq) ([]Seq, error) {
	type key struct {
		coll uint64
		name string
	}
	current := map[key]Seq{}     // version with a body, per object
	byColl := map[uint64][]key{} // objects seen per collection
	var out []Seq
	supersede := func(k key) {
		if s, ok := current[k]; ok {
			out = append(out, s)
			delete(current, k)
		}
	}
	for ev, err := range v.logProto(1) {
		if err != nil {
			return nil, err
		}
		if Seq(ev.Seq) > horizon {
			break
		}
		switch ev.Op {
		case eventv1.Op_OP_OBJECT_PUT:
			k := key{ev.CollectionId, ev.Object}
			supersede(k)
			if len(ev.Body) > 0 && !ev.BodyErased {
				current[k] = Seq(ev.Seq)
				byColl[k.coll] = append(byColl[k.coll], k)
			}
		case eventv1.Op_OP_OBJECT_DELETED:
			supersede(key{ev.CollectionId, ev.Object})
		case eventv1.Op_OP_OBJECT_MOVED:
			supersede(key{ev.CollectionId, ev.Object})
			k := key{ev.ToCollectionId, ev.ToObject}
			supersede(k)
			if len(ev.Body) > 0 && !ev.BodyErased {
				current[k] = Seq(ev.Seq)
				byColl[k.coll] = append(byColl[k.coll], k)
			}
		case eventv1.Op_OP_COLLECTION_DELETED:
			for _, k := range byColl[ev.CollectionId] {
				supersede(k)
			}
			delete(byColl, ev.CollectionId)
		}
	}
	return out, nil
}

type compactCmd struct {
	m       Meta
	horizon Seq
	seqs    []Seq
	seq     Seq
}

func (c *compactCmd) run(tx *txn) error {
	c.seq = tx.next
	err := tx.append(c.m, &eventv1.Event{
		Op:          eventv1.Op_OP_LOG_COMPACTED,
		HorizonSeq:  uint64(c.horizon),
		ErasedCount: uint64(len(c.seqs)),
	})
	if err != nil {
		return err
	}
	return eraseBodies(tx, c.seqs)
}

// eraseBodies rewrites the log records seqs without their bodies.
func eraseBodies(tx *txn, seqs []Seq) error {
	for _, s := range seqs {
		ev := &eventv1.Event{}
		if err := getProto(tx.rw, keys.LogKey(uint64(s)), ev); err != nil {
			return fmt.Errorf("engine: erase body of %d: %w", s, err)
		}
		if ev.BodyErased && ev.Body == nil {
			continue
		}
		ev.Body, ev.BodyErased = nil, true
		data, err := marshal.Marshal(ev)
		if err != nil {
			return fmt.Errorf("engine: erase body of %d: %w", s, err)
		}
		if err := tx.rw.Set(keys.LogKey(uint64(s)), data, nil); err != nil {
			return fmt.Errorf("engine: erase body of %d: %w", s, err)
		}
	}
	return nil
}

// applyLogCompacted expires the tombstones at or before the event's horizon:
// each live collection drops them from its change index and moves its own
// horizon to the newest one dropped, so exactly the sync tokens that would
// need a dropped tombstone expire. The CTag does not change: no content
// changed.
func applyLogCompacted(rw readWriter, ev *eventv1.Event) error {
	lo := []byte{keys.Coll}
	it, err := rw.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: keys.PrefixEnd(lo)})
	if err != nil {
		return fmt.Errorf("engine: collection iterator: %w", err)
	}
	var colls []*statev1.Collection
	for it.First(); it.Valid(); it.Next() {
		c := &statev1.Collection{}
		if err := proto.Unmarshal(it.Value(), c); err != nil {
			it.Close()
			return fmt.Errorf("engine: decode collection: %w", err)
		}
		if !c.Deleted {
			colls = append(colls, c)
		}
	}
	if err := it.Close(); err != nil {
		return fmt.Errorf("engine: collection iterator: %w", err)
	}
	for _, c := range colls {
		newest, err := dropTombstonesBefore(rw, c.Id, ev.HorizonSeq)
		if err != nil {
			return err
		}
		if newest > c.Horizon {
			c.Horizon = newest
			if err := putCollection(rw, c); err != nil {
				return err
			}
		}
	}
	return nil
}

// liveMountEntry reports whether the change entry at seq of the name of
// tombKey, in collection id, is a mount present in a sharee's home
// ("name/", not deleted): compaction keeps it, so a listing from the
// change index still holds it.
func liveMountEntry(r getter, id, seq uint64, tombKey []byte) (bool, error) {
	name, err := keys.Name(tombKey)
	if err != nil || !strings.HasSuffix(name, "/") {
		return false, err
	}
	ch := &statev1.Change{}
	if err := getProto(r, keys.ChangeKey(id, seq, name), ch); err != nil {
		return false, fmt.Errorf("engine: change entry %d %q: %w", id, name, err)
	}
	return !ch.Deleted, nil
}

// dropTombstonesBefore removes the tombstones of collection id at or
// before horizon and returns the sequence number of the newest one removed.
func dropTombstonesBefore(rw readWriter, id, horizon uint64) (uint64, error) {
	lo := keys.IDPrefix(keys.Tomb, id)
	it, err := rw.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: keys.PrefixEnd(lo)})
	if err != nil {
		return 0, fmt.Errorf("engine: tombstone iterator: %w", err)
	}
	type tomb struct {
		key []byte
		seq uint64
	}
	var drop []tomb
	for it.First(); it.Valid(); it.Next() {
		seq, err := keys.ParseU64(it.Value())
		if err != nil {
			it.Close()
			return 0, err
		}
		if seq > horizon {
			continue
		}
		live, err := liveMountEntry(rw, id, seq, it.Key())
		if err != nil {
			it.Close()
			return 0, err
		}
		if live {
			continue
		}
		drop = append(drop, tomb{clone(it.Key()), seq})
	}
	if err := it.Close(); err != nil {
		return 0, fmt.Errorf("engine: tombstone iterator: %w", err)
	}
	var newest uint64
	for _, t := range drop {
		if err := rw.Delete(t.key, nil); err != nil {
			return 0, err
		}
		name, err := keys.Name(t.key)
		if err != nil {
			return 0, err
		}
		if err := rw.Delete(keys.ChangeKey(id, t.seq, name), nil); err != nil {
			return 0, err
		}
		newest = max(newest, t.seq)
	}
	return newest, nil
}
