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
//     that leaves them out (a RANGE=THISANDFUTURE override that leaves
//     them out ends their copy of the series before it), and the
//     overrides (RECURRENCE-ID components) that list them.
//   - A message goes to an attendee when what they would receive changed
//     in a way that matters to them: DTSTAMP, SEQUENCE, LAST-MODIFIED,
//     CREATED, REQUEST-STATUS, TRANSP, X- properties, alarms, the
//     SCHEDULE-* parameters and the other attendees' PARTSTAT and RSVP do
//     not. It is a REQUEST of every instance they are invited to, except:
//     a CANCEL of the instances they lost when that is the only change
//     (new EXDATEs, an override that leaves them out); an ADD of the new
//     instances when new RDATEs are the only change (RFC 5546 §3.2.4);
//     a CANCEL of the whole object when they lost every instance, the
//     object is deleted or its STATUS is CANCELLED. An attendee who is
//     not on the master and loses some overrides gets a CANCEL of those
//     and, if more changed, a REQUEST.
//   - Attendees with SCHEDULE-AGENT=CLIENT or NONE get nothing (RFC 6638
//     §7.1); SCHEDULE-FORCE-SEND=REQUEST sends a REQUEST even when nothing
//     changed (§7.2). The organizer's own addresses never receive anything.
//   - Messages never carry SCHEDULE-AGENT, SCHEDULE-FORCE-SEND or
//     SCHEDULE-STATUS (§7), nor the organizer's VALARMs; attendees without
//     PARTSTAT get NEEDS-ACTION; DTSTAMP is the time of the message
//     (Options.Now); SEQUENCE is the organizer's (the server does not
//     bump it: the attendee's side accepts an equal SEQUENCE).
//
// The attendee side (AttendeeChange) sends a REPLY when the attendee's
// PARTSTAT changed on an instance (an override they added to decline one
// instance included), when they removed an instance with an EXDATE or
// deleted their copy (DECLINED), or when the ORGANIZER carries
// SCHEDULE-FORCE-SEND=REPLY; nothing when the ORGANIZER's SCHEDULE-AGENT
// is CLIENT or NONE.
//
// ApplyToAttendeeCopy makes or updates an attendee's copy from a REQUEST
// (which carries every instance the attendee is invited to), ADD (new
// instances) or CANCEL, keeping what belongs to the attendee: their
// PARTSTAT and RSVP while the instance's time did not change, their
// alarms, TRANSP, X- properties and the overrides they made. A message
// with a lower SEQUENCE than the copy's instance is ignored. ApplyReply
// sets a replying attendee's PARTSTAT in the organizer's copy, refuses a
// reply from anyone the copy does not invite, and returns the REQUESTs
// that tell the other attendees.
//
// KeepReplies keeps the attendees' answers on an organizer's new version:
// a PARTSTAT is the attendee's to set, so a stale or forged one the
// organizer's client sends gives way to the stored one (a moved instance
// may go back to NEEDS-ACTION), as CalendarServer does.
//
// Around them, the caller (dav/sched) uses RoleOf to know whether a
// user's change is an organizer's or an attendee's, Attendees for its
// bound on attendees, ForStorage on what a client PUTs (no
// SCHEDULE-FORCE-SEND; the server's SCHEDULE-STATUS kept) and
// WithScheduleStatus to write delivery results back.
//
// Addresses are compared after NormalizeAddress: "mailto:" in any case,
// the domain of a mailto address case-insensitively.
//
// Preconditions of RFC 6638 §3.2.4 come back as *PreconditionError values
// (errors.Is against ErrValidOrganizer, ErrSameOrganizer,
// ErrOrganizerChange, ErrAttendeeChange); unique-scheduling-object-resource
// is the caller's, since it needs the store.
//
// Bounds: the caller bounds the object's size and its attendees; the work
// here is linear in attendees times components, plus instance expansion
// by engine/recur, bounded by Options.MaxInstances. With 50 attendees,
// the 50 REQUESTs of a new meeting take about 1 ms (2–5 ms with four
// exceptions) and an edit that concerns no one 0.2 ms
// (BenchmarkOrganizerChange, bench/RESULTS.md).
package itip
