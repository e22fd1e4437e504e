package engine

import (
	"errors"
	"time"

	"github.com/almanac/almanac/engine/recur"
	"github.com/emersion/go-ical"
)

// validateRecurrence refuses the RRULEs of cal's components (VTIMEZONE
// observances included) that engine/recur calls invalid (unparseable,
// values out of range, COUNT with UNTIL, BYDAY=+1,3MO) or impossible
// (FREQ=HOURLY;INTERVAL=2;BYHOUR=1 from an even hour,
// BYMONTH=2;BYMONTHDAY=30): a client learns at once that its rule is
// wrong, instead of a query later calling the object unevaluable. RFC
// 7529 RSCALE rules are valid, stored and left unevaluated. A component
// whose DTSTART cannot be read is left to the other checks.
//
// Errors: *InvalidDataError with CALDAV:valid-calendar-data.
func validateRecurrence(cal *ical.Calendar) error {
	// The check needs DTSTART's wall clock only (rrule-go iterates wall
	// clocks): read it as written, without resolving its TZID, which
	// would interpret a VTIMEZONE once more.
	z := recur.NewZones(nil, time.UTC)
	var check func(c *ical.Component) error
	check = func(c *ical.Component) error {
		if rules := c.Props.Values(ical.PropRecurrenceRule); len(rules) > 0 {
			if dtstart, _, err := z.Time(wallClock(c.Props.Get(ical.PropDateTimeStart))); err == nil {
				for _, r := range rules {
					err := recur.CheckRule(r.Value, dtstart)
					if err != nil && !errors.Is(err, recur.ErrUnsupportedRule) {
						return invalid(CondValidCalendarData, "%s: %v", c.Name, err)
					}
				}
			}
		}
		if c.Name == ical.CompTimezone {
			for _, obs := range c.Children {
				if err := check(obs); err != nil {
					return err
				}
			}
		}
		return nil
	}
	for _, c := range cal.Children {
		if err := check(c); err != nil {
			return err
		}
	}
	return nil
}

// wallClock returns p without its TZID parameter; nil for nil.
func wallClock(p *ical.Prop) *ical.Prop {
	if p == nil {
		return nil
	}
	w := ical.Prop{Name: p.Name, Value: p.Value, Params: ical.Params{}}
	if v := p.Params.Get(ical.ParamValue); v != "" {
		w.Params.Set(ical.ParamValue, v)
	}
	return &w
}
