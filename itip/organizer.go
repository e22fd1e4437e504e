package itip

import (
	"errors"

	"github.com/emersion/go-ical"
)

// OrganizerChange returns the messages an organizer's change of a
// scheduling object sends: old nil is a creation, new nil a deletion. Each
// message goes to one attendee (see the package documentation for which
// method and which instances); an attendee may get a CANCEL for
// overridden instances they lost and a REQUEST for the rest. Nothing is
// sent to an attendee for whom nothing significant changed.
//
// Errors: ErrValidOrganizer when new has attendees but no ORGANIZER,
// ErrSameOrganizer, ErrOrganizerChange when the UID or the ORGANIZER
// changed, recur's errors for instances that cannot be computed.
func OrganizerChange(old, new *ical.Calendar, opts Options) ([]Message, error) {
	return nil, errors.New("itip: OrganizerChange not implemented yet")
}
