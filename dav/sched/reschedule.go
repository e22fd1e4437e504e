package sched

import (
	"context"
	"errors"
	"fmt"

	"github.com/almanac/almanac/engine"
	"github.com/almanac/almanac/itip"
	"github.com/emersion/go-ical"
)

// restored is what Reschedule hands write: the version a restore
// replaced.
type restored struct {
	prev []byte // nil: the object did not exist
}

// Reschedule runs the scheduling that a restore's change of an object
// implies (`almanac restore --reschedule`): as if req.User had written the
// object's current version (the restored one; a DELETE when the restore
// deleted it) over prev, the version before the restore (nil when it did
// not exist). An organizer's change sends REQUEST, ADD or CANCEL to the
// attendees (email for external ones when Email is set) and gets its
// SCHEDULE-STATUS written on the stored object; an attendee's changed
// PARTSTAT sends a REPLY. It is the path of Write, with the stored
// version as the new one and prev as the old: req's Body, IfMatch and
// IfNoneMatch are ignored (the write is made if the object still has the
// version read, else computed again, three times at most).
//
// Errors: those of Write.
func (s *Scheduler) Reschedule(ctx context.Context, req Request, prev []byte) (*Result, error) {
	for attempt := 0; ; attempt++ {
		res, err := s.reschedule(ctx, req, prev)
		var em *engine.ETagMismatchError
		if errors.As(err, &em) && attempt < 2 {
			continue // the object or a recipient's copy changed meanwhile
		}
		if errors.Is(err, itip.ErrInvalidMessage) {
			return &Result{}, nil // a version no client could schedule: nothing to send
		}
		return res, err
	}
}

func (s *Scheduler) reschedule(ctx context.Context, req Request, prev []byte) (*Result, error) {
	req.Body, req.IfMatch, req.IfNoneMatch, req.IfScheduleTagMatch = nil, "", false, ""
	var cal *ical.Calendar
	switch o, err := s.DB.Object(req.Path, req.Name, true); {
	case err == nil:
		c, err := engine.ParseCalendar(o.Body)
		if err != nil {
			return &Result{}, nil // no calendar object
		}
		cal, req.Body, req.IfMatch = c, o.Body, o.ETag
	case !errors.Is(err, engine.ErrNotFound):
		return nil, fmt.Errorf("read %s%s: %w", req.Path, req.Name, err)
	}
	if cal == nil && prev == nil {
		return &Result{}, nil
	}
	return s.write(ctx, req, cal, &restored{prev: prev})
}

// schedulingObject parses a stored version: nil when it is no scheduling
// object (or was stored before it could be judged).
func schedulingObject(body []byte) *ical.Calendar {
	if body == nil {
		return nil
	}
	c, err := engine.ParseCalendar(body)
	if err != nil {
		return nil
	}
	if _, _, err := itip.RoleOf(c, nil); err != nil {
		return nil
	}
	return c
}
