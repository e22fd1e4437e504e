package query

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/almanac/almanac/engine/recur"
	"github.com/emersion/go-ical"
)

// Availability (RFC 7953): a VAVAILABILITY component says when a calendar
// user is available; the time of its period (DTSTART to DTEND, either
// open) that none of its AVAILABLE instances covers is busy as its
// BUSYTYPE says (BUSY-UNAVAILABLE by default, §3.2), and free-busy
// reports it so (§4).
//
// Simplification: PRIORITY is not layered (§4's rules let a higher
// priority VAVAILABILITY override a lower one): an AVAILABLE instance of
// any of them frees its time, the period of any of them not so freed is
// busy.

// MaxAvailabilityComponents bounds the VAVAILABILITY and AVAILABLE
// components of one availability.
const MaxAvailabilityComponents = 100

// ErrNoAvailability is returned by AvailabilityOf for a calendar
// without VAVAILABILITY.
var ErrNoAvailability = errors.New("query: no VAVAILABILITY component")

// Availability is a parsed VCALENDAR of VAVAILABILITY components.
type Availability struct {
	cal   *ical.Calendar
	comps []*ical.Component // the VAVAILABILITYs
}

// AvailabilityOf returns the availability cal says: a VCALENDAR holding
// VAVAILABILITY components (and the VTIMEZONEs they use), such as the
// text of the CALDAV:calendar-availability property (CalendarServer's,
// RFC 7953 §7.2.4) parsed by engine.ParseCalendar.
//
// Errors: ErrNoAvailability, an error naming the bound
// MaxAvailabilityComponents.
func AvailabilityOf(cal *ical.Calendar) (*Availability, error) {
	if cal == nil {
		return nil, ErrNoAvailability
	}
	a := &Availability{cal: cal}
	n := 0
	for _, c := range cal.Children {
		if c.Name != "VAVAILABILITY" {
			continue
		}
		a.comps = append(a.comps, c)
		n += 1 + len(c.Children)
	}
	if len(a.comps) == 0 {
		return nil, ErrNoAvailability
	}
	if n > MaxAvailabilityComponents {
		return nil, fmt.Errorf("calendar-availability: %d components, at most %d", n, MaxAvailabilityComponents)
	}
	return a, nil
}

// AddAvailability adds to fb the busy time availability a says in fb's
// range: each VAVAILABILITY's period, less every AVAILABLE instance, as
// its BUSYTYPE (BUSY, BUSY-UNAVAILABLE or BUSY-TENTATIVE). Floating
// times are in floating (UTC when nil).
//
// Errors: *Error with CALDAV:max-instances, ErrUnevaluable, ctx's error.
func (fb *FreeBusy) AddAvailability(ctx context.Context, a *Availability, floating *time.Location) error {
	if floating == nil {
		floating = time.UTC
	}
	zones := recur.NewZones(a.cal, floating)
	// The AVAILABLE components as top-level VEVENTs, for the expansion
	// (their times have VEVENT's form, RFC 7953 §3.1).
	flat := ical.NewCalendar()
	for _, c := range a.cal.Children {
		if c.Name == ical.CompTimezone {
			flat.Children = append(flat.Children, c)
		}
	}
	for _, v := range a.comps {
		for _, c := range v.Children {
			if c.Name == "AVAILABLE" {
				flat.Children = append(flat.Children, &ical.Component{Name: ical.CompEvent, Props: c.Props})
			}
		}
	}
	ins, err := recur.Expand(ctx, flat, ical.CompEvent, fb.tr.Start, fb.tr.End, fb.lim.options(floating))
	if err != nil {
		return instanceErr(err)
	}
	var free []recur.Period
	for _, in := range ins {
		if in.End.After(in.Start) {
			free = append(free, recur.Period{Start: in.Start, End: in.End})
		}
	}
	free = merged(free)
	for _, v := range a.comps {
		s, e := fb.tr.Start, fb.tr.End
		for name, dst := range map[string]*time.Time{ical.PropDateTimeStart: &s, ical.PropDateTimeEnd: &e} {
			p := v.Props.Get(name)
			if p == nil {
				continue
			}
			t, _, err := zones.Time(p)
			if err != nil {
				return fmt.Errorf("%w: VAVAILABILITY %s: %v", ErrUnevaluable, name, err)
			}
			if (name == ical.PropDateTimeStart && t.After(s)) || (name == ical.PropDateTimeEnd && t.Before(e)) {
				*dst = t
			}
		}
		typ := "BUSY-UNAVAILABLE"
		if p := v.Props.Get("BUSYTYPE"); p != nil {
			switch t := strings.ToUpper(strings.TrimSpace(p.Value)); t {
			case "BUSY", "BUSY-TENTATIVE":
				typ = t
			}
		}
		for _, gap := range gaps(s, e, free) {
			fb.add(typ, gap.Start, gap.End)
		}
	}
	return nil
}

// gaps returns the parts of [s, e) that no period of free (merged, in
// order) covers.
func gaps(s, e time.Time, free []recur.Period) []recur.Period {
	var out []recur.Period
	at := s
	for _, f := range free {
		if !f.End.After(at) {
			continue
		}
		if !f.Start.Before(e) {
			break
		}
		if f.Start.After(at) {
			out = append(out, recur.Period{Start: at, End: f.Start})
		}
		at = f.End
	}
	if at.Before(e) {
		out = append(out, recur.Period{Start: at, End: e})
	}
	return out
}
