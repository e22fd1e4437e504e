package engine

import (
	"math"
	"strings"
	"time"

	"github.com/emersion/go-ical"
	"github.com/teambition/rrule-go"
)

// envelopeMargin widens every envelope on both sides. Times are read
// loosely (TZID and floating times as if UTC), and no zone is more than
// 14 hours from UTC; a day also covers nominal-day durations across DST.
const envelopeMargin = 24 * time.Hour

// maxCountExpansion bounds the instances computed to find the end of a
// COUNT-limited rule; past it the envelope stays open-ended.
const maxCountExpansion = 5000

// calendarEnvelope returns, in Unix seconds, an interval that holds every
// instance of every component of cal. It errs on the wide side: a query
// may skip an object only when the envelope proves that it cannot match.
// Unbounded sides are math.MinInt64 and math.MaxInt64.
func calendarEnvelope(cal *ical.Calendar, _ *Collection) (int64, int64) {
	var lo, hi time.Time
	for _, comp := range cal.Children {
		if comp.Name == ical.CompTimezone {
			continue
		}
		s, e, ok := componentSpan(comp)
		if !ok {
			return math.MinInt64, math.MaxInt64
		}
		if lo.IsZero() || s.Before(lo) {
			lo = s
		}
		if e.IsZero() {
			return lo.Add(-envelopeMargin).Unix(), math.MaxInt64
		}
		if hi.IsZero() || e.After(hi) {
			hi = e
		}
	}
	if lo.IsZero() {
		return math.MinInt64, math.MaxInt64
	}
	return lo.Add(-envelopeMargin).Unix(), hi.Add(envelopeMargin).Unix()
}

// componentSpan returns the first start and the last end of a component's
// instances; a zero end means open-ended. ok is false when the component
// has no usable start, which makes the envelope unbounded.
func componentSpan(comp *ical.Component) (start, end time.Time, ok bool) {
	start, ok = looseTime(comp.Props.Get(ical.PropDateTimeStart))
	if !ok {
		start, ok = looseTime(comp.Props.Get(ical.PropDue))
	}
	if !ok {
		return time.Time{}, time.Time{}, false
	}
	end = start
	if e, ok := looseTime(comp.Props.Get(ical.PropDateTimeEnd)); ok {
		end = e
	} else if e, ok := looseTime(comp.Props.Get(ical.PropDue)); ok {
		end = e
	}
	if d := comp.Props.Get(ical.PropDuration); d != nil {
		if dur, err := d.Duration(); err == nil && dur > 0 {
			end = start.Add(dur)
		}
	}
	length := end.Sub(start)
	if length < 24*time.Hour {
		length = 24 * time.Hour // DATE values and zero-length events
	}
	for _, p := range comp.Props.Values(ical.PropRecurrenceDates) {
		for _, v := range strings.Split(p.Value, ",") {
			if t, ok := looseValue(strings.SplitN(v, "/", 2)[0]); ok && t.Add(length).After(end) {
				end = t.Add(length)
			}
		}
	}
	if r := comp.Props.Get(ical.PropRecurrenceRule); r != nil {
		last, bounded := ruleEnd(r.Value, start)
		if !bounded {
			return start, time.Time{}, true
		}
		if last.Add(length).After(end) {
			end = last.Add(length)
		}
	}
	return start, end, true
}

// ruleEnd returns the start of the last instance of an RRULE, and false
// when the rule is infinite (or too long to expand).
func ruleEnd(rule string, start time.Time) (time.Time, bool) {
	opt, err := rrule.StrToROption(rule)
	if err != nil {
		return time.Time{}, false
	}
	if !opt.Until.IsZero() {
		return opt.Until, true
	}
	if opt.Count <= 0 || opt.Count > maxCountExpansion {
		return time.Time{}, false
	}
	opt.Dtstart = start
	r, err := rrule.NewRRule(*opt)
	if err != nil {
		return time.Time{}, false
	}
	all := r.All()
	if len(all) == 0 {
		return start, true
	}
	return all[len(all)-1], true
}

// looseTime reads a DATE or DATE-TIME property as if it were UTC.
func looseTime(p *ical.Prop) (time.Time, bool) {
	if p == nil {
		return time.Time{}, false
	}
	return looseValue(p.Value)
}

func looseValue(v string) (time.Time, bool) {
	v = strings.TrimSuffix(strings.TrimSpace(v), "Z")
	for _, layout := range []string{"20060102T150405", "20060102"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}
