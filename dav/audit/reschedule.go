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
	if n := len(objectActions(plan)); n > MaxRescheduled {
		return badRequest(fmt.Errorf("a restore with reschedule may change at most %d objects, this one changes %d: restore smaller collections", MaxRescheduled, n))
	}
	return nil
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
	if len(acts) == 0 {
		return
	}
	before := acts[0].Seq
	for _, a := range acts {
		before = min(before, a.Seq)
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
}

// schedulerOf asks get for the scheduler (nil when get is).
func schedulerOf(get func() Rescheduler) Rescheduler {
	if get == nil {
		return nil
	}
	return get()
}
