package query

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/almanac/almanac/dav/internal/davxml"
	"github.com/almanac/almanac/engine/recur"
	"github.com/emersion/go-ical"
)

// Element structs of the REPORT bodies; children match by local name,
// the root by namespace.
type (
	xmlRange struct {
		Start *string `xml:"start,attr"`
		End   *string `xml:"end,attr"`
	}
	xmlTextMatch struct {
		Text      string `xml:",chardata"`
		Collation string `xml:"collation,attr"`
		Negate    string `xml:"negate-condition,attr"`
		MatchType string `xml:"match-type,attr"`
	}
	xmlParamFilter struct {
		Name         string        `xml:"name,attr"`
		IsNotDefined *struct{}     `xml:"is-not-defined"`
		TextMatch    *xmlTextMatch `xml:"text-match"`
	}
	xmlPropFilter struct {
		Name         string           `xml:"name,attr"`
		Test         string           `xml:"test,attr"`
		IsNotDefined *struct{}        `xml:"is-not-defined"`
		TimeRange    *xmlRange        `xml:"time-range"`
		TextMatches  []xmlTextMatch   `xml:"text-match"`
		ParamFilters []xmlParamFilter `xml:"param-filter"`
	}
	xmlCompFilter struct {
		Name         string          `xml:"name,attr"`
		IsNotDefined *struct{}       `xml:"is-not-defined"`
		TimeRange    *xmlRange       `xml:"time-range"`
		PropFilters  []xmlPropFilter `xml:"prop-filter"`
		CompFilters  []xmlCompFilter `xml:"comp-filter"`
	}
	xmlFilter struct {
		Test        string          `xml:"test,attr"`
		CompFilters []xmlCompFilter `xml:"comp-filter"`
		PropFilters []xmlPropFilter `xml:"prop-filter"`
	}
)

// decode parses a REPORT body whose root must be {space}local.
func decode(body []byte, space, local string, v any) error {
	root, err := davxml.Root(body)
	if err != nil {
		return errBadRequest("%v", err)
	}
	if root.Space != space || root.Local != local {
		return errBadRequest("root element is {%s}%s, want {%s}%s", root.Space, root.Local, space, local)
	}
	if err := xml.Unmarshal(body, v); err != nil {
		return errBadRequest("malformed XML: %v", err)
	}
	return nil
}

// parseRange reads a time-range, expand or limit element (RFC 4791
// §9.9): UTC DATE-TIME attributes, at least one of them, start < end.
func parseRange(r *xmlRange, requireBoth bool) (*TimeRange, error) {
	if r == nil {
		return nil, nil
	}
	var tr TimeRange
	var err error
	if r.Start == nil && r.End == nil || requireBoth && (r.Start == nil || r.End == nil) {
		return nil, errValidFilter("time range without start or end")
	}
	if r.Start != nil {
		if tr.Start, err = parseUTC(*r.Start); err != nil {
			return nil, err
		}
	}
	if r.End != nil {
		if tr.End, err = parseUTC(*r.End); err != nil {
			return nil, err
		}
	}
	if !tr.Start.IsZero() && !tr.End.IsZero() && !tr.End.After(tr.Start) {
		return nil, errValidFilter("time range ends before it starts")
	}
	return &tr, nil
}

func parseUTC(v string) (time.Time, error) {
	t, err := time.Parse("20060102T150405Z", strings.TrimSpace(v))
	if err != nil {
		return time.Time{}, errValidFilter("time %q is not a UTC date-time", v)
	}
	return t, nil
}

// parseCollation checks a collation name (RFC 4790 registry; RFC 4791
// §7.5, RFC 6352 §8.3).
func parseCollation(space, name string) (string, error) {
	switch name {
	case "":
		if space == NSCardDAV {
			return collUnicodeCasemap, nil
		}
		return collASCIICasemap, nil
	case collOctet, collASCIICasemap, collUnicodeCasemap:
		return name, nil
	}
	return "", errSupportedCollation(space, name)
}

func parseTextMatch(space string, x *xmlTextMatch) (*TextMatch, error) {
	if x == nil {
		return nil, nil
	}
	coll, err := parseCollation(space, x.Collation)
	if err != nil {
		return nil, err
	}
	tm := &TextMatch{Text: x.Text, Collation: coll, MatchType: "contains"}
	switch x.Negate {
	case "", "no":
	case "yes":
		tm.Negate = true
	default:
		return nil, filterErr(space, "negate-condition %q", x.Negate)
	}
	if space == NSCardDAV {
		switch x.MatchType {
		case "":
		case "equals", "contains", "starts-with", "ends-with":
			tm.MatchType = x.MatchType
		default:
			return nil, errorf(400, NSCardDAV, "supported-filter", "match-type %q", x.MatchType)
		}
	}
	return tm, nil
}

func filterErr(space, format string, args ...any) error {
	if space == NSCardDAV {
		return errCardValidFilter(format, args...)
	}
	return errValidFilter(format, args...)
}

func parseParamFilter(space string, x xmlParamFilter) (ParamFilter, error) {
	if x.Name == "" {
		return ParamFilter{}, filterErr(space, "param-filter without name")
	}
	pf := ParamFilter{Name: strings.ToUpper(x.Name), IsNotDefined: x.IsNotDefined != nil}
	tm, err := parseTextMatch(space, x.TextMatch)
	if err != nil {
		return ParamFilter{}, err
	}
	pf.TextMatch = tm
	if pf.IsNotDefined && tm != nil {
		return ParamFilter{}, filterErr(space, "param-filter %s with is-not-defined and text-match", x.Name)
	}
	return pf, nil
}

func parsePropFilter(space string, x xmlPropFilter) (PropFilter, error) {
	if x.Name == "" {
		return PropFilter{}, filterErr(space, "prop-filter without name")
	}
	pf := PropFilter{Name: strings.ToUpper(x.Name), IsNotDefined: x.IsNotDefined != nil}
	switch x.Test {
	case "", "anyof":
	case "allof":
		pf.AllOf = true
	default:
		return PropFilter{}, filterErr(space, "test %q", x.Test)
	}
	if space == NSCalDAV && len(x.TextMatches) > 1 {
		return PropFilter{}, errValidFilter("prop-filter %s with several text-match", x.Name)
	}
	tr, err := parseRange(x.TimeRange, false)
	if err != nil {
		return PropFilter{}, err
	}
	pf.TimeRange = tr
	for i := range x.TextMatches {
		tm, err := parseTextMatch(space, &x.TextMatches[i])
		if err != nil {
			return PropFilter{}, err
		}
		pf.TextMatches = append(pf.TextMatches, *tm)
	}
	for _, p := range x.ParamFilters {
		f, err := parseParamFilter(space, p)
		if err != nil {
			return PropFilter{}, err
		}
		pf.Params = append(pf.Params, f)
	}
	if pf.IsNotDefined && (tr != nil || len(pf.TextMatches) > 0 || len(pf.Params) > 0) {
		return PropFilter{}, filterErr(space, "prop-filter %s with is-not-defined and other tests", x.Name)
	}
	if tr != nil && len(pf.TextMatches) > 0 {
		return PropFilter{}, errValidFilter("prop-filter %s with time-range and text-match", x.Name)
	}
	return pf, nil
}

// maxFilterDepth bounds comp-filter nesting (VCALENDAR > VEVENT > VALARM).
const maxFilterDepth = 4

// componentParents says, for each component iCalendar defines, which
// components it may sit in (RFC 5545 §3.4, §3.6; RFC 7953 §3 for
// VAVAILABILITY; RFC 9073 §7 for VLOCATION, VRESOURCE and PARTICIPANT).
// A comp-filter that nests a known component anywhere else can never
// match and is refused with CALDAV:valid-filter (RFC 4791 §9.7.1) rather
// than answered with an empty 207. Other names (X- and unknown IANA
// components) may nest anywhere.
var componentParents = map[string][]string{
	ical.CompCalendar:         {""},
	ical.CompEvent:            {ical.CompCalendar},
	ical.CompToDo:             {ical.CompCalendar},
	ical.CompJournal:          {ical.CompCalendar},
	ical.CompFreeBusy:         {ical.CompCalendar},
	ical.CompTimezone:         {ical.CompCalendar},
	"VAVAILABILITY":           {ical.CompCalendar},
	ical.CompAlarm:            {ical.CompEvent, ical.CompToDo},
	ical.CompTimezoneStandard: {ical.CompTimezone},
	ical.CompTimezoneDaylight: {ical.CompTimezone},
	"AVAILABLE":               {"VAVAILABILITY"},
	"PARTICIPANT":             {ical.CompEvent, ical.CompToDo, ical.CompJournal, ical.CompFreeBusy},
	"VLOCATION":               {ical.CompEvent, ical.CompToDo, ical.CompJournal, "PARTICIPANT"},
	"VRESOURCE":               {ical.CompEvent, ical.CompToDo, ical.CompJournal, "PARTICIPANT"},
}

// nestable reports whether component name may sit in parent ("" for the
// top of the filter).
func nestable(parent, name string) bool {
	parents, known := componentParents[name]
	if !known {
		return parent != "" // an X- or unknown component, but not at the top
	}
	if _, parentKnown := componentParents[parent]; parent != "" && !parentKnown {
		return true // inside an X- or unknown component, anything may be
	}
	return slices.Contains(parents, parent)
}

func parseCompFilter(x xmlCompFilter, parent string, depth int) (CompFilter, error) {
	if depth > maxFilterDepth {
		return CompFilter{}, errValidFilter("comp-filter nested too deep")
	}
	if x.Name == "" {
		return CompFilter{}, errValidFilter("comp-filter without name")
	}
	cf := CompFilter{Name: strings.ToUpper(x.Name), IsNotDefined: x.IsNotDefined != nil}
	if !nestable(parent, cf.Name) {
		if parent == "" {
			return CompFilter{}, errValidFilter("top comp-filter is %s, want VCALENDAR", cf.Name)
		}
		return CompFilter{}, errValidFilter("a %s cannot be inside a %s", cf.Name, parent)
	}
	tr, err := parseRange(x.TimeRange, false)
	if err != nil {
		return CompFilter{}, err
	}
	cf.TimeRange = tr
	if tr != nil {
		switch {
		case depth == 1 && (cf.Name == ical.CompEvent || cf.Name == ical.CompToDo || cf.Name == ical.CompJournal || cf.Name == ical.CompFreeBusy):
		case depth == 2 && cf.Name == ical.CompAlarm:
		default:
			return CompFilter{}, errValidFilter("time-range on %s is not defined", cf.Name)
		}
	}
	for _, p := range x.PropFilters {
		f, err := parsePropFilter(NSCalDAV, p)
		if err != nil {
			return CompFilter{}, err
		}
		cf.Props = append(cf.Props, f)
	}
	for _, c := range x.CompFilters {
		f, err := parseCompFilter(c, cf.Name, depth+1)
		if err != nil {
			return CompFilter{}, err
		}
		cf.Comps = append(cf.Comps, f)
	}
	if cf.IsNotDefined && (tr != nil || len(cf.Props) > 0 || len(cf.Comps) > 0) {
		return CompFilter{}, errValidFilter("comp-filter %s with is-not-defined and other tests", cf.Name)
	}
	return cf, nil
}

// parseTimezone reads CALDAV:timezone (a VCALENDAR with a VTIMEZONE) or
// RFC 7809 CALDAV:timezone-id.
func parseTimezone(text, id *string) (*time.Location, error) {
	if id != nil {
		loc := recur.LookupTZID(strings.TrimSpace(*id))
		if loc == nil {
			return nil, errorf(403, NSCalDAV, "valid-timezone", "unknown time zone %q", *id)
		}
		return loc, nil
	}
	if text == nil {
		return nil, nil
	}
	return ParseTimezone(*text)
}

// ParseTimezone checks a CALDAV:timezone (RFC 4791 §9.8) or
// CALDAV:calendar-timezone (§5.2.2) value and returns its location: it
// must be one VCALENDAR holding exactly one VTIMEZONE and nothing else,
// with a TZID and at least one STANDARD or DAYLIGHT, which engine/recur
// can interpret (or whose TZID names a zone it knows).
//
// Errors are *Error: 403 CALDAV:valid-calendar-data.
func ParseTimezone(text string) (*time.Location, error) {
	bad := func(format string, args ...any) error {
		return errorf(http.StatusForbidden, NSCalDAV, "valid-calendar-data", "timezone: "+format, args...)
	}
	cal, err := parseCalendar([]byte(strings.TrimSpace(text)))
	if err != nil {
		return nil, bad("not one iCalendar object (%v)", err)
	}
	if len(cal.Children) != 1 || cal.Children[0].Name != ical.CompTimezone {
		return nil, bad("a VCALENDAR with exactly one VTIMEZONE and no other component is needed")
	}
	vtz := cal.Children[0]
	tzid := vtz.Props.Get(ical.PropTimezoneID)
	if tzid == nil || strings.TrimSpace(tzid.Value) == "" {
		return nil, bad("the VTIMEZONE has no TZID")
	}
	observances := 0
	for _, c := range vtz.Children {
		if c.Name == ical.CompTimezoneStandard || c.Name == ical.CompTimezoneDaylight {
			observances++
		}
	}
	if observances == 0 {
		return nil, bad("the VTIMEZONE %s has no STANDARD or DAYLIGHT", tzid.Value)
	}
	if _, err := recur.LocationFromVTimezone(vtz); err != nil && recur.LookupTZID(tzid.Value) == nil {
		return nil, bad("the VTIMEZONE %s cannot be interpreted: %v", tzid.Value, err)
	}
	loc := recur.CalendarTimezone(cal)
	if loc == nil {
		return nil, bad("the VTIMEZONE %s cannot be interpreted", tzid.Value)
	}
	return loc, nil
}

// TimezoneFromText turns a CALDAV:calendar-timezone value (iCalendar text
// with one VTIMEZONE) into a location; nil when it holds none usable.
func TimezoneFromText(text string) *time.Location {
	cal, err := parseCalendar([]byte(strings.TrimSpace(text)))
	if err != nil {
		return nil
	}
	return recur.CalendarTimezone(cal)
}

// parseCalendar parses iCalendar bytes into go-ical's model through
// ParseContent (which neither panics nor reorders), returning the map
// from components back to their nodes.
func parseCalendarNodes(body []byte) (*ical.Calendar, *Node, map[*ical.Component]*Node, error) {
	roots, err := ParseContent(body)
	if err != nil {
		return nil, nil, nil, err
	}
	if len(roots) != 1 || roots[0].Name != ical.CompCalendar {
		return nil, nil, nil, fmt.Errorf("query: not one VCALENDAR")
	}
	m := map[*ical.Component]*Node{}
	return &ical.Calendar{Component: roots[0].ToICal(m)}, roots[0], m, nil
}

func parseCalendar(body []byte) (*ical.Calendar, error) {
	cal, _, _, err := parseCalendarNodes(bytes.TrimSpace(body))
	return cal, err
}
