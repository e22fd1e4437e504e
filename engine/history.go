package engine

import (
	"fmt"
	"sort"
	"time"

	"github.com/almanac/almanac/engine/internal/keys"
	"github.com/cockroachdb/pebble/v2"
)

// CollectionIDs returns the ids of every collection that ever had path,
// oldest first, the live one included.
func (v *View) CollectionIDs(path string) ([]uint64, error) {
	lo := keys.PathHistPrefix(path)
	var ids []uint64
	err := v.scanKeys(lo, keys.PrefixEnd(lo), func(k []byte) error {
		id, err := keys.TrailingSeq(k)
		ids = append(ids, id)
		return err
	})
	return ids, err
}

// History returns every event that touched the object name in any
// collection that ever had path, oldest first: puts, moves and deletes,
// also of an object deleted since.
func (v *View) History(path, name string) ([]*Event, error) {
	ids, err := v.CollectionIDs(path)
	if err != nil {
		return nil, err
	}
	var seqs []Seq
	for _, id := range ids {
		lo := keys.ObjHistPrefix(id, name)
		err := v.scanKeys(lo, keys.PrefixEnd(lo), func(k []byte) error {
			seq, err := keys.TrailingSeq(k)
			seqs = append(seqs, Seq(seq))
			return err
		})
		if err != nil {
			return nil, err
		}
	}
	return v.events(seqs)
}

// CollectionHistory returns the events of every collection that ever had
// path with since <= time < until (zero bounds are open), oldest first.
func (v *View) CollectionHistory(path string, since, until time.Time) ([]*Event, error) {
	ids, err := v.CollectionIDs(path)
	if err != nil {
		return nil, err
	}
	var seqs []Seq
	for _, id := range ids {
		lo := keys.IDPrefix(keys.CollHist, id)
		err := v.scanKeys(lo, keys.PrefixEnd(lo), func(k []byte) error {
			seq, err := keys.IDSeq(k)
			seqs = append(seqs, Seq(seq))
			return err
		})
		if err != nil {
			return nil, err
		}
	}
	evs, err := v.events(seqs)
	if err != nil {
		return nil, err
	}
	out := evs[:0]
	for _, e := range evs {
		if (since.IsZero() || !e.Time.Before(since)) && (until.IsZero() || e.Time.Before(until)) {
			out = append(out, e)
		}
	}
	return out, nil
}

// events loads the events seqs in ascending order, each once.
func (v *View) events(seqs []Seq) ([]*Event, error) {
	sort.Slice(seqs, func(i, j int) bool { return seqs[i] < seqs[j] })
	out := make([]*Event, 0, len(seqs))
	for i, s := range seqs {
		if i > 0 && seqs[i-1] == s {
			continue
		}
		e, err := v.Event(s)
		if err != nil {
			return nil, fmt.Errorf("engine: history event %d: %w", s, err)
		}
		out = append(out, e)
	}
	return out, nil
}

// scanKeys calls fn with every key in [lo, hi) of the view.
func (v *View) scanKeys(lo, hi []byte, fn func(k []byte) error) error {
	it, err := v.v.snap.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return fmt.Errorf("engine: iterator: %w", err)
	}
	defer it.Close()
	for it.First(); it.Valid(); it.Next() {
		if err := fn(it.Key()); err != nil {
			return err
		}
	}
	return it.Error()
}
