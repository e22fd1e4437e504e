package sched

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/almanac/almanac/engine"
	"github.com/almanac/almanac/itip"
	"github.com/emersion/go-ical"
)

// Replies by email (iMIP, RFC 6047): package imip receives them and
// hands each to ExternalReply, which applies it like a local attendee's
// reply when it comes from an attendee the organizer's copy invites.

// ErrNoOrganizer: no user has the address a reply was delivered to.
var ErrNoOrganizer = errors.New("sched: no user has the address")

// ErrNotInvited: a reply from an address the organizer's copy does not
// invite, for a meeting the organizer does not have, or whose ATTENDEE is
// not the sender (a forged or misdirected reply).
var ErrNotInvited = errors.New("sched: the sender is not invited")

// ExternalReply applies reply, a REPLY received by email from the
// address sender for the address recipient (both without mailto:): into
// the organizer's inbox, applied to their copy, the other attendees told
// (by email too when Email is set). The reply's every ATTENDEE must be
// sender (the local part in any case: mail systems take it so).
//
// Errors: ErrNoOrganizer, ErrNotInvited, itip.ErrInvalidMessage (wrapped:
// not a REPLY, no component), those of engine.WriteScheduled.
func (s *Scheduler) ExternalReply(ctx context.Context, m engine.Meta, recipient, sender string, reply *ical.Calendar) error {
	for attempt := 0; ; attempt++ {
		err := s.externalReply(ctx, m, recipient, sender, reply)
		var em *engine.ETagMismatchError
		if errors.As(err, &em) && attempt < 2 {
			continue // the organizer's copy changed meanwhile
		}
		return err
	}
}

func (s *Scheduler) externalReply(ctx context.Context, m engine.Meta, recipient, sender string, reply *ical.Calendar) error {
	org, from := itip.NormalizeAddress("mailto:"+recipient), itip.NormalizeAddress("mailto:"+sender)
	me := "" // the ATTENDEE, which is from but for the local part's case
	if p := reply.Props.Get(ical.PropMethod); p == nil || !strings.EqualFold(p.Value, string(itip.MethodReply)) {
		return fmt.Errorf("%w: the METHOD is not REPLY", itip.ErrInvalidMessage)
	}
	comps := 0
	for _, c := range reply.Children {
		if c.Name != ical.CompEvent && c.Name != ical.CompToDo {
			continue
		}
		comps++
		atts := c.Props.Values(ical.PropAttendee)
		if len(atts) != 1 || !strings.EqualFold(itip.NormalizeAddress(atts[0].Value), from) || (me != "" && itip.NormalizeAddress(atts[0].Value) != me) {
			return fmt.Errorf("%w: the reply's ATTENDEE is not its sender %s", ErrNotInvited, sender)
		}
		me = itip.NormalizeAddress(atts[0].Value)
	}
	if comps == 0 {
		return fmt.Errorf("%w: no VEVENT or VTODO", itip.ErrInvalidMessage)
	}
	v, err := s.DB.View()
	if err != nil {
		return err
	}
	defer v.Close()
	orgUser, err := s.Dir.User(v, org)
	if err != nil {
		return err
	}
	if orgUser == "" {
		return fmt.Errorf("%w: %s", ErrNoOrganizer, recipient)
	}
	mine, err := s.Dir.Addresses(v, orgUser)
	if err != nil {
		return err
	}
	uid := uidOf(reply)
	path, name, err := s.findCopy(v, orgUser, uid)
	if err != nil {
		return err
	}
	if path == "" {
		return fmt.Errorf("%w: %s has no meeting %q", ErrNotInvited, recipient, uid)
	}
	o, err := v.Object(path, name, true)
	if err != nil {
		return fmt.Errorf("read %s%s: %w", path, name, err)
	}
	orgCopy, err := engine.ParseCalendar(o.Body)
	if err != nil {
		return fmt.Errorf("%w: the organizer's copy of %q does not parse", ErrNotInvited, uid)
	}
	if role, _, err := itip.RoleOf(orgCopy, mine); err != nil || role != itip.RoleOrganizer {
		return fmt.Errorf("%w: %s does not organize %q", ErrNotInvited, recipient, uid)
	}
	if _, _, err := itip.ApplyReply(orgCopy, reply, me, itip.Options{Now: s.now(), OrganizerAddresses: mine}); errors.Is(err, itip.ErrNotAttendee) {
		return fmt.Errorf("%w: %s is no attendee of %q", ErrNotInvited, sender, uid)
	} else if err != nil {
		return err
	}
	m.Reason = fmt.Sprintf("scheduling: REPLY by email from %s to %s", me, org)
	t := &step{s: s, v: v, req: Request{Meta: m, User: orgUser}, opts: itip.Options{Now: s.now(), OrganizerAddresses: mine}}
	if err := t.reply(ctx, orgUser, org, me, itip.Message{Method: itip.MethodReply, Recipient: org, Originator: me, Calendar: reply}); err != nil {
		return err
	}
	_, err = s.DB.WriteScheduled(ctx, t.writes)
	return err
}
