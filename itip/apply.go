package itip

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/emersion/go-ical"
)

// ApplyToAttendeeCopy returns the copy of attendee (the address the
// message was delivered to) after a REQUEST, ADD or CANCEL message: copy
// nil is an attendee who has no copy yet (a CANCEL or ADD then returns
// nil). copy is not modified. A message older than the copy (a lower
// SEQUENCE on an instance both hold) returns the copy itself.
//
// A REQUEST carries every instance the attendee is invited to: the copy
// becomes the message's components, keeping on each instance the
// attendee's PARTSTAT (unless its time changed), alarms, TRANSP and X-
// properties, and the overrides the attendee made of instances that
// remain. A CANCEL of the whole object sets STATUS:CANCELLED on every
// component (the caller decides whether to keep the copy); a CANCEL of
// instances excludes them from the master (EXDATE) or cancels their
// override. An ADD adds its instances to the master (RDATE).
//
// Errors: ErrInvalidMessage (wrapped) for a message that is not a REQUEST,
// ADD or CANCEL of the copy's UID.
func ApplyToAttendeeCopy(copy, msg *ical.Calendar, attendee string, opts Options) (*ical.Calendar, error) {
	opts = opts.withDefaults()
	a := NormalizeAddress(attendee)
	m, c, method, err := parsePair(copy, msg, opts)
	if err != nil {
		return nil, err
	}
	if c != nil && stale(c, m) {
		return copy, nil
	}
	switch method {
	case MethodRequest:
		return applyRequest(c, m, a, opts)
	case MethodCancel:
		if c == nil {
			return nil, nil
		}
		return applyCancel(c, m), nil
	case MethodAdd:
		if c == nil {
			return nil, nil
		}
		return applyAdd(c, m)
	}
	return nil, fmt.Errorf("%w: METHOD %s to an attendee", ErrInvalidMessage, method)
}

// parsePair parses a recipient's copy and a message for it.
func parsePair(copy, msg *ical.Calendar, opts Options) (m, c *object, method Method, err error) {
	m, err = parseObject(msg, opts)
	if err != nil {
		return nil, nil, "", err
	}
	if m == nil {
		return nil, nil, "", fmt.Errorf("%w: no VEVENT or VTODO", ErrInvalidMessage)
	}
	if p := msg.Props.Get(ical.PropMethod); p != nil {
		method = Method(strings.ToUpper(strings.TrimSpace(p.Value)))
	}
	c, err = parseObject(copy, opts)
	if err != nil {
		return nil, nil, "", err
	}
	if c != nil && c.uid != m.uid {
		return nil, nil, "", fmt.Errorf("%w: UID %q, the copy's is %q", ErrInvalidMessage, m.uid, c.uid)
	}
	return m, c, method, nil
}

// stale reports whether m holds an instance with a lower SEQUENCE than the
// copy's (RFC 5546 §2.1.5).
func stale(c, m *object) bool {
	for _, k := range m.keys {
		if cc := c.comps[k]; cc != nil && sequence(m.comps[k]) < sequence(cc) {
			return true
		}
	}
	return false
}

func sequence(c *ical.Component) int {
	n, _ := strconv.Atoi(strings.TrimSpace(propValue(c, ical.PropSequence)))
	return n
}

// cloneCalendar returns a deep copy of cal's VCALENDAR properties and
// children for which keep is true.
func cloneCalendar(cal *ical.Calendar, keep func(*ical.Component) bool) *ical.Calendar {
	out := ical.NewCalendar()
	for name, props := range cal.Props {
		if name == ical.PropMethod {
			continue
		}
		for _, p := range props {
			cp := cloneProp(p)
			out.Props.Add(&cp)
		}
	}
	for _, ch := range cal.Children {
		if keep == nil || keep(ch) {
			out.Children = append(out.Children, cloneComp(ch))
		}
	}
	return out
}

func applyRequest(c, m *object, a string, opts Options) (*ical.Calendar, error) {
	base := m.cal
	if c != nil {
		base = c.cal
	}
	out := cloneCalendar(base, func(ch *ical.Component) bool { return false })
	var comps []*ical.Component
	for _, k := range m.keys {
		nc := cloneComp(m.comps[k])
		stripScheduleParams(nc)
		if c != nil {
			oc, _, err := c.instance(k, opts)
			if err != nil {
				return nil, err
			}
			if oc != nil {
				keepPrivate(nc, oc, a)
			}
		}
		comps = append(comps, nc)
	}
	// The overrides the attendee made (a declined instance) stay while
	// the instance does.
	if c != nil && m.master() != nil {
		masterPS := ""
		if p := attendeeProp(m.master(), a); p != nil {
			masterPS = p.Params.Get(ical.ParamParticipationStatus)
		}
		for _, k := range c.overrideKeys() {
			if m.comps[k] != nil {
				continue
			}
			nc, derived, err := m.instance(k, opts)
			if err != nil {
				return nil, err
			}
			if nc == nil || !derived {
				continue
			}
			keepPrivate(nc, c.comps[k], a)
			if p := attendeeProp(nc, a); p != nil && p.Params.Get(ical.ParamParticipationStatus) != masterPS {
				comps = append(comps, nc)
			}
		}
	}
	out.Children = append(out.Children, timezones(m.cal, comps)...)
	if c != nil {
		have := map[string]bool{}
		for _, tz := range out.Children {
			have[propValue(tz, ical.PropTimezoneID)] = true
		}
		for _, tz := range timezones(c.cal, comps) {
			if !have[propValue(tz, ical.PropTimezoneID)] {
				out.Children = append(out.Children, tz)
			}
		}
	}
	out.Children = append(out.Children, comps...)
	return out, nil
}

// Properties that fix when an instance happens.
var timingProps = []string{ical.PropDateTimeStart, ical.PropDateTimeEnd, ical.PropDuration, ical.PropDue,
	ical.PropRecurrenceRule, ical.PropRecurrenceDates}

// keepPrivate carries what belongs to attendee a from their old instance
// oc to the new one nc: the alarms, TRANSP, X- properties nc lacks, and
// a's PARTSTAT and RSVP when the instance's time did not change.
func keepPrivate(nc, oc *ical.Component, a string) {
	nc.Children = slices.DeleteFunc(nc.Children, func(ch *ical.Component) bool { return ch.Name == ical.CompAlarm })
	for _, ch := range oc.Children {
		if ch.Name == ical.CompAlarm {
			nc.Children = append(nc.Children, cloneComp(ch))
		}
	}
	for name, props := range oc.Props {
		if (name == ical.PropTransparency || strings.HasPrefix(name, "X-")) && nc.Props[name] == nil {
			for _, p := range props {
				cp := cloneProp(p)
				nc.Props.Add(&cp)
			}
		}
	}
	np, op := attendeeProp(nc, a), attendeeProp(oc, a)
	if np == nil || op == nil || !sameTiming(nc, oc) {
		return
	}
	copyOwnParams(np, op)
}

// copyOwnParams sets the attendee's own parameters (PARTSTAT, RSVP) of
// dst to those of src, removing those src lacks.
func copyOwnParams(dst, src *ical.Prop) {
	for _, prm := range ownParams {
		if v := src.Params.Values(prm); len(v) > 0 {
			dst.Params[prm] = slices.Clone(v)
		} else {
			dst.Params.Del(prm)
		}
	}
}

func sameTiming(x, y *ical.Component) bool {
	for _, name := range timingProps {
		if !slices.Equal(canonicalProps(x, name), canonicalProps(y, name)) {
			return false
		}
	}
	return true
}

// canonicalProps returns the values of the properties name of c with
// their parameters, sorted.
func canonicalProps(c *ical.Component, name string) []string {
	var out []string
	for _, p := range c.Props[name] {
		var params []string
		for k, vs := range p.Params {
			params = append(params, k+"="+strings.Join(vs, ","))
		}
		slices.Sort(params)
		out = append(out, strings.Join(params, ";")+":"+p.Value)
	}
	slices.Sort(out)
	return out
}

func applyCancel(c, m *object) *ical.Calendar {
	out := cloneCalendar(c.cal, nil)
	o := &object{cal: out, kind: c.kind, uid: c.uid, comps: map[string]*ical.Component{}, keys: c.keys, zones: c.zones}
	for _, ch := range out.Children {
		if ch.Name == c.kind {
			k, _ := o.key(ch)
			o.comps[k] = ch
		}
	}
	setCancelled := func(comp *ical.Component, seq string) {
		comp.Props.Set(&ical.Prop{Name: ical.PropStatus, Params: ical.Params{}, Value: "CANCELLED"})
		if seq != "" {
			comp.Props.Set(&ical.Prop{Name: ical.PropSequence, Params: ical.Params{}, Value: seq})
		}
	}
	if mc := m.master(); mc != nil {
		for _, comp := range o.comps {
			setCancelled(comp, propValue(mc, ical.PropSequence))
		}
		return out
	}
	master := o.master()
	recurs := master != nil && (master.Props.Get(ical.PropRecurrenceRule) != nil || master.Props.Get(ical.PropRecurrenceDates) != nil)
	for _, k := range m.overrideKeys() {
		rid := m.comps[k].Props.Get(ical.PropRecurrenceID)
		if recurs {
			ex := cloneProp(*rid)
			ex.Name = ical.PropExceptionDates
			ex.Params.Del(ical.ParamRange)
			master.Props.Add(&ex)
			if ov := o.comps[k]; ov != nil {
				out.Children = slices.DeleteFunc(out.Children, func(ch *ical.Component) bool { return ch == ov })
			}
		} else if ov := o.comps[k]; ov != nil {
			setCancelled(ov, propValue(m.comps[k], ical.PropSequence))
		}
	}
	return out
}

func applyAdd(c, m *object) (*ical.Calendar, error) {
	out := cloneCalendar(c.cal, nil)
	var master *ical.Component
	for _, ch := range out.Children {
		if ch.Name == c.kind && ch.Props.Get(ical.PropRecurrenceID) == nil {
			master = ch
		}
	}
	if master == nil {
		return nil, fmt.Errorf("%w: ADD to a copy without a master", ErrInvalidMessage)
	}
	var added []*ical.Component
	for _, k := range m.keys {
		mc := m.comps[k]
		ds := mc.Props.Get(ical.PropDateTimeStart)
		if ds == nil {
			return nil, fmt.Errorf("%w: ADD without DTSTART", ErrInvalidMessage)
		}
		rd := cloneProp(*ds)
		rd.Name = ical.PropRecurrenceDates
		master.Props.Add(&rd)
		ov := cloneComp(mc)
		stripScheduleParams(ov)
		rid := cloneProp(*ds)
		rid.Name = ical.PropRecurrenceID
		ov.Props.Set(&rid)
		added = append(added, ov)
		if seq := propValue(mc, ical.PropSequence); seq != "" {
			master.Props.Set(&ical.Prop{Name: ical.PropSequence, Params: ical.Params{}, Value: seq})
		}
	}
	out.Children = append(out.Children, added...)
	return out, nil
}
