package recur

import (
	"time"

	"github.com/emersion/go-ical"
)

// shape says which RFC 4791 §9.9 overlap rule applies to an instance.
type shape uint8

const (
	shapeSpan        shape = iota // [Start, End); a point rule when End <= Start
	shapePoint                    // start <= Start < end
	shapeTodoDur                  // VTODO with DTSTART and DURATION
	shapeTodoDue                  // VTODO with DTSTART and DUE
	shapeDueOnly                  // VTODO with DUE only; Start = End = DUE
	shapeTodoUndated              // VTODO without DTSTART and DUE: COMPLETED/CREATED
	shapeFreeBusy                 // VFREEBUSY DTSTART/DTEND: start <= End && end > Start
	shapeNever                    // never overlaps (VJOURNAL without DTSTART)
)

// Instance is one occurrence of a component.
type Instance struct {
	// Start and End bound the occurrence, in the location of its
	// DTSTART (the floating location for DATE and floating values).
	Start, End time.Time
	// RecurrenceID identifies the occurrence within its recurrence set;
	// zero for a component that does not recur.
	RecurrenceID time.Time
	// Comp is the component the occurrence takes its properties from:
	// the master, or the overriding component.
	Comp *ical.Component
	// Override is set when Comp is a RECURRENCE-ID override (exact or
	// THISANDFUTURE).
	Override bool
	// AllDay is set when DTSTART is a DATE value.
	AllDay bool

	shape              shape
	completed, created time.Time // for shapeTodoUndated
}

var (
	minTime = time.Time{}
	maxTime = time.Unix(1<<40, 0)
)

// Overlaps applies the RFC 4791 §9.9 time-range rule of the instance's
// component type to [start, end). A zero start or end is unbounded.
func (in Instance) Overlaps(start, end time.Time) bool {
	if start.IsZero() {
		start = minTime
	}
	if end.IsZero() {
		end = maxTime
	}
	s, e := in.Start, in.End
	switch in.shape {
	case shapeSpan:
		if e.After(s) {
			return start.Before(e) && end.After(s)
		}
		return !start.After(s) && end.After(s)
	case shapePoint:
		return !start.After(s) && end.After(s)
	case shapeTodoDur:
		return !start.After(e) && (end.After(s) || !end.Before(e))
	case shapeTodoDue:
		return (start.Before(e) || !start.After(s)) && (end.After(s) || !end.Before(e))
	case shapeDueOnly:
		return start.Before(e) && !end.Before(e)
	case shapeFreeBusy:
		return !start.After(e) && end.After(s)
	case shapeTodoUndated:
		c, d := in.created, in.completed
		switch {
		case !c.IsZero() && !d.IsZero():
			return (!start.After(c) || !start.After(d)) && (!end.Before(c) || !end.Before(d))
		case !d.IsZero():
			return !start.After(d) && !end.Before(d)
		case !c.IsZero():
			return end.After(c)
		}
		return true
	}
	return false
}

// Reach returns the earliest and latest instants at which the instance
// can satisfy any time-range; zero means unbounded.
func (in Instance) Reach() (lo, hi time.Time) {
	switch in.shape {
	case shapeTodoUndated:
		switch {
		case !in.created.IsZero() && !in.completed.IsZero():
			return earliest(in.created, in.completed), latest(in.created, in.completed)
		case !in.completed.IsZero():
			return in.completed, in.completed
		case !in.created.IsZero():
			return in.created, time.Time{}
		}
		return time.Time{}, time.Time{}
	case shapeNever:
		return in.Start, in.Start
	}
	return earliest(in.Start, in.End), latest(in.Start, in.End)
}

func earliest(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func latest(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
