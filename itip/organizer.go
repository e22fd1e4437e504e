package itip

import (
	"slices"
	"strings"

	"github.com/emersion/go-ical"
)

// OrganizerChange returns the messages an organizer's change of a
// scheduling object sends: old nil is a creation, new nil a deletion. Each
// message goes to one attendee (see the package documentation for which
// method and which instances); an attendee may get a CANCEL for
// overridden instances they lost and a REQUEST for the rest. Nothing is
// sent to an attendee for whom nothing significant changed. An object
// without ORGANIZER is not a scheduling object (RFC 6638 §3.1): a new one
// sends nothing, and a new version without it cancels the old one's
// invitations.
//
// Errors: ErrValidOrganizer for an ORGANIZER without address,
// ErrSameOrganizer, ErrOrganizerChange when the UID or the ORGANIZER
// changed (from one of Options.OrganizerAddresses to another is no
// change: Apple's clients write mailto: or urn:uuid: forms), ErrInvalidMessage (wrapped) for malformed components, recur's
// errors for instances that cannot be computed.
func OrganizerChange(old, new *ical.Calendar, opts Options) ([]Message, error) {
	opts = opts.withDefaults()
	oldObj, newObj, oldOrg, newOrg, err := parseChange(old, new, opts)
	if err != nil {
		return nil, err
	}
	self := map[string]bool{}
	for _, a := range opts.OrganizerAddresses {
		self[NormalizeAddress(a)] = true
	}
	if oldObj != nil && newObj != nil && oldOrg != "" && newOrg != "" {
		if oldObj.uid != newObj.uid {
			return nil, precondition(ErrOrganizerChange, "UID changed")
		}
		if oldOrg != newOrg && !(self[oldOrg] && self[newOrg]) {
			return nil, precondition(ErrOrganizerChange, "ORGANIZER changed from %s to %s", oldOrg, newOrg)
		}
	}
	org := newOrg
	if org == "" {
		org = oldOrg
	}
	if org == "" {
		return nil, nil
	}
	if newOrg == "" {
		newObj = nil // no longer scheduled: cancel everything
	}
	if oldOrg == "" {
		oldObj = nil
	}
	self[org] = true
	self[oldOrg] = true
	var recipients []string
	for _, obj := range []*object{newObj, oldObj} {
		if obj == nil {
			continue
		}
		for _, a := range obj.attendees() {
			if !self[a] && !slices.Contains(recipients, a) {
				recipients = append(recipients, a)
			}
		}
	}
	cancelled := newObj != nil && newObj.master() != nil &&
		strings.EqualFold(propValue(newObj.master(), ical.PropStatus), "CANCELLED")
	var msgs []Message
	for _, a := range recipients {
		if !serverAgent(newObj, a) || (newObj.view(a) == nil && !serverAgent(oldObj, a)) {
			continue
		}
		msgs = append(msgs, organizerMessages(oldObj, newObj, a, org, cancelled, opts)...)
	}
	return msgs, nil
}

// parseChange parses the two versions of a change and their organizers
// ("" for none).
func parseChange(old, new *ical.Calendar, opts Options) (oldObj, newObj *object, oldOrg, newOrg string, err error) {
	if oldObj, err = parseObject(old, opts); err != nil {
		return nil, nil, "", "", err
	}
	if newObj, err = parseObject(new, opts); err != nil {
		return nil, nil, "", "", err
	}
	if oldObj != nil {
		if oldOrg, err = oldObj.organizer(); err != nil {
			return nil, nil, "", "", err
		}
	}
	if newObj != nil {
		if newOrg, err = newObj.organizer(); err != nil {
			return nil, nil, "", "", err
		}
	}
	return oldObj, newObj, oldOrg, newOrg, nil
}

// organizerMessages returns the messages of one attendee.
func organizerMessages(oldObj, newObj *object, a, org string, cancelled bool, opts Options) []Message {
	oldV, newV := oldObj.view(a), newObj.view(a)
	if cancelled && newV != nil && newV.onMaster {
		newV = nil
	}
	if newV.empty() {
		if oldV.empty() {
			return nil
		}
		return cancelMessage(oldObj, newObj, oldV, oldV.keys, a, org, opts)
	}
	var msgs []Message
	before := oldV // what a holds once the CANCEL below is applied
	if oldV != nil && !newV.onMaster {
		var lost []string
		for _, k := range oldV.keys {
			if k != masterKey && !newV.has(k) {
				lost = append(lost, k)
			}
		}
		if len(lost) > 0 {
			msgs = append(msgs, cancelMessage(oldObj, newObj, oldV, lost, a, org, opts)...)
			kept := *oldV
			kept.keys = slices.DeleteFunc(slices.Clone(oldV.keys), func(k string) bool { return slices.Contains(lost, k) })
			before = &kept
		}
	}
	if !forceSend(newObj, a) && !significant(before, newV, "", nil) {
		return msgs
	}
	if oldV != nil && oldV.onMaster && newV.onMaster {
		if lost := onlyNewExdates(oldObj, newObj, oldV, newV); len(lost) > 0 {
			return append(msgs, cancelMessage(oldObj, newObj, oldV, lost, a, org, opts)...)
		}
	}
	if oldV != nil && oldV.onMaster && newV.onMaster {
		if added := onlyNewRdates(oldObj, newObj, oldV, newV); len(added) > 0 {
			var comps []*ical.Component
			for _, k := range added {
				d, err := newObj.derive(keyTime(k))
				if err != nil {
					comps = nil
					break
				}
				d.Props.Del(ical.PropRecurrenceID)
				comps = append(comps, cleanComp(d))
			}
			if comps != nil {
				return append(msgs, newMessage(MethodAdd, a, org, newObj.cal, comps, opts))
			}
		}
	}
	return append(msgs, newMessage(MethodRequest, a, org, newObj.cal, newV.comps(), opts))
}

// cancelMessage returns the CANCEL of the instances keys of a's old view
// (the whole object when keys holds the master) as a list of at most one
// message: none when no instance can be named.
func cancelMessage(oldObj, newObj *object, oldV *view, keys []string, a, org string, opts Options) []Message {
	seq := ""
	if newObj != nil && newObj.master() != nil {
		seq = propValue(newObj.master(), ical.PropSequence)
	}
	var comps []*ical.Component
	for _, k := range keys {
		var c *ical.Component
		if oldV.has(k) {
			c = oldV.comp(k)
		} else {
			// an instance of the master cancelled by a new EXDATE
			d, err := oldObj.derive(keyTime(k))
			if err != nil {
				continue
			}
			c = d
		}
		cc := cancelComp(c, a)
		if k == masterKey {
			cc.Props.Del(ical.PropRecurrenceID)
		}
		if seq != "" {
			cc.Props.Set(&ical.Prop{Name: ical.PropSequence, Params: ical.Params{}, Value: seq})
		}
		comps = append(comps, cc)
		if k == masterKey {
			break // the whole object
		}
	}
	if len(comps) == 0 {
		return nil
	}
	return []Message{newMessage(MethodCancel, a, org, oldObj.cal, comps, opts)}
}

// onlyNewExdates returns the instances of a's view of the master that
// new EXDATEs, or new overrides that leave a out, took away, when that is
// the only significant change to a's view; nil otherwise.
func onlyNewExdates(oldObj, newObj *object, oldV, newV *view) []string {
	oldEx, err := oldObj.exdates(oldObj.master())
	if err != nil {
		return nil
	}
	newEx, err := newObj.exdates(newObj.master())
	if err != nil {
		return nil
	}
	for _, k := range oldV.excluded {
		oldEx[k] = true
	}
	for _, k := range newV.excluded {
		newEx[k] = true
	}
	var gone []string
	for k := range newEx {
		if !oldEx[k] {
			if c := newObj.comps[k]; c != nil && strings.EqualFold(c.Props.Get(ical.PropRecurrenceID).Params.Get(ical.ParamRange), "THISANDFUTURE") {
				return nil // more than one instance goes: a REQUEST says it
			}
			gone = append(gone, k)
		}
	}
	if len(gone) == 0 || significant(oldV, newV, ical.PropExceptionDates, gone) {
		return nil
	}
	slices.Sort(gone)
	return gone
}

// onlyNewRdates returns the instances new RDATEs on the master added to
// a's view when that is the only significant change to it (RFC 5546
// §3.2.4 ADD); nil otherwise, or when one is a PERIOD.
func onlyNewRdates(oldObj, newObj *object, oldV, newV *view) []string {
	oldR, err := oldObj.dates(oldObj.master(), ical.PropRecurrenceDates)
	if err != nil {
		return nil
	}
	newR, err := newObj.dates(newObj.master(), ical.PropRecurrenceDates)
	if err != nil {
		return nil
	}
	var added []string
	for k := range newR {
		if !oldR[k] {
			added = append(added, k)
		}
	}
	if len(added) == 0 || significant(oldV, newV, ical.PropRecurrenceDates, added) {
		return nil
	}
	for _, p := range newObj.master().Props[ical.PropRecurrenceDates] {
		if strings.Contains(p.Value, "/") {
			return nil
		}
	}
	slices.Sort(added)
	return added
}

// exdates returns the keys of the EXDATE values of c.
func (o *object) exdates(c *ical.Component) (map[string]bool, error) {
	return o.dates(c, ical.PropExceptionDates)
}

// dates returns the keys of the values of c's multi-valued date property
// name (EXDATE, RDATE).
func (o *object) dates(c *ical.Component, name string) (map[string]bool, error) {
	out := map[string]bool{}
	for _, p := range c.Props[name] {
		for _, v := range strings.Split(p.Value, ",") {
			k, err := o.valueKey(p, v)
			if err != nil {
				return nil, err
			}
			out[k] = true
		}
	}
	return out, nil
}

// valueKey returns the key of one value of a multi-valued date property.
func (o *object) valueKey(p ical.Prop, v string) (string, error) {
	t, err := o.time(&ical.Prop{Name: p.Name, Params: p.Params, Value: v})
	if err != nil {
		return "", err
	}
	return ridKey(t), nil
}

// serverAgent reports whether the server schedules for attendee a on o:
// SCHEDULE-AGENT absent or SERVER on each of a's ATTENDEE properties (RFC
// 6638 §7.1); CLIENT or NONE on one instance leaves a to the client for
// the whole object. A nil object, or one not listing a, does not stop it.
func serverAgent(o *object, a string) bool {
	if o == nil {
		return true
	}
	for _, k := range o.keys {
		if p := o.attendee(k, a); p != nil {
			if agent := p.Params.Get("SCHEDULE-AGENT"); agent != "" && !strings.EqualFold(agent, "SERVER") {
				return false
			}
		}
	}
	return true
}

// forceSend reports whether an ATTENDEE of a in o carries
// SCHEDULE-FORCE-SEND=REQUEST (RFC 6638 §7.2).
func forceSend(o *object, a string) bool {
	for _, k := range o.keys {
		if p := o.attendee(k, a); p != nil && strings.EqualFold(p.Params.Get("SCHEDULE-FORCE-SEND"), "REQUEST") {
			return true
		}
	}
	return false
}
