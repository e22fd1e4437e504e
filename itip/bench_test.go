package itip

import (
	"fmt"
	"strings"
	"testing"

	"github.com/emersion/go-ical"
)

// benchMeeting is a weekly meeting with n attendees and overrides
// exceptions, each listing every attendee.
func benchMeeting(n, overrides int, summary string) string {
	var att strings.Builder
	for i := range n {
		fmt.Fprintf(&att, "ATTENDEE;CN=User %d;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:user%d@example.org\n", i, i)
	}
	var more strings.Builder
	for i := range overrides {
		rid := fmt.Sprintf("202603%02dT090000", 16+7*i%14)
		if i >= 2 {
			rid = fmt.Sprintf("2026%02d%02dT090000", 4+i/4, 6+7*(i%4))
		}
		fmt.Fprintf(&more, `BEGIN:VEVENT
UID:bench
DTSTAMP:20260301T000000Z
RECURRENCE-ID;TZID=Europe/Berlin:%s
DTSTART;TZID=Europe/Berlin:%s
DTEND;TZID=Europe/Berlin:%s
SUMMARY:%s (moved)
ORGANIZER:mailto:olga@example.org
%sEND:VEVENT
`, rid, rid[:9]+"10"+rid[11:], rid[:9]+"11"+rid[11:], summary, att.String())
	}
	return cal(berlinTZ + fmt.Sprintf(`
BEGIN:VEVENT
UID:bench
DTSTAMP:20260301T000000Z
DTSTART;TZID=Europe/Berlin:20260316T090000
DTEND;TZID=Europe/Berlin:20260316T100000
RRULE:FREQ=WEEKLY
SUMMARY:%s
ORGANIZER:mailto:olga@example.org
%sBEGIN:VALARM
ACTION:DISPLAY
TRIGGER:-PT15M
END:VALARM
END:VEVENT
%s`, summary, att.String(), more.String()))
}

// BenchmarkOrganizerChange measures the organizer side of a meeting with
// 50 attendees: its creation (50 REQUESTs), an edit of its summary (50
// REQUESTs) and one that changes nothing significant (no message), with
// and without 4 overridden instances.
func BenchmarkOrganizerChange(b *testing.B) {
	for _, overrides := range []int{0, 4} {
		old := mustParse(b, benchMeeting(50, overrides, "Plan"))
		edited := mustParse(b, benchMeeting(50, overrides, "Plan B"))
		same := mustParse(b, strings.Replace(benchMeeting(50, overrides, "Plan"), "DTSTAMP:20260301T000000Z", "DTSTAMP:20260302T000000Z", -1))
		for _, tc := range []struct {
			name     string
			old, new *ical.Calendar
			want     int
		}{
			{"Create", nil, old, 50},
			{"Edit", old, edited, 50},
			{"Insignificant", old, same, 0},
		} {
			b.Run(fmt.Sprintf("%s/overrides=%d", tc.name, overrides), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					msgs, err := OrganizerChange(tc.old, tc.new, testOpts())
					if err != nil || len(msgs) != tc.want {
						b.Fatalf("%d messages, %v", len(msgs), err)
					}
				}
			})
		}
	}
}
