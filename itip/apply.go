package itip

import (
	"errors"

	"github.com/emersion/go-ical"
)

// ApplyToAttendeeCopy returns the copy of attendee (the address the
// message was delivered to) after a REQUEST, ADD or CANCEL message: copy
// nil is an attendee who has no copy yet (a CANCEL or ADD then returns
// nil). copy is not modified. A message older than the copy returns the copy unchanged.
// A CANCEL of the whole object returns the copy with STATUS:CANCELLED;
// the caller decides whether to keep it.
//
// Errors: ErrInvalidMessage (wrapped) for a message that is not a REQUEST,
// ADD or CANCEL of the copy's UID.
func ApplyToAttendeeCopy(copy, msg *ical.Calendar, attendee string, opts Options) (*ical.Calendar, error) {
	return nil, errors.New("itip: ApplyToAttendeeCopy not implemented yet")
}

// ApplyReply returns the organizer's copy after a REPLY from the attendee
// from: their PARTSTAT set on each instance the reply names (an override
// is made for an instance of the master), and their SCHEDULE-STATUS from
// the reply's REQUEST-STATUS. It also returns the REQUESTs that tell the
// other attendees of those instances the new status; the caller may
// send them. organizerCopy is not modified.
//
// Errors: ErrNotAttendee when from is not invited to an instance the
// reply names (a forged reply), ErrInvalidMessage (wrapped) for a message
// that is not a REPLY of the copy's UID from exactly that attendee.
func ApplyReply(organizerCopy, reply *ical.Calendar, from string, opts Options) (*ical.Calendar, []Message, error) {
	return nil, nil, errors.New("itip: ApplyReply not implemented yet")
}
