package itip

import (
	"slices"
	"strings"

	"github.com/emersion/go-ical"
)

// AttendeeChange returns the REPLY an attendee's change of their copy
// sends to the organizer, or nil when there is nothing to reply: old nil
// is a copy the attendee made, new nil a deletion (DECLINED for every
// instance not declined yet). attendee is the address the attendee acts
// as. Nothing answers an object the organizer cancelled (STATUS:CANCELLED). An instance the attendee's change removed with a new EXDATE on the
// master is DECLINED too.
//
// Errors: ErrNotAttendee when attendee is on neither copy,
// ErrAttendeeChange when the UID or the ORGANIZER changed,
// ErrSameOrganizer, ErrInvalidMessage (wrapped) for malformed components.
func AttendeeChange(old, new *ical.Calendar, attendee string, opts Options) (*Message, error) {
	opts = opts.withDefaults()
	a := NormalizeAddress(attendee)
	oldObj, newObj, oldOrg, newOrg, err := parseChange(old, new, opts)
	if err != nil {
		return nil, err
	}
	if oldObj != nil && newObj != nil {
		if oldObj.uid != newObj.uid {
			return nil, precondition(ErrAttendeeChange, "UID changed")
		}
		if oldOrg != newOrg {
			return nil, precondition(ErrAttendeeChange, "ORGANIZER changed from %q to %q", oldOrg, newOrg)
		}
	}
	cur := newObj
	if cur == nil {
		cur = oldObj
	}
	org := newOrg
	if org == "" {
		org = oldOrg
	}
	if cur == nil || org == "" || org == a {
		return nil, nil
	}
	if oldObj.view(a) == nil && newObj.view(a) == nil {
		return nil, ErrNotAttendee
	}
	if m := cur.master(); m != nil && strings.EqualFold(propValue(m, ical.PropStatus), "CANCELLED") {
		return nil, nil // the organizer cancelled it: nothing to answer
	}
	var orgProp *ical.Prop // there is one: org is not ""
	for _, k := range cur.keys {
		if orgProp = cur.comps[k].Props.Get(ical.PropOrganizer); orgProp != nil {
			break
		}
	}
	if agent := orgProp.Params.Get("SCHEDULE-AGENT"); agent != "" && !strings.EqualFold(agent, "SERVER") {
		return nil, nil
	}
	force := strings.EqualFold(orgProp.Params.Get("SCHEDULE-FORCE-SEND"), "REPLY")

	// The instances whose PARTSTAT may have changed.
	var keys []string
	for _, obj := range []*object{newObj, oldObj} {
		if obj == nil {
			continue
		}
		for _, k := range obj.keys {
			if !slices.Contains(keys, k) {
				keys = append(keys, k)
			}
		}
	}
	var comps []*ical.Component
	for _, k := range keys {
		oldPS, _, err := oldObj.partstat(k, a, opts)
		if err != nil {
			return nil, err
		}
		if oldObj != nil && oldPS == "" {
			continue // not an instance a was invited to
		}
		var newPS string
		var src *ical.Component
		if newObj != nil {
			newPS, src, err = newObj.partstat(k, a, opts)
			if err != nil {
				return nil, err
			}
		} else if oldPS != "" && oldPS != "DECLINED" {
			newPS, src = "DECLINED", oldObj.comps[k]
		}
		if src == nil || newPS == "" || (newPS == oldPS && !force) {
			continue
		}
		comps = append(comps, replyComp(src, a, newPS))
	}
	// Instances the attendee removed with an EXDATE: declined.
	if oldObj != nil && newObj != nil && oldObj.master() != nil && newObj.master() != nil {
		if ps, _, _ := newObj.partstat(masterKey, a, opts); ps != "" && ps != "DECLINED" {
			oldEx, err := oldObj.exdates(oldObj.master())
			if err != nil {
				return nil, err
			}
			newEx, err := newObj.exdates(newObj.master())
			if err != nil {
				return nil, err
			}
			var added []string
			for k := range newEx {
				if !oldEx[k] && newObj.comps[k] == nil {
					added = append(added, k)
				}
			}
			slices.Sort(added)
			for _, k := range added {
				ps, src, err := oldObj.partstat(k, a, opts)
				if err != nil {
					return nil, err
				}
				if ps != "" && ps != "DECLINED" { // an instance a was invited to
					comps = append(comps, replyComp(src, a, "DECLINED"))
				}
			}
		}
	}
	if len(comps) == 0 {
		return nil, nil
	}
	m := newMessage(MethodReply, org, a, cur.cal, comps, opts)
	return &m, nil
}

// partstat returns a's PARTSTAT on the instance key of o, and the
// component it is read from: the override, or the master for an instance
// it lists a on. "" when o is nil or a is not invited to the instance.
func (o *object) partstat(key, a string, opts Options) (string, *ical.Component, error) {
	if o == nil {
		return "", nil, nil
	}
	c, _, err := o.instance(key, opts)
	if err != nil || c == nil {
		return "", nil, err
	}
	p := attendeeProp(c, a)
	if p == nil {
		return "", nil, nil
	}
	ps := strings.ToUpper(p.Params.Get(ical.ParamParticipationStatus))
	if ps == "" {
		ps = "NEEDS-ACTION"
	}
	return ps, c, nil
}

// replyComp returns the REPLY component of instance c for attendee a with
// PARTSTAT ps (RFC 5546 §3.2.3): what identifies the instance, the
// ORGANIZER and a's ATTENDEE only.
func replyComp(c *ical.Component, a, ps string) *ical.Component {
	out := identity(c)
	att := ical.Prop{Name: ical.PropAttendee, Params: ical.Params{}, Value: a}
	if p := attendeeProp(c, a); p != nil {
		att = cloneProp(*p)
		att.Params.Del(ical.ParamRSVP)
	}
	att.Params.Set(ical.ParamParticipationStatus, ps)
	out.Props.Add(&att)
	stripScheduleParams(out)
	return out
}
