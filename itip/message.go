package itip

import (
	"slices"

	"github.com/emersion/go-ical"
)

// newMessage builds a message holding comps (which it owns), stamped with
// opts.Now, and the VTIMEZONEs of src they use.
func newMessage(method Method, recipient, originator string, src *ical.Calendar, comps []*ical.Component, opts Options) Message {
	cal := ical.NewCalendar()
	cal.Props.SetText(ical.PropProductID, opts.ProdID)
	cal.Props.SetText(ical.PropVersion, "2.0")
	cal.Props.SetText(ical.PropMethod, string(method))
	cal.Children = append(cal.Children, timezones(src, comps)...)
	stamp := opts.Now.UTC().Format("20060102T150405Z")
	for _, c := range comps {
		c.Props.Set(&ical.Prop{Name: ical.PropDateTimeStamp, Params: ical.Params{}, Value: stamp})
		cal.Children = append(cal.Children, c)
	}
	return Message{Method: method, Recipient: recipient, Originator: originator, Calendar: cal}
}

// timezones returns copies of the VTIMEZONEs of src that comps name in a
// TZID parameter.
func timezones(src *ical.Calendar, comps []*ical.Component) []*ical.Component {
	if src == nil {
		return nil
	}
	var used []string
	var walk func(c *ical.Component)
	walk = func(c *ical.Component) {
		for _, props := range c.Props {
			for _, p := range props {
				if tz := p.Params.Get(ical.ParamTimezoneID); tz != "" && !slices.Contains(used, tz) {
					used = append(used, tz)
				}
			}
		}
		for _, ch := range c.Children {
			walk(ch)
		}
	}
	for _, c := range comps {
		walk(c)
	}
	var out []*ical.Component
	for _, c := range src.Children {
		if c.Name == ical.CompTimezone && slices.Contains(used, propValue(c, ical.PropTimezoneID)) {
			out = append(out, cloneComp(c))
		}
	}
	return out
}

// cancelComp returns the CANCEL component of c for addr: what identifies
// the instance and tells the attendee what is cancelled.
func cancelComp(c *ical.Component, addr string) *ical.Component {
	out := identity(c)
	if p := attendeeProp(c, addr); p != nil {
		cp := cloneProp(*p)
		out.Props.Add(&cp)
	}
	stripScheduleParams(out)
	out.Props.Set(&ical.Prop{Name: ical.PropStatus, Params: ical.Params{}, Value: "CANCELLED"})
	return out
}

// identity returns a component with what identifies instance c and tells
// its recipient which it is: UID, RECURRENCE-ID, SEQUENCE, the times,
// SUMMARY and ORGANIZER.
func identity(c *ical.Component) *ical.Component {
	out := ical.NewComponent(c.Name)
	for _, name := range []string{ical.PropUID, ical.PropRecurrenceID, ical.PropSequence, ical.PropDateTimeStart,
		ical.PropDateTimeEnd, ical.PropDuration, ical.PropDue, ical.PropSummary, ical.PropOrganizer} {
		for _, p := range c.Props[name] {
			cp := cloneProp(p)
			out.Props.Add(&cp)
		}
	}
	return out
}
