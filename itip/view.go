package itip

import (
	"slices"
	"sort"
	"strings"

	"github.com/emersion/go-ical"
)

// A view is what one attendee receives of an object: keyed components,
// cleaned for a message.
type view struct {
	keys  []string
	comps map[string]*ical.Component
	// onMaster is set when the attendee is listed on the master.
	onMaster bool
}

func (v *view) empty() bool { return v == nil || len(v.keys) == 0 }

// view returns the components of o that concern addr: the master when it
// lists addr, with an EXDATE for each override that does not, and the
// overrides that list addr. nil when addr has none.
//
// An override with RANGE=THISANDFUTURE that leaves addr out is only
// excluded at its own RECURRENCE-ID: the later instances stay in addr's
// view of the master.
func (o *object) view(addr string) *view {
	if o == nil {
		return nil
	}
	v := &view{comps: map[string]*ical.Component{}}
	m := o.master()
	if m != nil && attendeeProp(m, addr) != nil {
		c := cleanComp(m)
		for _, k := range o.overrideKeys() {
			ov := o.comps[k]
			if attendeeProp(ov, addr) != nil {
				continue
			}
			ex := cloneProp(*ov.Props.Get(ical.PropRecurrenceID))
			ex.Name = ical.PropExceptionDates
			ex.Params.Del(ical.ParamRange)
			c.Props.Add(&ex)
		}
		v.keys = append(v.keys, masterKey)
		v.comps[masterKey] = c
		v.onMaster = true
	}
	for _, k := range o.overrideKeys() {
		if ov := o.comps[k]; attendeeProp(ov, addr) != nil {
			v.keys = append(v.keys, k)
			v.comps[k] = cleanComp(ov)
		}
	}
	if len(v.keys) == 0 {
		return nil
	}
	return v
}

// The SCHEDULE-* parameters a message never carries (RFC 6638 §7).
var scheduleParams = []string{"SCHEDULE-AGENT", "SCHEDULE-FORCE-SEND", "SCHEDULE-STATUS"}

// cleanComp returns a copy of c fit for a message: no VALARM, no
// SCHEDULE-* parameters on ORGANIZER and ATTENDEE, and PARTSTAT
// NEEDS-ACTION on attendees that have none (iOS shows an invitation only
// then).
func cleanComp(c *ical.Component) *ical.Component {
	out := cloneComp(c)
	out.Children = slices.DeleteFunc(out.Children, func(ch *ical.Component) bool { return ch.Name == ical.CompAlarm })
	stripScheduleParams(out)
	for i := range out.Props[ical.PropAttendee] {
		p := &out.Props[ical.PropAttendee][i]
		if p.Params.Get(ical.ParamParticipationStatus) == "" {
			p.Params.Set(ical.ParamParticipationStatus, "NEEDS-ACTION")
		}
	}
	return out
}

func stripScheduleParams(c *ical.Component) {
	for _, name := range []string{ical.PropOrganizer, ical.PropAttendee} {
		for i := range c.Props[name] {
			for _, prm := range scheduleParams {
				c.Props[name][i].Params.Del(prm)
			}
		}
	}
}

// Properties whose changes never matter to an attendee.
var insignificantProps = map[string]bool{
	ical.PropDateTimeStamp: true, ical.PropSequence: true, ical.PropLastModified: true,
	ical.PropCreated: true, ical.PropTransparency: true, ical.PropRequestStatus: true,
}

// canonical returns c's significant content for addr as sorted lines:
// properties but those in insignificantProps and X- ones, parameters
// sorted, EXDATE and RDATE one value a line, the other attendees without
// PARTSTAT and RSVP, and no SCHEDULE-* parameters.
func canonical(c *ical.Component, addr string) []string {
	var lines []string
	for name, props := range c.Props {
		if insignificantProps[name] || strings.HasPrefix(name, "X-") {
			continue
		}
		for _, p := range props {
			skip := scheduleParams
			if name == ical.PropAttendee && NormalizeAddress(p.Value) != addr {
				skip = append(slices.Clone(scheduleParams), ical.ParamParticipationStatus, ical.ParamRSVP)
			}
			var params []string
			for k, vs := range p.Params {
				if slices.Contains(skip, k) {
					continue
				}
				params = append(params, k+"="+strings.Join(vs, ","))
			}
			sort.Strings(params)
			head := name + ";" + strings.Join(params, ";") + ":"
			switch name {
			case ical.PropExceptionDates, ical.PropRecurrenceDates:
				for _, v := range strings.Split(p.Value, ",") {
					lines = append(lines, head+v)
				}
			case ical.PropAttendee, ical.PropOrganizer:
				lines = append(lines, head+NormalizeAddress(p.Value))
			default:
				lines = append(lines, head+p.Value)
			}
		}
	}
	sort.Strings(lines)
	return lines
}

// significant reports whether addr's view changed from old to new in a
// way that matters to them.
func significant(old, new *view, addr string) bool {
	if old.empty() != new.empty() {
		return true
	}
	if old.empty() {
		return false
	}
	if len(old.keys) != len(new.keys) {
		return true
	}
	for _, k := range new.keys {
		oc := old.comps[k]
		if oc == nil || !slices.Equal(canonical(oc, addr), canonical(new.comps[k], addr)) {
			return true
		}
	}
	return false
}
