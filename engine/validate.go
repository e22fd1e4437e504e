package engine

import (
	"bufio"
	"bytes"
	"fmt"
	"math"
	"strings"
	"sync"
	"unicode/utf8"

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
}

// validate checks body against the rules of coll's kind and derives what
// the projections store about it.
func validate(coll *Collection, body []byte, contentType string) (objectInfo, error) {
	switch coll.Kind {
	case KindCalendar:
		return validateCalendar(body, coll)
	case KindAddressBook:
		return validateVCard(body)
	}
	if contentType == "" || !utf8.ValidString(contentType) {
		contentType = "application/octet-stream"
	}
	return objectInfo{contentType: contentType, envStart: math.MinInt64, envEnd: math.MaxInt64}, nil
}

// bufReaders pools the 4 KiB buffered readers go-ical and go-vcard read
// through. Their decoders call bufio.NewReader, which takes a
// *bufio.Reader as it is; a fresh one was a third of a put's garbage.
// Neither keeps slices of the buffer: they copy every line into strings.
var bufReaders = sync.Pool{New: func() any { return bufio.NewReader(nil) }}

// bufReader returns a pooled reader of body; release it when done.
func bufReader(body []byte) *bufio.Reader {
	br := bufReaders.Get().(*bufio.Reader)
	br.Reset(bytes.NewReader(body))
	return br
}

// releaseReader returns br to the pool, without the body it read.
func releaseReader(br *bufio.Reader) {
	br.Reset(nil)
	bufReaders.Put(br)
}

// ParseCalendar parses iCalendar data with go-ical and turns its panics on
// malformed input into an error.
func ParseCalendar(body []byte) (cal *ical.Calendar, err error) {
	defer func() {
		if r := recover(); r != nil {
			cal, err = nil, fmt.Errorf("malformed iCalendar: %v", r)
		}
	}()
	if err := checkNesting(body); err != nil {
		return nil, err
	}
	br := bufReader(body)
	defer releaseReader(br)
	dec := ical.NewDecoder(br)
	cal, err = dec.Decode()
	if err != nil {
		return nil, fmt.Errorf("malformed iCalendar: %w", err)
	}
	if _, err := dec.Decode(); err == nil {
		return nil, fmt.Errorf("more than one VCALENDAR")
	}
	return cal, nil
}

// maxNesting bounds BEGIN depth: go-ical recurses without limit.
const maxNesting = 8

// checkNesting rejects bodies nested deeper than maxNesting before they
// reach the recursive parser.
func checkNesting(body []byte) error {
	depth := 0
	for rest := body; len(rest) > 0; {
		var line []byte
		line, rest, _ = bytes.Cut(rest, []byte("\n"))
		switch {
		case hasPrefixFold(line, "BEGIN:"):
			if depth++; depth > maxNesting {
				return fmt.Errorf("components nested deeper than %d levels", maxNesting)
			}
		case hasPrefixFold(line, "END:"):
			depth--
		}
	}
	return nil
}

func hasPrefixFold(b []byte, p string) bool {
	return len(b) >= len(p) && strings.EqualFold(string(b[:len(p)]), p)
}

// validateCalendar checks a calendar object resource (RFC 4791 §4.1): one
// VCALENDAR, no METHOD, components of one type sharing one UID (overrides
// carry RECURRENCE-ID), a type the collection supports.
func validateCalendar(body []byte, coll *Collection) (objectInfo, error) {
	if !utf8.Valid(body) {
		return objectInfo{}, invalid(CondValidCalendarData, "not UTF-8, the charset of iCalendar (RFC 5545 §3.1.4)")
	}
	cal, err := ParseCalendar(body)
	if err != nil {
		return objectInfo{}, invalid(CondValidCalendarData, "%v", err)
	}
	if cal.Props.Get(ical.PropMethod) != nil {
		return objectInfo{}, invalid(CondValidCalendarObjectResource, "METHOD is not allowed in a calendar object resource")
	}
	info := objectInfo{contentType: ContentTypeCalendar}
	masters := 0
	for _, comp := range cal.Children {
		switch comp.Name {
		case ical.CompTimezone:
			continue
		case ical.CompEvent, ical.CompToDo, ical.CompJournal, ical.CompFreeBusy:
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
		if comp.Props.Get(ical.PropRecurrenceID) == nil {
			if masters++; masters > 1 {
				return objectInfo{}, invalid(CondValidCalendarObjectResource, "two %s components without RECURRENCE-ID share UID %q", comp.Name, info.uid)
			}
		}
	}
	if info.component == "" {
		return objectInfo{}, invalid(CondValidCalendarObjectResource, "no VEVENT, VTODO, VJOURNAL or VFREEBUSY component")
	}
	if coll != nil && !coll.Supports(info.component) {
		return objectInfo{}, invalid(CondSupportedCalendarComponent, "this calendar does not accept %s", info.component)
	}
	info.envStart, info.envEnd = calendarEnvelope(cal, coll)
	return info, nil
}

// ParseVCard parses one vCard with go-vcard and turns its panics into an
// error.
func ParseVCard(body []byte) (card vcard.Card, err error) {
	defer func() {
		if r := recover(); r != nil {
			card, err = nil, fmt.Errorf("malformed vCard: %v", r)
		}
	}()
	br := bufReader(body)
	defer releaseReader(br)
	dec := vcard.NewDecoder(br)
	card, err = dec.Decode()
	if err != nil {
		return nil, fmt.Errorf("malformed vCard: %w", err)
	}
	if _, err := dec.Decode(); err == nil {
		return nil, fmt.Errorf("more than one vCard")
	}
	return card, nil
}

// validateVCard checks an address object resource (RFC 6352 §5.1): one
// vCard of version 3.0 or 4.0. A vCard without UID is accepted; the
// resource name is then its identity.
func validateVCard(body []byte) (objectInfo, error) {
	card, err := ParseVCard(body)
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
