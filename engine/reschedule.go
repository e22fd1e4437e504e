package engine

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/almanac/almanac/engine/internal/keys"
	eventv1 "github.com/almanac/almanac/proto/almanac/event/v1"
	"github.com/cockroachdb/pebble/v2"
	"google.golang.org/protobuf/proto"
)

// A restore with RestoreRequest.Reschedule records its reschedule job in
// its own batch: an OP_RESCHEDULE event, appended before the restore's
// changes, lists the objects to schedule. Each item's scheduling step
// (WriteScheduled with a RescheduleDone write, or MarkRescheduled when it
// sends nothing) appends the item's end in the same batch as its
// deliveries and emails. The 'R' projection keeps the items not yet done,
// so a crash between the restore and its last step loses nothing: the
// server resumes PendingReschedules on start, and an item done is never
// scheduled again (its end is refused twice: ErrRescheduleDone).

// MaxRescheduled bounds the items of one reschedule job: the objects a
// restore with Reschedule puts back or deletes, those of the calendars it
// deletes included.
const MaxRescheduled = 1000

// ErrRescheduleDone reports that an item of a reschedule job was
// scheduled already (or its job is unknown): its step appends nothing.
var ErrRescheduleDone = errors.New("engine: reschedule item already done")

// RescheduleItem is one object of a restore's reschedule job.
type RescheduleItem struct {
	// Job is the seq of the job's OP_RESCHEDULE event; Job-1 is the last
	// event before the restore (the versions to schedule against).
	Job Seq
	// Index is the item's place in the job.
	Index uint32
	// Path and Name name the object.
	Path, Name string
	// Owner is set when the restore deleted the object with its whole
	// calendar: the calendar's owner before the restore.
	Owner string
}

// Before is the last seq before the restore of the item's job.
func (it RescheduleItem) Before() Seq { return it.Job - 1 }

// rescheduleItems lists the job of a restore's actions, read before they
// are executed: every object put or deleted, then the objects of every
// calendar deleted as a whole.
func rescheduleItems(r reader, actions []RestoreAction) ([]*eventv1.RescheduleItem, error) {
	var out []*eventv1.RescheduleItem
	for _, a := range actions {
		if a.Name != "" && (a.Op == OpObjectPut || a.Op == OpObjectDeleted) {
			out = append(out, &eventv1.RescheduleItem{Path: a.Path, Name: a.Name})
		}
	}
	gone := len(out)
	for _, a := range actions {
		if a.Op != OpCollectionDeleted || a.Name != "" {
			continue
		}
		c, err := collectionByPath(r, a.Path)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if Kind(c.Kind) != KindCalendar {
			continue
		}
		objs, err := currentObjects(r, c.Id, "")
		if err != nil {
			return nil, err
		}
		for name := range objs {
			out = append(out, &eventv1.RescheduleItem{Path: a.Path, Name: name, Owner: c.Owner})
		}
	}
	if len(out) > MaxRescheduled {
		return nil, fmt.Errorf("%w: a restore with reschedule may change at most %d objects, this one changes %d", ErrConflict, MaxRescheduled, len(out))
	}
	// currentObjects is a map: a deleted calendar's objects go in name
	// order (a rebuild reads the job from the log, whatever the order).
	slices.SortFunc(out[gone:], func(a, b *eventv1.RescheduleItem) int {
		return cmp.Or(strings.Compare(a.Path, b.Path), strings.Compare(a.Name, b.Name))
	})
	return out, nil
}

// applyReschedule records a job's items as pending, or ends one.
func applyReschedule(rw readWriter, ev *eventv1.Event) error {
	r := ev.GetReschedule()
	if r.GetJob() != 0 {
		return rw.Delete(keys.RescheduleKey(r.Job, r.Done), nil)
	}
	for i, it := range r.GetItems() {
		b, err := proto.Marshal(it)
		if err != nil {
			return err
		}
		if err := rw.Set(keys.RescheduleKey(ev.Seq, uint32(i)), b, nil); err != nil {
			return err
		}
	}
	return nil
}

// rescheduleDoneEvent is the end of item it, after checking in the
// writer's batch that it is pending.
func rescheduleDoneEvent(r getter, it *RescheduleItem) (*eventv1.Event, error) {
	if _, err := getBytes(r, keys.RescheduleKey(uint64(it.Job), it.Index)); err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil, fmt.Errorf("%w: job %d item %d (%s%s)", ErrRescheduleDone, it.Job, it.Index, it.Path, it.Name)
		}
		return nil, err
	}
	return &eventv1.Event{Op: eventv1.Op_OP_RESCHEDULE, Reschedule: &eventv1.Reschedule{Job: uint64(it.Job), Done: it.Index}}, nil
}

type rescheduleDoneCmd struct {
	m  Meta
	it *RescheduleItem
}

func (c *rescheduleDoneCmd) run(tx *txn) error {
	ev, err := rescheduleDoneEvent(tx.rw, c.it)
	if err != nil {
		return err
	}
	return tx.append(c.m, ev)
}

// MarkRescheduled ends item it of its job without any delivery: its
// scheduling sends nothing, or failed for good.
//
// Errors: ErrRescheduleDone when it is done already.
func (db *DB) MarkRescheduled(ctx context.Context, m Meta, it RescheduleItem) error {
	return db.submit(ctx, &rescheduleDoneCmd{m: m, it: &it})
}

// PendingReschedules lists the items of restores' reschedule jobs not yet
// done (job 0: of every job), in the jobs' order.
func (db *DB) PendingReschedules(job Seq) ([]RescheduleItem, error) {
	v, err := db.View()
	if err != nil {
		return nil, err
	}
	defer v.Close()
	lo, hi := []byte{keys.Reschedule}, []byte{keys.Reschedule + 1}
	if job != 0 {
		lo = keys.RescheduleKey(uint64(job), 0)
		hi = keys.PrefixEnd(lo[:len(lo)-4])
	}
	it, err := v.v.snap.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return nil, fmt.Errorf("engine: reschedule iterator: %w", err)
	}
	defer it.Close()
	var out []RescheduleItem
	for it.First(); it.Valid(); it.Next() {
		j, idx, err := keys.RescheduleJobIdx(it.Key())
		if err != nil {
			return nil, err
		}
		p := &eventv1.RescheduleItem{}
		if err := proto.Unmarshal(it.Value(), p); err != nil {
			return nil, fmt.Errorf("engine: reschedule job %d item %d: %w", j, idx, err)
		}
		out = append(out, RescheduleItem{Job: Seq(j), Index: idx, Path: p.Path, Name: p.Name, Owner: p.Owner})
	}
	return out, it.Error()
}
