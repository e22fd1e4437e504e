package itip

import (
	"errors"
	"slices"
	"testing"

	"github.com/emersion/go-ical"
)

// msgCal wraps components in a message of method.
func msgCal(method, body string) string {
	return "BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//Almanac//iTIP//EN\nMETHOD:" + method + "\n" + body + "\nEND:VCALENDAR"
}

// bobReply is the REPLY component of bob's to meeting with PARTSTAT ps.
func bobReply(ps string) string {
	return `BEGIN:VEVENT
UID:m1
DTSTAMP:` + stamp + `
SEQUENCE:0
DTSTART:20260310T090000Z
DTEND:20260310T100000Z
SUMMARY:Plan
ORGANIZER;CN=Olga:mailto:olga@example.org
ATTENDEE;PARTSTAT=` + ps + `:mailto:bob@example.org
END:VEVENT`
}

func TestAttendeeChange(t *testing.T) {
	accepted := meeting(";RSVP=TRUE:mailto:bob", ";PARTSTAT=ACCEPTED:mailto:bob")
	for _, tc := range []struct {
		name     string
		old, new string
		as       string
		want     string // the REPLY, "" for none
	}{
		{"Accept", meeting(), accepted, bob, msgCal("REPLY", bobReply("ACCEPTED"))},
		{"AcceptAsOtherCase", meeting(), accepted, "MAILTO:bob@Example.ORG", msgCal("REPLY", bobReply("ACCEPTED"))},
		{"OwnAlarm", meeting(), meeting("TRIGGER:-PT15M", "TRIGGER:-PT1H"), bob, ""},
		{"Delete", meeting(), "", bob, msgCal("REPLY", bobReply("DECLINED"))},
		{"DeleteDeclined", meeting(";RSVP=TRUE:mailto:bob", ";PARTSTAT=DECLINED:mailto:bob"), "", bob, ""},
		{"ForceSend", accepted, meeting(";RSVP=TRUE:mailto:bob", ";PARTSTAT=ACCEPTED:mailto:bob", "ORGANIZER;CN=Olga", "ORGANIZER;SCHEDULE-FORCE-SEND=REPLY;CN=Olga"),
			bob, msgCal("REPLY", bobReply("ACCEPTED"))},
		{"OrganizerAgentClient", meeting("ORGANIZER;CN=Olga", "ORGANIZER;SCHEDULE-AGENT=CLIENT;CN=Olga"),
			meeting("ORGANIZER;CN=Olga", "ORGANIZER;SCHEDULE-AGENT=CLIENT;CN=Olga", ";RSVP=TRUE:mailto:bob", ";PARTSTAT=ACCEPTED:mailto:bob"), bob, ""},
		{"OrganizerActsAsAttendee", meeting(), meeting("PARTSTAT=ACCEPTED:mailto:olga", "PARTSTAT=DECLINED:mailto:olga"), "mailto:olga@example.org", ""},
		{"NewCopy", "", accepted, bob, msgCal("REPLY", bobReply("ACCEPTED"))},
		{"DeleteCancelled", meeting("SUMMARY:Plan", "SUMMARY:Plan\nSTATUS:CANCELLED"), "", bob, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := AttendeeChange(mustParse(t, tc.old), mustParse(t, tc.new), tc.as, testOpts())
			if err != nil {
				t.Fatal(err)
			}
			if tc.want == "" {
				if got != nil {
					t.Fatalf("a %s to %s, want none:\n%s", got.Method, got.Recipient, canon(got.Calendar))
				}
				return
			}
			if got == nil {
				t.Fatal("no REPLY")
			}
			if got.Method != MethodReply || got.Recipient != "mailto:olga@example.org" || got.Originator != bob {
				t.Errorf("%s from %s to %s", got.Method, got.Originator, got.Recipient)
			}
			checkMessage(t, *got)
			sameCal(t, "REPLY", got.Calendar, mustParse(t, tc.want))
		})
	}
}

func TestAttendeeChangeErrors(t *testing.T) {
	for _, tc := range []struct {
		name     string
		old, new string
		as       string
		want     error
	}{
		{"OrganizerChanged", meeting(), meeting("ORGANIZER;CN=Olga:mailto:olga@", "ORGANIZER:mailto:bob@"), bob, ErrAttendeeChange},
		{"UIDChanged", meeting(), meeting("UID:m1", "UID:m2"), bob, ErrAttendeeChange},
		{"NotAttendee", meeting(), meeting("SUMMARY:Plan", "SUMMARY:Mine"), "mailto:eve@example.org", ErrNotAttendee},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := AttendeeChange(mustParse(t, tc.old), mustParse(t, tc.new), tc.as, testOpts())
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

// TestAttendeeChangeRecurring: declining one instance (an override, or
// deleting it with an EXDATE) replies for that instance only.
func TestAttendeeChangeRecurring(t *testing.T) {
	w := newWorld(t)
	w.organizerPut(series(0, "", ""))
	copy := w.copies[bob]
	for _, tc := range []struct {
		name string
		edit func(c *ical.Calendar)
		want []string
	}{
		{"DeclineOverride", func(c *ical.Calendar) {
			attendeeProp(c.Children[len(c.Children)-1], bob).Params.Set("PARTSTAT", "DECLINED")
		}, []string{"REPLY mailto:olga@example.org 20260323T090000"}},
		{"Exdate", func(c *ical.Calendar) {
			for _, comp := range c.Children {
				if comp.Name == "VEVENT" && comp.Props.Get("RECURRENCE-ID") == nil {
					comp.Props.Add(&ical.Prop{Name: "EXDATE", Params: ical.Params{"TZID": {"Europe/Berlin"}}, Value: "20260406T090000"})
				}
			}
		}, []string{"REPLY mailto:olga@example.org 20260406T090000"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			next := cloneCal(copy)
			tc.edit(next)
			got, err := AttendeeChange(copy, next, bob, testOpts())
			if err != nil || got == nil {
				t.Fatalf("AttendeeChange = %v, %v", got, err)
			}
			checkMessage(t, *got)
			if s := summary([]Message{*got}); !slices.Equal(s, tc.want) {
				t.Fatalf("got %q, want %q", s, tc.want)
			}
			ps := attendeeProp(got.Calendar.Children[len(got.Calendar.Children)-1], bob).Params.Get("PARTSTAT")
			if ps != "DECLINED" {
				t.Fatalf("PARTSTAT %s", ps)
			}
		})
	}
}
