package itip

import (
	"slices"
	"strings"

	"github.com/emersion/go-ical"
)

// KeepReplies returns an organizer's new version of a scheduling object
// with the attendees' answers the server holds in old (the stored
// version, nil for a new object) in place of what the organizer's client
// sent: a PARTSTAT is the attendee's to set (their REPLY, applied by
// ApplyReply), not the organizer's. As Apple's CalendarServer does
// (implicit.py, coerceAttendeesPartstat*), and so that an organizer's
// client that re-PUTs a copy fetched before a reply arrived does not wipe
// the reply:
//
//   - an instance whose time did not change keeps each attendee's PARTSTAT
//     and RSVP of old (an override new lacks counts as the master's
//     occurrence);
//   - an instance whose time changed, or an attendee new to it, may only
//     go to NEEDS-ACTION: any other PARTSTAT than old's becomes old's
//     (NEEDS-ACTION for a new attendee);
//   - an override old has and new lacks (one the server made when an
//     attendee answered one instance differently), whose occurrence new
//     still has at the same time, is made again from new's master with
//     old's answers, when they differ from the master's.
//
// Attendees the server does not schedule (SCHEDULE-AGENT CLIENT or NONE)
// and the organizer's own addresses (the ORGANIZER, OrganizerAddresses)
// are left as sent. new is not modified; it is returned itself when
// nothing changes.
//
// Errors: ErrInvalidMessage (wrapped) for malformed components.
func KeepReplies(old, new *ical.Calendar, opts Options) (*ical.Calendar, error) {
	opts = opts.withDefaults()
	if new == nil {
		return nil, nil
	}
	oldObj, err := parseObject(old, opts)
	if err != nil {
		return nil, err
	}
	out := cloneCalendar(new, nil)
	o, err := parseObject(out, opts)
	if err != nil || o == nil {
		return new, err
	}
	org, err := o.organizer()
	if err != nil {
		return nil, err
	}
	self := map[string]bool{org: true}
	for _, a := range opts.OrganizerAddresses {
		self[NormalizeAddress(a)] = true
	}
	changed := false
	for _, k := range o.keys {
		var before *ical.Component
		if oldObj != nil {
			if before, _, err = oldObj.instance(k, opts); err != nil {
				return nil, err
			}
		}
		if keepAnswers(o.comps[k], before, self) {
			changed = true
		}
	}
	if oldObj != nil {
		for _, k := range oldObj.overrideKeys() {
			if o.comps[k] != nil || o.master() == nil {
				continue
			}
			derived, ok, err := o.instance(k, opts)
			if err != nil {
				return nil, err
			}
			if derived == nil || !ok || !sameTiming(derived, oldObj.comps[k]) {
				continue // no longer an occurrence, or moved: the organizer's
			}
			if keepAnswers(derived, oldObj.comps[k], self) {
				out.Children = append(out.Children, derived)
				changed = true
			}
		}
	}
	if !changed {
		return new, nil
	}
	return out, nil
}

// keepAnswers sets the PARTSTAT and RSVP of the server-scheduled
// attendees of c (not in self) as KeepReplies says, from before (the
// stored instance, nil for none), and reports whether it changed any.
func keepAnswers(c, before *ical.Component, self map[string]bool) bool {
	same := before != nil && sameTiming(c, before)
	changed := false
	for i := range c.Props[ical.PropAttendee] {
		p := &c.Props[ical.PropAttendee][i]
		a := NormalizeAddress(p.Value)
		if self[a] || !serverScheduled(p) {
			continue
		}
		var was *ical.Prop
		if before != nil {
			was = attendeeProp(before, a)
		}
		ps := partstatOf(p)
		wasPS := "NEEDS-ACTION"
		if was != nil {
			wasPS = partstatOf(was)
		}
		switch {
		case same && was != nil:
			if ps == wasPS && slices.Equal(p.Params.Values(ical.ParamRSVP), was.Params.Values(ical.ParamRSVP)) {
				continue
			}
			copyOwnParams(p, was)
		case ps != "NEEDS-ACTION" && ps != wasPS:
			p.Params.Set(ical.ParamParticipationStatus, wasPS)
		default:
			continue
		}
		changed = true
	}
	return changed
}

// partstatOf is the PARTSTAT of an ATTENDEE, upper case, NEEDS-ACTION
// when it has none (RFC 5545 §3.2.12's default).
func partstatOf(p *ical.Prop) string {
	if ps := strings.ToUpper(strings.TrimSpace(p.Params.Get(ical.ParamParticipationStatus))); ps != "" {
		return ps
	}
	return "NEEDS-ACTION"
}

// serverScheduled reports whether the ATTENDEE p is scheduled by the
// server (SCHEDULE-AGENT absent or SERVER, RFC 6638 §7.1).
func serverScheduled(p *ical.Prop) bool {
	agent := p.Params.Get("SCHEDULE-AGENT")
	return agent == "" || strings.EqualFold(agent, "SERVER")
}
