package engine

import (
	"strconv"
	"strings"

	"github.com/emersion/go-ical"
)

// CompAvailability is the VAVAILABILITY component (RFC 7953 §3.1): when
// a calendar user is available. A calendar whose
// supported-calendar-component-set lists it stores resources of one
// VAVAILABILITY each, which free-busy takes into account (RFC 7953 §4).
const CompAvailability = "VAVAILABILITY"

// compAvailable is VAVAILABILITY's subcomponent AVAILABLE (RFC 7953 §3.1).
const compAvailable = "AVAILABLE"

// MaxAvailable bounds the AVAILABLE components of one VAVAILABILITY
// resource: free-busy expands every one of them.
const MaxAvailable = 99

// checkAvailability checks a VAVAILABILITY of a calendar object resource
// (RFC 7953 §3.1): one DTSTAMP in it and in each AVAILABLE, a PRIORITY of 0 to 9, not both DTEND and DURATION,
// subcomponents AVAILABLE (or X-) with UID and DTSTART, at most
// MaxAvailable of them. The rules a resource shares with the other
// components (one UID, one component without RECURRENCE-ID) are
// checkCalendar's.
func checkAvailability(c *ical.Component) error {
	if err := checkStamp(c); err != nil {
		return err
	}
	if p := c.Props.Get(ical.PropPriority); p != nil {
		if n, err := strconv.Atoi(strings.TrimSpace(p.Value)); err != nil || n < 0 || n > 9 {
			return invalid(CondValidCalendarObjectResource, "VAVAILABILITY PRIORITY %q is not 0 to 9 (RFC 5545 §3.8.1.9)", p.Value)
		}
	}
	if err := checkEndOrDuration(c); err != nil {
		return err
	}
	n := 0
	for _, a := range c.Children {
		if strings.HasPrefix(a.Name, "X-") {
			continue
		}
		if a.Name != compAvailable {
			return invalid(CondValidCalendarObjectResource, "VAVAILABILITY holds %s (only AVAILABLE, RFC 7953 §3.1)", a.Name)
		}
		if n++; n > MaxAvailable {
			return invalid(CondValidCalendarObjectResource, "more than %d AVAILABLE components in one VAVAILABILITY", MaxAvailable)
		}
		for _, name := range []string{ical.PropUID, ical.PropDateTimeStart} {
			if p := a.Props.Get(name); p == nil || p.Value == "" {
				return invalid(CondValidCalendarObjectResource, "AVAILABLE without %s (RFC 7953 §3.1)", name)
			}
		}
		if err := checkStamp(a); err != nil {
			return err
		}
		if err := checkEndOrDuration(a); err != nil {
			return err
		}
	}
	return nil
}

// checkStamp refuses a VAVAILABILITY or AVAILABLE without DTSTAMP (RFC
// 7953 §3.1: REQUIRED, once, in both). A required property missing makes
// the text invalid iCalendar, so the answer is valid-calendar-data (RFC
// 4791 §5.3.2.1), not a CalDAV restriction of §4.1.
func checkStamp(c *ical.Component) error {
	if p := c.Props.Values(ical.PropDateTimeStamp); len(p) != 1 || strings.TrimSpace(p[0].Value) == "" {
		return invalid(CondValidCalendarData, "%s needs one DTSTAMP (RFC 7953 §3.1)", c.Name)
	}
	return nil
}

// checkEndOrDuration refuses a component with both DTEND and DURATION
// (RFC 7953 §3.1: they MUST NOT occur together).
func checkEndOrDuration(c *ical.Component) error {
	if c.Props.Get(ical.PropDateTimeEnd) != nil && c.Props.Get(ical.PropDuration) != nil {
		return invalid(CondValidCalendarObjectResource, "%s has both DTEND and DURATION (RFC 7953 §3.1)", c.Name)
	}
	return nil
}
