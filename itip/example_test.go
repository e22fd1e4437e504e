package itip_test

import (
	"fmt"
	"strings"
	"time"

	"github.com/almanac/almanac/itip"
	"github.com/emersion/go-ical"
)

func parse(s string) *ical.Calendar {
	cal, err := ical.NewDecoder(strings.NewReader(strings.ReplaceAll(s, "\n", "\r\n"))).Decode()
	if err != nil {
		panic(err)
	}
	return cal
}

// The round trip a server makes: olga invites bob, bob's copy is made
// from the REQUEST, bob accepts, and olga's copy takes his REPLY.
func Example() {
	opts := itip.Options{Now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	olgas := parse(`BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//example//EN
BEGIN:VEVENT
UID:lunch
DTSTAMP:20260301T000000Z
DTSTART:20260310T120000Z
DTEND:20260310T130000Z
SUMMARY:Lunch
ORGANIZER:mailto:olga@example.org
ATTENDEE;PARTSTAT=ACCEPTED:mailto:olga@example.org
ATTENDEE;RSVP=TRUE:mailto:bob@example.org
END:VEVENT
END:VCALENDAR
`)
	// olga's PUT: one REQUEST, to bob (never to olga herself).
	msgs, err := itip.OrganizerChange(nil, olgas, opts)
	if err != nil {
		panic(err)
	}
	for _, m := range msgs {
		fmt.Println(m.Method, "from", m.Originator, "to", m.Recipient)
	}
	bobs, err := itip.ApplyToAttendeeCopy(nil, msgs[0].Calendar, msgs[0].Recipient, opts)
	if err != nil {
		panic(err)
	}

	// bob's PUT of his copy, accepted: a REPLY to olga.
	answer := itip.ForStorage(bobs, bobs) // a copy, as bob's client sends it back
	for i := range answer.Children[0].Props["ATTENDEE"] {
		p := &answer.Children[0].Props["ATTENDEE"][i]
		if itip.NormalizeAddress(p.Value) == "mailto:bob@example.org" {
			p.Params.Set("PARTSTAT", "ACCEPTED")
		}
	}
	reply, err := itip.AttendeeChange(bobs, answer, "mailto:bob@example.org", opts)
	if err != nil {
		panic(err)
	}
	fmt.Println(reply.Method, "from", reply.Originator, "to", reply.Recipient)

	// The server applies it to olga's copy.
	olgas, refresh, err := itip.ApplyReply(olgas, reply.Calendar, reply.Originator, opts)
	if err != nil {
		panic(err)
	}
	for _, p := range olgas.Children[0].Props["ATTENDEE"] {
		fmt.Println(p.Value, p.Params.Get("PARTSTAT"))
	}
	fmt.Println(len(refresh), "other attendees to tell")
	// Output:
	// REQUEST from mailto:olga@example.org to mailto:bob@example.org
	// REPLY from mailto:bob@example.org to mailto:olga@example.org
	// mailto:olga@example.org ACCEPTED
	// mailto:bob@example.org ACCEPTED
	// 0 other attendees to tell
}
