// Package recur computes when calendar components happen: time zones,
// recurrence expansion, instance spans, the RFC 4791 §9.9 time-range
// rules and the per-object time envelope the engine stores.
//
// It works on go-ical's parsed model but replaces what go-ical and
// rrule-go get wrong or leave out (see STACK.md §5):
//
//   - TZID resolution (Zones): IANA names through time.LoadLocation over
//     the embedded tzdata; the calendar's own VTIMEZONE, interpreted by
//     LocationFromVTimezone into TZif data and loaded as a
//     *time.Location; Windows names ("W. Europe Standard Time") through
//     CLDR's windowsZones table; vendor-prefixed names
//     ("/mozilla.org/…/Europe/Berlin"). Unknown TZIDs, floating times
//     and DATE values are placed in a floating location given by the
//     caller (a collection's calendar-timezone or a query's timezone).
//   - Multi-valued RDATE and EXDATE with DATE, DATE-TIME and PERIOD
//     values (Zones.Periods).
//   - RECURRENCE-ID overrides, RANGE=THISANDFUTURE included (Expand).
//   - Instance ends from DTEND or DUE (exact) and DURATION (nominal days:
//     P1D keeps the wall-clock time across DST), all-day events lasting
//     one day (Duration, Instance).
//   - The RFC 4791 §9.9 overlap table per component type, VTODO's
//     DTSTART/DURATION/DUE/COMPLETED/CREATED cases included
//     (Instance.Overlaps), VFREEBUSY periods, and VALARM triggers
//     (AlarmTriggers).
//   - Bounded work: RRULE iteration is done by rrule-go, but endless
//     DAILY, WEEKLY and sub-daily rules start at a period boundary near
//     the queried range; Options.MaxInstances and Options.MaxIterations
//     turn runaway expansions into ErrTooManyInstances, and an endless
//     rule over an unbounded range into ErrUnbounded.
//
// Envelope returns the interval outside which no component can match
// any time-range; the engine stores it with every calendar object so that
// queries skip objects without reading them. Floating times widen it by
// 14 hours on each side, since the zone they end up in can change.
// VALARM triggers are not part of it.
//
// Known limits: rrule-go overflows time.Duration about 292 years after a
// rule's DTSTART, so MONTHLY and YEARLY rules queried more than ~290
// years after their start lose occurrences; VTIMEZONE rules are expanded
// up to year 2200.
package recur
