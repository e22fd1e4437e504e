package dav

import (
	"context"
	"errors"
	"fmt"

	"github.com/almanac/almanac/dav/sched"
	"github.com/almanac/almanac/engine"
)

// Reschedule runs the implicit scheduling of item it of a restore's
// reschedule job (`almanac restore --reschedule`, package dav/audit), as
// its calendar's owner had written the restored version over prev (the
// version before the restore, nil when there was none):
// sched.Scheduler.Reschedule. An object the restore deleted with its whole
// calendar (it.Owner set) is scheduled as deleted by that owner: an
// organizer's meeting sends CANCEL, an attendee's copy a REPLY DECLINED.
// An object of no calendar (an address book, a schedule inbox) sends
// nothing. The item ends in the same commit as its deliveries and emails,
// or alone when it sends nothing; one done already is not scheduled
// again. It reports the messages delivered to local users.
func (h *Handler) Reschedule(ctx context.Context, m engine.Meta, it engine.RescheduleItem, prev []byte) (int, error) {
	owner := it.Owner
	if owner == "" {
		c, err := h.db.Collection(it.Path)
		switch {
		case errors.Is(err, engine.ErrNotFound):
			// deleted since: nothing of it to schedule
		case err != nil:
			return 0, fmt.Errorf("reschedule %s%s: %w", it.Path, it.Name, err)
		case c.Kind == engine.KindCalendar:
			owner = c.Owner
		}
	}
	if owner == "" {
		return 0, h.markRescheduled(ctx, m, it)
	}
	res, err := h.sched.Reschedule(ctx, sched.Request{Meta: m, User: owner, Path: it.Path, Name: it.Name, Done: &it}, prev)
	if errors.Is(err, engine.ErrRescheduleDone) {
		return 0, nil // another run scheduled it
	}
	if err != nil {
		return 0, fmt.Errorf("reschedule %s%s: %w", it.Path, it.Name, err)
	}
	if !res.Marked {
		return res.Delivered, h.markRescheduled(ctx, m, it)
	}
	return res.Delivered, nil
}

// markRescheduled ends item it, which sends nothing.
func (h *Handler) markRescheduled(ctx context.Context, m engine.Meta, it engine.RescheduleItem) error {
	if err := h.db.MarkRescheduled(ctx, m, it); err != nil && !errors.Is(err, engine.ErrRescheduleDone) {
		return fmt.Errorf("reschedule %s%s: %w", it.Path, it.Name, err)
	}
	return nil
}
