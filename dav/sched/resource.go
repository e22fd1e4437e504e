package sched

import (
	"context"
	"slices"

	"github.com/almanac/almanac/engine"
	"github.com/almanac/almanac/itip"
	"github.com/emersion/go-ical"
)

// Rooms and resources answer their invitations themselves (the server
// acts for them, as CalendarServer's auto-schedule does): a REQUEST an
// organizer's change (or an organizer elsewhere's email) delivers to a
// resource whose policy is
// engine.AutoAccept is accepted, one to engine.AutoAcceptIfFree accepted
// when the resource is free at each instance and declined otherwise; an
// engine.AutoManual resource's invitations stay NEEDS-ACTION for its
// managers. The answer is the REPLY an attendee's own change would send,
// applied to the organizer's copy in the same writer step as the
// organizer's write. A declined invitation leaves no copy in the
// resource's calendar (that would count as busy), only the message in
// its inbox.

// Resources is what auto-scheduling needs to know of rooms and resources.
// A Directory that also implements it gets the invitations of its
// resources answered.
type Resources interface {
	// Resource returns user's room or resource record, nil for a person.
	Resource(v *engine.View, user string) (*engine.Resource, error)
	// Busy reports whether user's opaque calendars are busy at an
	// instance of cal (within a bounded horizon), leaving out their
	// objects with cal's UID (earlier versions of the same invitation).
	Busy(ctx context.Context, v *engine.View, user string, cal *ical.Calendar) (bool, error)
}

// answer is a resource's answer to the invitation in updated, its copy
// as ApplyToAttendeeCopy made it: the copy to store (nil: none, a
// decline) and the REPLY for the organizer's copy. ok is false when the
// resource does not answer by itself (a person, a manual resource, no
// REQUEST).
func (t *step) answer(ctx context.Context, user string, m itip.Message, updated *ical.Calendar) (store *ical.Calendar, reply *itip.Message, ok bool, err error) {
	rd, isRes := t.s.Dir.(Resources)
	if !isRes || m.Method != itip.MethodRequest || updated == nil {
		return nil, nil, false, nil
	}
	r, err := rd.Resource(t.v, user)
	if err != nil || r == nil || r.AutoSchedule == engine.AutoManual {
		return nil, nil, false, err
	}
	partstat := "ACCEPTED"
	if r.AutoSchedule == engine.AutoAcceptIfFree {
		busy, err := rd.Busy(ctx, t.v, user, updated)
		if err != nil {
			return nil, nil, false, err
		}
		if busy {
			partstat = "DECLINED"
		}
	}
	answered := withPartstat(updated, m.Recipient, partstat)
	reply, err = itip.AttendeeChange(nil, answered, m.Recipient, t.opts)
	if err != nil {
		return nil, nil, false, err
	}
	if partstat == "ACCEPTED" {
		store = answered
	}
	return store, reply, true, nil
}

// withPartstat returns a copy of cal with the PARTSTAT of attendee (a
// normalized address) set to ps on every component that invites them.
func withPartstat(cal *ical.Calendar, attendee, ps string) *ical.Calendar {
	out := ical.NewCalendar()
	out.Props = cal.Props
	for _, c := range cal.Children {
		nc := &ical.Component{Name: c.Name, Props: ical.Props{}, Children: c.Children}
		for name, props := range c.Props {
			nc.Props[name] = append([]ical.Prop(nil), props...)
		}
		for i := range nc.Props[ical.PropAttendee] {
			p := &nc.Props[ical.PropAttendee][i]
			if itip.NormalizeAddress(p.Value) == attendee {
				params := ical.Params{}
				for k, v := range p.Params {
					params[k] = v
				}
				params.Set(ical.ParamParticipationStatus, ps)
				delete(params, "RSVP")
				p.Params = params
			}
		}
		out.Children = append(out.Children, nc)
	}
	return out
}

// applyAnswers applies the resources' REPLYs of this step to the
// organizer's copy cal (their PARTSTAT on it), as an attendee's REPLY is
// applied to a local organizer's copy; the refreshes ApplyReply would
// send the other attendees are not sent (they get this step's REQUESTs).
func (t *step) applyAnswers(cal *ical.Calendar) (*ical.Calendar, error) {
	for _, r := range t.answers {
		updated, _, err := itip.ApplyReply(cal, r.Calendar, r.Originator, t.opts)
		if err != nil {
			return nil, err
		}
		cal = updated
	}
	return cal, nil
}

// resourcesFirst orders msgs so that the messages to rooms and resources
// come first: their answers, made while they are delivered, then go into
// the messages to the other attendees (withAnswers), whose copies would
// else show the resource's earlier answer until the next change.
func (t *step) resourcesFirst(msgs []itip.Message) ([]itip.Message, error) {
	rd, ok := t.s.Dir.(Resources)
	if !ok || len(msgs) < 2 {
		return msgs, nil
	}
	isRes := make(map[string]bool, len(msgs))
	for _, m := range msgs {
		user, err := t.user(m.Recipient)
		if err != nil {
			return nil, err
		}
		if user == "" {
			continue
		}
		r, err := rd.Resource(t.v, user)
		if err != nil {
			return nil, err
		}
		isRes[m.Recipient] = r != nil
	}
	out := slices.Clone(msgs)
	slices.SortStableFunc(out, func(a, b itip.Message) int {
		switch {
		case isRes[a.Recipient] == isRes[b.Recipient]:
			return 0
		case isRes[a.Recipient]:
			return -1
		}
		return 1
	})
	return out, nil
}

// withAnswers returns the message cal with the PARTSTAT of each resource
// that answered in this step (t.answers) set as it answered.
func (t *step) withAnswers(cal *ical.Calendar) *ical.Calendar {
	for _, a := range t.answers {
		for _, c := range a.Calendar.Children {
			if p := c.Props.Get(ical.PropAttendee); p != nil {
				cal = withPartstat(cal, a.Originator, p.Params.Get(ical.ParamParticipationStatus))
				break
			}
		}
	}
	return cal
}
