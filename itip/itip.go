package itip

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/almanac/almanac/engine/recur"
	"github.com/emersion/go-ical"
)

// Method is an iTIP method (RFC 5546 §1.4).
type Method string

// The methods this package produces and applies.
const (
	MethodRequest Method = "REQUEST"
	MethodAdd     Method = "ADD"
	MethodCancel  Method = "CANCEL"
	MethodReply   Method = "REPLY"
)

// Message is one iTIP message for one recipient.
type Message struct {
	// Method is the message's METHOD, also set on Calendar.
	Method Method
	// Recipient is the normalized calendar user address the message goes
	// to: an attendee for REQUEST, ADD and CANCEL, the organizer for REPLY.
	Recipient string
	// Originator is the normalized address of the sender: the organizer,
	// or the replying attendee.
	Originator string
	// Calendar is the iTIP object: a VCALENDAR with METHOD, PRODID and
	// VERSION, the VTIMEZONEs its components use, and the components.
	// It shares nothing with the calendars it was made from, but the
	// messages of one call share property values: treat them as
	// read-only (ApplyToAttendeeCopy copies what it keeps).
	Calendar *ical.Calendar
}

// Options tune the functions of the package. The zero value is ready to
// use.
type Options struct {
	// Now is the DTSTAMP of the messages made. Default time.Now().
	Now time.Time
	// ProdID is the PRODID of the messages made. Default DefaultProdID.
	ProdID string
	// Floating is the location of floating times and DATE values when
	// instances are matched. Default UTC.
	Floating *time.Location
	// MaxInstances bounds the instances computed for one recurrence set
	// (engine/recur's MaxInstances and MaxIterations follow it). Default
	// recur.DefaultMaxInstances.
	MaxInstances int
	// OrganizerAddresses are further addresses of the organizer (their
	// calendar-user-address-set); an ATTENDEE with one of them is the
	// organizer and never gets a message. The ORGANIZER value always
	// counts.
	OrganizerAddresses []string
	// AttendeeAddresses are further addresses of the replying attendee
	// (their calendar-user-address-set) for ApplyReply: the reply and the
	// organizer's copy may name them under any of these.
	AttendeeAddresses []string
}

// DefaultProdID is the PRODID of messages when Options.ProdID is empty.
const DefaultProdID = "-//Almanac//iTIP//EN"

func (o Options) withDefaults() Options {
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	if o.ProdID == "" {
		o.ProdID = DefaultProdID
	}
	if o.Floating == nil {
		o.Floating = time.UTC
	}
	if o.MaxInstances <= 0 {
		o.MaxInstances = recur.DefaultMaxInstances
	}
	return o
}

// PreconditionError is a scheduling precondition of RFC 6638 §3.2.4 that a
// change fails. errors.Is matches it against the Err* values of the same
// condition.
type PreconditionError struct {
	// Cond is the CALDAV: precondition element's local name, such as
	// "valid-organizer".
	Cond string
	// Reason says what failed; empty in the Err* values.
	Reason string
}

// Error returns "itip: " and the condition, with the reason when there is
// one.
func (e *PreconditionError) Error() string {
	if e.Reason == "" {
		return "itip: " + e.Cond
	}
	return "itip: " + e.Cond + ": " + e.Reason
}

// Is reports whether target is a *PreconditionError of the same condition.
func (e *PreconditionError) Is(target error) bool {
	t, ok := target.(*PreconditionError)
	return ok && t.Cond == e.Cond
}

// The preconditions, for errors.Is.
var (
	// ErrValidOrganizer: an ORGANIZER without address (the caller also
	// returns it for an ORGANIZER that is not an address of the user it
	// acts for).
	ErrValidOrganizer = &PreconditionError{Cond: "valid-organizer"}
	// ErrSameOrganizer: components of one object name different
	// organizers (same-organizer-in-all-components).
	ErrSameOrganizer = &PreconditionError{Cond: "same-organizer-in-all-components"}
	// ErrOrganizerChange: an organizer's change that is not allowed, such
	// as changing the UID or the ORGANIZER
	// (allowed-organizer-scheduling-object-change).
	ErrOrganizerChange = &PreconditionError{Cond: "allowed-organizer-scheduling-object-change"}
	// ErrAttendeeChange: an attendee's change that is not allowed, such as
	// changing the UID or the ORGANIZER
	// (allowed-attendee-scheduling-object-change).
	ErrAttendeeChange = &PreconditionError{Cond: "allowed-attendee-scheduling-object-change"}
)

func precondition(base *PreconditionError, format string, args ...any) error {
	return &PreconditionError{Cond: base.Cond, Reason: fmt.Sprintf(format, args...)}
}

// ErrNotAttendee is returned by ApplyReply for a reply from an address the
// organizer's copy does not invite (a forged or misdirected reply), and by
// AttendeeChange for an address that is not an attendee of the object.
var ErrNotAttendee = errors.New("itip: not an attendee")

// ErrInvalidMessage is returned (wrapped, with the reason) for an iTIP
// message that cannot be applied: a wrong METHOD, no component, a UID
// other than the copy's.
var ErrInvalidMessage = errors.New("itip: invalid message")

// NormalizeAddress returns the form of a calendar user address that
// compares equal for the same user: surrounding space trimmed, the scheme
// lower-cased ("MAILTO:" is "mailto:"), the domain of a mailto address
// lower-cased (its local part is the mailbox's own, RFC 5321 §2.4, as
// engine.NormalizeEmail keeps it), and a urn:uuid: lower-cased. Other
// addresses (a principal URL) keep their case after the scheme.
func NormalizeAddress(addr string) string {
	addr = strings.TrimSpace(addr)
	scheme, rest, ok := strings.Cut(addr, ":")
	if !ok {
		return addr
	}
	scheme = strings.ToLower(scheme)
	switch scheme {
	case "mailto":
		if at := strings.LastIndexByte(rest, '@'); at >= 0 {
			rest = rest[:at] + strings.ToLower(rest[at:])
		}
	case "urn":
		rest = strings.ToLower(rest)
	}
	return scheme + ":" + rest
}
