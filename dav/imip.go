package dav

import (
	"context"
	"fmt"

	"github.com/almanac/almanac/engine"
	"github.com/almanac/almanac/itip"
)

// ReceiveReply applies a REPLY received by email (iMIP; package imip's
// LMTP listener, through cmd) for the address recipient from the address
// sender, both without mailto:, like a local attendee's reply: when
// sender is an attendee the recipient's meeting invites
// (sched.Scheduler.ExternalReply).
//
// Errors: sched.ErrNoOrganizer, sched.ErrNotInvited, itip.ErrInvalidMessage
// (wrapped, also for a body that is no iCalendar), those of the engine.
func (h *Handler) ReceiveReply(ctx context.Context, m engine.Meta, recipient, sender string, body []byte) error {
	cal, err := engine.ParseCalendar(body)
	if err != nil {
		return fmt.Errorf("%w: %v", itip.ErrInvalidMessage, err)
	}
	return h.sched.ExternalReply(ctx, m, recipient, sender, cal)
}
