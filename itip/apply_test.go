package itip

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/emersion/go-ical"
)

// request is the REQUEST of meeting (edited) to bob, as OrganizerChange
// makes it.
func request(t *testing.T, edits ...string) string {
	t.Helper()
	msgs, err := OrganizerChange(nil, mustParse(t, meeting(edits...)), testOpts())
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		if m.Recipient == bob {
			return canonText(m)
		}
	}
	t.Fatal("no message to bob")
	return ""
}

// canonText returns a message as iCalendar text mustParse reads.
func canonText(m Message) string {
	var b strings.Builder
	var walk func(c *ical.Component)
	walk = func(c *ical.Component) {
		b.WriteString("BEGIN:" + c.Name + "\n")
		for _, props := range c.Props {
			for _, p := range props {
				b.WriteString(p.Name)
				for k, vs := range p.Params {
					b.WriteString(";" + k + "=" + strings.Join(vs, ","))
				}
				b.WriteString(":" + p.Value + "\n")
			}
		}
		for _, ch := range c.Children {
			walk(ch)
		}
		b.WriteString("END:" + c.Name + "\n")
	}
	walk(m.Calendar.Component)
	return b.String()
}

// bobsCopy is the copy bob's client keeps: his answer, his alarm, TRANSP.
func bobsCopy(edits ...string) string {
	return meeting(append([]string{";RSVP=TRUE:mailto:bob", ";PARTSTAT=ACCEPTED:mailto:bob",
		"TRIGGER:-PT15M", "TRIGGER:-PT1H", "SUMMARY:Plan", "SUMMARY:Plan\nTRANSP:TRANSPARENT\nX-APPLE-TRAVEL-ADVISORY-BEHAVIOR:AUTOMATIC"}, edits...)...)
}

func TestApplyToAttendeeCopy(t *testing.T) {
	alarmless := func(s string) string {
		i, j := strings.Index(s, "BEGIN:VALARM"), strings.Index(s, "END:VALARM\n")
		return s[:i] + s[j+len("END:VALARM\n"):]
	}
	for _, tc := range []struct {
		name       string
		copy, msg  string
		want       string // "" for nil
		unmodified bool   // the copy itself comes back
	}{
		{"NewInvitation", "", request(t), strings.Replace(alarmless(meeting(";RSVP=TRUE:mailto:bob", ";RSVP=TRUE;PARTSTAT=NEEDS-ACTION:mailto:bob",
			"DTSTAMP:20260101T000000Z", "DTSTAMP:"+stamp)), "PRODID:-//test//EN", "PRODID:-//Almanac//iTIP//EN", 1), false},
		{"UpdateKeepsWhatIsBobs", bobsCopy(), request(t, "SUMMARY:Plan", "SUMMARY:Plan B"),
			bobsCopy("SUMMARY:Plan\n", "SUMMARY:Plan B\n", "DTSTAMP:20260101T000000Z", "DTSTAMP:"+stamp), false},
		{"MovedNeedsAnAnswerAgain", bobsCopy(), request(t, "DTSTART:20260310T090000Z", "DTSTART:20260311T090000Z", "DTEND:20260310T100000Z", "DTEND:20260311T100000Z"),
			bobsCopy("DTSTART:20260310T090000Z", "DTSTART:20260311T090000Z", "DTEND:20260310T100000Z", "DTEND:20260311T100000Z",
				"DTSTAMP:20260101T000000Z", "DTSTAMP:"+stamp, ";PARTSTAT=ACCEPTED:mailto:bob", ";RSVP=TRUE;PARTSTAT=NEEDS-ACTION:mailto:bob"), false},
		{"Stale", bobsCopy("SEQUENCE:0", "SEQUENCE:2"), request(t, "SEQUENCE:0", "SEQUENCE:1", "SUMMARY:Plan", "SUMMARY:Old"), "", true},
		{"Cancel", bobsCopy(), msgCal("CANCEL", `BEGIN:VEVENT
UID:m1
DTSTAMP:`+stamp+`
SEQUENCE:1
ORGANIZER:mailto:olga@example.org
ATTENDEE:mailto:bob@example.org
STATUS:CANCELLED
END:VEVENT`), bobsCopy("SUMMARY:Plan\n", "SUMMARY:Plan\nSTATUS:CANCELLED\n", "SEQUENCE:0", "SEQUENCE:1"), false},
		{"CancelWithoutCopy", "", msgCal("CANCEL", `BEGIN:VEVENT
UID:m1
DTSTAMP:`+stamp+`
ORGANIZER:mailto:olga@example.org
ATTENDEE:mailto:bob@example.org
END:VEVENT`), "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			copy := mustParse(t, tc.copy)
			before := canon(copy)
			got, err := ApplyToAttendeeCopy(copy, mustParse(t, tc.msg), "MAILTO:bob@example.org", testOpts())
			if err != nil {
				t.Fatal(err)
			}
			if canon(copy) != before {
				t.Fatal("the copy was modified")
			}
			if tc.unmodified {
				if got != copy {
					t.Fatalf("got a new copy:\n%s", canon(got))
				}
				return
			}
			sameCal(t, "copy", got, mustParse(t, tc.want))
		})
	}
}

func TestApplyToAttendeeCopyAdd(t *testing.T) {
	copy := mustParse(t, series(0, "", ""))
	add := msgCal("ADD", `BEGIN:VEVENT
UID:weekly
DTSTAMP:`+stamp+`
SEQUENCE:1
DTSTART;TZID=Europe/Berlin:20260502T150000
DTEND;TZID=Europe/Berlin:20260502T160000
SUMMARY:Weekly (extra)
ORGANIZER:mailto:olga@example.org
ATTENDEE:mailto:bob@example.org
END:VEVENT`)
	got, err := ApplyToAttendeeCopy(copy, mustParse(t, add), bob, testOpts())
	if err != nil {
		t.Fatal(err)
	}
	ins := instances(t, got, bob)
	if !slices.Contains(ins, "05-02 15:00 CEST ") || len(ins) != 7 {
		t.Fatalf("instances after ADD:\n%s", strings.Join(ins, "\n"))
	}
}

func TestApplyToAttendeeCopyErrors(t *testing.T) {
	for _, tc := range []struct{ name, copy, msg string }{
		{"OtherUID", bobsCopy(), request(t, "UID:m1", "UID:m2")},
		{"Reply", bobsCopy(), msgCal("REPLY", bobReply("ACCEPTED"))},
		{"NoComponent", bobsCopy(), msgCal("REQUEST", "X-A:b")},
		{"TwoUIDs", "", msgCal("REQUEST", bobReply("ACCEPTED")+"\n"+strings.Replace(bobReply("ACCEPTED"), "UID:m1", "UID:m2", 1))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ApplyToAttendeeCopy(mustParse(t, tc.copy), mustParse(t, tc.msg), bob, testOpts())
			if !errors.Is(err, ErrInvalidMessage) {
				t.Fatalf("err = %v, want ErrInvalidMessage", err)
			}
		})
	}
}

func TestApplyReply(t *testing.T) {
	org := mustParse(t, meeting())
	before := canon(org)
	got, refresh, err := ApplyReply(org, mustParse(t, msgCal("REPLY", strings.Replace(bobReply("ACCEPTED"), "END:VEVENT", "REQUEST-STATUS:2.0;Success\nEND:VEVENT", 1))), "MAILTO:bob@Example.org", testOpts())
	if err != nil {
		t.Fatal(err)
	}
	if canon(org) != before {
		t.Fatal("the organizer's copy was modified")
	}
	sameCal(t, "organizer's copy", got, mustParse(t, meeting(";RSVP=TRUE:mailto:bob", ";PARTSTAT=ACCEPTED;SCHEDULE-STATUS=2.0:mailto:bob")))
	if s := summary(refresh); !slices.Equal(s, []string{"REQUEST " + carol + " master"}) {
		t.Fatalf("refreshes %q", s)
	}
	for _, m := range refresh {
		checkMessage(t, m)
		if p := attendeeProp(m.Calendar.Children[0], bob); p == nil || p.Params.Get("PARTSTAT") != "ACCEPTED" {
			t.Fatalf("the refresh does not tell bob's answer: %v", p)
		}
	}

	// The same answer again changes nothing.
	again, refresh, err := ApplyReply(got, mustParse(t, msgCal("REPLY", bobReply("ACCEPTED"))), bob, testOpts())
	if err != nil || again != got || len(refresh) != 0 {
		t.Fatalf("a repeated reply: %v, %d refreshes, same copy %v", err, len(refresh), again == got)
	}
	// The organizer's copy may list bob under another of his addresses.
	uuid := mustParse(t, meeting("RSVP=TRUE:mailto:bob@example.org", "RSVP=TRUE:urn:uuid:B0B"))
	opts := testOpts()
	opts.AttendeeAddresses = []string{"urn:uuid:b0b"}
	res, _, err := ApplyReply(uuid, mustParse(t, msgCal("REPLY", bobReply("TENTATIVE"))), bob, opts)
	if err != nil {
		t.Fatal(err)
	}
	sameCal(t, "bob under his urn:uuid", res, mustParse(t, meeting(";RSVP=TRUE:mailto:bob@example.org", ";PARTSTAT=TENTATIVE:urn:uuid:B0B")))
	if _, _, err := ApplyReply(uuid, mustParse(t, msgCal("REPLY", bobReply("TENTATIVE"))), bob, testOpts()); !errors.Is(err, ErrNotAttendee) {
		t.Fatalf("without his other address: %v", err)
	}
	// A reply to an older SEQUENCE is passed over.
	newer := mustParse(t, meeting("SEQUENCE:0", "SEQUENCE:3"))
	if res, _, err := ApplyReply(newer, mustParse(t, msgCal("REPLY", bobReply("DECLINED"))), bob, testOpts()); err != nil || res != newer {
		t.Fatalf("a stale reply: %v, applied %v", err, res != newer)
	}
}

func TestApplyReplyRefused(t *testing.T) {
	for _, tc := range []struct {
		name, reply, from string
		want              error
	}{
		{"Forged", strings.Replace(bobReply("ACCEPTED"), "mailto:bob@", "mailto:eve@", 1), "mailto:eve@example.org", ErrNotAttendee},
		{"OnBehalfOfAnother", bobReply("ACCEPTED"), carol, ErrInvalidMessage},
		{"NoPartstat", strings.Replace(bobReply("ACCEPTED"), ";PARTSTAT=ACCEPTED", "", 1), bob, ErrInvalidMessage},
		{"OtherUID", strings.Replace(bobReply("ACCEPTED"), "UID:m1", "UID:m9", 1), bob, ErrInvalidMessage},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := ApplyReply(mustParse(t, meeting()), mustParse(t, msgCal("REPLY", tc.reply)), tc.from, testOpts())
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
	_, _, err := ApplyReply(mustParse(t, meeting()), mustParse(t, msgCal("REQUEST", bobReply("ACCEPTED"))), bob, testOpts())
	if !errors.Is(err, ErrInvalidMessage) {
		t.Fatalf("a REQUEST as reply: %v", err)
	}
}
