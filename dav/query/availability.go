package query

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/almanac/almanac/engine/recur"
	"github.com/emersion/go-ical"
)

// Availability (RFC 7953): a VAVAILABILITY component says when a calendar
// user is available; the time of its period (DTSTART to DTEND, either
// open) that none of its AVAILABLE instances covers is busy as its
// BUSYTYPE says (BUSY-UNAVAILABLE by default, §3.2), and free-busy
// reports it so (§4). Where VAVAILABILITYs overlap, the one of higher
// PRIORITY (1 highest, 9 lowest, 0 undefined: below 9) decides alone;
// those of equal PRIORITY combine (an AVAILABLE of any frees its time).

// MaxAvailabilityComponents bounds the VAVAILABILITY and AVAILABLE
// components of one availability (the inbox property's and the stored
// resources' together).
const MaxAvailabilityComponents = 200

// ErrNoAvailability is returned by AvailabilityOf for a calendar
// without VAVAILABILITY.
var ErrNoAvailability = errors.New("query: no VAVAILABILITY component")

// Availability is a set of VAVAILABILITY components, from one or more
// calendars. The zero value is an empty set.
type Availability struct {
	parts []availPart
	n     int // VAVAILABILITY and AVAILABLE components
}

// availPart is one VAVAILABILITY with the calendar it is read in.
type availPart struct {
	cal      *ical.Calendar // for its VTIMEZONEs
	comp     *ical.Component
	floating *time.Location // nil: AddAvailability's
}

// AvailabilityOf returns the availability cal says: a VCALENDAR holding
// VAVAILABILITY components (and the VTIMEZONEs they use), such as the
// text of the CALDAV:calendar-availability property (CalendarServer's,
// RFC 7953 §7.2.4) parsed by engine.ParseCalendar.
//
// Errors: ErrNoAvailability, an error naming the bound
// MaxAvailabilityComponents.
func AvailabilityOf(cal *ical.Calendar) (*Availability, error) {
	a := &Availability{}
	if cal == nil {
		return nil, ErrNoAvailability
	}
	if err := a.add(cal, nil); err != nil {
		return nil, err
	}
	if len(a.parts) == 0 {
		return nil, ErrNoAvailability
	}
	return a, nil
}

// Add adds the VAVAILABILITY components of a stored calendar object
// resource (RFC 7953 §7.2.2) to a; its floating times are in floating.
//
// Errors: an error naming the bound MaxAvailabilityComponents (a is
// then unchanged).
func (a *Availability) Add(obj *CalendarObject, floating *time.Location) error {
	return a.add(obj.cal, floating)
}

func (a *Availability) add(cal *ical.Calendar, floating *time.Location) error {
	n := a.n
	var parts []availPart
	for _, c := range cal.Children {
		if c.Name != "VAVAILABILITY" {
			continue
		}
		parts = append(parts, availPart{cal: cal, comp: c, floating: floating})
		n += 1 + len(c.Children)
	}
	if n > MaxAvailabilityComponents {
		return fmt.Errorf("calendar availability: %d components, at most %d", n, MaxAvailabilityComponents)
	}
	a.parts, a.n = append(a.parts, parts...), n
	return nil
}

// availLayer is what one VAVAILABILITY says within a free-busy range.
type availLayer struct {
	rank int // 1 (PRIORITY 1) to 10 (PRIORITY 0 or none)
	s, e time.Time
	typ  string
	free []recur.Period // its AVAILABLE instances, merged
}

// AddAvailability adds to fb the busy time availability a says in fb's
// range: each VAVAILABILITY's period, less its AVAILABLE instances (and
// those of every VAVAILABILITY of equal PRIORITY), less the periods of
// VAVAILABILITYs of higher PRIORITY, as its BUSYTYPE (BUSY,
// BUSY-UNAVAILABLE or BUSY-TENTATIVE). Floating times are in floating
// (UTC when nil) unless Add gave others.
//
// Errors: *Error with CALDAV:max-instances, ErrUnevaluable, ctx's error.
func (fb *FreeBusy) AddAvailability(ctx context.Context, a *Availability, floating *time.Location) error {
	if floating == nil {
		floating = time.UTC
	}
	layers := make([]availLayer, 0, len(a.parts))
	for _, p := range a.parts {
		fl := p.floating
		if fl == nil {
			fl = floating
		}
		l, err := fb.layer(ctx, p, fl)
		if err != nil {
			return err
		}
		layers = append(layers, l)
	}
	slices.SortStableFunc(layers, func(x, y availLayer) int { return x.rank - y.rank })
	var covered []recur.Period // the periods of higher PRIORITY
	for i := 0; i < len(layers); {
		j := i
		var free, span []recur.Period
		for ; j < len(layers) && layers[j].rank == layers[i].rank; j++ {
			free = append(free, layers[j].free...)
			if layers[j].e.After(layers[j].s) {
				span = append(span, recur.Period{Start: layers[j].s, End: layers[j].e})
			}
		}
		free = merged(free)
		for _, l := range layers[i:j] {
			for _, busy := range gaps(l.s, l.e, free) {
				for _, b := range gaps(busy.Start, busy.End, covered) {
					fb.add(l.typ, b.Start, b.End)
				}
			}
		}
		covered = merged(append(covered, span...))
		i = j
	}
	return nil
}

// layer reads one VAVAILABILITY: its period clipped to fb's range, its
// BUSYTYPE, its PRIORITY and its AVAILABLE instances.
func (fb *FreeBusy) layer(ctx context.Context, p availPart, floating *time.Location) (availLayer, error) {
	v := p.comp
	l := availLayer{rank: 10, s: fb.tr.Start, e: fb.tr.End, typ: "BUSY-UNAVAILABLE"}
	if pr := v.Props.Get(ical.PropPriority); pr != nil {
		if n, err := strconv.Atoi(strings.TrimSpace(pr.Value)); err == nil && n >= 1 && n <= 9 {
			l.rank = n
		}
	}
	if bt := v.Props.Get("BUSYTYPE"); bt != nil {
		switch t := strings.ToUpper(strings.TrimSpace(bt.Value)); t {
		case "BUSY", "BUSY-TENTATIVE":
			l.typ = t
		}
	}
	zones := recur.NewZones(p.cal, floating)
	if dp := v.Props.Get(ical.PropDateTimeStart); dp != nil {
		t, _, err := zones.Time(dp)
		if err != nil {
			return l, fmt.Errorf("%w: VAVAILABILITY DTSTART: %v", ErrUnevaluable, err)
		}
		if t.After(l.s) {
			l.s = t
		}
		end := time.Time{}
		if ep := v.Props.Get(ical.PropDateTimeEnd); ep != nil {
			if end, _, err = zones.Time(ep); err != nil {
				return l, fmt.Errorf("%w: VAVAILABILITY DTEND: %v", ErrUnevaluable, err)
			}
		} else if du := v.Props.Get(ical.PropDuration); du != nil {
			d, err := du.Duration()
			if err != nil {
				return l, fmt.Errorf("%w: VAVAILABILITY DURATION: %v", ErrUnevaluable, err)
			}
			end = t.Add(d)
		}
		if !end.IsZero() && end.Before(l.e) {
			l.e = end
		}
	} else if ep := v.Props.Get(ical.PropDateTimeEnd); ep != nil {
		end, _, err := zones.Time(ep)
		if err != nil {
			return l, fmt.Errorf("%w: VAVAILABILITY DTEND: %v", ErrUnevaluable, err)
		}
		if end.Before(l.e) {
			l.e = end
		}
	}
	// The AVAILABLE components as top-level VEVENTs, for the expansion
	// (their times have VEVENT's form, RFC 7953 §3.1).
	flat := ical.NewCalendar()
	for _, c := range p.cal.Children {
		if c.Name == ical.CompTimezone {
			flat.Children = append(flat.Children, c)
		}
	}
	for _, c := range v.Children {
		if c.Name == "AVAILABLE" {
			flat.Children = append(flat.Children, &ical.Component{Name: ical.CompEvent, Props: c.Props})
		}
	}
	ins, err := recur.Expand(ctx, flat, ical.CompEvent, fb.tr.Start, fb.tr.End, fb.lim.options(floating))
	if err != nil {
		return l, instanceErr(err)
	}
	for _, in := range ins {
		if in.End.After(in.Start) {
			l.free = append(l.free, recur.Period{Start: in.Start, End: in.End})
		}
	}
	l.free = merged(l.free)
	return l, nil
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
