package engine

import (
	"fmt"
	"math"
	"strings"
	"unicode/utf8"

	"github.com/almanac/almanac/engine/contentline"
	"github.com/emersion/go-ical"
	"github.com/emersion/go-vcard"
)

// objectInfo is what validation derives from a body for the projections.
type objectInfo struct {
	uid         string
	component   string
	contentType string
	envStart    int64 // Unix seconds, math.MinInt64 when unbounded
	envEnd      int64 // Unix seconds, math.MaxInt64 when unbounded
	// scheduling: a calendar object resource with an ORGANIZER, a
	// scheduling object resource (RFC 6638 §3.1).
	scheduling bool
}

// validate checks body against the rules of coll's kind and derives what
// the projections store about it.
func validate(coll *Collection, body []byte, contentType string, lim contentline.Limits) (objectInfo, error) {
	switch coll.Kind {
	case KindCalendar:
		return validateCalendar(body, coll, lim)
	case KindInbox:
		// An iTIP message (RFC 6638 §2.2): METHOD is required, the UID not
		// unique (several messages about one event wait side by side).
		info, err := checkCalendar(body, nil, lim, true)
		info.uid = ""
		return info, err
	case KindOutbox:
		return objectInfo{}, fmt.Errorf("%w: a scheduling outbox holds no objects (RFC 6638 §2.1)", ErrConflict)
	case KindAddressBook:
		return validateVCard(body, lim)
	}
	if contentType == "" || !utf8.ValidString(contentType) {
		contentType = "application/octet-stream"
	}
	return objectInfo{contentType: contentType, envStart: math.MinInt64, envEnd: math.MaxInt64}, nil
}

// validateCalendar checks a calendar object resource (RFC 4791 §4.1): one
// VCALENDAR, no METHOD, components of one type sharing one UID (overrides
// carry RECURRENCE-ID), a type the collection supports, within lim, and
// no control characters or bad TEXT escapes (checkCalendarLine).
func validateCalendar(body []byte, coll *Collection, lim contentline.Limits) (objectInfo, error) {
	return checkCalendar(body, coll, lim, false)
}

// checkCalendar is validateCalendar, or with itip the check of an iTIP
// message, which must have a METHOD.
func checkCalendar(body []byte, coll *Collection, lim contentline.Limits, itip bool) (objectInfo, error) {
	if !utf8.Valid(body) {
		return objectInfo{}, invalid(CondValidCalendarData, "not UTF-8, the charset of iCalendar (RFC 5545 §3.1.4)")
	}
	cal, err := parseCalendar(string(body), lim, checkCalendarLine)
	if err != nil {
		return objectInfo{}, invalid(CondValidCalendarData, "%v", err)
	}
	if m := cal.Props.Get(ical.PropMethod); m != nil && !itip {
		return objectInfo{}, invalid(CondValidCalendarObjectResource, "METHOD is not allowed in a calendar object resource")
	} else if m == nil && itip {
		return objectInfo{}, invalid(CondValidCalendarData, "an iTIP message without METHOD")
	}
	info := objectInfo{contentType: ContentTypeCalendar}
	masters := 0
	for _, comp := range cal.Children {
		switch comp.Name {
		case ical.CompTimezone:
			continue
		case ical.CompEvent, ical.CompToDo, ical.CompJournal, ical.CompFreeBusy:
		case CompAvailability:
			if itip {
				return objectInfo{}, invalid(CondValidCalendarObjectResource, "a scheduling inbox takes no VAVAILABILITY")
			}
			if err := checkAvailability(comp); err != nil {
				return objectInfo{}, err
			}
		default:
			if strings.HasPrefix(comp.Name, "X-") {
				continue
			}
			return objectInfo{}, invalid(CondValidCalendarObjectResource, "unexpected component %s", comp.Name)
		}
		if info.component == "" {
			info.component = comp.Name
		} else if info.component != comp.Name {
			return objectInfo{}, invalid(CondValidCalendarObjectResource, "mixes %s and %s in one resource", info.component, comp.Name)
		}
		uid := comp.Props.Get(ical.PropUID)
		if uid == nil || uid.Value == "" {
			return objectInfo{}, invalid(CondValidCalendarObjectResource, "%s without UID", comp.Name)
		}
		if info.uid == "" {
			info.uid = uid.Value
		} else if info.uid != uid.Value {
			return objectInfo{}, invalid(CondValidCalendarObjectResource, "components with different UIDs %q and %q", info.uid, uid.Value)
		}
		if !itip && comp.Name != CompAvailability && comp.Props.Get(ical.PropOrganizer) != nil {
			info.scheduling = true
		}
		if comp.Props.Get(ical.PropRecurrenceID) == nil {
			if masters++; masters > 1 {
				return objectInfo{}, invalid(CondValidCalendarObjectResource, "two %s components without RECURRENCE-ID share UID %q", comp.Name, info.uid)
			}
		}
	}
	if info.component == "" {
		return objectInfo{}, invalid(CondValidCalendarObjectResource, "no VEVENT, VTODO, VJOURNAL, VFREEBUSY or VAVAILABILITY component")
	}
	if coll != nil && !coll.Supports(info.component) {
		return objectInfo{}, invalid(CondSupportedCalendarComponent, "this calendar does not accept %s", info.component)
	}
	if err := validateRecurrence(cal); err != nil {
		return objectInfo{}, err
	}
	info.envStart, info.envEnd = calendarEnvelope(cal, coll)
	return info, nil
}

// validateVCard checks an address object resource (RFC 6352 §5.1): one
// vCard of version 3.0 or 4.0. A vCard without UID is accepted; the
// resource name is then its identity. Control characters are refused
// (checkVCardLine), and lim bounds the data.
func validateVCard(body []byte, lim contentline.Limits) (objectInfo, error) {
	card, err := parseVCard(string(body), lim, checkVCardLine)
	if err != nil {
		return objectInfo{}, invalid(CondValidAddressData, "%v", err)
	}
	switch v := card.Value(vcard.FieldVersion); v {
	case "3.0", "4.0":
	case "":
		return objectInfo{}, invalid(CondValidAddressData, "vCard without VERSION")
	default:
		return objectInfo{}, invalid(CondSupportedAddressData, "vCard version %s is not supported (3.0 and 4.0 are)", v)
	}
	uid := card.Value(vcard.FieldUID)
	if !utf8.ValidString(uid) {
		return objectInfo{}, invalid(CondValidAddressData, "UID is not UTF-8")
	}
	return objectInfo{
		uid:         uid,
		component:   "VCARD",
		contentType: ContentTypeVCard,
		envStart:    math.MinInt64,
		envEnd:      math.MaxInt64,
	}, nil
}

// checkVCardLine refuses control characters other than HTAB in parameter
// values and values (RFC 6350 §3.3: VALUE-CHAR, QSAFE-CHAR and SAFE-CHAR
// exclude them). Escapes are not checked: vCard 3.0 producers (Google's
// exports among them) write \: in URLs, which readers take as ":".
func checkVCardLine(l *contentline.Line) error {
	return checkControl(l)
}

// checkCalendarLine refuses control characters other than HTAB (RFC 5545
// §3.1: CONTROL is in no value or parameter value) and, in the TEXT
// properties people write, escapes other than \\ \; \, \n \N (RFC 5545
// §3.3.11).
func checkCalendarLine(l *contentline.Line) error {
	if err := checkControl(l); err != nil {
		return err
	}
	if textProps[strings.ToUpper(l.Name)] {
		if v := l.Param("VALUE"); v == "" || strings.EqualFold(v, "TEXT") {
			if i := contentline.BadEscape(l.Value); i >= 0 {
				return fmt.Errorf(`%s has the bad escape %s (RFC 5545 §3.3.11 allows only \\ \; \, \n \N)`, l.Name, l.Value[i:min(i+2, len(l.Value))])
			}
		}
	}
	return nil
}

// textProps are the iCalendar properties of type TEXT whose escapes PUT
// checks: those holding what people write.
var textProps = map[string]bool{
	"SUMMARY": true, "DESCRIPTION": true, "LOCATION": true, "COMMENT": true, "CATEGORIES": true,
	"RESOURCES": true, "CONTACT": true, "TZNAME": true, "NAME": true,
}

func checkControl(l *contentline.Line) error {
	if i := contentline.ControlChar(l.Value); i >= 0 {
		return fmt.Errorf("%s holds the control character U+%04X, which iCalendar and vCard do not allow", l.Name, l.Value[i])
	}
	for _, p := range l.Params {
		for _, v := range p.Values {
			if i := contentline.ControlChar(v); i >= 0 {
				return fmt.Errorf("parameter %s of %s holds the control character U+%04X", p.Name, l.Name, v[i])
			}
		}
	}
	return nil
}
