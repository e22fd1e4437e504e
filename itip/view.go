package itip

import (
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/emersion/go-ical"
)

// A view is what one attendee receives of an object: the components that
// list them, the master with an EXDATE for each override that does not.
// Components are copied and cleaned only for a message (comp, comps).
type view struct {
	o    *object
	addr string
	keys []string // the object's components addr gets, in object order
	// excluded are the overrides the master's copy excludes, when onMaster.
	excluded []string
	onMaster bool
}

func (v *view) empty() bool { return v == nil || len(v.keys) == 0 }

func (v *view) has(k string) bool { return v != nil && slices.Contains(v.keys, k) }

// view returns the components of o that concern addr: the master when it
// lists addr, with an EXDATE for each override that does not, and the
// overrides that list addr. nil when addr has none.
//
// An override with RANGE=THISANDFUTURE that leaves addr out ends addr's
// copy of the master before it (UNTIL, or EXDATEs for a COUNT and RDATEs).
func (o *object) view(addr string) *view {
	if o == nil {
		return nil
	}
	v := &view{o: o, addr: addr}
	if m := o.master(); m != nil && o.attendee(masterKey, addr) != nil {
		v.keys = append(v.keys, masterKey)
		v.onMaster = true
	}
	for _, k := range o.overrideKeys() {
		switch {
		case o.attendee(k, addr) != nil:
			v.keys = append(v.keys, k)
		case v.onMaster:
			v.excluded = append(v.excluded, k)
		}
	}
	if len(v.keys) == 0 {
		return nil
	}
	return v
}

// comp returns a copy of the component k of the view, cleaned for a
// message (cleanComp), the master with its EXDATEs. The copies of one
// object's views share their property values (shallow): they are only
// read, and changed by replacing whole properties (Props.Set, Add).
func (v *view) comp(k string) *ical.Component {
	c := shallow(v.o.cleaned(k))
	if k != masterKey {
		return c
	}
	var end time.Time // the earliest THISANDFUTURE override leaving addr out
	for _, x := range v.excluded {
		rid := v.o.comps[x].Props.Get(ical.PropRecurrenceID)
		if strings.EqualFold(rid.Params.Get(ical.ParamRange), "THISANDFUTURE") {
			if t := keyTime(x); end.IsZero() || t.Before(end) {
				end = t
			}
			continue
		}
		ex := cloneProp(*rid)
		ex.Name = ical.PropExceptionDates
		ex.Params.Del(ical.ParamRange)
		c.Props.Add(&ex)
	}
	if !end.IsZero() {
		v.o.truncate(c, end, v.o.opts)
	}
	return c
}

// comps returns comp of every key of the view.
func (v *view) comps() []*ical.Component {
	out := make([]*ical.Component, 0, len(v.keys))
	for _, k := range v.keys {
		out = append(out, v.comp(k))
	}
	return out
}

// cleaned returns cleanComp of the component k, made once.
func (o *object) cleaned(k string) *ical.Component {
	if c, ok := o.clean[k]; ok {
		return c
	}
	if o.clean == nil {
		o.clean = map[string]*ical.Component{}
	}
	c := cleanComp(o.comps[k])
	o.clean[k] = c
	return c
}

// shallow returns a copy of c that shares its properties' values but not
// its property lists: Props.Set and Props.Add on it leave c alone.
func shallow(c *ical.Component) *ical.Component {
	out := &ical.Component{Name: c.Name, Props: make(ical.Props, len(c.Props)), Children: slices.Clone(c.Children)}
	for name, props := range c.Props {
		out.Props[name] = props[:len(props):len(props)]
	}
	return out
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

// Parameters of ATTENDEE whose changes matter only to that attendee.
var ownParams = []string{ical.ParamParticipationStatus, ical.ParamRSVP}

// canonical returns c's significant content as sorted lines: properties
// but those in insignificantProps and X- ones, parameters sorted, EXDATE
// and RDATE one value a line (but those drop reports), attendees without
// PARTSTAT and RSVP, and no SCHEDULE-* parameters. Alarms are not part of
// it.
func canonical(c *ical.Component, drop func(p ical.Prop, v string) bool) []string {
	var lines []string
	for name, props := range c.Props {
		if insignificantProps[name] || strings.HasPrefix(name, "X-") {
			continue
		}
		for _, p := range props {
			var params []string
			for k, vs := range p.Params {
				if slices.Contains(scheduleParams, k) || (name == ical.PropAttendee && slices.Contains(ownParams, k)) {
					continue
				}
				params = append(params, k+"="+strings.Join(vs, ","))
			}
			sort.Strings(params)
			head := name + ";" + strings.Join(params, ";") + ":"
			switch name {
			case ical.PropExceptionDates, ical.PropRecurrenceDates:
				for _, v := range strings.Split(p.Value, ",") {
					if drop == nil || !drop(p, v) {
						lines = append(lines, head+v)
					}
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

// sig returns canonical of the component k, computed once.
func (o *object) sig(k string) []string {
	if s, ok := o.sigs[k]; ok {
		return s
	}
	if o.sigs == nil {
		o.sigs = map[string][]string{}
	}
	s := canonical(o.comps[k], nil)
	o.sigs[k] = s
	return s
}

// ownStatus returns addr's PARTSTAT on the component k, NEEDS-ACTION when
// it has none.
func (o *object) ownStatus(k, addr string) string {
	p := o.attendee(k, addr)
	if p == nil {
		return ""
	}
	if ps := strings.ToUpper(p.Params.Get(ical.ParamParticipationStatus)); ps != "" {
		return ps
	}
	return "NEEDS-ACTION"
}

// significant reports whether addr's view changed from old to new in a
// way that matters to them: other instances, other content, or another
// PARTSTAT of their own. The instances in trim are taken out of new
// first: values of new's master property trimProp (EXDATE or RDATE), and
// for EXDATE exclusions of overrides.
func significant(old, new *view, trimProp string, trim []string) bool {
	if old.empty() != new.empty() {
		return true
	}
	if old.empty() {
		return false
	}
	excluded := new.excluded
	if len(trim) > 0 && trimProp == ical.PropExceptionDates {
		excluded = slices.DeleteFunc(slices.Clone(excluded), func(k string) bool { return slices.Contains(trim, k) })
	}
	if !slices.Equal(old.keys, new.keys) || !slices.Equal(old.excluded, excluded) {
		return true
	}
	for _, k := range new.keys {
		ns := new.o.sig(k)
		if k == masterKey && len(trim) > 0 {
			ns = canonical(new.o.comps[k], func(p ical.Prop, v string) bool {
				if p.Name != trimProp {
					return false
				}
				x, err := new.o.valueKey(p, v)
				return err == nil && slices.Contains(trim, x)
			})
		}
		if !slices.Equal(old.o.sig(k), ns) || old.o.ownStatus(k, old.addr) != new.o.ownStatus(k, new.addr) {
			return true
		}
	}
	return false
}
