package itip

import (
	"slices"

	"github.com/emersion/go-ical"
)

// Role is how a calendar user takes part in a scheduling object.
type Role int

// The roles of RoleOf.
const (
	// RoleNone: not a scheduling object (no ORGANIZER), or the user is
	// neither its organizer nor one of its attendees.
	RoleNone Role = iota
	// RoleOrganizer: the ORGANIZER is one of the user's addresses; the
	// user's changes go through OrganizerChange.
	RoleOrganizer
	// RoleAttendee: an ATTENDEE is one of the user's addresses; the
	// user's changes go through AttendeeChange.
	RoleAttendee
)

// RoleOf returns the role in cal of the calendar user whose addresses
// (calendar-user-address-set) are given, and the address they take part
// as (normalized).
//
// Errors: ErrSameOrganizer, ErrValidOrganizer for an ORGANIZER without
// address, ErrInvalidMessage (wrapped) for malformed components.
func RoleOf(cal *ical.Calendar, addresses []string) (Role, string, error) {
	o, err := parseObject(cal, Options{}.withDefaults())
	if err != nil || o == nil {
		return RoleNone, "", err
	}
	org, err := o.organizer()
	if err != nil || org == "" {
		return RoleNone, "", err
	}
	mine := make([]string, len(addresses))
	for i, a := range addresses {
		mine[i] = NormalizeAddress(a)
	}
	if slices.Contains(mine, org) {
		return RoleOrganizer, org, nil
	}
	for _, a := range o.attendees() {
		if slices.Contains(mine, a) {
			return RoleAttendee, a, nil
		}
	}
	return RoleNone, "", nil
}

// Attendees returns the normalized addresses of cal's attendees, each
// once, in order of first appearance (for the caller's bound on
// attendees).
//
// Errors: ErrInvalidMessage (wrapped) for malformed components.
func Attendees(cal *ical.Calendar) ([]string, error) {
	o, err := parseObject(cal, Options{}.withDefaults())
	if err != nil || o == nil {
		return nil, err
	}
	return o.attendees(), nil
}

// ForStorage returns what the server stores of a client's new version of
// a scheduling object (RFC 6638 §7.2, §7.3): without SCHEDULE-FORCE-SEND
// parameters, and with the SCHEDULE-STATUS the server wrote on old (the
// stored version; nil for none) in place of any the client sent. new is
// not modified; a METHOD property, which stored objects never have (RFC
// 4791 §4.1), is left out.
func ForStorage(old, new *ical.Calendar) *ical.Calendar {
	if new == nil {
		return nil
	}
	status := map[string]string{} // by property name and address
	if old != nil {
		for _, c := range old.Children {
			for _, name := range []string{ical.PropOrganizer, ical.PropAttendee} {
				for _, p := range c.Props[name] {
					if s := p.Params.Get("SCHEDULE-STATUS"); s != "" {
						status[name+" "+NormalizeAddress(p.Value)] = s
					}
				}
			}
		}
	}
	out := cloneCalendar(new, nil)
	for _, c := range out.Children {
		for _, name := range []string{ical.PropOrganizer, ical.PropAttendee} {
			for i := range c.Props[name] {
				p := &c.Props[name][i]
				p.Params.Del("SCHEDULE-FORCE-SEND")
				p.Params.Del("SCHEDULE-STATUS")
				if s := status[name+" "+NormalizeAddress(p.Value)]; s != "" {
					p.Params.Set("SCHEDULE-STATUS", s)
				}
			}
		}
	}
	return out
}

// WithScheduleStatus returns the organizer's copy with the SCHEDULE-STATUS
// of each recipient's ATTENDEE properties set to status[recipient] (RFC
// 6638 §3.2.9: 1.0 pending, 1.1 sent, 1.2 delivered, 3.7 invalid calendar
// user, 3.8 no scheduling privilege, 5.x delivery failed). Recipients are
// normalized addresses, as in Message.Recipient. cal is not modified.
func WithScheduleStatus(cal *ical.Calendar, status map[string]string) *ical.Calendar {
	if cal == nil {
		return nil
	}
	out := cloneCalendar(cal, nil)
	for _, c := range out.Children {
		for i := range c.Props[ical.PropAttendee] {
			p := &c.Props[ical.PropAttendee][i]
			if s, ok := status[NormalizeAddress(p.Value)]; ok && s != "" {
				p.Params.Set("SCHEDULE-STATUS", s)
			}
		}
	}
	return out
}
