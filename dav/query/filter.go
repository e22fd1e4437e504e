package query

import (
	"time"
)

// CompFilter is CALDAV:comp-filter (RFC 4791 §9.7.1).
type CompFilter struct {
	Name         string // upper case
	IsNotDefined bool
	TimeRange    *TimeRange
	Props        []PropFilter
	Comps        []CompFilter
}

// PropFilter is CALDAV:prop-filter (RFC 4791 §9.7.2) or CARDDAV:prop-filter
// (RFC 6352 §10.5.1).
type PropFilter struct {
	Name         string // upper case
	IsNotDefined bool
	TimeRange    *TimeRange // CalDAV only
	TextMatches  []TextMatch
	Params       []ParamFilter
	// AllOf is CardDAV's test="allof": every text-match and param-filter
	// must match (default: any).
	AllOf bool
}

// ParamFilter is CALDAV:param-filter or CARDDAV:param-filter.
type ParamFilter struct {
	Name         string // upper case
	IsNotDefined bool
	TextMatch    *TextMatch
}

// TextMatch is CALDAV:text-match (RFC 4791 §9.7.5) or CARDDAV:text-match
// (RFC 6352 §10.5.4).
type TextMatch struct {
	Text      string
	Collation string
	Negate    bool
	// MatchType is equals, contains, starts-with or ends-with (CardDAV;
	// CalDAV always matches substrings).
	MatchType string
}

// TimeRange is CALDAV:time-range (RFC 4791 §9.9); zero bounds are
// unbounded.
type TimeRange struct {
	Start, End time.Time
}

// CalendarData is the CALDAV:calendar-data element of a REPORT's DAV:prop
// (RFC 4791 §9.6): what part of each object to return.
type CalendarData struct {
	// Comp selects components and properties; nil returns everything.
	Comp *CompSel
	// Expand, when set, turns recurrence sets into their instances in
	// the range.
	Expand *TimeRange
	// LimitRecurrenceSet keeps only the overrides that affect the range.
	LimitRecurrenceSet *TimeRange
	// LimitFreeBusySet keeps only FREEBUSY periods in the range.
	LimitFreeBusySet *TimeRange
}

// Shaped reports whether the output differs from the stored body.
func (d *CalendarData) Shaped() bool {
	return d != nil && (d.Comp != nil || d.Expand != nil || d.LimitRecurrenceSet != nil || d.LimitFreeBusySet != nil)
}

// CompSel is CALDAV:comp inside calendar-data (RFC 4791 §9.6.1).
type CompSel struct {
	Name     string
	AllProps bool
	Props    []PropSel
	AllComps bool
	Comps    []CompSel
}

// PropSel is CALDAV:prop or CARDDAV:prop: a property to return, with or
// without its value.
type PropSel struct {
	Name    string
	NoValue bool
}
