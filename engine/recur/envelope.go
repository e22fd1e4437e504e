package recur

import (
	"context"
	"strings"
	"time"

	"github.com/emersion/go-ical"
	"github.com/teambition/rrule-go"
)

// Margins added to every envelope. Floating times and DATE values are
// read in UTC, and the zone they are finally evaluated in (a collection's
// calendar-timezone, which may change later, or a query's timezone) lies
// within UTC-12 and UTC+14; an instant-valued calendar needs only a small
// margin for the closed bounds of the VTODO rules.
const (
	envelopeMargin         = time.Minute
	floatingEnvelopeMargin = 14*time.Hour + envelopeMargin
)

// envelopeBudget bounds the occurrences computed for an envelope; past
// it the envelope is open-ended.
const envelopeBudget = 5000

// Envelope returns an interval [start, end) outside which no component of
// cal can satisfy an RFC 4791 §9.9 time-range on VEVENT, VTODO, VJOURNAL
// or VFREEBUSY, whatever location floating times are given. It may be
// wider than needed, never narrower. A zero start or end is unbounded.
// VALARM triggers are not covered: a query on alarms must not skip
// objects by envelope.
func Envelope(cal *ical.Calendar) (start, end time.Time) {
	z := NewZones(cal, time.UTC)
	lo, hi, floating := envelopeIn(cal, z)
	if floating {
		// Which occurrences a THISANDFUTURE override moves can depend on
		// where floating times fall: take the extreme zones too. Between
		// them the margin covers the rest. The zones resolved (VTIMEZONEs
		// interpreted) and their work budget are shared.
		for _, off := range []int{-12, 14} {
			zf := NewZones(cal, time.FixedZone("", off*3600))
			zf.cache, zf.work = z.cache, z.work
			l, h, _ := envelopeIn(cal, zf)
			lo, hi = union(lo, hi, l, h)
		}
	}
	margin := envelopeMargin
	if floating {
		margin = floatingEnvelopeMargin
	}
	if !lo.IsZero() {
		lo = lo.Add(-margin)
	}
	if !hi.IsZero() {
		hi = hi.Add(margin)
	}
	return lo, hi
}

// envelopeIn bounds cal with the zones of z (floating times in its
// floating location), without margins, and reports whether any floating
// time was seen.
func envelopeIn(cal *ical.Calendar, z *Zones) (lo, hi time.Time, floating bool) {
	first := true
	widen := func(l, h time.Time) {
		if first {
			lo, hi, first = l, h, false
			return
		}
		lo, hi = union(lo, hi, l, h)
	}
	for _, name := range []string{ical.CompEvent, ical.CompToDo, ical.CompJournal, ical.CompFreeBusy} {
		for _, g := range groups(cal, name) {
			l, h, ok := groupEnvelope(z, name, g)
			if !ok {
				return time.Time{}, time.Time{}, z.Floating
			}
			widen(l, h)
		}
	}
	if first {
		return time.Time{}, time.Time{}, z.Floating
	}
	return lo, hi, z.Floating
}

// groupEnvelope bounds one recurrence set; ok is false when the set's
// values cannot be read, and the envelope must be unbounded.
func groupEnvelope(z *Zones, name string, g group) (lo, hi time.Time, ok bool) {
	if lo, hi, ok := simpleEnvelope(z, g); ok {
		return lo, hi, true
	}
	return expandedEnvelope(z, name, g)
}

// simpleEnvelope bounds, without expanding it, the commonest recurring
// event: one RRULE of FREQ=DAILY or WEEKLY with nothing but INTERVAL,
// COUNT or UNTIL and WKST, no RDATE, no overrides. Its occurrences are
// DTSTART plus whole days or weeks of wall-clock time, as rrule-go counts
// them, so the first and the last bound the set (EXDATE only removes
// occurrences: the bound may be wider, never narrower, as long as one
// occurrence is left). ok is false for any other set, which
// expandedEnvelope bounds.
func simpleEnvelope(z *Zones, g group) (lo, hi time.Time, ok bool) {
	if g.master == nil || g.master.Name != ical.CompEvent || len(g.overrides) > 0 ||
		g.master.Props.Get(ical.PropRecurrenceDates) != nil {
		return lo, hi, false
	}
	rules := g.master.Props.Values(ical.PropRecurrenceRule)
	if len(rules) != 1 {
		return lo, hi, false
	}
	mt, err := newTemplate(z, g.master)
	if err != nil || !mt.hasStart {
		return lo, hi, false
	}
	opt, err := rrule.StrToROptionInLocation(rules[0].Value, mt.start.Location())
	if err != nil || !simpleRule(opt) || opt.Count > envelopeBudget || opt.Interval > maxSimpleInterval {
		return lo, hi, false // past the budget, the expansion gives up as well
	}
	days := 1
	if opt.Freq == rrule.WEEKLY {
		days = 7
	}
	// The envelope must hold an occurrence: a query answers from it alone
	// when it lies within the query's range. DTSTART is one, unless an
	// EXDATE removes it; fewer EXDATE values than COUNT leave at least one.
	if excluded := exdateValues(g.master); excluded > 0 && (opt.Count == 0 || excluded >= opt.Count) {
		return lo, hi, false
	}
	var last time.Time
	switch {
	case opt.Count > 0:
		last = mt.start.AddDate(0, 0, (opt.Count-1)*max(opt.Interval, 1)*days)
	case !opt.Until.IsZero():
		last = opt.Until // no occurrence starts after it
		if last.Before(mt.start) {
			last = mt.start
		}
	default:
		return lo, hi, false // endless: expandedEnvelope finds its lower bound
	}
	lo, hi = mt.at(mt.start).Reach()
	l, h := mt.at(last).Reach()
	lo, hi = union(lo, hi, l, h)
	return lo, hi, true
}

// exdateValues counts the values of c's EXDATE properties, at most.
func exdateValues(c *ical.Component) int {
	n := 0
	for _, p := range c.Props.Values(ical.PropExceptionDates) {
		n += strings.Count(p.Value, ",") + 1
	}
	return n
}

// maxSimpleInterval bounds the INTERVAL simpleEnvelope multiplies, so that
// COUNT × INTERVAL days stay far from overflowing.
const maxSimpleInterval = 1 << 16

// simpleRule reports whether a rule repeats DTSTART every INTERVAL days or
// weeks with no BY part to filter or add occurrences.
func simpleRule(o *rrule.ROption) bool {
	return (o.Freq == rrule.DAILY || o.Freq == rrule.WEEKLY) &&
		len(o.Bysetpos)+len(o.Bymonth)+len(o.Bymonthday)+len(o.Byyearday)+len(o.Byweekno)+
			len(o.Byweekday)+len(o.Byhour)+len(o.Byminute)+len(o.Bysecond)+len(o.Byeaster) == 0
}

// expandedEnvelope bounds one recurrence set by expanding it, as far as
// envelopeBudget occurrences.
func expandedEnvelope(z *Zones, name string, g group) (lo, hi time.Time, ok bool) {
	var ins []Instance
	var err error
	if name == ical.CompFreeBusy {
		ins, err = freeBusyInstances(z, g.comps())
	} else {
		ins, err = expandGroup(z, g, time.Time{}, time.Time{}, newBudget(context.Background(), envelopeBudget))
	}
	if err == ErrUnbounded || err == ErrTooManyInstances {
		l, ok := lowerBound(z, g)
		return l, time.Time{}, ok
	}
	if err != nil {
		return time.Time{}, time.Time{}, false
	}
	first := true
	for _, in := range ins {
		if in.shape == shapeNever {
			continue
		}
		l, h := in.Reach()
		if first {
			lo, hi, first = l, h, false
			continue
		}
		lo, hi = union(lo, hi, l, h)
	}
	if first { // nothing can match: any envelope is right
		return time.Time{}, time.Time{}, true
	}
	return lo, hi, true
}

// lowerBound returns the earliest instant any instance of an endlessly
// recurring set can reach.
func lowerBound(z *Zones, g group) (time.Time, bool) {
	mt, err := newTemplate(z, g.master)
	if err != nil || !mt.hasStart {
		return time.Time{}, false
	}
	lo := mt.start
	rdates, err := z.Periods(g.master.Props.Values(ical.PropRecurrenceDates))
	if err != nil {
		return time.Time{}, false
	}
	for _, p := range rdates {
		lo = earliest(lo, p.Start)
	}
	for _, c := range g.overrides {
		o, err := newOverride(z, c)
		if err != nil {
			return time.Time{}, false
		}
		l, _ := o.tp.at(o.tp.start).Reach()
		if l.IsZero() {
			return time.Time{}, true
		}
		lo = earliest(lo, l)
	}
	if mt.exact < 0 {
		lo = lo.Add(mt.exact)
	}
	return lo, true
}

// union returns the smallest interval holding [lo, hi) and [l, h), where
// zero bounds are unbounded.
func union(lo, hi, l, h time.Time) (time.Time, time.Time) {
	if !lo.IsZero() && (l.IsZero() || l.Before(lo)) {
		lo = l
	}
	if !hi.IsZero() && (h.IsZero() || h.After(hi)) {
		hi = h
	}
	return lo, hi
}
