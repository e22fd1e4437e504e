// Package calgen makes random calendar objects and time ranges for the
// property tests of the time index and the queries (engine, dav/query):
// the shapes whose envelopes and instances are easy to get wrong. Only
// tests import it; it imports nothing of Almanac's.
package calgen

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
)

// Object returns a calendar object with the given UID, of one of the
// shapes a time index must place right: timed (UTC, zoned, floating),
// all-day, with a DURATION or no end, recurring (counted, until, endless,
// with an override), VTODOs (due only, start only, neither) and far-away
// dates.
func Object(r *rand.Rand, uid string) []byte {
	base := time.Date(2024+r.IntN(5), time.Month(1+r.IntN(12)), 1+r.IntN(28), r.IntN(24), 15*r.IntN(4), 0, 0, time.UTC)
	const f, d = "20060102T150405", "20060102"
	dur := time.Duration(1+r.IntN(300)) * 15 * time.Minute
	var b strings.Builder
	b.WriteString("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n")
	comp := "VEVENT"
	if r.IntN(6) == 0 {
		comp = "VTODO"
	}
	fmt.Fprintf(&b, "BEGIN:%s\r\nUID:%s\r\nDTSTAMP:20260101T000000Z\r\n", comp, uid)
	var rid string
	switch shape := r.IntN(9); {
	case comp == "VTODO" && shape < 3:
		fmt.Fprintf(&b, "DUE:%sZ\r\n", base.Format(f))
	case comp == "VTODO" && shape < 6:
		fmt.Fprintf(&b, "DTSTART:%sZ\r\n", base.Format(f))
	case comp == "VTODO":
		// no date at all: unbounded
	case shape == 0:
		fmt.Fprintf(&b, "DTSTART:%s\r\nDTEND:%s\r\n", base.Format(f), base.Add(dur).Format(f)) // floating
	case shape == 1:
		fmt.Fprintf(&b, "DTSTART;VALUE=DATE:%s\r\nDTEND;VALUE=DATE:%s\r\n", base.Format(d), base.AddDate(0, 0, 1+r.IntN(20)).Format(d))
	case shape == 2:
		fmt.Fprintf(&b, "DTSTART;TZID=Europe/Berlin:%s\r\nDURATION:PT%dM\r\n", base.Format(f), int(dur.Minutes()))
	case shape == 3:
		fmt.Fprintf(&b, "DTSTART;VALUE=DATE:%s\r\n", base.Format(d))
	case shape == 4:
		fmt.Fprintf(&b, "DTSTART:%sZ\r\nDTEND:%sZ\r\nRRULE:FREQ=WEEKLY;COUNT=%d\r\n", base.Format(f), base.Add(dur).Format(f), 2+r.IntN(60))
	case shape == 5:
		fmt.Fprintf(&b, "DTSTART;TZID=America/New_York:%s\r\nDTEND;TZID=America/New_York:%s\r\nRRULE:FREQ=DAILY;INTERVAL=%d;UNTIL=%sZ\r\n",
			base.Format(f), base.Add(dur).Format(f), 1+r.IntN(30), base.AddDate(0, r.IntN(30), 0).Format(f))
	case shape == 6:
		fmt.Fprintf(&b, "DTSTART:%s\r\nDTEND:%s\r\nRRULE:FREQ=MONTHLY\r\n", base.Format(f), base.Add(dur).Format(f)) // endless, floating
	case shape == 7:
		fmt.Fprintf(&b, "DTSTART:%sZ\r\nDTEND:%sZ\r\nRRULE:FREQ=WEEKLY;COUNT=10\r\n", base.Format(f), base.Add(time.Hour).Format(f))
		rid = base.AddDate(0, 0, 14).Format(f)
	default:
		far := base.AddDate(200*(r.IntN(3)-1), 0, 0)
		fmt.Fprintf(&b, "DTSTART:%sZ\r\nDTEND:%sZ\r\n", far.Format(f), far.Add(dur).Format(f))
	}
	fmt.Fprintf(&b, "END:%s\r\n", comp)
	if rid != "" {
		// the third instance moved months away
		moved := base.AddDate(0, 3+r.IntN(12), 0)
		fmt.Fprintf(&b, "BEGIN:VEVENT\r\nUID:%s\r\nDTSTAMP:20260101T000000Z\r\nRECURRENCE-ID:%sZ\r\nDTSTART:%sZ\r\nDTEND:%sZ\r\nEND:VEVENT\r\n",
			uid, rid, moved.Format(f), moved.Add(time.Hour).Format(f))
	}
	b.WriteString("END:VCALENDAR\r\n")
	return []byte(b.String())
}

// Range returns a query range from an hour to two years long,
// sometimes open on one side.
func Range(r *rand.Rand) (start, end time.Time) {
	start = time.Date(2023+r.IntN(7), time.Month(1+r.IntN(12)), 1+r.IntN(28), r.IntN(24), 0, 0, 0, time.UTC)
	end = start.Add(time.Duration(1+r.IntN(24*730)) * time.Hour)
	switch r.IntN(10) {
	case 0:
		start = time.Time{}
	case 1:
		end = time.Time{}
	}
	return start, end
}

// Realistic returns the benchmarks' calendar object of about 1 KB with
// the given UID: a weekly event with an exception, an organizer, three
// attendees and an alarm.
func Realistic(uid string) []byte {
	return []byte("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Almanac//bench//EN\r\n" +
		"BEGIN:VEVENT\r\nUID:" + uid + "\r\nDTSTAMP:20260101T000000Z\r\n" +
		"DTSTART:20260105T090000Z\r\nDTEND:20260105T100000Z\r\n" +
		"RRULE:FREQ=WEEKLY;COUNT=20\r\nEXDATE:20260112T090000Z\r\n" +
		"SUMMARY:Weekly planning with the product and engineering teams\r\n" +
		"DESCRIPTION:Agenda: review of last week's delivery\\, open incidents\\, roadmap\r\n  items and hiring. Please add topics to the shared document beforehand.\r\n" +
		"LOCATION:Room 4.12\\, Main building\r\n" +
		"ORGANIZER;CN=Ann Organizer:mailto:ann@example.com\r\n" +
		"ATTENDEE;CN=Bob;PARTSTAT=ACCEPTED;ROLE=REQ-PARTICIPANT:mailto:bob@example.com\r\n" +
		"ATTENDEE;CN=Carol;PARTSTAT=TENTATIVE;ROLE=REQ-PARTICIPANT:mailto:carol@example.com\r\n" +
		"ATTENDEE;CN=Dave;PARTSTAT=NEEDS-ACTION;ROLE=OPT-PARTICIPANT:mailto:dave@example.com\r\n" +
		"BEGIN:VALARM\r\nACTION:DISPLAY\r\nDESCRIPTION:Reminder\r\nTRIGGER:-PT15M\r\nEND:VALARM\r\n" +
		"END:VEVENT\r\nEND:VCALENDAR\r\n")
}

// Series returns a recurring VEVENT with the given UID, of the shapes
// whose instances a time index's spacing (engine/recur.Spacing) must
// describe exactly: DAILY and WEEKLY rules with INTERVAL, BYDAY, COUNT or
// UNTIL or none, zoned across DST changes (a VTIMEZONE of its own or an
// IANA name), UTC or floating, with EXDATEs, RDATEs and RECURRENCE-ID
// overrides that move or cancel instances, and sometimes MONTHLY.
func Series(r *rand.Rand, uid string) []byte {
	const f = "20060102T150405"
	base := time.Date(2024+r.IntN(4), time.Month(1+r.IntN(12)), 1+r.IntN(28), r.IntN(24), 15*r.IntN(4), 0, 0, time.UTC)
	dur := time.Duration(r.IntN(12)) * 30 * time.Minute
	var zone, suffix string
	switch r.IntN(5) {
	case 0, 1:
		zone = ";TZID=Europe/Berlin"
	case 2:
		zone = ";TZID=America/New_York"
	case 3:
		suffix = "Z"
	default: // floating
	}
	stamp := func(t time.Time) string { return zone + ":" + t.Format(f) + suffix }
	var b strings.Builder
	b.WriteString("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n")
	if zone == ";TZID=Europe/Berlin" && r.IntN(2) == 0 {
		b.WriteString("BEGIN:VTIMEZONE\r\nTZID:Europe/Berlin\r\n" +
			"BEGIN:DAYLIGHT\r\nTZOFFSETFROM:+0100\r\nTZOFFSETTO:+0200\r\nTZNAME:CEST\r\nDTSTART:19700329T020000\r\nRRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r\nEND:DAYLIGHT\r\n" +
			"BEGIN:STANDARD\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nTZNAME:CET\r\nDTSTART:19701025T030000\r\nRRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\nEND:STANDARD\r\n" +
			"END:VTIMEZONE\r\n")
	}
	fmt.Fprintf(&b, "BEGIN:VEVENT\r\nUID:%s\r\nDTSTAMP:20260101T000000Z\r\nDTSTART%s\r\n", uid, stamp(base))
	if dur > 0 || r.IntN(2) == 0 {
		fmt.Fprintf(&b, "DTEND%s\r\n", stamp(base.Add(dur)))
	}
	freq := []string{"DAILY", "WEEKLY", "WEEKLY", "MONTHLY"}[r.IntN(4)]
	rule := "FREQ=" + freq
	if r.IntN(2) == 0 {
		rule += fmt.Sprintf(";INTERVAL=%d", 1+r.IntN(4))
	}
	if freq == "WEEKLY" && r.IntN(2) == 0 {
		rule += ";BYDAY=" + []string{"MO", "TU,TH", "MO,WE,FR", "SA,SU"}[r.IntN(4)]
	}
	switch r.IntN(3) {
	case 0:
		rule += fmt.Sprintf(";COUNT=%d", 1+r.IntN(400))
	case 1:
		rule += ";UNTIL=" + base.AddDate(0, r.IntN(60), 0).Format(f) + "Z"
	}
	fmt.Fprintf(&b, "RRULE:%s\r\n", rule)
	step := map[string]int{"DAILY": 1, "WEEKLY": 7, "MONTHLY": 30}[freq]
	for range r.IntN(4) { // on the rule's days or not: an EXDATE off the rule is ignored
		fmt.Fprintf(&b, "EXDATE%s\r\n", stamp(base.AddDate(0, 0, step*r.IntN(80))))
	}
	for range r.IntN(2) {
		fmt.Fprintf(&b, "RDATE%s\r\n", stamp(base.AddDate(0, 0, r.IntN(2000)).Add(time.Duration(r.IntN(24))*time.Hour)))
	}
	b.WriteString("END:VEVENT\r\n")
	for i := range r.IntN(3) {
		rid := base.AddDate(0, 0, step*(i*3+r.IntN(3)))
		moved := rid.Add(time.Duration(r.IntN(24*90)-24*45) * time.Hour)
		fmt.Fprintf(&b, "BEGIN:VEVENT\r\nUID:%s\r\nDTSTAMP:20260101T000000Z\r\nRECURRENCE-ID%s\r\nDTSTART%s\r\nDTEND%s\r\n",
			uid, stamp(rid), stamp(moved), stamp(moved.Add(time.Hour)))
		if r.IntN(3) == 0 {
			b.WriteString("STATUS:CANCELLED\r\n")
		}
		b.WriteString("END:VEVENT\r\n")
	}
	b.WriteString("END:VCALENDAR\r\n")
	return []byte(b.String())
}

// Agenda1KB returns the multiget benchmarks' event of about 1 KB with the
// given UID (dav's BenchmarkMultiget1KB and its served variant, engine's
// BenchmarkMultigetFloor): a one-hour event whose DESCRIPTION, folded
// every 70 bytes, repeats "Agenda item, notes & links; " 30 times (an
// ampersand every 28 bytes for the XML escaper).
func Agenda1KB(uid string) []byte {
	desc := strings.Repeat("Agenda item, notes & links; ", 30)
	var b strings.Builder
	fmt.Fprintf(&b, "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\nUID:%s\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20260105T100000Z\r\nDTEND:20260105T110000Z\r\nSUMMARY:Meeting %s\r\nDESCRIPTION:", uid, uid)
	for i := 0; i < len(desc); i += 70 {
		if i > 0 {
			b.WriteString("\r\n ")
		}
		b.WriteString(desc[i:min(i+70, len(desc))])
	}
	b.WriteString("\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")
	return []byte(b.String())
}
