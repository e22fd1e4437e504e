package itip

import (
	"fmt"
	"slices"
	"strings"

	"github.com/emersion/go-ical"
)

// ApplyReply returns the organizer's copy after a REPLY from the attendee
// from: their PARTSTAT set on each instance the reply names (an override
// is made for an instance of the master when the status differs from the
// master's), and their SCHEDULE-STATUS from the reply's REQUEST-STATUS.
// Instances the copy no longer has or does not invite from to, and
// replies to an older SEQUENCE of an instance, are passed over. It also returns the REQUESTs that tell the
// other attendees of the changed instances the new status (what the
// organizer's client expects the server to do); the caller may send
// them. organizerCopy is not modified; when nothing changed, it is
// returned itself with no message.
//
// from may be listed in the organizer's copy under another of its
// addresses, Options.AttendeeAddresses.
//
// Errors: ErrNotAttendee when the copy does not invite from (a forged
// reply), ErrInvalidMessage (wrapped) for a message
// that is not a REPLY of the copy's UID from exactly that attendee.
func ApplyReply(organizerCopy, reply *ical.Calendar, from string, opts Options) (*ical.Calendar, []Message, error) {
	opts = opts.withDefaults()
	a := NormalizeAddress(from)
	r, o, method, err := parsePair(organizerCopy, reply, opts)
	if err != nil {
		return nil, nil, err
	}
	if method != MethodReply {
		return nil, nil, fmt.Errorf("%w: METHOD %q where REPLY was expected", ErrInvalidMessage, method)
	}
	if o == nil {
		return nil, nil, fmt.Errorf("%w: no organizer's copy", ErrInvalidMessage)
	}
	org, err := o.organizer()
	if err != nil {
		return nil, nil, err
	}
	if org == "" {
		return nil, nil, fmt.Errorf("%w: the copy has no ORGANIZER", ErrInvalidMessage)
	}
	// The replier's addresses; the organizer's copy may list them under
	// another of them (a urn:uuid: where they reply as mailto:).
	mine := []string{a}
	for _, x := range opts.AttendeeAddresses {
		mine = append(mine, NormalizeAddress(x))
	}
	listed := slices.IndexFunc(mine, func(x string) bool { return slices.Contains(o.attendees(), x) })
	if listed < 0 {
		return nil, nil, fmt.Errorf("%w: %s is not invited to %s", ErrNotAttendee, a, o.uid)
	}
	a = mine[listed]
	out := cloneCalendar(o.cal, nil)
	outObj, err := parseObject(out, opts)
	if err != nil {
		return nil, nil, err
	}
	var changed []string
	for _, k := range r.keys {
		rc := r.comps[k]
		var ap *ical.Prop
		for i, p := range rc.Props[ical.PropAttendee] {
			if !slices.Contains(mine, NormalizeAddress(p.Value)) {
				return nil, nil, fmt.Errorf("%w: a reply from %s names attendee %s", ErrInvalidMessage, a, p.Value)
			}
			ap = &rc.Props[ical.PropAttendee][i]
		}
		if ap == nil {
			return nil, nil, fmt.Errorf("%w: a reply without the ATTENDEE %s", ErrInvalidMessage, a)
		}
		ps := strings.ToUpper(strings.TrimSpace(ap.Params.Get(ical.ParamParticipationStatus)))
		if ps == "" {
			return nil, nil, fmt.Errorf("%w: a reply without PARTSTAT", ErrInvalidMessage)
		}
		target, derived, err := outObj.instance(k, opts)
		if err != nil {
			return nil, nil, err
		}
		if target == nil {
			continue // an instance the organizer removed since
		}
		tp := attendeeProp(target, a)
		if tp == nil {
			continue // not invited to this instance
		}
		if sequence(rc) < sequence(target) {
			continue
		}
		status := ""
		if rs := rc.Props.Get(ical.PropRequestStatus); rs != nil {
			status, _, _ = strings.Cut(rs.Value, ";")
		}
		if strings.EqualFold(tp.Params.Get(ical.ParamParticipationStatus), ps) && status == "" {
			continue
		}
		tp.Params.Set(ical.ParamParticipationStatus, ps)
		tp.Params.Del(ical.ParamRSVP)
		if status != "" {
			tp.Params.Set("SCHEDULE-STATUS", status)
		}
		if derived {
			out.Children = append(out.Children, target)
			outObj.comps[k] = target
			outObj.keys = append(outObj.keys, k)
		}
		changed = append(changed, k)
	}
	if len(changed) == 0 {
		return organizerCopy, nil, nil
	}
	return out, refreshes(outObj, changed, a, org, opts), nil
}

// refreshes returns the REQUESTs that give the other server-scheduled
// attendees of the changed instances their view of o.
func refreshes(o *object, changed []string, from, org string, opts Options) []Message {
	self := map[string]bool{org: true, from: true}
	for _, x := range opts.OrganizerAddresses {
		self[NormalizeAddress(x)] = true
	}
	var msgs []Message
	for _, b := range o.attendees() {
		if self[b] || !serverAgent(o, b) {
			continue
		}
		v := o.view(b)
		if v == nil {
			continue
		}
		concerned := false
		for _, k := range changed {
			if v.has(k) {
				concerned = true
			}
		}
		if !concerned {
			continue
		}
		msgs = append(msgs, newMessage(MethodRequest, b, org, o.cal, v.comps(), opts))
	}
	return msgs
}
