package dav

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"time"

	"github.com/almanac/almanac/dav/internal/davxml"
	"github.com/almanac/almanac/dav/query"
	"github.com/almanac/almanac/dav/sched"
	"github.com/almanac/almanac/engine"
	"github.com/emersion/go-ical"
)

// Rooms and resources (engine.Resource) are principals like users; the
// directory tells package sched which users they are and whether one is
// busy, so that their invitations are answered by their policy.

var _ sched.Resources = directory{}

// roomHorizon is how far past an invitation's first start a resource's
// availability is checked (recurring invitations: the instances in the
// first year), within the handler's free-busy range bound.
const roomHorizon = 366 * 24 * time.Hour

// Resource returns user's room or resource record, nil for a person or
// an unknown name.
func (d directory) Resource(v *engine.View, user string) (*engine.Resource, error) {
	u, err := v.User(user)
	switch {
	case errors.Is(err, engine.ErrNotFound):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("look up user %s: %w", user, err)
	}
	return u.Resource, nil
}

// Busy reports whether an instance of cal (its opaque, not cancelled
// VEVENT instances from its first DTSTART to roomHorizon later) overlaps
// the busy time of user's opaque calendars, cal's UID left out. An
// invitation whose times cannot be evaluated counts as busy, so that an
// auto-accept-if-free resource declines what it cannot check.
func (d directory) Busy(ctx context.Context, v *engine.View, user string, cal *ical.Calendar) (bool, error) {
	var start time.Time
	uid := ""
	for _, c := range cal.Children {
		if c.Name != ical.CompEvent {
			continue
		}
		if p := c.Props.Get(ical.PropUID); p != nil {
			uid = p.Value
		}
		if p := c.Props.Get(ical.PropDateTimeStart); p != nil {
			if t, err := p.DateTime(time.UTC); err == nil && (start.IsZero() || t.Before(start)) {
				start = t
			}
		}
	}
	if start.IsZero() {
		return false, nil // no event: nothing to be busy at
	}
	end := start.Add(min(roomHorizon, d.h.limits.MaxExpandRange))
	if d.h.limits.MaxExpandRange <= 0 {
		end = start.Add(roomHorizon)
	}
	tr := query.TimeRange{Start: start.Add(-24 * time.Hour), End: end} // a day earlier: floating times
	body, err := sched.Encode(cal)
	if err != nil {
		return false, err
	}
	obj, err := query.ParseCalendarObject(body)
	if err != nil {
		return true, nil
	}
	want, err := query.NewFreeBusy(tr, d.h.limits)
	if err != nil {
		return false, err
	}
	if err := want.Add(ctx, obj, nil); unevaluable(err) {
		return true, nil
	} else if err != nil {
		return false, err
	}
	have, err := query.NewFreeBusy(tr, d.h.limits)
	if err != nil {
		return false, err
	}
	cals, err := d.Calendars(v, user)
	if err != nil {
		return false, err
	}
	if err := d.h.addBusy(ctx, v, user, cals, have, tr, uid); unevaluable(err) {
		return true, nil
	} else if err != nil {
		return false, err
	}
	return want.Overlaps(have), nil
}

// unevaluable reports whether err says busy time could not be computed
// (too many instances, an unreadable recurrence): the resource declines.
func unevaluable(err error) bool {
	var qe *query.Error
	return errors.Is(err, query.ErrUnevaluable) || errors.As(err, &qe)
}

// propCalendarAvailability is CalendarServer's calendar-availability
// property of the inbox (RFC 7953 §7.2.4): a VCALENDAR text of
// VAVAILABILITY components, stored as the inbox's dead property.
var propCalendarAvailability = davxml.C("calendar-availability")

// inboxAvailability returns user's availability of the inbox's
// calendar-availability, an empty one when there is none. An availability
// that does not parse counts as none (it is the client's text; free-busy
// stays what the calendars say).
func inboxAvailability(v *engine.View, user string) *query.Availability {
	none := &query.Availability{}
	in, err := v.Collection(inboxPath(user))
	if err != nil {
		return none // no inbox: no availability
	}
	x, ok := in.Props.Dead[deadKey(propCalendarAvailability)]
	if !ok {
		return none
	}
	var e struct {
		Text string `xml:",chardata"`
	}
	if xml.Unmarshal([]byte(x), &e) != nil {
		return none
	}
	cal, err := engine.ParseCalendar([]byte(e.Text))
	if err != nil {
		return none
	}
	a, err := query.AvailabilityOf(cal)
	if err != nil {
		return none
	}
	return a
}
