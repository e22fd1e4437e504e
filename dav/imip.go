package dav

import (
	"context"
	"fmt"
	"strings"

	"github.com/almanac/almanac/engine"
	"github.com/almanac/almanac/itip"
	"github.com/emersion/go-ical"
)

// ReceiveEmail applies an iTIP message received by email (iMIP; package
// imip's LMTP listener, through cmd) for the address recipient from the
// address sender, both without mailto:. method is the email's
// text/calendar method parameter ("" when it has none); it must be the
// calendar's METHOD (RFC 6047 §2.4). A REPLY is applied like a local
// attendee's reply when sender is an attendee the recipient's meeting
// invites (sched.Scheduler.ExternalReply); a REQUEST, ADD or CANCEL is
// delivered like a local organizer's when sender is its ORGANIZER
// (sched.Scheduler.ExternalRequest).
//
// Errors: sched.ErrNoOrganizer, sched.ErrNotInvited,
// sched.ErrMaxAttendees, itip.ErrInvalidMessage (wrapped, also for a body
// that is no iCalendar or a method that is none of these), the itip
// preconditions, those of the engine.
func (h *Handler) ReceiveEmail(ctx context.Context, m engine.Meta, recipient, sender, method string, body []byte) error {
	cal, err := engine.ParseCalendar(body)
	if err != nil {
		return fmt.Errorf("%w: %v", itip.ErrInvalidMessage, err)
	}
	got := ""
	if p := cal.Props.Get(ical.PropMethod); p != nil {
		got = strings.ToUpper(p.Value)
	}
	if method != "" && !strings.EqualFold(method, got) {
		return fmt.Errorf("%w: the email's method %s is not the calendar's METHOD %q", itip.ErrInvalidMessage, method, got)
	}
	if got == string(itip.MethodReply) {
		return h.sched.ExternalReply(ctx, m, recipient, sender, cal)
	}
	return h.sched.ExternalRequest(ctx, m, recipient, sender, cal)
}
