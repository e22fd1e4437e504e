// Package itip is the scheduling logic of iTIP (RFC 5546) as RFC 6638
// (CalDAV scheduling) uses it, on go-ical values: which messages an
// organizer's change sends to each attendee, which REPLY an attendee's
// change sends back, and how a REQUEST, ADD, CANCEL or REPLY is applied to
// the recipient's copy. It does no I/O and knows nothing of HTTP, storage
// or delivery: package dav/sched calls it and keeps every message in the
// log.
//
// The organizer side (OrganizerChange) compares the organizer's old and
// new calendar object, one recurrence set (one UID) of VEVENT or VTODO
// components:
//
//   - Each attendee gets the instances that concern them: the master when
//     they are listed on it, with an EXDATE for each overridden instance
//     that leaves them out, and the overrides (RECURRENCE-ID components,
//     RANGE=THISANDFUTURE included) that list them.
//   - A REQUEST goes to an attendee when what they would receive changed
//     in a way that matters to them (CompareSignificant): DTSTAMP,
//     SEQUENCE, LAST-MODIFIED, alarms, TRANSP, the SCHEDULE-* parameters
//     and the other attendees' PARTSTAT do not. An ADD goes instead when
//     the only change is new overridden instances for an attendee who is
//     not on the master; a CANCEL when they lost every instance (without
//     RECURRENCE-ID when they were on the master), or lost some overridden
//     instances while not being on the master.
//   - Attendees with SCHEDULE-AGENT=CLIENT or NONE get nothing (RFC 6638
//     §7.1); SCHEDULE-FORCE-SEND=REQUEST sends a REQUEST even when nothing
//     changed (§7.2). The organizer's own addresses never receive anything.
//   - Messages never carry SCHEDULE-AGENT, SCHEDULE-FORCE-SEND or
//     SCHEDULE-STATUS (§7), nor the organizer's VALARMs; DTSTAMP is the
//     time of the message (Options.Now); SEQUENCE is the organizer's.
//
// The attendee side (AttendeeChange) sends a REPLY when the attendee's
// PARTSTAT changed on an instance (an override they added to decline one
// instance included), when they deleted their copy (DECLINED), or when
// the ORGANIZER carries SCHEDULE-FORCE-SEND=REPLY; nothing when the
// ORGANIZER's SCHEDULE-AGENT is CLIENT or NONE.
//
// ApplyToAttendeeCopy makes or updates an attendee's copy from a REQUEST
// (which carries every instance the attendee is invited to), ADD (new
// instances) or CANCEL, keeping what belongs to the attendee: their
// PARTSTAT while the instance's time did not change, their alarms, TRANSP
// and the overrides they made. Messages older than the copy (lower
// SEQUENCE, or the same SEQUENCE and an older DTSTAMP) are ignored.
// ApplyReply sets a replying attendee's PARTSTAT in the organizer's copy
// and refuses a reply from anyone the copy does not invite.
//
// Addresses are compared after NormalizeAddress: "mailto:" in any case,
// a mailto address case-insensitively.
//
// Preconditions of RFC 6638 §3.2.4 come back as *PreconditionError values
// (errors.Is against ErrValidOrganizer, ErrSameOrganizer,
// ErrOrganizerChange, ErrAttendeeChange); unique-scheduling-object-resource
// is the caller's, since it needs the store. Instances are computed by
// engine/recur, bounded by Options.MaxInstances.
package itip
