package query

import (
	"strings"
	"time"

	"github.com/almanac/almanac/engine/contentline"
	"github.com/almanac/almanac/engine/recur"
	"github.com/emersion/go-ical"
)

// AddSimple adds the busy time of body, as Add would, when body is the
// commonest calendar object: one VEVENT that does not recur (no RRULE,
// RDATE, EXRULE or RECURRENCE-ID), beside VTIMEZONEs only. It reads the
// body's content lines once and resolves DTSTART and DTEND (or DURATION)
// as recur does, without building go-ical's tree or expanding: those
// were most of a free-busy lookup (issue 18). It reports whether it
// handled body; when false nothing was added and the caller parses body
// and calls Add, which also reports what cannot be evaluated.
//
// The property test (freebusy_simple_test.go) holds it to Add.
func (fb *FreeBusy) AddSimple(body []byte, floating *time.Location) bool {
	if floating == nil {
		floating = time.UTC
	}
	ev, ok := fb.scanSimple(body)
	if !ok {
		return false
	}
	if fb.zones == nil || fb.zones.FloatingLocation() != floating {
		// Zones of no calendar: IANA names, then Windows names. The
		// body's own VTIMEZONEs are checked for in value.
		fb.zones = recur.NewZones(nil, floating)
	}
	start, date, ok := ev.value(fb.zones, ev.dtstart)
	if !ok {
		return false
	}
	// recur's template reads DURATION even beside DTEND, and refuses the
	// object when it is malformed: so must this path.
	var dur recur.Duration
	if ev.duration != "" {
		d, err := recur.ParseDuration(ev.duration)
		if err != nil {
			return false
		}
		dur = d
	}
	var end time.Time
	switch {
	case ev.dtend != nil: // recur's template: DTEND, then DURATION, then DATE
		if end, _, ok = ev.value(fb.zones, ev.dtend); !ok {
			return false
		}
		if !start.Add(end.Sub(start)).Equal(end) {
			// recur keeps DTEND as a time.Duration from DTSTART, which
			// saturates past 292 years: leave such spans to it.
			return false
		}
	case ev.duration != "":
		end = dur.AddTo(start)
	case date:
		end = start.AddDate(0, 0, 1)
	default:
		return true // an instant: never busy
	}
	if ev.transparent || ev.status == "CANCELLED" || ev.partStat == "DECLINED" || !end.After(start) {
		return true
	}
	typ := "BUSY"
	if ev.status == "TENTATIVE" || ev.partStat == "TENTATIVE" {
		typ = "BUSY-TENTATIVE"
	}
	fb.add(typ, start, end)
	return true
}

// simpleEvent is what AddSimple reads of a body: the first of each
// property of its one VEVENT, as go-ical's Props.Get would return it.
type simpleEvent struct {
	dtstart, dtend *simpleValue
	duration       string
	transparent    bool
	status         string
	partStat       string // of the first ATTENDEE that is fb.Self
	tzids          []string
	vals           [2]simpleValue
}

// simpleValue is a DATE or DATE-TIME property's value and parameters.
type simpleValue struct {
	name, value, tzid, valueType string
}

// scanSimple reads body's lines; ok is false unless body is one
// VCALENDAR with one non-recurring VEVENT and VTIMEZONEs.
func (fb *FreeBusy) scanSimple(body []byte) (ev simpleEvent, ok bool) {
	lim := contentline.Defaults()
	lim.MaxLineLength = 0 // as ParseContent: a stored body is bounded by the object size
	if fb.scanner == nil {
		fb.scanner = contentline.NewScanner("", lim)
	}
	s := fb.scanner
	s.Reset(string(body), lim)
	roots, events := 0, 0
	var inEvent, inZone, selfSeen, transpSeen, statusSeen bool
	for s.Scan() {
		l := s.Line()
		depth := s.Depth()
		switch {
		case l.Is("BEGIN"):
			switch {
			case depth == 1:
				if roots++; roots > 1 || !strings.EqualFold(l.Value, ical.CompCalendar) {
					return ev, false
				}
			case depth == 2 && strings.EqualFold(l.Value, ical.CompEvent):
				if events++; events > 1 {
					return ev, false
				}
				inEvent = true
			case depth == 2 && strings.EqualFold(l.Value, ical.CompTimezone):
				inZone = true
			case depth == 2:
				return ev, false // VTODO, VFREEBUSY, VAVAILABILITY, X-…
			}
		case l.Is("END"):
			if depth == 1 {
				inEvent, inZone = false, false
			}
		case depth != 2:
		case inZone:
			if l.Is(ical.PropTimezoneID) {
				ev.tzids = append(ev.tzids, l.Value)
			}
		case !inEvent:
		case l.Is(ical.PropRecurrenceRule), l.Is(ical.PropRecurrenceDates), l.Is("EXRULE"), l.Is(ical.PropRecurrenceID):
			return ev, false
		case l.Is(ical.PropDateTimeStart):
			if ev.dtstart == nil {
				ev.vals[0] = simpleValue{name: ical.PropDateTimeStart, value: l.Value, tzid: l.Param(ical.ParamTimezoneID), valueType: l.Param(ical.ParamValue)}
				ev.dtstart = &ev.vals[0]
			}
		case l.Is(ical.PropDateTimeEnd):
			if ev.dtend == nil {
				ev.vals[1] = simpleValue{name: ical.PropDateTimeEnd, value: l.Value, tzid: l.Param(ical.ParamTimezoneID), valueType: l.Param(ical.ParamValue)}
				ev.dtend = &ev.vals[1]
			}
		case l.Is(ical.PropDuration):
			if ev.duration == "" {
				ev.duration = l.Value
				if ev.duration == "" {
					return ev, false // present but empty: let recur say what it is
				}
			}
		case l.Is(ical.PropTransparency):
			if !transpSeen {
				transpSeen, ev.transparent = true, strings.EqualFold(strings.TrimSpace(l.Value), "TRANSPARENT")
			}
		case l.Is(ical.PropStatus):
			if !statusSeen {
				statusSeen, ev.status = true, strings.ToUpper(strings.TrimSpace(l.Value))
			}
		case l.Is(ical.PropAttendee):
			if !selfSeen && fb.Self != nil && fb.Self(l.Value) {
				selfSeen = true
				ev.partStat = strings.ToUpper(strings.TrimSpace(l.Param(ical.ParamParticipationStatus)))
			}
		}
	}
	if s.Err() != nil || roots != 1 || events != 1 || ev.dtstart == nil {
		return ev, false
	}
	return ev, true
}

// value parses v as recur.Zones.Time does; ok is false when it cannot,
// or when its TZID names one of the body's own VTIMEZONEs that is not an
// IANA zone (recur would read that VTIMEZONE; z knows none).
func (ev *simpleEvent) value(z *recur.Zones, v *simpleValue) (t time.Time, date, ok bool) {
	if v.tzid != "" && !recur.IsIANA(v.tzid) {
		for _, id := range ev.tzids {
			if id == v.tzid {
				return t, false, false
			}
		}
	}
	p := ical.Prop{Name: v.name, Value: v.value, Params: ical.Params{}}
	if v.tzid != "" {
		p.Params[ical.ParamTimezoneID] = []string{v.tzid}
	}
	if v.valueType != "" {
		p.Params[ical.ParamValue] = []string{v.valueType}
	}
	t, date, err := z.Time(&p)
	return t, date, err == nil
}
