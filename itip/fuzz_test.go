package itip

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-ical"
)

// edits drives random edits of a scheduling object from fuzz input.
type edits struct {
	data []byte
	i    int
}

func (e *edits) next() int {
	if e.i >= len(e.data) {
		return 0
	}
	b := e.data[e.i]
	e.i++
	return int(b)
}

func (e *edits) done() bool { return e.i >= len(e.data) }

// fuzzPool holds the addresses edits use: case variants of one user, the
// organizer, and others.
var fuzzPool = []string{"mailto:bob@example.org", "MAILTO:bob@EXAMPLE.org", "mailto:carol@example.org",
	"urn:uuid:D1", "mailto:olga@example.org", "mailto:erin@x.test", ""}

const mallory = "mailto:mallory@example.org"

// fuzzBase is a weekly meeting of olga's with bob and carol across the DST
// switch; Params are nil where a parser leaves them nil.
func fuzzBase() *ical.Calendar {
	c := ical.NewCalendar()
	c.Props.SetText(ical.PropVersion, "2.0")
	c.Props.SetText(ical.PropProductID, "-//fuzz//EN")
	m := ical.NewComponent(ical.CompEvent)
	add := func(name, value string, params ical.Params) {
		m.Props[name] = append(m.Props[name], ical.Prop{Name: name, Value: value, Params: params})
	}
	add(ical.PropUID, "f1", nil)
	add(ical.PropDateTimeStamp, "20260301T000000Z", nil)
	add(ical.PropDateTimeStart, "20260323T090000", ical.Params{"TZID": {"Europe/Berlin"}})
	add(ical.PropDateTimeEnd, "20260323T100000", ical.Params{"TZID": {"Europe/Berlin"}})
	add(ical.PropRecurrenceRule, "FREQ=WEEKLY;COUNT=5", nil)
	add(ical.PropSummary, "S", nil)
	add(ical.PropOrganizer, "mailto:olga@example.org", nil)
	add(ical.PropAttendee, "mailto:olga@example.org", nil)
	add(ical.PropAttendee, "mailto:bob@example.org", nil)
	add(ical.PropAttendee, "mailto:carol@example.org", nil)
	c.Children = append(c.Children, m)
	return c
}

// instanceAt is the j-th weekly instance's local start (j = 5 is none).
func instanceAt(j int) string {
	return time.Date(2026, 3, 23+7*j, 9, 0, 0, 0, time.UTC).Format("20060102T150405")
}

// apply makes one random organizer's edit of cal.
func (e *edits) apply(cal *ical.Calendar) {
	comps := events(cal)
	if len(comps) == 0 {
		return
	}
	c := comps[e.next()%len(comps)]
	addr := fuzzPool[e.next()%len(fuzzPool)]
	atts := c.Props[ical.PropAttendee]
	var att *ical.Prop
	if len(atts) > 0 {
		att = &atts[e.next()%len(atts)]
		if att.Params == nil {
			att.Params = ical.Params{}
		}
	}
	j := e.next() % 6
	tz := ical.Params{"TZID": {"Europe/Berlin"}}
	switch e.next() % 13 {
	case 0:
		c.Props[ical.PropAttendee] = append(atts, ical.Prop{Name: ical.PropAttendee, Value: addr})
	case 1:
		if len(atts) > 0 {
			k := e.next() % len(atts)
			c.Props[ical.PropAttendee] = slices.Delete(atts, k, k+1)
		}
	case 2:
		if c.Props.Get(ical.PropRecurrenceRule) != nil {
			ov := cloneComp(c)
			for _, n := range []string{ical.PropRecurrenceRule, ical.PropExceptionDates} {
				delete(ov.Props, n)
			}
			ov.Props[ical.PropRecurrenceID] = []ical.Prop{{Name: ical.PropRecurrenceID, Value: instanceAt(j), Params: tz}}
			cal.Children = append(cal.Children, ov)
		}
	case 3:
		c.Props[ical.PropExceptionDates] = append(c.Props[ical.PropExceptionDates], ical.Prop{Name: ical.PropExceptionDates, Value: instanceAt(j), Params: tz})
	case 4:
		c.Props.SetText(ical.PropSummary, fmt.Sprint("S", j))
	case 5:
		c.Props[ical.PropDateTimeStart] = []ical.Prop{{Name: ical.PropDateTimeStart, Value: instanceAt(j)[:9] + "11" + instanceAt(j)[11:], Params: tz}}
	case 6:
		if att != nil {
			att.Params.Set("SCHEDULE-AGENT", []string{"CLIENT", "NONE", "SERVER"}[j%3])
		}
	case 7:
		if att != nil {
			att.Params.Set("SCHEDULE-FORCE-SEND", "REQUEST")
		}
	case 8:
		c.Props.SetText(ical.PropStatus, "CANCELLED")
	case 9:
		if p := c.Props.Get(ical.PropRecurrenceID); p != nil {
			p.Params = ical.Params{"TZID": {"Europe/Berlin"}, "RANGE": {"THISANDFUTURE"}}
		}
	case 10:
		if att != nil {
			att.Params.Set(ical.ParamParticipationStatus, []string{"ACCEPTED", "DECLINED", "TENTATIVE"}[j%3])
		}
	case 11:
		if c.Props.Get(ical.PropRecurrenceID) != nil {
			cal.Children = slices.DeleteFunc(cal.Children, func(x *ical.Component) bool { return x == c })
		}
	case 12:
		c.Props.Set(&ical.Prop{Name: ical.PropSequence, Value: fmt.Sprint(j)})
	}
}

func cloneCal(c *ical.Calendar) *ical.Calendar {
	if c == nil {
		return nil
	}
	return &ical.Calendar{Component: cloneComp(c.Component)}
}

// FuzzOrganizerAndAttendeeEdits makes random organizer edits of a
// recurring meeting, then random attendee answers: never a panic, every
// message goes to an attendee the server schedules for (never to the
// organizer or anyone else), applying each message to the recipient's
// copy works, the recipient's REPLY is accepted by the organizer's copy,
// and a forged reply from someone not invited changes nothing.
func FuzzOrganizerAndAttendeeEdits(f *testing.F) {
	f.Add([]byte{0, 1, 0, 1, 0, 2, 3, 3, 0, 2})
	f.Add([]byte{1, 0, 2, 1, 4, 5, 7, 0, 0, 1, 2, 9, 0, 0, 3, 3, 10})
	f.Add([]byte{2, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12})
	f.Add([]byte{3, 1, 3, 0, 1, 6, 1, 1, 1, 1, 1})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 200 {
			return
		}
		e := &edits{data: data}
		mode := e.next()
		old := fuzzBase()
		for range e.next() % 4 {
			e.apply(old)
		}
		new := cloneCal(old)
		for range 1 + e.next()%4 {
			e.apply(new)
		}
		switch mode % 5 {
		case 0:
			old = nil
		case 1:
			new = nil
		}
		opts := testOpts()
		msgs, err := OrganizerChange(old, new, opts)
		if err != nil {
			var pe *PreconditionError
			if !errors.As(err, &pe) && !errors.Is(err, ErrInvalidMessage) {
				t.Fatalf("OrganizerChange: unexpected error %v", err)
			}
			return
		}
		checkKeepReplies(t, old, new, opts)
		// Each recipient's copy of the old version.
		copies := map[string]*ical.Calendar{}
		if old != nil && len(msgs) > 0 {
			before, err := OrganizerChange(nil, old, opts)
			if err != nil {
				t.Fatal(err)
			}
			for _, b := range before {
				if copies[b.Recipient], err = ApplyToAttendeeCopy(nil, b.Calendar, b.Recipient, opts); err != nil {
					t.Fatal(err)
				}
			}
		}
		answered := false
		for _, m := range msgs {
			checkRecipient(t, old, new, m)
			got, err := ApplyToAttendeeCopy(copies[m.Recipient], m.Calendar, m.Recipient, opts)
			if err != nil {
				t.Fatalf("ApplyToAttendeeCopy(%s): %v", m.Method, err)
			}
			mustEncode(t, got)
			if got == nil || m.Method != MethodRequest || new == nil || answered {
				continue
			}
			answered = true // one attendee answers: the work of an execution stays small
			// The attendee answers; the organizer's copy takes it.
			answer := cloneCal(got)
			for range 1 + e.next()%3 {
				e.answer(answer, m.Recipient)
			}
			reply, err := AttendeeChange(got, answer, m.Recipient, opts)
			if err != nil {
				t.Fatalf("AttendeeChange: %v", err)
			}
			if reply == nil {
				continue
			}
			if reply.Recipient != NormalizeAddress(propValue(new.Children[0], ical.PropOrganizer)) {
				t.Fatalf("REPLY to %s", reply.Recipient)
			}
			mustEncode(t, reply.Calendar)
			if updated, _, err := ApplyReply(new, reply.Calendar, m.Recipient, opts); err == nil {
				mustEncode(t, updated)
			} else {
				t.Fatalf("ApplyReply of %s's reply: %v\nnew:\n%s\ncopy:\n%s\nanswered:\n%s\nreply:\n%s", m.Recipient, err, canon(new), canon(got), canon(answer), canon(reply.Calendar))
			}
			forged := cloneCal(reply.Calendar)
			for _, c := range forged.Children {
				for i := range c.Props[ical.PropAttendee] {
					c.Props[ical.PropAttendee][i].Value = mallory
				}
			}
			res, _, err := ApplyReply(new, forged, mallory, opts)
			if err == nil && res != new {
				t.Fatalf("a forged reply changed the organizer's copy")
			}
			if err != nil && !errors.Is(err, ErrNotAttendee) && !errors.Is(err, ErrInvalidMessage) {
				t.Fatalf("forged reply: %v", err)
			}
		}
		if e.done() {
			return
		}
	})
}

// checkKeepReplies: KeepReplies of an organizer's change neither fails
// nor modifies its argument, adds or removes no attendee (answers only),
// encodes, and what the organizer's change then sends still goes to
// attendees only.
func checkKeepReplies(t *testing.T, old, new *ical.Calendar, opts Options) {
	t.Helper()
	if new == nil {
		return
	}
	before := canon(new)
	kept, err := KeepReplies(old, new, opts)
	if err != nil {
		t.Fatalf("KeepReplies after a change OrganizerChange took: %v", err)
	}
	if canon(new) != before {
		t.Fatal("KeepReplies modified its argument")
	}
	mustEncode(t, kept)
	a, errA := Attendees(new)
	b, errB := Attendees(kept)
	if errA != nil || errB != nil || !slices.Equal(a, b) {
		t.Fatalf("KeepReplies changed the attendees: %v -> %v (%v, %v)", a, b, errA, errB)
	}
	msgs, err := OrganizerChange(old, kept, opts)
	if err != nil {
		t.Fatalf("OrganizerChange after KeepReplies: %v", err)
	}
	for _, m := range msgs {
		checkRecipient(t, old, kept, m)
	}
}

// answer makes one random attendee edit: a PARTSTAT on a component, an
// override declining one instance, or an EXDATE.
func (e *edits) answer(cal *ical.Calendar, a string) {
	comps := events(cal)
	if len(comps) == 0 {
		return
	}
	c := comps[e.next()%len(comps)]
	j := e.next() % 6
	switch e.next() % 3 {
	case 0:
		if p := attendeeProp(c, a); p != nil {
			p.Params.Set(ical.ParamParticipationStatus, []string{"ACCEPTED", "DECLINED", "TENTATIVE"}[j%3])
		}
	case 1:
		taken := slices.ContainsFunc(comps, func(x *ical.Component) bool {
			p := x.Props.Get(ical.PropRecurrenceID)
			return p != nil && p.Value == instanceAt(j)
		})
		if c.Props.Get(ical.PropRecurrenceRule) != nil && !taken {
			ov := cloneComp(c)
			delete(ov.Props, ical.PropRecurrenceRule)
			delete(ov.Props, ical.PropExceptionDates)
			ov.Props[ical.PropRecurrenceID] = []ical.Prop{{Name: ical.PropRecurrenceID, Value: instanceAt(j), Params: ical.Params{"TZID": {"Europe/Berlin"}}}}
			if p := attendeeProp(ov, a); p != nil {
				p.Params.Set(ical.ParamParticipationStatus, "DECLINED")
			}
			cal.Children = append(cal.Children, ov)
		}
	case 2:
		c.Props[ical.PropExceptionDates] = append(c.Props[ical.PropExceptionDates],
			ical.Prop{Name: ical.PropExceptionDates, Value: instanceAt(j), Params: ical.Params{"TZID": {"Europe/Berlin"}}})
	}
}

// checkRecipient fails unless m goes to a server-scheduled attendee of old
// or new who is not the organizer, and names them in every component.
func checkRecipient(t *testing.T, old, new *ical.Calendar, m Message) {
	t.Helper()
	org := "mailto:olga@example.org"
	if m.Recipient == org || m.Recipient == "" {
		t.Fatalf("%s to %q", m.Method, m.Recipient)
	}
	listed := false
	for _, c := range []*ical.Calendar{old, new} {
		if c == nil {
			continue
		}
		for _, comp := range c.Children {
			if p := attendeeProp(comp, m.Recipient); p != nil {
				listed = true
				if agent := p.Params.Get("SCHEDULE-AGENT"); agent != "" && !strings.EqualFold(agent, "SERVER") && c == new {
					t.Fatalf("%s to %s, whose SCHEDULE-AGENT is %s", m.Method, m.Recipient, agent)
				}
			}
		}
	}
	if !listed {
		t.Fatalf("%s to %s, who is not an attendee", m.Method, m.Recipient)
	}
	mustEncode(t, m.Calendar)
	for _, comp := range m.Calendar.Children {
		if comp.Name != ical.CompTimezone && attendeeProp(comp, m.Recipient) == nil {
			t.Fatalf("%s to %s: a component without them", m.Method, m.Recipient)
		}
	}
}

func events(cal *ical.Calendar) []*ical.Component {
	var out []*ical.Component
	for _, ch := range cal.Children {
		if ch.Name == ical.CompEvent {
			out = append(out, ch)
		}
	}
	return out
}
