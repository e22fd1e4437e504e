package itip

import (
	"errors"

	"github.com/emersion/go-ical"
)

// AttendeeChange returns the REPLY an attendee's change of their copy
// sends to the organizer, or nil when there is nothing to reply: old nil
// is a copy the attendee made, new nil a deletion (DECLINED for every
// instance). attendee is the address the attendee acts as.
//
// Errors: ErrNotAttendee when attendee is on neither copy,
// ErrAttendeeChange when the UID or the ORGANIZER changed,
// ErrSameOrganizer.
func AttendeeChange(old, new *ical.Calendar, attendee string, opts Options) (*Message, error) {
	return nil, errors.New("itip: AttendeeChange not implemented yet")
}
