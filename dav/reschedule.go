package dav

import (
	"context"
	"errors"
	"fmt"

	"github.com/almanac/almanac/dav/sched"
	"github.com/almanac/almanac/engine"
)

// Reschedule runs the implicit scheduling of an object a restore changed
// (`almanac restore --reschedule`, package dav/audit), as its calendar's
// owner had written the restored version over prev (the version before
// the restore, nil when there was none): sched.Scheduler.Reschedule. An
// object of no calendar (an address book, a schedule inbox) sends nothing.
// It reports the messages delivered to local users.
func (h *Handler) Reschedule(ctx context.Context, m engine.Meta, path, name string, prev []byte) (int, error) {
	c, err := h.db.Collection(path)
	if errors.Is(err, engine.ErrNotFound) {
		return 0, nil // deleted by the restore with its objects: RescheduleDeleted's
	}
	if err != nil {
		return 0, fmt.Errorf("reschedule %s%s: %w", path, name, err)
	}
	if c.Kind != engine.KindCalendar {
		return 0, nil
	}
	res, err := h.sched.Reschedule(ctx, sched.Request{Meta: m, User: c.Owner, Path: path, Name: name}, prev)
	if err != nil {
		return 0, fmt.Errorf("reschedule %s%s: %w", path, name, err)
	}
	return res.Delivered, nil
}

// RescheduleDeleted runs the implicit scheduling of an object of owner's
// calendar at path that a restore deleted with the calendar (the caller
// knows the calendar's owner and kind as they were before the restore):
// as owner had deleted the object, version prev. An organizer's meeting
// sends its attendees CANCEL, an attendee's copy its organizer a REPLY
// DECLINED. It reports the messages delivered to local users.
func (h *Handler) RescheduleDeleted(ctx context.Context, m engine.Meta, owner, path, name string, prev []byte) (int, error) {
	res, err := h.sched.Reschedule(ctx, sched.Request{Meta: m, User: owner, Path: path, Name: name}, prev)
	if err != nil {
		return 0, fmt.Errorf("reschedule %s%s: %w", path, name, err)
	}
	return res.Delivered, nil
}
