package bench

import (
	"fmt"
	"strings"
	"time"
	_ "time/tzdata" // Europe/Berlin must resolve on machines without zoneinfo
)

// Object is one calendar object or vCard ready to PUT.
type Object struct {
	Name string // resource name inside its collection, e.g. "ev-000042.ics"
	UID  string
	Body []byte
}

// QueryWindow is the one-month time range the query scenario asks for:
// June 2026 in UTC. Every generated event starts between 08:00 and 18:00
// Berlin time and lasts at most three and a half hours, so no instance
// straddles the window's edges and the expected answer is unambiguous.
var QueryWindow = struct{ Start, End time.Time }{
	Start: time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC),
	End:   time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC),
}

// berlin is the zone every generated event uses.
var berlin = mustZone("Europe/Berlin")

func mustZone(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(fmt.Sprintf("bench: load zone %s: %v", name, err))
	}
	return loc
}

// spreadStart and spreadDays bound the first occurrence of generated events:
// two years around the query window.
var spreadStart = time.Date(2025, 6, 1, 0, 0, 0, 0, berlin)

const spreadDays = 730

// EventName returns the resource name of event i.
func EventName(i int) string { return fmt.Sprintf("ev-%06d.ics", i) }

// ContactName returns the resource name of contact i.
func ContactName(i int) string { return fmt.Sprintf("ct-%06d.vcf", i) }

// Event returns event i at the given version. Versions differ only in
// SUMMARY and SEQUENCE, never in time, so modifying an event never changes
// the expected query answer.
//
// One event in ten recurs weekly (with an EXDATE, and every other one with
// a moved override instance), three in ten invite attendees and carry a
// VALARM, the rest are plain meetings. All use VTIMEZONE Europe/Berlin.
func Event(i, version int) Object {
	s := eventShape(i)
	uid := fmt.Sprintf("bench-%06d@almanac.example", i)
	var b strings.Builder
	b.WriteString("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Almanac//bench//EN\r\n")
	b.WriteString(vtimezoneBerlin)
	writeVEvent(&b, s, uid, version, i)
	if s.override {
		writeOverride(&b, s, uid, version)
	}
	b.WriteString("END:VCALENDAR\r\n")
	return Object{Name: EventName(i), UID: uid, Body: []byte(b.String())}
}

func writeVEvent(b *strings.Builder, s shape, uid string, version, i int) {
	b.WriteString("BEGIN:VEVENT\r\n")
	line(b, "UID:"+uid)
	line(b, "DTSTAMP:20260101T120000Z")
	line(b, "CREATED:20260101T120000Z")
	line(b, fmt.Sprintf("SEQUENCE:%d", version))
	line(b, "DTSTART;TZID=Europe/Berlin:"+localStamp(s.start))
	line(b, "DTEND;TZID=Europe/Berlin:"+localStamp(s.start.Add(s.dur)))
	line(b, fmt.Sprintf("SUMMARY:%s #%d (v%d)", topics[i%len(topics)], i, version))
	line(b, "LOCATION:"+rooms[i%len(rooms)])
	line(b, "DESCRIPTION:"+description(i))
	line(b, "CATEGORIES:WORK,BENCH")
	line(b, "STATUS:CONFIRMED")
	if s.rrule != "" {
		line(b, "RRULE:"+s.rrule)
		line(b, "EXDATE;TZID=Europe/Berlin:"+localStamp(s.exdate))
	}
	if s.attendees {
		line(b, "ORGANIZER;CN=Ada Organizer:mailto:ada@almanac.example")
		for k := 0; k < 3; k++ {
			line(b, fmt.Sprintf("ATTENDEE;CN=Guest %d;ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:guest%d-%d@almanac.example", k, i, k))
		}
		b.WriteString("BEGIN:VALARM\r\nACTION:DISPLAY\r\nDESCRIPTION:Reminder\r\nTRIGGER:-PT15M\r\nEND:VALARM\r\n")
	}
	b.WriteString("END:VEVENT\r\n")
}

// writeOverride writes the RECURRENCE-ID instance that moves the third
// occurrence two hours later on the same day.
func writeOverride(b *strings.Builder, s shape, uid string, version int) {
	orig, moved := s.overrideTimes()
	b.WriteString("BEGIN:VEVENT\r\n")
	line(b, "UID:"+uid)
	line(b, "DTSTAMP:20260101T120000Z")
	line(b, fmt.Sprintf("SEQUENCE:%d", version))
	line(b, "RECURRENCE-ID;TZID=Europe/Berlin:"+localStamp(orig))
	line(b, "DTSTART;TZID=Europe/Berlin:"+localStamp(moved))
	line(b, "DTEND;TZID=Europe/Berlin:"+localStamp(moved.Add(s.dur)))
	line(b, "SUMMARY:Moved occurrence")
	b.WriteString("END:VEVENT\r\n")
}

// Contact returns vCard 3.0 number i at the given version.
func Contact(i, version int) Object {
	uid := fmt.Sprintf("bench-contact-%06d@almanac.example", i)
	first, last := firstNames[i%len(firstNames)], lastNames[(i/7)%len(lastNames)]
	var b strings.Builder
	b.WriteString("BEGIN:VCARD\r\nVERSION:3.0\r\nPRODID:-//Almanac//bench//EN\r\n")
	line(&b, "UID:"+uid)
	line(&b, fmt.Sprintf("FN:%s %s %d", first, last, i))
	line(&b, fmt.Sprintf("N:%s;%s;;;", last, first))
	line(&b, fmt.Sprintf("EMAIL;TYPE=INTERNET,WORK:%s.%s%d@almanac.example", strings.ToLower(first), strings.ToLower(last), i))
	line(&b, fmt.Sprintf("TEL;TYPE=CELL:+49 151 %07d", i))
	line(&b, fmt.Sprintf("ADR;TYPE=WORK:;;Hauptstrasse %d;Berlin;;10%03d;Germany", i%200+1, i%1000))
	line(&b, "ORG:Almanac Bench GmbH;Load Testing")
	line(&b, fmt.Sprintf("NOTE:version %d. %s", version, description(i)))
	line(&b, "REV:20260101T120000Z")
	b.WriteString("END:VCARD\r\n")
	return Object{Name: ContactName(i), UID: uid, Body: []byte(b.String())}
}

// line writes one content line folded at 74 octets (RFC 5545 §3.1).
func line(b *strings.Builder, s string) {
	for len(s) > 74 {
		cut := 74
		for cut > 1 && s[cut]&0xC0 == 0x80 { // never split a UTF-8 sequence
			cut--
		}
		b.WriteString(s[:cut])
		b.WriteString("\r\n ")
		s = s[cut:]
	}
	b.WriteString(s)
	b.WriteString("\r\n")
}

func localStamp(t time.Time) string { return t.In(berlin).Format("20060102T150405") }

func description(i int) string {
	return fmt.Sprintf("Agenda for meeting %d: review the quarterly roadmap\\, "+
		"walk through open action items from last time\\, agree owners and due dates\\, "+
		"and collect questions for the all-hands. Dial-in details are in the invitation; "+
		"please read the attached notes beforehand and come with one proposal each.", i)
}

var (
	topics     = []string{"Standup", "Design review", "1:1", "Planning", "Retro", "Customer call", "Lunch", "Interview"}
	rooms      = []string{"Room Spree", "Room Havel", "Room Elbe", "Video call", "Cafe Einstein"}
	firstNames = []string{"Ada", "Grace", "Linus", "Ken", "Barbara", "Edsger", "Frances", "Niklaus", "Margaret", "Dennis"}
	lastNames  = []string{"Lovelace", "Hopper", "Torvalds", "Thompson", "Liskov", "Dijkstra", "Allen", "Wirth", "Hamilton", "Ritchie"}
)

const vtimezoneBerlin = "BEGIN:VTIMEZONE\r\nTZID:Europe/Berlin\r\n" +
	"BEGIN:DAYLIGHT\r\nTZOFFSETFROM:+0100\r\nTZOFFSETTO:+0200\r\nTZNAME:CEST\r\n" +
	"DTSTART:19700329T020000\r\nRRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r\nEND:DAYLIGHT\r\n" +
	"BEGIN:STANDARD\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nTZNAME:CET\r\n" +
	"DTSTART:19701025T030000\r\nRRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\nEND:STANDARD\r\n" +
	"END:VTIMEZONE\r\n"
