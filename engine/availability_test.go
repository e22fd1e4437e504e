package engine

import (
	"strings"
	"testing"
)

// availability returns a VAVAILABILITY resource with UID uid: its own
// properties props and the AVAILABLE components avail (each its
// properties, CRLF-terminated).
func availability(uid, props string, avail ...string) []byte {
	s := "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VAVAILABILITY\r\nUID:" + uid + "\r\nDTSTAMP:20260101T000000Z\r\n" + props
	for _, a := range avail {
		s += "BEGIN:AVAILABLE\r\n" + a + "END:AVAILABLE\r\n"
	}
	return []byte(s + "END:VAVAILABILITY\r\nEND:VCALENDAR\r\n")
}

// TestAvailabilityResource: a calendar listing VAVAILABILITY stores a
// resource of one VAVAILABILITY (RFC 7953 §3.1, §7.2.2) with an unbounded
// envelope, not a scheduling object even with an ORGANIZER; a calendar
// not listing it answers supported-calendar-component, and a resource
// breaking RFC 7953's or RFC 4791 §4.1's rules
// valid-calendar-object-resource (one without its DTSTAMP
// valid-calendar-data), appending nothing.
func TestAvailabilityResource(t *testing.T) {
	t.Parallel()
	db := MustOpen(t)
	MustCalendar(t, db) // /alice/cal/: the default set, no VAVAILABILITY
	if _, err := db.CreateCollection(ctx, alice, CollectionSpec{Path: "/alice/avail/", Kind: KindCalendar, Owner: "alice",
		Props: Props{Components: []string{"VEVENT", CompAvailability}}}); err != nil {
		t.Fatal(err)
	}
	ok := "DTSTART:20260105T090000Z\r\n"
	slot := "UID:s1\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20260105T090000Z\r\nDTEND:20260105T170000Z\r\nRRULE:FREQ=WEEKLY\r\n"
	body := availability("av", "ORGANIZER:mailto:alice@example.com\r\nPRIORITY:1\r\n"+ok, slot)
	if _, err := db.PutObject(ctx, alice, "/alice/avail/", "av.ics", body, PutOptions{}); err != nil {
		t.Fatal(err)
	}
	o, err := db.Object("/alice/avail/", "av.ics", false)
	if err != nil {
		t.Fatal(err)
	}
	if o.Component != CompAvailability || o.UID != "av" || o.ScheduleTag != "" {
		t.Errorf("object = %+v, want component VAVAILABILITY, UID av, no schedule tag", o)
	}
	if !o.Envelope.Start.IsZero() || !o.Envelope.End.IsZero() {
		t.Errorf("envelope = %+v, want unbounded (the time of an availability is everything outside its slots)", o.Envelope)
	}
	mixed := strings.Replace(string(body), "END:VCALENDAR", "BEGIN:VEVENT\r\nUID:av\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20260105T100000Z\r\nEND:VEVENT\r\nEND:VCALENDAR", 1)
	two := strings.Replace(string(body), "END:VCALENDAR", "BEGIN:VAVAILABILITY\r\nUID:av\r\nDTSTAMP:20260101T000000Z\r\nEND:VAVAILABILITY\r\nEND:VCALENDAR", 1)
	many := make([]string, MaxAvailable+1)
	for i := range many {
		many[i] = slot
	}
	cases := []struct {
		name, path string
		body       []byte
		want       Condition
	}{
		{"NotListed", "/alice/cal/", body, CondSupportedCalendarComponent},
		{"WithEvent", "/alice/avail/", []byte(mixed), CondValidCalendarObjectResource},
		{"TwoInOneResource", "/alice/avail/", []byte(two), CondValidCalendarObjectResource},
		{"NoUID", "/alice/avail/", []byte(strings.Replace(string(body), "UID:av\r\n", "", 1)), CondValidCalendarObjectResource},
		{"Priority10", "/alice/avail/", availability("p", "PRIORITY:10\r\n"), CondValidCalendarObjectResource},
		{"EndAndDuration", "/alice/avail/", availability("d", ok+"DTEND:20260106T000000Z\r\nDURATION:P1D\r\n"), CondValidCalendarObjectResource},
		{"AvailableWithoutStart", "/alice/avail/", availability("s", "", "UID:x\r\nDTSTAMP:20260101T000000Z\r\nDTEND:20260105T170000Z\r\n"), CondValidCalendarObjectResource},
		{"ForeignChild", "/alice/avail/", []byte(strings.Replace(string(availability("f", "")), "END:VAVAILABILITY", "BEGIN:VEVENT\r\nUID:f\r\nEND:VEVENT\r\nEND:VAVAILABILITY", 1)), CondValidCalendarObjectResource},
		{"NoStamp", "/alice/avail/", []byte(strings.Replace(string(body), "UID:av\r\nDTSTAMP:20260101T000000Z\r\n", "UID:av\r\n", 1)), CondValidCalendarData},
		{"TwoStamps", "/alice/avail/", availability("t", "DTSTAMP:20260102T000000Z\r\n"), CondValidCalendarData},
		{"AvailableWithoutStamp", "/alice/avail/", availability("a", "", "UID:x\r\nDTSTART:20260105T090000Z\r\n"), CondValidCalendarData},
		{"TooManyAvailable", "/alice/avail/", availability("m", "", many...), CondValidCalendarObjectResource},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := db.Head()
			_, err := db.PutObject(ctx, alice, tc.path, "x.ics", tc.body, PutOptions{})
			if !cond(tc.want)(err) {
				t.Fatalf("err = %v, want %s", err, tc.want)
			}
			if db.Head() != before {
				t.Error("a rejected put appended to the log")
			}
		})
	}
}
