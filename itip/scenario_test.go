package itip

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/almanac/almanac/engine/recur"
	"github.com/almanac/almanac/itip/itiptest"
	"github.com/emersion/go-ical"
)

// world plays a server's part around the package: the organizer's copy,
// each attendee's copy, and every message delivered.
type world struct {
	t      *testing.T
	org    *ical.Calendar
	copies map[string]*ical.Calendar
	log    []string // summary lines of every message, step by step
}

func newWorld(t *testing.T) *world { return &world{t: t, copies: map[string]*ical.Calendar{}} }

// organizerPut stores the organizer's new version and delivers what it
// sends.
func (w *world) organizerPut(text string) []Message {
	w.t.Helper()
	next := mustParse(w.t, text)
	msgs, err := OrganizerChange(w.org, next, testOpts())
	if err != nil {
		w.t.Fatalf("OrganizerChange: %v", err)
	}
	w.org = next
	w.deliver(msgs)
	return msgs
}

func (w *world) deliver(msgs []Message) {
	w.t.Helper()
	for _, m := range msgs {
		checkMessage(w.t, m)
		w.log = append(w.log, summary([]Message{m})...)
		got, err := ApplyToAttendeeCopy(w.copies[m.Recipient], m.Calendar, m.Recipient, testOpts())
		if err != nil {
			w.t.Fatalf("ApplyToAttendeeCopy to %s: %v", m.Recipient, err)
		}
		mustEncode(w.t, got)
		w.copies[m.Recipient] = got
	}
}

// attendeePut stores an attendee's edit of their copy, applies the reply
// it sends to the organizer's copy and delivers the refreshes.
func (w *world) attendeePut(a string, edit func(c *ical.Calendar)) *Message {
	w.t.Helper()
	next := &ical.Calendar{Component: cloneComp(w.copies[a].Component)}
	edit(next)
	reply, err := AttendeeChange(w.copies[a], next, a, testOpts())
	if err != nil {
		w.t.Fatalf("AttendeeChange: %v", err)
	}
	w.copies[a] = next
	if reply == nil {
		return nil
	}
	checkMessage(w.t, *reply)
	w.log = append(w.log, summary([]Message{*reply})...)
	org, refresh, err := ApplyReply(w.org, reply.Calendar, a, testOpts())
	if err != nil {
		w.t.Fatalf("ApplyReply: %v", err)
	}
	w.org = org
	mustEncode(w.t, org)
	w.deliver(refresh)
	return reply
}

// instances renders the instances of cal in March–May 2026 as
// "01-02 15:04 MST PARTSTAT-of-a" lines, in Berlin time.
func instances(t *testing.T, cal *ical.Calendar, a string) []string {
	t.Helper()
	if cal == nil {
		return nil
	}
	berlin, _ := time.LoadLocation("Europe/Berlin")
	ins, err := recur.Expand(context.Background(), cal, ical.CompEvent,
		time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC), recur.Options{})
	if err != nil {
		t.Fatalf("expand: %v", err)
	}
	var out []string
	for _, in := range ins {
		ps := "-"
		if p := attendeeProp(in.Comp, NormalizeAddress(a)); p != nil {
			ps = p.Params.Get(ical.ParamParticipationStatus)
		}
		if strings.EqualFold(propValue(in.Comp, ical.PropStatus), "CANCELLED") {
			ps += " cancelled"
		}
		out = append(out, in.Start.In(berlin).Format("01-02 15:04 MST ")+ps)
	}
	return out
}

const berlinTZ = itiptest.BerlinVTimezone

// series is the organizer's weekly meeting across the switch to summer
// time (2026-03-29) with an exception on 03-23; more is added after it.
func series(seq int, masterExtra, more string) string {
	return cal(berlinTZ + fmt.Sprintf(`
BEGIN:VEVENT
UID:weekly
DTSTAMP:20260301T000000Z
SEQUENCE:%d
DTSTART;TZID=Europe/Berlin:20260316T090000
DTEND;TZID=Europe/Berlin:20260316T100000
RRULE:FREQ=WEEKLY;COUNT=6
SUMMARY:Weekly
ORGANIZER:mailto:olga@example.org
ATTENDEE;PARTSTAT=ACCEPTED:mailto:olga@example.org
ATTENDEE:mailto:bob@example.org
ATTENDEE:mailto:carol@example.org
ATTENDEE;SCHEDULE-AGENT=CLIENT:mailto:dan@example.org
%s
END:VEVENT
BEGIN:VEVENT
UID:weekly
DTSTAMP:20260301T000000Z
SEQUENCE:%d
RECURRENCE-ID;TZID=Europe/Berlin:20260323T090000
DTSTART;TZID=Europe/Berlin:20260323T100000
DTEND;TZID=Europe/Berlin:20260323T110000
SUMMARY:Weekly (later)
ORGANIZER:mailto:olga@example.org
ATTENDEE;PARTSTAT=ACCEPTED:mailto:olga@example.org
ATTENDEE:mailto:bob@example.org
ATTENDEE:mailto:carol@example.org
ATTENDEE;SCHEDULE-AGENT=CLIENT:mailto:dan@example.org
END:VEVENT
%s`, seq, masterExtra, seq, more))
}

// override returns an override of the organizer's series at rid (Berlin
// time) starting at start, listing attendees (lines).
func override(seq int, rid, rng, start, end, attendees string) string {
	return fmt.Sprintf(`BEGIN:VEVENT
UID:weekly
DTSTAMP:20260301T000000Z
SEQUENCE:%d
RECURRENCE-ID;TZID=Europe/Berlin%s:%s
DTSTART;TZID=Europe/Berlin:%s
DTEND;TZID=Europe/Berlin:%s
SUMMARY:Weekly
ORGANIZER:mailto:olga@example.org
%s
END:VEVENT`, seq, rng, rid, start, end, attendees)
}

const (
	olgaLine  = "ATTENDEE;PARTSTAT=ACCEPTED:mailto:olga@example.org"
	bobLine   = "ATTENDEE:mailto:bob@example.org"
	carolLine = "ATTENDEE:mailto:carol@example.org"
	danLine   = "ATTENDEE;SCHEDULE-AGENT=CLIENT:mailto:dan@example.org"
)

// acceptDeclining is an attendee a's client accepting the series in c
// but the occurrence at t, which it declines with an override.
func acceptDeclining(t *testing.T, c *ical.Calendar, a string, at time.Time) {
	t.Helper()
	setPartstat(c, a, "ACCEPTED")
	d, err := mustObject(t, c).derive(at)
	if err != nil {
		t.Fatal(err)
	}
	attendeeProp(d, a).Params.Set(ical.ParamParticipationStatus, "DECLINED")
	c.Children = append(c.Children, d)
}

// setPartstat sets a's PARTSTAT on every component of c listing a.
func setPartstat(c *ical.Calendar, a, ps string) {
	for _, comp := range c.Children {
		if p := attendeeProp(comp, a); p != nil {
			p.Params.Set(ical.ParamParticipationStatus, ps)
		}
	}
}

// TestScenarioWeeklyAcrossDST runs a recurring meeting with an exception
// across the switch to summer time in Europe/Berlin through the whole
// exchange: invitation, an attendee declining one instance, accepting the
// rest, the organizer moving the series THISANDFUTURE, cancelling one
// instance, removing an attendee from one instance, deleting it. After
// each step, every copy's instances (expanded by engine/recur) and
// PARTSTATs are what each party should see.
func TestScenarioWeeklyAcrossDST(t *testing.T) {
	w := newWorld(t)
	check := func(step string, who string, want ...string) {
		t.Helper()
		var got []string
		if who == "olga" {
			got = instances(t, w.org, bob)
		} else {
			got = instances(t, w.copies["mailto:"+who+"@example.org"], "mailto:"+who+"@example.org")
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s: %s sees\n%s\nwant\n%s", step, who, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
	messages := func(step string, want ...string) {
		t.Helper()
		if !slices.Equal(w.log, want) {
			t.Errorf("%s: messages\n%s\nwant\n%s", step, strings.Join(w.log, "\n"), strings.Join(want, "\n"))
		}
		w.log = nil
	}
	const carolAddr = "mailto:carol@example.org"

	// 1. Invitation: bob and carol get the series with its exception;
	// dan (SCHEDULE-AGENT=CLIENT) and olga herself get nothing. 09:00
	// stays 09:00 across the switch.
	w.organizerPut(series(0, "", ""))
	messages("invite",
		"REQUEST "+bob+" master 20260323T090000",
		"REQUEST "+carolAddr+" master 20260323T090000")
	check("invite", "bob",
		"03-16 09:00 CET NEEDS-ACTION", "03-23 10:00 CET NEEDS-ACTION", "03-30 09:00 CEST NEEDS-ACTION",
		"04-06 09:00 CEST NEEDS-ACTION", "04-13 09:00 CEST NEEDS-ACTION", "04-20 09:00 CEST NEEDS-ACTION")
	if w.copies["mailto:dan@example.org"] != nil {
		t.Fatal("dan (SCHEDULE-AGENT=CLIENT) got a copy")
	}

	// 2. Bob declines the first summer-time instance: his client adds an
	// override. The organizer's copy gets one; carol is told.
	w.attendeePut(bob, func(c *ical.Calendar) { acceptDeclining(t, c, bob, time.Date(2026, 3, 30, 7, 0, 0, 0, time.UTC)) })
	messages("bob declines 03-30",
		"REPLY mailto:olga@example.org master 20260323T090000 20260330T090000",
		"REQUEST "+carolAddr+" master 20260323T090000 20260330T090000")
	check("bob declines 03-30", "olga",
		"03-16 09:00 CET ACCEPTED", "03-23 10:00 CET ACCEPTED", "03-30 09:00 CEST DECLINED",
		"04-06 09:00 CEST ACCEPTED", "04-13 09:00 CEST ACCEPTED", "04-20 09:00 CEST ACCEPTED")
	check("bob declines 03-30", "bob",
		"03-16 09:00 CET ACCEPTED", "03-23 10:00 CET ACCEPTED", "03-30 09:00 CEST DECLINED",
		"04-06 09:00 CEST ACCEPTED", "04-13 09:00 CEST ACCEPTED", "04-20 09:00 CEST ACCEPTED")
	check("bob declines 03-30", "carol",
		"03-16 09:00 CET NEEDS-ACTION", "03-23 10:00 CET NEEDS-ACTION", "03-30 09:00 CEST NEEDS-ACTION",
		"04-06 09:00 CEST NEEDS-ACTION", "04-13 09:00 CEST NEEDS-ACTION", "04-20 09:00 CEST NEEDS-ACTION")

	// 3. Carol accepts everything.
	w.attendeePut(carolAddr, func(c *ical.Calendar) { setPartstat(c, carolAddr, "ACCEPTED") })
	messages("carol accepts",
		"REPLY mailto:olga@example.org master 20260323T090000 20260330T090000",
		"REQUEST "+bob+" master 20260323T090000 20260330T090000")
	check("carol accepts", "carol",
		"03-16 09:00 CET ACCEPTED", "03-23 10:00 CET ACCEPTED", "03-30 09:00 CEST ACCEPTED",
		"04-06 09:00 CEST ACCEPTED", "04-13 09:00 CEST ACCEPTED", "04-20 09:00 CEST ACCEPTED")
	check("carol accepts", "bob", // bob's own answers survive the refresh
		"03-16 09:00 CET ACCEPTED", "03-23 10:00 CET ACCEPTED", "03-30 09:00 CEST DECLINED",
		"04-06 09:00 CEST ACCEPTED", "04-13 09:00 CEST ACCEPTED", "04-20 09:00 CEST ACCEPTED")

	// 4. The organizer moves the series from 04-06 on to 11:00
	// (RANGE=THISANDFUTURE); the moved instances need a new answer.
	decl := func(line, ps string) string { return strings.Replace(line, "ATTENDEE", "ATTENDEE;PARTSTAT="+ps, 1) }
	bobDeclined := override(1, "20260330T090000", "", "20260330T090000", "20260330T100000",
		strings.Join([]string{olgaLine, decl(bobLine, "DECLINED"), decl(carolLine, "ACCEPTED"), danLine}, "\n"))
	future := override(1, "20260406T090000", ";RANGE=THISANDFUTURE", "20260406T110000", "20260406T120000",
		strings.Join([]string{olgaLine, bobLine, carolLine, danLine}, "\n"))
	accepted := strings.Join([]string{"ATTENDEE;PARTSTAT=ACCEPTED:mailto:bob@example.org", "ATTENDEE;PARTSTAT=ACCEPTED:mailto:carol@example.org"}, "\n")
	v4 := strings.Replace(series(1, "", bobDeclined+"\n"+future), bobLine+"\n"+carolLine, accepted, 2)
	w.organizerPut(v4)
	messages("move THISANDFUTURE",
		"REQUEST "+bob+" master 20260323T090000 20260330T090000 20260406T090000",
		"REQUEST "+carolAddr+" master 20260323T090000 20260330T090000 20260406T090000")
	check("move THISANDFUTURE", "bob",
		"03-16 09:00 CET ACCEPTED", "03-23 10:00 CET ACCEPTED", "03-30 09:00 CEST DECLINED",
		"04-06 11:00 CEST NEEDS-ACTION", "04-13 11:00 CEST NEEDS-ACTION", "04-20 11:00 CEST NEEDS-ACTION")
	check("move THISANDFUTURE", "carol",
		"03-16 09:00 CET ACCEPTED", "03-23 10:00 CET ACCEPTED", "03-30 09:00 CEST ACCEPTED",
		"04-06 11:00 CEST NEEDS-ACTION", "04-13 11:00 CEST NEEDS-ACTION", "04-20 11:00 CEST NEEDS-ACTION")

	// 5. The organizer cancels 04-13 (EXDATE): a CANCEL of that instance.
	v5 := strings.Replace(series(2, "EXDATE;TZID=Europe/Berlin:20260413T090000", bobDeclined+"\n"+future), bobLine+"\n"+carolLine, accepted, 2)
	w.organizerPut(v5)
	messages("cancel 04-13",
		"CANCEL "+bob+" 20260413T090000",
		"CANCEL "+carolAddr+" 20260413T090000")
	check("cancel 04-13", "carol",
		"03-16 09:00 CET ACCEPTED", "03-23 10:00 CET ACCEPTED", "03-30 09:00 CEST ACCEPTED",
		"04-06 11:00 CEST NEEDS-ACTION", "04-20 11:00 CEST NEEDS-ACTION")

	// 6. The organizer removes carol from 04-20 only: she gets a CANCEL
	// of it, bob the new override.
	only := override(2, "20260420T090000", "", "20260420T110000", "20260420T120000",
		strings.Join([]string{olgaLine, bobLine, danLine}, "\n"))
	v6 := strings.Replace(series(2, "EXDATE;TZID=Europe/Berlin:20260413T090000", bobDeclined+"\n"+future+"\n"+only), bobLine+"\n"+carolLine, accepted, 2)
	w.organizerPut(v6)
	messages("remove carol from 04-20",
		"REQUEST "+bob+" master 20260323T090000 20260330T090000 20260406T090000 20260420T090000",
		"CANCEL "+carolAddr+" 20260420T090000")
	check("remove carol from 04-20", "carol",
		"03-16 09:00 CET ACCEPTED", "03-23 10:00 CET ACCEPTED", "03-30 09:00 CEST ACCEPTED",
		"04-06 11:00 CEST NEEDS-ACTION")
	check("remove carol from 04-20", "bob",
		"03-16 09:00 CET ACCEPTED", "03-23 10:00 CET ACCEPTED", "03-30 09:00 CEST DECLINED",
		"04-06 11:00 CEST NEEDS-ACTION", "04-20 11:00 CEST NEEDS-ACTION")

	// 7. The organizer deletes the meeting.
	w.organizerPut("")
	messages("delete",
		"CANCEL "+bob+" master",
		"CANCEL "+carolAddr+" master")
	check("delete", "carol",
		"03-16 09:00 CET ACCEPTED cancelled", "03-23 10:00 CET ACCEPTED cancelled", "03-30 09:00 CEST ACCEPTED cancelled",
		"04-06 11:00 CEST NEEDS-ACTION cancelled")
}

func mustObject(t *testing.T, c *ical.Calendar) *object {
	t.Helper()
	o, err := parseObject(c, testOpts().withDefaults())
	if err != nil || o == nil {
		t.Fatalf("parseObject: %v", err)
	}
	return o
}

// TestThisAndFutureLeavesAttendeeOut: an organizer's THISANDFUTURE
// override that no longer lists carol ends her copy of the series before
// it, whether the rule counts or runs forever, while bob gets it all.
func TestThisAndFutureLeavesAttendeeOut(t *testing.T) {
	const carolAddr = "mailto:carol@example.org"
	future := override(1, "20260406T090000", ";RANGE=THISANDFUTURE", "20260406T110000", "20260406T120000",
		strings.Join([]string{olgaLine, bobLine}, "\n"))
	for _, rule := range []string{"FREQ=WEEKLY;COUNT=6", "FREQ=WEEKLY", "FREQ=WEEKLY;UNTIL=20260601T000000Z"} {
		t.Run(rule, func(t *testing.T) {
			text := strings.Replace(series(1, "RDATE;TZID=Europe/Berlin:20260502T090000", future), "FREQ=WEEKLY;COUNT=6", rule, 1)
			msgs, err := OrganizerChange(nil, mustParse(t, text), testOpts())
			if err != nil {
				t.Fatal(err)
			}
			copies := map[string]*ical.Calendar{}
			for _, m := range msgs {
				checkMessage(t, m)
				if copies[m.Recipient], err = ApplyToAttendeeCopy(nil, m.Calendar, m.Recipient, testOpts()); err != nil {
					t.Fatal(err)
				}
			}
			got := instances(t, copies[carolAddr], carolAddr)
			want := []string{"03-16 09:00 CET NEEDS-ACTION", "03-23 10:00 CET NEEDS-ACTION", "03-30 09:00 CEST NEEDS-ACTION"}
			if !slices.Equal(got, want) {
				t.Errorf("carol sees\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			if got := instances(t, copies[bob], bob); len(got) < 6 || got[3] != "04-06 11:00 CEST NEEDS-ACTION" || !slices.Contains(got, "05-02 11:00 CEST NEEDS-ACTION") {
				t.Errorf("bob sees\n%s", strings.Join(got, "\n"))
			}
		})
	}
	// The same override added to an existing series: a REQUEST that ends
	// carol's series, not a CANCEL of the one instance.
	w := newWorld(t)
	w.organizerPut(series(0, "", ""))
	w.log = nil
	w.organizerPut(series(1, "", future))
	if want := []string{"REQUEST " + bob + " master 20260323T090000 20260406T090000", "REQUEST " + carolAddr + " master 20260323T090000"}; !slices.Equal(w.log, want) {
		t.Fatalf("messages %q, want %q", w.log, want)
	}
	if got, want := instances(t, w.copies[carolAddr], carolAddr), []string{"03-16 09:00 CET NEEDS-ACTION", "03-23 10:00 CET NEEDS-ACTION", "03-30 09:00 CEST NEEDS-ACTION"}; !slices.Equal(got, want) {
		t.Fatalf("carol sees %q, want %q", got, want)
	}
}

// TestAddInstance: an RDATE the organizer adds is an ADD of that instance
// alone (RFC 5546 §3.2.4), which the attendees' copies take in; with
// another change it is a REQUEST.
func TestAddInstance(t *testing.T) {
	w := newWorld(t)
	w.organizerPut(series(0, "", ""))
	w.log = nil
	msgs := w.organizerPut(series(1, "RDATE;TZID=Europe/Berlin:20260502T150000", ""))
	if got, want := summary(msgs), []string{"ADD " + bob + " master", "ADD mailto:carol@example.org master"}; !slices.Equal(got, want) {
		t.Fatalf("messages %q, want %q", got, want)
	}
	c := msgs[0].Calendar.Children[len(msgs[0].Calendar.Children)-1]
	if got := propValue(c, ical.PropDateTimeStart); got != "20260502T150000" || c.Props.Get(ical.PropRecurrenceID) != nil || c.Props.Get(ical.PropRecurrenceRule) != nil {
		t.Fatalf("ADD component:\n%s", itiptest.Canon(c))
	}
	got := instances(t, w.copies[bob], bob)
	if len(got) != 7 || got[6] != "05-02 15:00 CEST NEEDS-ACTION" {
		t.Fatalf("bob sees\n%s", strings.Join(got, "\n"))
	}
	msgs = w.organizerPut(series(2, "RDATE;TZID=Europe/Berlin:20260502T150000\nRDATE;TZID=Europe/Berlin:20260509T150000\nLOCATION:Room 2", ""))
	if got, want := summary(msgs), []string{"REQUEST " + bob + " master 20260323T090000", "REQUEST mailto:carol@example.org master 20260323T090000"}; !slices.Equal(got, want) {
		t.Fatalf("messages %q, want %q", got, want)
	}
}

// TestOverridesOnly: an attendee invited to two instances only (not on
// the master) and removed from one gets a CANCEL of it and nothing else;
// a task (VTODO) is scheduled like an event.
func TestOverridesOnly(t *testing.T) {
	const erin = "mailto:erin@example.org"
	erinLine := "ATTENDEE:" + erin
	two := func(withErin2 bool) string {
		second := []string{olgaLine, bobLine}
		if withErin2 {
			second = append(second, erinLine)
		}
		return series(0, "", override(0, "20260330T090000", "", "20260330T090000", "20260330T100000", strings.Join([]string{olgaLine, bobLine, erinLine}, "\n"))+"\n"+
			override(0, "20260406T090000", "", "20260406T090000", "20260406T100000", strings.Join(second, "\n")))
	}
	w := newWorld(t)
	w.organizerPut(two(true))
	if got := instances(t, w.copies[erin], erin); !slices.Equal(got, []string{"03-30 09:00 CEST NEEDS-ACTION", "04-06 09:00 CEST NEEDS-ACTION"}) {
		t.Fatalf("erin sees %q", got)
	}
	w.log = nil
	msgs := w.organizerPut(two(false))
	var erins []string
	for _, m := range msgs {
		if m.Recipient == erin {
			erins = append(erins, summary([]Message{m})...)
		}
	}
	if want := []string{"CANCEL " + erin + " 20260406T090000"}; !slices.Equal(erins, want) {
		t.Fatalf("erin gets %q, want %q", erins, want)
	}
	if got := instances(t, w.copies[erin], erin); !slices.Equal(got, []string{"03-30 09:00 CEST NEEDS-ACTION", "04-06 09:00 CEST NEEDS-ACTION cancelled"}) {
		t.Fatalf("erin sees %q", got)
	}

	task := cal(`BEGIN:VTODO
UID:t1
DTSTAMP:20260101T000000Z
DUE:20260320T170000Z
SUMMARY:Report
ORGANIZER:mailto:olga@example.org
ATTENDEE:mailto:bob@example.org
END:VTODO`)
	msgs, err := OrganizerChange(nil, mustParse(t, task), testOpts())
	if err != nil || len(msgs) != 1 || msgs[0].Calendar.Children[0].Name != "VTODO" {
		t.Fatalf("task: %v, %q", err, summary(msgs))
	}
	checkMessage(t, msgs[0])
}
