package itip

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/almanac/almanac/engine/recur"
	"github.com/emersion/go-ical"
)

// masterKey is the key of the master component in an object.
const masterKey = ""

// object is one scheduling object: the components of one UID in a
// calendar, keyed by RECURRENCE-ID (the instant in UTC; masterKey for the
// master).
type object struct {
	cal   *ical.Calendar
	kind  string // VEVENT or VTODO
	uid   string
	comps map[string]*ical.Component
	keys  []string // document order, master first when there is one
	zones *recur.Zones

	opts Options // the caller's, with defaults

	sigs  map[string][]string              // canonical of each component, computed once
	clean map[string]*ical.Component       // cleanComp of each component, made once
	atts  map[string]map[string]*ical.Prop // ATTENDEE by normalized address, per component
}

// parseObject reads the scheduling object of cal; nil for a nil cal or
// one without VEVENT or VTODO.
func parseObject(cal *ical.Calendar, opts Options) (*object, error) {
	if cal == nil || cal.Component == nil {
		return nil, nil
	}
	o := &object{cal: cal, comps: map[string]*ical.Component{}, zones: recur.NewZones(cal, opts.Floating), opts: opts}
	for _, c := range cal.Children {
		if c.Name != ical.CompEvent && c.Name != ical.CompToDo {
			continue
		}
		if o.kind == "" {
			o.kind = c.Name
		} else if c.Name != o.kind {
			return nil, fmt.Errorf("%w: both %s and %s", ErrInvalidMessage, o.kind, c.Name)
		}
		uid := propValue(c, ical.PropUID)
		if len(o.keys) == 0 {
			o.uid = uid
		} else if uid != o.uid {
			return nil, fmt.Errorf("%w: more than one UID", ErrInvalidMessage)
		}
		k, err := o.key(c)
		if err != nil {
			return nil, err
		}
		if _, dup := o.comps[k]; dup {
			return nil, fmt.Errorf("%w: two components with RECURRENCE-ID %q", ErrInvalidMessage, k)
		}
		o.comps[k] = c
		o.keys = append(o.keys, k)
	}
	if o.kind == "" {
		return nil, nil
	}
	if o.uid == "" {
		return nil, fmt.Errorf("%w: a component without UID", ErrInvalidMessage)
	}
	if i := slices.Index(o.keys, masterKey); i > 0 {
		o.keys = append(append([]string{masterKey}, o.keys[:i]...), o.keys[i+1:]...)
	}
	return o, nil
}

// key returns the key of a component: its RECURRENCE-ID as an instant in
// UTC, or masterKey.
func (o *object) key(c *ical.Component) (string, error) {
	p := c.Props.Get(ical.PropRecurrenceID)
	if p == nil {
		return masterKey, nil
	}
	t, err := o.time(p)
	if err != nil {
		return "", err
	}
	return ridKey(t), nil
}

const keyLayout = "20060102T150405Z"

func ridKey(t time.Time) string { return t.UTC().Format(keyLayout) }

// keyTime is the instant of an override's key.
func keyTime(k string) time.Time {
	t, _ := time.Parse(keyLayout, k)
	return t
}

func (o *object) time(p *ical.Prop) (time.Time, error) {
	t, _, err := o.zones.Time(p)
	if err != nil {
		return time.Time{}, fmt.Errorf("%w: %s: %v", ErrInvalidMessage, p.Name, err)
	}
	return t, nil
}

func (o *object) master() *ical.Component { return o.comps[masterKey] }

// overrideKeys returns the keys of the RECURRENCE-ID components.
func (o *object) overrideKeys() []string {
	var out []string
	for _, k := range o.keys {
		if k != masterKey {
			out = append(out, k)
		}
	}
	return out
}

// organizer returns the normalized ORGANIZER shared by every component,
// "" when none has one.
//
// Errors: ErrSameOrganizer.
func (o *object) organizer() (string, error) {
	org := ""
	for _, k := range o.keys {
		p := o.comps[k].Props.Get(ical.PropOrganizer)
		if p == nil {
			continue
		}
		a := NormalizeAddress(p.Value)
		if a == "" {
			return "", precondition(ErrValidOrganizer, "ORGANIZER without address")
		}
		if org != "" && a != org {
			return "", precondition(ErrSameOrganizer, "%s and %s", org, a)
		}
		org = a
	}
	return org, nil
}

// attendees returns every attendee address of the object, normalized, in
// order of first appearance; an ATTENDEE without address is no one.
func (o *object) attendees() []string {
	var out []string
	seen := map[string]bool{}
	for _, k := range o.keys {
		for _, p := range o.comps[k].Props.Values(ical.PropAttendee) {
			a := NormalizeAddress(p.Value)
			if a != "" && !seen[a] {
				seen[a] = true
				out = append(out, a)
			}
		}
	}
	return out
}

// attendee returns the ATTENDEE property of addr in the component k, nil
// when it does not list addr. The components' attendees are indexed once.
func (o *object) attendee(k, addr string) *ical.Prop {
	idx, ok := o.atts[k]
	if !ok {
		if o.atts == nil {
			o.atts = map[string]map[string]*ical.Prop{}
		}
		idx = map[string]*ical.Prop{}
		props := o.comps[k].Props[ical.PropAttendee]
		for i := range props {
			a := NormalizeAddress(props[i].Value)
			if _, dup := idx[a]; !dup && a != "" {
				idx[a] = &props[i]
			}
		}
		o.atts[k] = idx
	}
	return idx[addr]
}

// attendeeProp returns the ATTENDEE property of addr in c, nil when c does
// not list addr.
func attendeeProp(c *ical.Component, addr string) *ical.Prop {
	if addr == "" {
		return nil
	}
	props := c.Props[ical.PropAttendee]
	for i := range props {
		if NormalizeAddress(props[i].Value) == addr {
			return &props[i]
		}
	}
	return nil
}

// isInstance reports whether t is an occurrence of the master's
// recurrence set (RRULE, RDATE, EXDATE; overrides aside).
func (o *object) isInstance(t time.Time, opts Options) (bool, error) {
	m := o.master()
	if m == nil || (m.Props.Get(ical.PropRecurrenceRule) == nil && m.Props.Get(ical.PropRecurrenceDates) == nil) {
		return false, nil
	}
	ins, err := o.occurrences(m, t.Add(-time.Second), t.Add(time.Second), opts)
	if err != nil {
		return false, err
	}
	for _, in := range ins {
		if in.RecurrenceID.Equal(t) {
			return true, nil
		}
	}
	return false, nil
}

// occurrences expands master m alone (no overrides) over [start, end),
// bounded by opts.MaxInstances.
func (o *object) occurrences(m *ical.Component, start, end time.Time, opts Options) ([]recur.Instance, error) {
	tmp := &ical.Calendar{Component: &ical.Component{Name: ical.CompCalendar, Props: ical.Props{}}}
	for _, c := range o.cal.Children {
		if c.Name == ical.CompTimezone {
			tmp.Children = append(tmp.Children, c)
		}
	}
	tmp.Children = append(tmp.Children, m)
	ins, err := recur.Expand(context.Background(), tmp, o.kind, start, end,
		recur.Options{Floating: opts.Floating, MaxInstances: opts.MaxInstances, MaxIterations: 20 * opts.MaxInstances})
	if err != nil {
		return nil, fmt.Errorf("itip: instances of %s: %w", o.uid, err)
	}
	return ins, nil
}

// truncate ends the recurrence of master copy c before t: an UNTIL before
// t on an RRULE without COUNT, and an EXDATE for each occurrence left at
// or after t (those of a COUNT, RDATEs). The copy is left as it was when
// its occurrences cannot be computed.
func (o *object) truncate(c *ical.Component, t time.Time, opts Options) {
	ds := c.Props.Get(ical.PropDateTimeStart)
	if ds == nil {
		return
	}
	work := cloneComp(c)
	if rr := work.Props.Get(ical.PropRecurrenceRule); rr != nil && !strings.Contains(strings.ToUpper(rr.Value), "COUNT=") {
		var parts []string
		for _, part := range strings.Split(rr.Value, ";") {
			if !strings.HasPrefix(strings.ToUpper(part), "UNTIL=") {
				parts = append(parts, part)
			}
		}
		var until string
		switch v := o.timeProp(ical.PropDateTimeStart, ds, t.Add(-time.Second)); {
		case len(v.Value) == 8, strings.HasSuffix(v.Value, "Z") || v.Params.Get(ical.ParamTimezoneID) == "":
			until = v.Value // a DATE, a UTC or a floating time: UNTIL in the same form
		default:
			until = t.Add(-time.Second).UTC().Format(keyLayout) // RFC 5545 §3.3.10: UTC with a TZID
		}
		rr.Value = strings.Join(append(parts, "UNTIL="+until), ";")
		if old := c.Props.Get(ical.PropRecurrenceRule); old != nil && untilBefore(old.Value, t) {
			work.Props.Set(old) // an earlier UNTIL stays
		}
	}
	ins, err := o.occurrences(work, t, time.Time{}, opts)
	if err != nil {
		return
	}
	for _, in := range ins {
		if !in.RecurrenceID.Before(t) {
			work.Props.Add(o.timeProp(ical.PropExceptionDates, ds, in.RecurrenceID))
		}
	}
	*c = *work
}

// untilBefore reports whether the RRULE value rule has an UNTIL before t.
func untilBefore(rule string, t time.Time) bool {
	for _, part := range strings.Split(rule, ";") {
		name, v, _ := strings.Cut(part, "=")
		if !strings.EqualFold(name, "UNTIL") {
			continue
		}
		for _, layout := range []string{"20060102T150405Z", "20060102T150405", "20060102"} {
			if u, err := time.Parse(layout, v); err == nil {
				return u.Before(t.Add(-14 * time.Hour)) // floating values: the widest offset
			}
		}
	}
	return false
}

// instance returns the component of the instance key: the override, or
// one derived from the master when key is one of its occurrences; nil
// when the object has no such instance.
func (o *object) instance(key string, opts Options) (*ical.Component, bool, error) {
	if c := o.comps[key]; c != nil {
		return c, false, nil
	}
	if key == masterKey {
		return nil, false, nil
	}
	t := keyTime(key)
	ok, err := o.isInstance(t, opts)
	if err != nil || !ok {
		return nil, false, err
	}
	c, err := o.derive(t)
	return c, true, err
}

// derive makes the override of the master's occurrence at t: the master's
// properties without RRULE, RDATE and EXDATE, DTSTART at t and
// RECURRENCE-ID t in DTSTART's form, DTEND or DUE moved with it.
func (o *object) derive(t time.Time) (*ical.Component, error) {
	m := o.master()
	c := cloneComp(m)
	for _, name := range []string{ical.PropRecurrenceRule, ical.PropRecurrenceDates, ical.PropExceptionDates} {
		c.Props.Del(name)
	}
	ds := m.Props.Get(ical.PropDateTimeStart)
	if ds == nil {
		return nil, fmt.Errorf("%w: a recurring component without DTSTART", ErrInvalidMessage)
	}
	start, err := o.time(ds)
	if err != nil {
		return nil, err
	}
	rid := o.timeProp(ical.PropRecurrenceID, ds, t)
	c.Props.Set(rid)
	c.Props.Set(o.timeProp(ical.PropDateTimeStart, ds, t))
	for _, name := range []string{ical.PropDateTimeEnd, ical.PropDue} {
		if p := m.Props.Get(name); p != nil {
			end, err := o.time(p)
			if err != nil {
				return nil, err
			}
			c.Props.Set(o.timeProp(name, p, t.Add(end.Sub(start))))
		}
	}
	return c, nil
}

// timeProp returns a property named name holding t in the form of like:
// a DATE, a UTC time, a floating time or a time in like's TZID.
func (o *object) timeProp(name string, like *ical.Prop, t time.Time) *ical.Prop {
	p := &ical.Prop{Name: name, Params: ical.Params{}}
	for k, v := range like.Params {
		if k == ical.ParamValue || k == ical.ParamTimezoneID {
			p.Params[k] = slices.Clone(v)
		}
	}
	v := strings.TrimSpace(like.Value)
	switch {
	case strings.EqualFold(like.Params.Get(ical.ParamValue), "DATE") || len(v) == 8:
		p.Value = t.In(o.zones.FloatingLocation()).Format("20060102")
	case strings.HasSuffix(v, "Z"):
		p.Value = t.UTC().Format("20060102T150405Z")
	default:
		loc := o.zones.FloatingLocation()
		if tzid := like.Params.Get(ical.ParamTimezoneID); tzid != "" {
			if l, ok := o.zones.Location(tzid); ok {
				loc = l
			}
		}
		p.Value = t.In(loc).Format("20060102T150405")
	}
	return p
}

func propValue(c *ical.Component, name string) string {
	if p := c.Props.Get(name); p != nil {
		return p.Value
	}
	return ""
}

func cloneComp(c *ical.Component) *ical.Component {
	out := &ical.Component{Name: c.Name, Props: make(ical.Props, len(c.Props))}
	for name, props := range c.Props {
		cp := make([]ical.Prop, len(props))
		for i, p := range props {
			cp[i] = cloneProp(p)
		}
		out.Props[name] = cp
	}
	for _, ch := range c.Children {
		out.Children = append(out.Children, cloneComp(ch))
	}
	return out
}

func cloneProp(p ical.Prop) ical.Prop {
	params := make(ical.Params, len(p.Params))
	for k, v := range p.Params {
		params[k] = slices.Clone(v)
	}
	return ical.Prop{Name: p.Name, Params: params, Value: p.Value}
}
