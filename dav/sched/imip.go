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

// Messages by email (iMIP, RFC 6047): package imip receives them. A
// reply goes to ExternalReply, which applies it like a local attendee's
// reply when it comes from an attendee the organizer's copy invites; an
// invitation or cancellation goes to ExternalRequest, which delivers it
// like a local organizer's when it comes from its ORGANIZER.

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
	return retryChanged(func() error { return s.externalReply(ctx, m, recipient, sender, reply) })
}

// retryChanged runs apply again (three times at most) while it fails
// because the copy it changes changed meanwhile.
func retryChanged(apply func() error) error {
	for attempt := 0; ; attempt++ {
		err := apply()
		var em *engine.ETagMismatchError
		if errors.As(err, &em) && attempt < 2 {
			continue
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

// ExternalRequest applies msg, a REQUEST, ADD or CANCEL received by
// email from the address sender (an organizer elsewhere) for the address
// recipient (both without mailto:), like a local organizer's delivery:
// into the recipient's inbox and processed into their copy (made in their
// default calendar by a REQUEST). The user's reply then goes back by
// email (Email set) as for any organizer elsewhere.
//
// It is refused (ErrNotInvited) when the message's ORGANIZER is not the
// sender, the sender is a local user's address (their invitations come
// through the server, never by email), the recipient is no ATTENDEE, the
// user's copy of the UID is organized by someone else, or a CANCEL or
// ADD names a meeting the user has no copy of. A room or resource answers
// a REQUEST by its policy as it answers a local organizer's (resource.go),
// and its REPLY goes back by email (Email set) in the same step.
//
// Errors: ErrNoOrganizer (no user has the recipient address),
// ErrNotInvited, ErrMaxAttendees, itip.ErrInvalidMessage (wrapped: not a
// REQUEST, ADD or CANCEL), the itip preconditions, those of
// engine.WriteScheduled.
func (s *Scheduler) ExternalRequest(ctx context.Context, m engine.Meta, recipient, sender string, msg *ical.Calendar) error {
	return retryChanged(func() error { return s.externalRequest(ctx, m, recipient, sender, msg) })
}

func (s *Scheduler) externalRequest(ctx context.Context, m engine.Meta, recipient, sender string, msg *ical.Calendar) error {
	to, from := itip.NormalizeAddress("mailto:"+recipient), itip.NormalizeAddress("mailto:"+sender)
	method := ""
	if p := msg.Props.Get(ical.PropMethod); p != nil {
		method = strings.ToUpper(p.Value)
	}
	if method != string(itip.MethodRequest) && method != string(itip.MethodAdd) && method != string(itip.MethodCancel) {
		return fmt.Errorf("%w: METHOD %q by email to an attendee", itip.ErrInvalidMessage, method)
	}
	if role, _, err := itip.RoleOf(msg, []string{from}); err != nil {
		return err
	} else if role != itip.RoleOrganizer {
		return fmt.Errorf("%w: the ORGANIZER is not the sender %s", ErrNotInvited, sender)
	}
	if atts, err := itip.Attendees(msg); err != nil {
		return err
	} else if len(atts) > s.maxAttendees() {
		return fmt.Errorf("%w: %d attendees, at most %d", ErrMaxAttendees, len(atts), s.maxAttendees())
	}
	v, err := s.DB.View()
	if err != nil {
		return err
	}
	defer v.Close()
	if u, err := s.Dir.User(v, from); err != nil {
		return err
	} else if u != "" {
		return fmt.Errorf("%w: %s is a user's address here, whose invitations never come by email", ErrNotInvited, sender)
	}
	user, err := s.Dir.User(v, to)
	if err != nil {
		return err
	}
	if user == "" {
		return fmt.Errorf("%w: %s", ErrNoOrganizer, recipient)
	}
	mine, err := s.Dir.Addresses(v, user)
	if err != nil {
		return err
	}
	role, me, err := itip.RoleOf(msg, mine)
	if err != nil {
		return err
	}
	if role != itip.RoleAttendee {
		return fmt.Errorf("%w: %s is no ATTENDEE of the message", ErrNotInvited, recipient)
	}
	uid := uidOf(msg)
	path, name, err := s.findCopy(v, user, uid)
	if err != nil {
		return err
	}
	if path != "" {
		o, err := v.Object(path, name, true)
		if err != nil {
			return fmt.Errorf("read %s%s: %w", path, name, err)
		}
		cur, err := engine.ParseCalendar(o.Body)
		if err != nil {
			return fmt.Errorf("%w: the copy of %q does not parse", ErrNotInvited, uid)
		}
		if role, _, err := itip.RoleOf(cur, []string{from}); err != nil || role != itip.RoleOrganizer {
			return fmt.Errorf("%w: %s's meeting %q is not organized by %s", ErrNotInvited, recipient, uid, sender)
		}
	} else if method != string(itip.MethodRequest) {
		return fmt.Errorf("%w: %s has no meeting %q", ErrNotInvited, recipient, uid)
	}
	m.Reason = fmt.Sprintf("scheduling: %s by email from %s to %s", method, from, me)
	// The step acts for no local user: the delivery is the one a local
	// organizer's change makes, without a sender to check privileges of
	// (the MTA in front decides who may mail the server). A room or
	// resource answers it as it answers a local organizer's (organizing).
	t := &step{s: s, v: v, req: Request{Meta: m}, opts: itip.Options{Now: s.now()}, organizing: true}
	st, err := t.deliver(ctx, itip.Message{Method: itip.Method(method), Recipient: me, Originator: from, Calendar: msg})
	if err != nil {
		return err
	}
	if st != "1.2" {
		return fmt.Errorf("%w: delivery to %s refused (%s)", ErrNotInvited, recipient, st)
	}
	if err := t.emailAnswers(user); err != nil {
		return err
	}
	_, err = s.DB.WriteScheduled(ctx, t.writes)
	return err
}

// emailAnswers queues the REPLYs of the resource user that answered an
// organizer elsewhere in this step (t.answers) as emails sent for user,
// in the same step as the delivery: the answer goes out exactly when the
// copy it describes is stored, once (the log is the outbox).
func (t *step) emailAnswers(user string) error {
	t.req.User = user
	for _, a := range t.answers {
		if _, err := t.email(a); err != nil {
			return err
		}
	}
	return nil
}
