package engine

import (
	"context"
	"errors"
	"fmt"

	"github.com/almanac/almanac/engine/contentline"
	"github.com/almanac/almanac/engine/internal/keys"
	eventv1 "github.com/almanac/almanac/proto/almanac/event/v1"
	statev1 "github.com/almanac/almanac/proto/almanac/state/v1"
)

// Implicit scheduling (RFC 6638) writes several objects for one request:
// the organizer's (or attendee's) own object, and for each local
// recipient the iTIP message in their schedule inbox and their calendar
// object the message was processed into. WriteScheduled writes them as
// one command of the writer, so they commit in one batch: a crash keeps
// all of them or none, and no delivery is ever lost or made twice.

// Schedule is the iTIP message a scheduling write delivered (Event.Schedule).
type Schedule struct {
	Method     string // REQUEST, ADD, CANCEL or REPLY
	Originator string // the sender's calendar user address
	Recipient  string // the recipient's calendar user address
	// RecipientUser is the local user the message was delivered to.
	RecipientUser string
	Status        string // SCHEDULE-STATUS, "1.2" when delivered
}

// ScheduledWrite is one write of WriteScheduled: a put of Body (a delete
// when Body is nil) of the object Name in the collection at Path.
type ScheduledWrite struct {
	Path, Name string
	Body       []byte
	// IfMatch and IfNoneMatch are the preconditions of PutOptions.
	IfMatch     string
	IfNoneMatch bool
	// IfScheduleTagMatch is PutOptions.IfScheduleTagMatch, for a put or
	// a delete.
	IfScheduleTagMatch string
	// Meta is who the event records: the client for the request's own
	// write, the server acting for the sender for a delivery.
	Meta Meta
	// Schedule is set on the deliveries.
	Schedule *Schedule
	// IMIP, when set, makes the write an email to queue (OpIMIPQueued)
	// instead of an object's: Path, Name, Body and the preconditions are
	// not used.
	IMIP *IMIP
	// RescheduleDone, when set, makes the write the end of an item of a
	// restore's reschedule job (reschedule.go) instead of an object's: the
	// step fails with ErrRescheduleDone when the item is done already.
	RescheduleDone *RescheduleItem
}

// MaxScheduledWrites bounds the writes of one WriteScheduled.
const MaxScheduledWrites = 1024

// WriteScheduled makes every write of writes in one step of the writer:
// all of them or, when one fails its checks, none. The results are those
// of the puts, in order (zero for deletes). Two writes must not touch the
// same object or the same UID of one collection: each is checked against
// the state before the step.
//
// Errors: those of PutObject and DeleteObject for the first write that
// fails (wrapped with its path), ErrConflict for more than
// MaxScheduledWrites writes.
func (db *DB) WriteScheduled(ctx context.Context, writes []ScheduledWrite) ([]PutResult, error) {
	if len(writes) > MaxScheduledWrites {
		return nil, fmt.Errorf("%w: %d writes in one scheduling step, at most %d", ErrConflict, len(writes), MaxScheduledWrites)
	}
	for attempt := 0; ; attempt++ {
		cmd := &scheduleCmd{}
		for _, w := range writes {
			sub, err := db.scheduledSub(w)
			if err != nil {
				return nil, fmt.Errorf("%s%s: %w", w.Path, w.Name, err)
			}
			cmd.subs = append(cmd.subs, sub)
		}
		err := db.submit(ctx, cmd)
		if errors.Is(err, errCollectionChanged) && attempt < 3 {
			for _, w := range writes {
				db.putColls.Delete(w.Path)
			}
			continue
		}
		if err != nil {
			return nil, err
		}
		return cmd.res, nil
	}
}

// scheduledSub validates w outside the writer and returns its command.
func (db *DB) scheduledSub(w ScheduledWrite) (scheduledSub, error) {
	if w.IMIP != nil {
		return scheduledSub{imip: w.IMIP, m: w.Meta}, checkIMIP(w.IMIP)
	}
	if w.RescheduleDone != nil {
		return scheduledSub{done: w.RescheduleDone, m: w.Meta}, nil
	}
	if w.Body == nil {
		return scheduledSub{del: &deleteCmd{m: w.Meta, path: w.Path, name: w.Name, ifMatch: w.IfMatch, ifScheduleTag: w.IfScheduleTagMatch}, sched: w.Schedule}, nil
	}
	if !validName(w.Name) {
		return scheduledSub{}, fmt.Errorf("%w: %q", ErrInvalidName, w.Name)
	}
	if err := db.opts.Limits.checkNames(w.Path, w.Name); err != nil {
		return scheduledSub{}, err
	}
	if int64(len(w.Body)) > db.opts.MaxObjectSize {
		return scheduledSub{}, invalid(CondMaxResourceSize, "%d bytes exceed the limit of %d", len(w.Body), db.opts.MaxObjectSize)
	}
	coll, _, err := db.putCollection(w.Path)
	if err != nil {
		return scheduledSub{}, err
	}
	body := contentline.StripBOM(w.Body)
	info, err := validate(coll, body, ContentTypeCalendar, db.contentLimits())
	if err != nil {
		return scheduledSub{}, err
	}
	put := &putCmd{m: w.Meta, path: w.Path, name: w.Name, body: body, info: info, collID: coll.ID,
		opts: PutOptions{IfMatch: w.IfMatch, IfNoneMatch: w.IfNoneMatch, IfScheduleTagMatch: w.IfScheduleTagMatch}}
	return scheduledSub{put: put, sched: w.Schedule}, nil
}

type scheduledSub struct {
	put   *putCmd
	del   *deleteCmd
	sched *Schedule
	imip  *IMIP
	done  *RescheduleItem
	m     Meta
}

type scheduleCmd struct {
	subs []scheduledSub
	res  []PutResult
}

// run checks every write first, then appends them all: a command appends
// nothing when it fails.
func (c *scheduleCmd) run(tx *txn) error {
	evs := make([]*eventv1.Event, len(c.subs))
	metas := make([]Meta, len(c.subs))
	olds := make([]*statev1.Object, len(c.subs))
	for i, s := range c.subs {
		var err error
		if s.imip != nil {
			evs[i], metas[i] = &eventv1.Event{Op: eventv1.Op_OP_IMIP_QUEUED, Imip: s.imip.toProto()}, s.m
			continue
		}
		if s.done != nil {
			if evs[i], err = rescheduleDoneEvent(tx.rw, s.done); err != nil {
				return err
			}
			metas[i] = s.m
			continue
		}
		if s.put != nil {
			evs[i], olds[i], err = s.put.prepare(tx)
			metas[i] = s.put.m
			err = wrapPath(err, s.put.path, s.put.name)
		} else {
			evs[i], err = s.del.prepare(tx)
			metas[i] = s.del.m
			err = wrapPath(err, s.del.path, s.del.name)
		}
		if err != nil {
			return err
		}
		if s.sched != nil {
			evs[i].Schedule = &eventv1.Schedule{Method: s.sched.Method, Originator: s.sched.Originator,
				Recipient: s.sched.Recipient, RecipientUser: s.sched.RecipientUser, Status: s.sched.Status}
		}
	}
	c.res = make([]PutResult, len(c.subs))
	for i, ev := range evs {
		if err := tx.append(metas[i], ev); err != nil {
			return err
		}
		if c.subs[i].put != nil {
			c.res[i] = PutResult{ETag: ev.Etag, Created: olds[i] == nil, Seq: Seq(ev.Seq), ScheduleTag: scheduleTag(ev, olds[i])}
		}
	}
	return nil
}

func wrapPath(err error, path, name string) error {
	if err == nil || errors.Is(err, errCollectionChanged) {
		return err
	}
	return fmt.Errorf("%s%s: %w", path, name, err)
}

// ObjectByUID returns the name of the object of the collection at path
// whose UID is uid (the no-uid-conflict index; not for inboxes, whose
// messages share UIDs).
//
// Errors: ErrNotFound (no such collection or object).
func (v *View) ObjectByUID(path, uid string) (string, error) {
	c, err := v.Collection(path)
	if err != nil {
		return "", err
	}
	name, err := getBytes(v.v.snap, keys.UIDKey(c.ID, uid))
	if err != nil {
		return "", err
	}
	return string(name), nil
}
