package engine

import (
	"context"
	"fmt"
	"iter"

	"github.com/almanac/almanac/engine/internal/keys"
	eventv1 "github.com/almanac/almanac/proto/almanac/event/v1"
	"github.com/cockroachdb/pebble/v2"
	"google.golang.org/protobuf/proto"
)

// Log streams the durable events with sequence numbers from from on, in
// order, up to the view's head. The feed reads it from a cursor and then
// calls Wait for more.
func (v *View) Log(from Seq) iter.Seq2[*Event, error] {
	return func(yield func(*Event, error) bool) {
		for p, err := range v.logProto(from) {
			if err != nil {
				yield(nil, err)
				return
			}
			if !yield(eventFromProto(p), nil) {
				return
			}
		}
	}
}

// logProto streams the raw log records from from to the view's head.
func (v *View) logProto(from Seq) iter.Seq2[*eventv1.Event, error] {
	return func(yield func(*eventv1.Event, error) bool) {
		if from == 0 {
			from = 1
		}
		if from > v.v.head {
			return
		}
		it, err := v.v.snap.NewIter(&pebble.IterOptions{
			LowerBound: keys.LogKey(uint64(from)),
			UpperBound: keys.LogKey(uint64(v.v.head) + 1),
		})
		if err != nil {
			yield(nil, fmt.Errorf("engine: log iterator: %w", err))
			return
		}
		defer it.Close()
		for it.First(); it.Valid(); it.Next() {
			val, err := it.ValueAndErr()
			if err != nil {
				yield(nil, fmt.Errorf("engine: read log: %w", err))
				return
			}
			ev := &eventv1.Event{}
			if err := proto.Unmarshal(val, ev); err != nil {
				yield(nil, fmt.Errorf("engine: decode event: %w", err))
				return
			}
			if !yield(ev, nil) {
				return
			}
		}
		if err := it.Error(); err != nil {
			yield(nil, fmt.Errorf("engine: log iterator: %w", err))
		}
	}
}

// Event returns the event with sequence number seq.
//
// Errors: ErrNotFound.
func (v *View) Event(seq Seq) (*Event, error) {
	if seq == 0 || seq > v.v.head {
		return nil, ErrNotFound
	}
	p := &eventv1.Event{}
	if err := getProto(v.v.snap, keys.LogKey(uint64(seq)), p); err != nil {
		return nil, err
	}
	return eventFromProto(p), nil
}

// WaitFor blocks until the durable head is at least seq. (A loop of
// `for db.Head() < seq { db.Wait(ctx, db.Head()) }` reads the head twice:
// when it reaches seq in between, Wait waits for an event after it, which
// on an idle store never comes.)
//
// Errors: ctx.Err(), ErrClosed.
func (db *DB) WaitFor(ctx context.Context, seq Seq) error {
	for h := db.Head(); h < seq; {
		var err error
		if h, err = db.Wait(ctx, h); err != nil {
			return err
		}
	}
	return nil
}

// Wait blocks until the durable head passes after, and returns the new
// head. It is how the feed learns of new events without polling.
//
// Errors: ctx.Err(), ErrClosed.
func (db *DB) Wait(ctx context.Context, after Seq) (Seq, error) {
	for {
		db.mu.Lock()
		if db.view == nil {
			db.mu.Unlock()
			return 0, ErrClosed
		}
		head, ch := db.view.head, db.headCh
		db.mu.Unlock()
		if head > after {
			return head, nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
}

// OwnerLog streams the events of collections owned by owner (a move: of
// either end) and the emails sent for owner (iMIP), from from to the
// view's head, oldest first: a user's feed
// reads its own events without scanning everyone's. It reads the owner
// index, then each event.
func (v *View) OwnerLog(owner string, from Seq) iter.Seq2[*Event, error] {
	return func(yield func(*Event, error) bool) {
		from = max(from, 1)
		if from > v.v.head {
			return
		}
		it, err := v.v.snap.NewIter(&pebble.IterOptions{
			LowerBound: keys.OwnerLogKey(owner, uint64(from)),
			UpperBound: keys.OwnerLogKey(owner, uint64(v.v.head)+1),
		})
		if err != nil {
			yield(nil, fmt.Errorf("engine: owner index iterator: %w", err))
			return
		}
		defer it.Close()
		for it.First(); it.Valid(); it.Next() {
			seq, err := keys.TrailingSeq(it.Key())
			if err != nil {
				yield(nil, err)
				return
			}
			ev, err := v.Event(Seq(seq))
			if err != nil {
				yield(nil, err)
				return
			}
			if !yield(ev, nil) {
				return
			}
		}
		if err := it.Error(); err != nil {
			yield(nil, fmt.Errorf("engine: owner index iterator: %w", err))
		}
	}
}

// LastOwned returns the seq of the last event of a collection owned by
// owner up to the view's head, 0 when there is none.
func (v *View) LastOwned(owner string) (Seq, error) {
	it, err := v.v.snap.NewIter(&pebble.IterOptions{
		LowerBound: keys.OwnerLogPrefix(owner),
		UpperBound: keys.OwnerLogKey(owner, uint64(v.v.head)+1),
	})
	if err != nil {
		return 0, fmt.Errorf("engine: owner index iterator: %w", err)
	}
	defer it.Close()
	if !it.Last() {
		return 0, it.Error()
	}
	seq, err := keys.TrailingSeq(it.Key())
	return Seq(seq), err
}
