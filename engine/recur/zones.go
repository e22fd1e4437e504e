package recur

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	_ "time/tzdata" // IANA zones without depending on the host

	"github.com/emersion/go-ical"
)

// Zones resolves the TZID parameters of one calendar. Resolution order:
// an IANA name (time.LoadLocation over the embedded tzdata); the
// calendar's own VTIMEZONE of that TZID; a Windows zone name (CLDR
// windowsZones); else the time is treated as floating. Floating times
// (no TZID, no Z) and DATE values are placed in the floating location.
type Zones struct {
	floating *time.Location
	defined  map[string]*ical.Component
	cache    map[string]*time.Location
	work     *budget // shared by the calendar's VTIMEZONEs (MaxZoneWork)
	// Floating is set once a time was placed in the floating location.
	Floating bool
}

// NewZones returns the resolver for cal. floating is the location of
// floating times; nil means UTC.
func NewZones(cal *ical.Calendar, floating *time.Location) *Zones {
	if floating == nil {
		floating = time.UTC
	}
	z := &Zones{floating: floating, defined: map[string]*ical.Component{}, cache: map[string]*time.Location{},
		work: newBudget(context.Background(), MaxZoneWork)}
	if cal != nil {
		for _, c := range cal.Children {
			if c.Name != ical.CompTimezone {
				continue
			}
			if p := c.Props.Get(ical.PropTimezoneID); p != nil {
				z.defined[p.Value] = c
			}
		}
	}
	return z
}

// FloatingLocation returns the location of floating times.
func (z *Zones) FloatingLocation() *time.Location { return z.floating }

// Location resolves tzid. ok is false when the name is unknown and the
// floating location is returned instead.
func (z *Zones) Location(tzid string) (loc *time.Location, ok bool) {
	loc, cached := z.cache[tzid]
	if !cached {
		loc = resolveTZID(tzid, z.defined[tzid], z.work)
		z.cache[tzid] = loc
	}
	if loc == nil {
		return z.floating, false
	}
	return loc, true
}

// LookupTZID resolves a TZID without a calendar: an IANA name or a
// Windows zone name. It returns nil when the name is unknown.
func LookupTZID(tzid string) *time.Location {
	return resolveTZID(tzid, nil, nil)
}

// IsIANA reports whether tzid is an IANA zone name, which Zones resolves
// before (and so whatever) the calendar's own VTIMEZONE of that TZID.
func IsIANA(tzid string) bool { return loadIANA(tzid) != nil }

// resolveTZID resolves tzid, interpreting vtz (when not nil) within the
// work budget b.
func resolveTZID(tzid string, vtz *ical.Component, b *budget) *time.Location {
	if loc := loadIANA(tzid); loc != nil {
		return loc
	}
	if vtz != nil {
		if loc, err := locationFromVTimezone(vtz, b); err == nil {
			return loc
		}
	}
	if name, ok := windowsZones[tzid]; ok {
		return loadIANA(name)
	}
	// Vendor prefixes such as "/mozilla.org/20050126_1/Europe/Berlin".
	if strings.HasPrefix(tzid, "/") {
		parts := strings.Split(tzid, "/")
		for i := 1; i < len(parts)-1; i++ {
			if loc := loadIANA(strings.Join(parts[i:], "/")); loc != nil {
				return loc
			}
		}
	}
	return nil
}

// ianaCache holds the IANA locations loaded so far (and misses, as nil):
// time.LoadLocation parses the embedded tzdata on every call.
var ianaCache sync.Map // string -> *time.Location

// maxIANACache bounds the misses remembered, which clients choose.
const maxIANACache = 4096

var ianaCacheSize atomic.Int64

func loadIANA(name string) *time.Location {
	if name == "" || name == "Local" || strings.ContainsAny(name, " \\") || strings.Contains(name, "..") {
		return nil
	}
	if loc, ok := ianaCache.Load(name); ok {
		return loc.(*time.Location)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		loc = nil
	}
	if ianaCacheSize.Add(1) <= maxIANACache {
		ianaCache.Store(name, loc)
	}
	return loc
}

// CalendarTimezone turns a CALDAV:calendar-timezone or RFC 7809
// timezone value (a VCALENDAR holding one VTIMEZONE) into a location.
// It returns nil when the text holds no usable zone.
func CalendarTimezone(cal *ical.Calendar) *time.Location {
	if cal == nil {
		return nil
	}
	work := newBudget(context.Background(), MaxZoneWork)
	for _, c := range cal.Children {
		if c.Name != ical.CompTimezone {
			continue
		}
		tzid := ""
		if p := c.Props.Get(ical.PropTimezoneID); p != nil {
			tzid = p.Value
		}
		if loc := resolveTZID(tzid, c, work); loc != nil {
			return loc
		}
	}
	return nil
}
