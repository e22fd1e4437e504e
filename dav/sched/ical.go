package sched

import (
	"bytes"
	"fmt"
	"unicode/utf8"

	"github.com/almanac/almanac/itip"
	"github.com/emersion/go-ical"
)

// scheduled are the components that carry ORGANIZER and ATTENDEE.
func scheduled(cal *ical.Calendar) []*ical.Component {
	if cal == nil {
		return nil
	}
	var out []*ical.Component
	for _, c := range cal.Children {
		if c.Name == ical.CompEvent || c.Name == ical.CompToDo {
			out = append(out, c)
		}
	}
	return out
}

// organizer returns the normalized ORGANIZER of cal's first component
// that has one ("" for none).
func organizer(cal *ical.Calendar) string {
	for _, c := range scheduled(cal) {
		if p := c.Props.Get(ical.PropOrganizer); p != nil && p.Value != "" {
			return itip.NormalizeAddress(p.Value)
		}
	}
	return ""
}

// uidOf returns the UID of cal's components.
func uidOf(cal *ical.Calendar) string {
	for _, c := range scheduled(cal) {
		if p := c.Props.Get(ical.PropUID); p != nil {
			return p.Value
		}
	}
	return ""
}

// Encode writes cal as iCalendar with lines folded at 75 octets (RFC 5545
// §3.1; go-ical's encoder does not fold).
func Encode(cal *ical.Calendar) ([]byte, error) {
	var b bytes.Buffer
	if err := ical.NewEncoder(&b).Encode(cal); err != nil {
		return nil, fmt.Errorf("encode iCalendar: %w", err)
	}
	return Fold(b.Bytes()), nil
}

// Fold folds the lines of iCalendar text longer than 75 octets, never
// inside a UTF-8 sequence.
func Fold(text []byte) []byte {
	out := make([]byte, 0, len(text)+len(text)/64)
	for len(text) > 0 {
		i := bytes.Index(text, []byte("\r\n"))
		line := text
		if i >= 0 {
			line, text = text[:i], text[i+2:]
		} else {
			text = nil
		}
		limit := 75
		for len(line) > limit {
			cut := limit
			for cut > 0 && !utf8.RuneStart(line[cut]) {
				cut--
			}
			out = append(append(out, line[:cut]...), "\r\n "...)
			line = line[cut:]
			limit = 74 // the space counts
		}
		out = append(append(out, line...), "\r\n"...)
	}
	return out
}

// hasScheduleStatus reports whether an ATTENDEE of cal (nil: none)
// carries a SCHEDULE-STATUS, which the server wrote.
func hasScheduleStatus(cal *ical.Calendar) bool {
	for _, c := range scheduled(cal) {
		for _, p := range c.Props[ical.PropAttendee] {
			if p.Params.Get("SCHEDULE-STATUS") != "" {
				return true
			}
		}
	}
	return false
}
