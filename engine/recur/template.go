package recur

import (
	"fmt"
	"time"

	"github.com/emersion/go-ical"
)

// template describes how one component produces instances: where its
// first instance starts and how each instance's end follows from its
// start (RFC 5545 §3.8.5.3: an exact duration for DTEND/DUE, a nominal
// one for DURATION and all-day events).
type template struct {
	comp     *ical.Component
	start    time.Time
	hasStart bool
	date     bool
	exact    time.Duration
	nominal  *Duration
	shape    shape

	completed, created time.Time
}

var oneDay = &Duration{Days: 1}

// newTemplate reads the timing properties of a VEVENT, VTODO or VJOURNAL.
func newTemplate(z *Zones, comp *ical.Component) (template, error) {
	tp := template{comp: comp, shape: shapeNever}
	if p := comp.Props.Get(ical.PropDateTimeStart); p != nil {
		t, date, err := z.Time(p)
		if err != nil {
			return tp, err
		}
		tp.start, tp.date, tp.hasStart = t, date, true
	}
	var dur *Duration
	if p := comp.Props.Get(ical.PropDuration); p != nil {
		d, err := ParseDuration(p.Value)
		if err != nil {
			return tp, fmt.Errorf("recur: DURATION: %w", err)
		}
		dur = &d
	}
	endProp := ical.PropDateTimeEnd
	if comp.Name == ical.CompToDo {
		endProp = ical.PropDue
	}
	var end time.Time
	hasEnd := false
	if p := comp.Props.Get(endProp); p != nil {
		t, _, err := z.Time(p)
		if err != nil {
			return tp, err
		}
		end, hasEnd = t, true
	}
	switch comp.Name {
	case ical.CompEvent:
		if !tp.hasStart {
			return tp, nil
		}
		tp.shape = shapeSpan
		switch {
		case hasEnd:
			tp.exact = end.Sub(tp.start)
		case dur != nil:
			tp.nominal = dur
		case tp.date:
			tp.nominal = oneDay
		default:
			tp.shape = shapePoint
		}
	case ical.CompToDo:
		switch {
		case tp.hasStart && dur != nil:
			tp.shape, tp.nominal = shapeTodoDur, dur
		case tp.hasStart && hasEnd:
			tp.shape, tp.exact = shapeTodoDue, end.Sub(tp.start)
		case tp.hasStart:
			tp.shape = shapePoint
		case hasEnd:
			tp.shape, tp.start = shapeDueOnly, end
		default:
			tp.shape = shapeTodoUndated
			tp.completed = utcProp(comp, ical.PropCompleted)
			tp.created = utcProp(comp, ical.PropCreated)
		}
	case ical.CompJournal:
		if !tp.hasStart {
			return tp, nil
		}
		tp.shape = shapePoint
		if tp.date {
			tp.shape, tp.nominal = shapeSpan, oneDay
		}
	}
	return tp, nil
}

// at returns the instance of the template that starts at start.
func (tp template) at(start time.Time) Instance {
	in := Instance{Start: start, End: start, Comp: tp.comp, AllDay: tp.date, shape: tp.shape,
		completed: tp.completed, created: tp.created}
	switch {
	case tp.nominal != nil:
		in.End = tp.nominal.AddTo(start)
	case tp.exact != 0:
		in.End = start.Add(tp.exact)
	}
	return in
}

// length approximates how long an instance lasts, erring long.
func (tp template) length() time.Duration {
	l := tp.exact
	if tp.nominal != nil {
		l = tp.nominal.Approx() + 2*time.Hour // DST shifts
	}
	if l < 0 {
		l = -l
	}
	return l
}

// utcProp reads a UTC DATE-TIME property such as COMPLETED; zero when it
// is missing or malformed.
func utcProp(comp *ical.Component, name string) time.Time {
	p := comp.Props.Get(name)
	if p == nil {
		return time.Time{}
	}
	t, _, err := NewZones(nil, time.UTC).Time(p)
	if err != nil {
		return time.Time{}
	}
	return t
}
