// Package itiptest holds what the scheduling tests of package itip and
// package dav share: a comparison of iCalendar by property and a time
// zone whose DST switch the scenarios cross. It imports nothing of
// Almanac's.
package itiptest

import (
	"sort"
	"strings"

	"github.com/emersion/go-ical"
)

// BerlinVTimezone is Europe/Berlin's VTIMEZONE (summer time from the last
// Sunday of March to the last Sunday of October), lines ending in \n.
const BerlinVTimezone = `BEGIN:VTIMEZONE
TZID:Europe/Berlin
BEGIN:DAYLIGHT
TZOFFSETFROM:+0100
TZOFFSETTO:+0200
TZNAME:CEST
DTSTART:19700329T020000
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU
END:DAYLIGHT
BEGIN:STANDARD
TZOFFSETFROM:+0200
TZOFFSETTO:+0100
TZNAME:CET
DTSTART:19701025T030000
RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU
END:STANDARD
END:VTIMEZONE
`

// Canon renders c for a comparison by property: one line a property with
// its parameters sorted, the lines sorted, then the children, each
// rendered so and sorted by their text. Two components that differ only
// in the order of properties, parameters or children render the same.
func Canon(c *ical.Component) string {
	var lines []string
	for name, props := range c.Props {
		for _, p := range props {
			var params []string
			for k, vs := range p.Params {
				params = append(params, k+"="+strings.Join(vs, ","))
			}
			sort.Strings(params)
			l := name
			if len(params) > 0 {
				l += ";" + strings.Join(params, ";")
			}
			lines = append(lines, l+":"+p.Value+"\n")
		}
	}
	sort.Strings(lines)
	var kids []string
	for _, ch := range c.Children {
		kids = append(kids, Canon(ch))
	}
	sort.Strings(kids)
	return "BEGIN:" + c.Name + "\n" + strings.Join(lines, "") + strings.Join(kids, "") + "END:" + c.Name + "\n"
}
