package audit

import (
	"context"
	"errors"
	"fmt"

	"github.com/almanac/almanac/engine"
)

// Rescheduler runs the implicit scheduling of an object a restore
// changed, as its calendar's owner had written the restored version over
// prev (nil: it did not exist), and returns the messages delivered to
// local users (dav.Handler.Reschedule).
type Rescheduler interface {
	Reschedule(ctx context.Context, m engine.Meta, path, name string, prev []byte) (int, error)
	// RescheduleDeleted is Reschedule for an object of owner's calendar
	// that the restore deleted with the whole calendar (version prev).
	RescheduleDeleted(ctx context.Context, m engine.Meta, owner, path, name string, prev []byte) (int, error)
}

// MaxRescheduled bounds the objects one restore with Reschedule may
// change: each is a scheduling step with its own deliveries.
const MaxRescheduled = 1000

// errNoScheduler refuses Reschedule where no server schedules.
var errNoScheduler = errors.New("a restore with reschedule needs a running server (use --server): scheduling runs there")

// checkReschedule refuses a restore with Reschedule before it writes
// anything: without a scheduler, or changing more than MaxRescheduled
// objects.
func (l *Local) checkReschedule(ctx context.Context, req engine.RestoreRequest) error {
	if l.Scheduler == nil {
		return badRequest(errNoScheduler)
	}
	req.DryRun = true
	plan, err := l.DB.Restore(ctx, l.Meta, req)
	if err != nil {
		return fmt.Errorf("restore %s%s as of %s: %w", req.Path, req.Name, req.At, err)
	}
	n := len(objectActions(plan))
	if n <= MaxRescheduled {
		v, err := l.DB.View()
		if err != nil {
			return err
		}
		defer v.Close()
		gone, err := deletedCalendarObjects(v, plan, v.Head())
		if err != nil {
			return err
		}
		n += len(gone)
	}
	if n > MaxRescheduled {
		return badRequest(fmt.Errorf("a restore with reschedule may change at most %d objects, this one changes %d: restore smaller collections", MaxRescheduled, n))
	}
	return nil
}

// goneObject is an object of a calendar a restore deleted: its owner's,
// and its version before the restore.
type goneObject struct {
	owner, path, name string
	prev              []byte
}

// deletedCalendarObjects returns the objects of the calendars the
// restore res deleted (a restore deletes a collection with its objects,
// one action for the collection), as they were at before, the last event
// before the restore. Address books, inboxes and other collections send
// nothing and are left out.
func deletedCalendarObjects(v *engine.View, res *engine.RestoreResult, before engine.Seq) ([]goneObject, error) {
	var out []goneObject
	for _, a := range res.Actions {
		if a.Op != engine.OpCollectionDeleted || a.Name != "" {
			continue
		}
		st, err := v.StateAsOf(a.Path, engine.AsOf{Seq: before})
		if err != nil {
			return nil, fmt.Errorf("the calendars %s held before the restore: %w", a.Path, err)
		}
		for _, c := range st.Collections {
			if c.Collection.Path != a.Path || c.Collection.Kind != engine.KindCalendar {
				continue
			}
			for _, o := range c.Objects {
				out = append(out, goneObject{owner: c.Collection.Owner, path: a.Path, name: o.Name, prev: o.Body})
			}
		}
	}
	return out, nil
}

// objectActions returns the restore's puts and deletions of objects.
func objectActions(res *engine.RestoreResult) []engine.RestoreAction {
	var out []engine.RestoreAction
	for _, a := range res.Actions {
		if a.Name != "" && (a.Op == engine.OpObjectPut || a.Op == engine.OpObjectDeleted) {
			out = append(out, a)
		}
	}
	return out
}

// reschedule runs the scheduling of every object the restore res put or
// deleted, against its version just before the restore, and notes in rep
// what it delivered and what failed: the restore is committed, so one
// object's failure does not stop the others.
func (l *Local) reschedule(ctx context.Context, res *engine.RestoreResult, rep *RestoreReport) {
	acts := objectActions(res)
	before := engine.Seq(0)
	for _, a := range res.Actions {
		if a.Seq > 0 && (before == 0 || a.Seq < before) {
			before = a.Seq
		}
	}
	if before == 0 {
		return
	}
	before-- // the last event before the restore's commit
	v, err := l.DB.View()
	if err != nil {
		rep.RescheduleErrors = append(rep.RescheduleErrors, err.Error())
		return
	}
	defer v.Close()
	m := l.Meta
	m.Reason = fmt.Sprintf("reschedule after restore as of %d", res.At)
	for _, a := range acts {
		if err := ctx.Err(); err != nil {
			rep.RescheduleErrors = append(rep.RescheduleErrors, fmt.Sprintf("%s%s: not rescheduled: %v", a.Path, a.Name, err))
			continue
		}
		var prev []byte
		switch o, err := v.ObjectAsOf(a.Path, a.Name, engine.AsOf{Seq: before}); {
		case err == nil:
			prev = o.Body
		case !errors.Is(err, engine.ErrNotFound):
			rep.RescheduleErrors = append(rep.RescheduleErrors, fmt.Sprintf("%s%s: %v", a.Path, a.Name, err))
			continue
		}
		n, err := l.Scheduler.Reschedule(ctx, m, a.Path, a.Name, prev)
		if err != nil {
			rep.RescheduleErrors = append(rep.RescheduleErrors, err.Error())
			continue
		}
		rep.Rescheduled += n
	}
	gone, err := deletedCalendarObjects(v, res, before)
	if err != nil {
		rep.RescheduleErrors = append(rep.RescheduleErrors, err.Error())
		return
	}
	for _, g := range gone {
		if err := ctx.Err(); err != nil {
			rep.RescheduleErrors = append(rep.RescheduleErrors, fmt.Sprintf("%s%s: not rescheduled: %v", g.path, g.name, err))
			continue
		}
		n, err := l.Scheduler.RescheduleDeleted(ctx, m, g.owner, g.path, g.name, g.prev)
		if err != nil {
			rep.RescheduleErrors = append(rep.RescheduleErrors, err.Error())
			continue
		}
		rep.Rescheduled += n
	}
}

// schedulerOf asks get for the scheduler (nil when get is).
func schedulerOf(get func() Rescheduler) Rescheduler {
	if get == nil {
		return nil
	}
	return get()
}
