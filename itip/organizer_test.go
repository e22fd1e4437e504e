package itip

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

// cal wraps component text in a VCALENDAR.
func cal(body string) string {
	return "BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//test//EN\n" + body + "\nEND:VCALENDAR"
}

// meeting is a one-off meeting of olga with bob and Carol; edit replaces
// lines of it (old => new, "" new deletes the line).
func meeting(edits ...string) string {
	body := `BEGIN:VEVENT
UID:m1
DTSTAMP:20260101T000000Z
SEQUENCE:0
DTSTART:20260310T090000Z
DTEND:20260310T100000Z
SUMMARY:Plan
ORGANIZER;CN=Olga:mailto:olga@example.org
ATTENDEE;PARTSTAT=ACCEPTED:mailto:olga@example.org
ATTENDEE;RSVP=TRUE:mailto:bob@example.org
ATTENDEE;PARTSTAT=NEEDS-ACTION:MAILTO:Carol@Example.ORG
BEGIN:VALARM
ACTION:DISPLAY
TRIGGER:-PT15M
DESCRIPTION:Plan
END:VALARM
END:VEVENT`
	for i := 0; i+1 < len(edits); i += 2 {
		if !strings.Contains(body, edits[i]) {
			panic("meeting: no line " + edits[i])
		}
		body = strings.Replace(body, edits[i], edits[i+1], 1)
	}
	return cal(body)
}

const (
	bob   = "mailto:bob@example.org"
	carol = "mailto:Carol@example.org"
)

func TestOrganizerChange(t *testing.T) {
	for _, tc := range []struct {
		name     string
		old, new string
		opts     Options
		want     []string // summary lines
	}{
		{"Create", "", meeting(), Options{}, []string{"REQUEST " + bob + " master", "REQUEST " + carol + " master"}},
		{"NothingSignificant", meeting(), meeting("DTSTAMP:20260101T000000Z", "DTSTAMP:20260102T000000Z",
			"SEQUENCE:0", "SEQUENCE:1", "TRIGGER:-PT15M", "TRIGGER:-PT5M", "SUMMARY:Plan", "SUMMARY:Plan\nX-MOZ-GENERATION:3\nTRANSP:TRANSPARENT"), Options{}, nil},
		{"OtherAttendeesPartstat", meeting(), meeting("PARTSTAT=NEEDS-ACTION:MAILTO:Carol", "PARTSTAT=ACCEPTED;SCHEDULE-STATUS=2.0:MAILTO:Carol"), Options{},
			[]string{"REQUEST " + carol + " master"}}, // only Carol's own PARTSTAT matters to her
		{"Summary", meeting(), meeting("SUMMARY:Plan", "SUMMARY:Plan B"), Options{}, []string{"REQUEST " + bob + " master", "REQUEST " + carol + " master"}},
		{"RemoveAttendee", meeting(), meeting("ATTENDEE;RSVP=TRUE:mailto:bob@example.org\n", ""), Options{},
			[]string{"CANCEL " + bob + " master", "REQUEST " + carol + " master"}},
		{"AddAttendee", meeting(), meeting("SUMMARY:Plan", "SUMMARY:Plan\nATTENDEE:mailto:dan@example.org"), Options{},
			[]string{"REQUEST " + bob + " master", "REQUEST " + carol + " master", "REQUEST mailto:dan@example.org master"}},
		{"AgentClient", meeting(), meeting("SUMMARY:Plan", "SUMMARY:Plan B", ";PARTSTAT=NEEDS-ACTION:MAILTO:Carol", ";SCHEDULE-AGENT=CLIENT:MAILTO:Carol"),
			Options{}, []string{"REQUEST " + bob + " master"}},
		{"AgentNoneNotCancelled", meeting("PARTSTAT=NEEDS-ACTION:MAILTO", "SCHEDULE-AGENT=NONE:MAILTO"), "", Options{}, []string{"CANCEL " + bob + " master"}},
		{"ForceSend", meeting(), meeting(";RSVP=TRUE:mailto:bob", ";SCHEDULE-FORCE-SEND=REQUEST:mailto:bob"), Options{}, []string{"REQUEST " + bob + " master"}},
		{"Delete", meeting(), "", Options{}, []string{"CANCEL " + bob + " master", "CANCEL " + carol + " master"}},
		{"StatusCancelled", meeting(), meeting("SUMMARY:Plan", "SUMMARY:Plan\nSTATUS:CANCELLED"), Options{}, []string{"CANCEL " + bob + " master", "CANCEL " + carol + " master"}},
		{"OrganizerRemoved", meeting(), meeting("ORGANIZER;CN=Olga:mailto:olga@example.org\n", "", "ATTENDEE;RSVP=TRUE:mailto:bob@example.org\n", "", "ATTENDEE;PARTSTAT=NEEDS-ACTION:MAILTO:Carol@Example.ORG\n", ""),
			Options{}, []string{"CANCEL " + bob + " master", "CANCEL " + carol + " master"}},
		{"OrganizerOtherAddress", "", meeting("mailto:bob@example.org", "urn:uuid:OLGA"), Options{OrganizerAddresses: []string{"urn:uuid:olga"}},
			[]string{"REQUEST " + carol + " master"}},
		{"OrganizerOtherForm", meeting(), meeting("ORGANIZER;CN=Olga:mailto:olga@example.org", "ORGANIZER;CN=Olga:urn:uuid:OLGA"),
			Options{OrganizerAddresses: []string{"mailto:olga@example.org", "urn:uuid:olga"}},
			[]string{"REQUEST " + bob + " master", "REQUEST " + carol + " master"}}, // the copies follow the new form
		{"NotScheduling", "", cal("BEGIN:VEVENT\nUID:x\nDTSTAMP:20260101T000000Z\nDTSTART:20260310T090000Z\nEND:VEVENT"), Options{}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.Now = now
			msgs, err := OrganizerChange(mustParse(t, tc.old), mustParse(t, tc.new), tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			slices.Sort(tc.want)
			if got := summary(msgs); !slices.Equal(got, tc.want) {
				t.Errorf("messages:\n got %q\nwant %q", got, tc.want)
			}
			for _, m := range msgs {
				checkMessage(t, m)
			}
		})
	}
}

// checkMessage checks what every message must hold: go-ical encodes it
// (as dav/sched does), its METHOD, the originator's ORGANIZER, DTSTAMP
// now, no SCHEDULE-* parameter, no VALARM, and the recipient among its
// attendees.
func checkMessage(t *testing.T, m Message) {
	t.Helper()
	mustEncode(t, m.Calendar)
	if got := m.Calendar.Props.Get("METHOD"); got == nil || got.Value != string(m.Method) {
		t.Errorf("%s to %s: METHOD %v", m.Method, m.Recipient, got)
	}
	for _, c := range m.Calendar.Children {
		if c.Name == "VTIMEZONE" {
			continue
		}
		if got := c.Props.Get("DTSTAMP"); got == nil || got.Value != stamp {
			t.Errorf("%s to %s: DTSTAMP %v", m.Method, m.Recipient, got)
		}
		for _, ch := range c.Children {
			if ch.Name == "VALARM" {
				t.Errorf("%s to %s: carries a VALARM", m.Method, m.Recipient)
			}
		}
		found := false
		for _, name := range []string{"ORGANIZER", "ATTENDEE"} {
			for _, p := range c.Props[name] {
				for k := range p.Params {
					if strings.HasPrefix(k, "SCHEDULE-") {
						t.Errorf("%s to %s: %s carries %s", m.Method, m.Recipient, name, k)
					}
				}
				if name == "ATTENDEE" && NormalizeAddress(p.Value) == m.Recipient {
					found = true
				}
				if name == "ORGANIZER" && m.Method != MethodReply && NormalizeAddress(p.Value) != m.Originator {
					t.Errorf("%s to %s: ORGANIZER %s, originator %s", m.Method, m.Recipient, p.Value, m.Originator)
				}
			}
		}
		if m.Method != MethodReply && !found {
			t.Errorf("%s to %s: the recipient is not an attendee of the message", m.Method, m.Recipient)
		}
	}
}

func TestOrganizerChangeMessageBody(t *testing.T) {
	msgs, err := OrganizerChange(nil, mustParse(t, meeting(";RSVP=TRUE:mailto:bob", ";RSVP=TRUE;SCHEDULE-STATUS=1.2:mailto:bob")), testOpts())
	if err != nil {
		t.Fatal(err)
	}
	want := mustParse(t, `BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//Almanac//iTIP//EN
METHOD:REQUEST
BEGIN:VEVENT
UID:m1
DTSTAMP:`+stamp+`
SEQUENCE:0
DTSTART:20260310T090000Z
DTEND:20260310T100000Z
SUMMARY:Plan
ORGANIZER;CN=Olga:mailto:olga@example.org
ATTENDEE;PARTSTAT=ACCEPTED:mailto:olga@example.org
ATTENDEE;RSVP=TRUE;PARTSTAT=NEEDS-ACTION:mailto:bob@example.org
ATTENDEE;PARTSTAT=NEEDS-ACTION:MAILTO:Carol@Example.ORG
END:VEVENT
END:VCALENDAR`)
	if len(msgs) != 2 {
		t.Fatalf("%d messages", len(msgs))
	}
	sameCal(t, "REQUEST to bob", msgs[0].Calendar, want)

	msgs, err = OrganizerChange(mustParse(t, meeting()), nil, testOpts())
	if err != nil {
		t.Fatal(err)
	}
	want = mustParse(t, `BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//Almanac//iTIP//EN
METHOD:CANCEL
BEGIN:VEVENT
UID:m1
DTSTAMP:`+stamp+`
SEQUENCE:0
DTSTART:20260310T090000Z
DTEND:20260310T100000Z
SUMMARY:Plan
STATUS:CANCELLED
ORGANIZER;CN=Olga:mailto:olga@example.org
ATTENDEE;RSVP=TRUE;PARTSTAT=NEEDS-ACTION:mailto:bob@example.org
END:VEVENT
END:VCALENDAR`)
	sameCal(t, "CANCEL to bob", msgs[0].Calendar, want)
}

func TestOrganizerChangePreconditions(t *testing.T) {
	for _, tc := range []struct {
		name     string
		old, new string
		want     error
	}{
		{"OrganizerChanged", meeting(), meeting("ORGANIZER;CN=Olga:mailto:olga@", "ORGANIZER:mailto:eve@"), ErrOrganizerChange},
		{"UIDChanged", meeting(), meeting("UID:m1", "UID:m2"), ErrOrganizerChange},
		{"EmptyOrganizer", "", meeting("ORGANIZER;CN=Olga:mailto:olga@example.org", "ORGANIZER;CN=Olga: "), ErrValidOrganizer},
		{"TwoOrganizers", "", cal(`BEGIN:VEVENT
UID:r
DTSTAMP:20260101T000000Z
DTSTART:20260310T090000Z
RRULE:FREQ=DAILY
ORGANIZER:mailto:olga@example.org
ATTENDEE:mailto:bob@example.org
END:VEVENT
BEGIN:VEVENT
UID:r
DTSTAMP:20260101T000000Z
RECURRENCE-ID:20260311T090000Z
DTSTART:20260311T100000Z
ORGANIZER:mailto:eve@example.org
ATTENDEE:mailto:bob@example.org
END:VEVENT`), ErrSameOrganizer},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := OrganizerChange(mustParse(t, tc.old), mustParse(t, tc.new), testOpts())
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}
