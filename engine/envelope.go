package engine

import (
	"math"

	"github.com/almanac/almanac/engine/recur"
	"github.com/emersion/go-ical"
)

// calendarEnvelope returns, in Unix seconds, an interval that holds every
// instance of every component of cal, as computed by recur.Envelope: time
// zones (IANA, Windows names and the calendar's own VTIMEZONEs),
// recurrence rules, overrides and the RFC 4791 §9.9 rules. It errs on the
// wide side: a query may skip an object only when the envelope proves
// that it cannot match. Floating times are not pinned to the collection's
// calendar-timezone, which may change later: they get ±14 hours instead,
// so coll is unused. Unbounded sides are math.MinInt64 and math.MaxInt64.
// VALARM triggers are not covered; queries on alarms do not use it.
func calendarEnvelope(cal *ical.Calendar, _ *Collection) (int64, int64) {
	start, end := recur.Envelope(cal)
	lo, hi := int64(math.MinInt64), int64(math.MaxInt64)
	if !start.IsZero() {
		lo = start.Unix()
	}
	if !end.IsZero() {
		// Round up: the envelope is half-open and stored in seconds.
		hi = end.Unix() + 1
	}
	return lo, hi
}
