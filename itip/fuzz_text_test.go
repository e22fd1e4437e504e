package itip

import (
	"testing"

	"github.com/almanac/almanac/engine"
	"github.com/emersion/go-ical"
)

// FuzzCalendarText runs every function of the package on two calendars
// parsed from arbitrary text the way PUT bodies are (engine.ParseCalendar:
// nil parameter maps, any structure): never a panic, and no message to
// anyone the calendars do not list as an attendee, nor to the organizer.
func FuzzCalendarText(f *testing.F) {
	f.Add(meeting(), meeting("SUMMARY:Plan", "SUMMARY:Plan B"))
	f.Add(series(0, "", ""), series(1, "EXDATE;TZID=Europe/Berlin:20260413T090000", ""))
	f.Add(meeting(), msgCal("REPLY", bobReply("ACCEPTED")))
	f.Add(series(0, "", ""), msgCal("CANCEL", "BEGIN:VEVENT\nUID:weekly\nRECURRENCE-ID;TZID=Europe/Berlin:20260330T090000\nATTENDEE:mailto:bob@example.org\nORGANIZER:mailto:olga@example.org\nEND:VEVENT"))
	f.Add(series(0, "", ""), msgCal("ADD", "BEGIN:VEVENT\nUID:weekly\nDTSTART:20260502T150000Z\nATTENDEE:mailto:bob@example.org\nORGANIZER:mailto:olga@example.org\nEND:VEVENT"))
	f.Add("BEGIN:VCALENDAR\nBEGIN:VTODO\nUID:t\nORGANIZER:mailto:a@b\nATTENDEE;SCHEDULE-AGENT=NONE:mailto:c@d\nRECURRENCE-ID;RANGE=THISANDFUTURE:20260101\nEND:VTODO\nEND:VCALENDAR", "")
	f.Fuzz(func(t *testing.T, a, b string) {
		if len(a)+len(b) > 8<<10 {
			return
		}
		parse := func(s string) *ical.Calendar {
			if s == "" {
				return nil
			}
			c, err := engine.ParseCalendar([]byte(s))
			if err != nil {
				return nil
			}
			return c
		}
		old, new := parse(a), parse(b)
		opts := testOpts()
		opts.MaxInstances = 200
		listed := map[string]bool{}
		for _, c := range []*ical.Calendar{old, new} {
			if as, err := Attendees(c); err == nil {
				for _, x := range as {
					listed[x] = true
				}
			}
		}
		msgs, err := OrganizerChange(old, new, opts)
		if err == nil {
			for _, m := range msgs {
				if !listed[m.Recipient] || m.Recipient == m.Originator {
					t.Fatalf("%s to %q, originator %q, attendees %v", m.Method, m.Recipient, m.Originator, listed)
				}
			}
		}
		var who string
		for x := range listed {
			who = x
			break
		}
		if m, err := AttendeeChange(old, new, who, opts); err == nil && m != nil && m.Method != MethodReply {
			t.Fatalf("AttendeeChange made a %s", m.Method)
		}
		if new != nil {
			_, _ = ApplyToAttendeeCopy(old, new, who, opts)
			if old != nil {
				_, _, _ = ApplyReply(old, new, who, opts)
			}
		}
		_, _, _ = RoleOf(new, []string{who})
		_ = ForStorage(old, new)
		_ = WithScheduleStatus(new, map[string]string{who: "1.2"})
	})
}
