package audit

import (
	"context"
	"errors"
	"fmt"

	"github.com/almanac/almanac/engine"
)

// Rescheduler runs the implicit scheduling of an item of a restore's
// reschedule job, as its calendar's owner had written the restored
// version over prev (nil: it did not exist), ends the item in the same
// commit, and returns the messages delivered to local users
// (dav.Handler.Reschedule).
type Rescheduler interface {
	Reschedule(ctx context.Context, m engine.Meta, it engine.RescheduleItem, prev []byte) (int, error)
}

// MaxRescheduled bounds the objects one restore with Reschedule may
// change: each is a scheduling step with its own deliveries.
const MaxRescheduled = engine.MaxRescheduled

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

// reschedule runs the restore's reschedule job (recorded in its commit,
// res.Job) and notes in rep what it delivered and what failed.
func (l *Local) reschedule(ctx context.Context, res *engine.RestoreResult, rep *RestoreReport) {
	if res.Job == 0 {
		return
	}
	items, err := l.DB.PendingReschedules(res.Job)
	if err != nil {
		rep.RescheduleErrors = append(rep.RescheduleErrors, err.Error())
		return
	}
	m := l.Meta
	m.Reason = fmt.Sprintf("reschedule after restore as of %d", res.At)
	runReschedule(ctx, l.DB, l.Scheduler, m, items, rep)
}

// ResumeReschedules runs the items of restores' reschedule jobs that a
// crash (or a client that left) interrupted: the server calls it on
// start. Items done before are not scheduled again. The report counts
// the messages delivered and names the items that failed.
func ResumeReschedules(ctx context.Context, db *engine.DB, s Rescheduler, m engine.Meta) (*RestoreReport, error) {
	items, err := db.PendingReschedules(0)
	if err != nil {
		return nil, fmt.Errorf("pending reschedules: %w", err)
	}
	rep := &RestoreReport{}
	if m.Reason == "" {
		m.Reason = "reschedule after restore, resumed"
	}
	runReschedule(ctx, db, s, m, items, rep)
	return rep, nil
}

// runReschedule schedules items, each against its version just before
// its restore. The restore is committed, so one item's failure does not
// stop the others: a failed item ends (the report names it); one left
// by a cancelled ctx stays pending for the next start.
func runReschedule(ctx context.Context, db *engine.DB, s Rescheduler, m engine.Meta, items []engine.RescheduleItem, rep *RestoreReport) {
	if len(items) == 0 {
		return
	}
	v, err := db.View()
	if err != nil {
		rep.RescheduleErrors = append(rep.RescheduleErrors, err.Error())
		return
	}
	defer v.Close()
	for _, it := range items {
		if err := ctx.Err(); err != nil {
			rep.RescheduleErrors = append(rep.RescheduleErrors, fmt.Sprintf("%s%s: not rescheduled yet (resumed at the next start): %v", it.Path, it.Name, err))
			continue
		}
		var prev []byte
		o, err := v.ObjectAsOf(it.Path, it.Name, engine.AsOf{Seq: it.Before()})
		switch {
		case err == nil:
			prev = o.Body
		case !errors.Is(err, engine.ErrNotFound):
			rep.RescheduleErrors = append(rep.RescheduleErrors, fmt.Sprintf("%s%s: %v", it.Path, it.Name, err))
			giveUp(ctx, db, m, it, rep)
			continue
		}
		n, err := s.Reschedule(ctx, m, it, prev)
		if err != nil {
			rep.RescheduleErrors = append(rep.RescheduleErrors, err.Error())
			if ctx.Err() == nil {
				giveUp(ctx, db, m, it, rep)
			}
			continue
		}
		rep.Rescheduled += n
	}
}

// giveUp ends an item whose scheduling failed, so that no start retries
// it for ever.
func giveUp(ctx context.Context, db *engine.DB, m engine.Meta, it engine.RescheduleItem, rep *RestoreReport) {
	if err := db.MarkRescheduled(ctx, m, it); err != nil && !errors.Is(err, engine.ErrRescheduleDone) {
		rep.RescheduleErrors = append(rep.RescheduleErrors, err.Error())
	}
}

// schedulerOf asks get for the scheduler (nil when get is).
func schedulerOf(get func() Rescheduler) Rescheduler {
	if get == nil {
		return nil
	}
	return get()
}
