package dav

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/almanac/almanac/engine"
	"github.com/almanac/almanac/itip/itiptest"
	"github.com/emersion/go-ical"
)

// The scheduling scenario of issue 18, played through the handler as
// clients play it (PUT and DELETE of calendar objects): alice organizes a
// weekly meeting across the switch to summer time in Europe/Berlin with
// bob, carol, dave and the room blue (accept-if-free). After each step,
// every calendar object and every message the step delivered into an
// inbox must equal testdata/scenario/<name>.txtar's section
// "<step>/<user>/<collection>/<object>" (or ".../inbox"), compared by
// property: DTSTAMP, the order of properties, parameters and components,
// and the VTIMEZONEs' rules do not count. -update rewrites the file;
// review what changed before committing it.

// scenarioStep is one client request of the scenario.
type scenarioStep struct {
	name   string
	user   string
	method string // PUT or DELETE
	path   string
	// body makes the request's body from the store (an attendee's client
	// edits the copy it fetched).
	body func(t *testing.T, db *engine.DB) string
}

const berlinVTZ = itiptest.BerlinVTimezone

// icsText turns \n-separated lines into CRLF iCalendar in a VCALENDAR.
func icsText(body string) string {
	lines := strings.Split(strings.TrimSpace("BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//test//scenario//EN\n"+body+"\nEND:VCALENDAR"), "\n")
	return strings.Join(lines, "\r\n") + "\r\n"
}

// weeklyEvent is alice's weekly meeting (Mondays 09:00 Berlin time from
// 16 March 2026, six times: the 30th is the first in summer time) with
// the ATTENDEE lines atts on every component, the master's extra lines,
// the exception of 23 March (moved to 10:00) and the more components.
func weeklyEvent(seq int, atts, masterExtra, more string) string {
	comp := func(lines string) string {
		return fmt.Sprintf("BEGIN:VEVENT\nUID:weekly\nDTSTAMP:20260301T000000Z\nSEQUENCE:%d\n%s\nORGANIZER;CN=Alice:mailto:alice@example.org\n"+
			"ATTENDEE;CN=Alice;PARTSTAT=ACCEPTED:mailto:alice@example.org\n%s\nEND:VEVENT\n", seq, lines, atts)
	}
	body := berlinVTZ + comp("DTSTART;TZID=Europe/Berlin:20260316T090000\nDTEND;TZID=Europe/Berlin:20260316T100000\nRRULE:FREQ=WEEKLY;COUNT=6\nSUMMARY:Weekly"+masterExtra) +
		comp("RECURRENCE-ID;TZID=Europe/Berlin:20260323T090000\nDTSTART;TZID=Europe/Berlin:20260323T100000\nDTEND;TZID=Europe/Berlin:20260323T110000\nSUMMARY:Weekly (later)")
	if more != "" {
		body += comp(more)
	}
	return icsText(body)
}

// Attendee lines as alice's client writes them.
const (
	bobAtt   = "ATTENDEE;CN=Bob;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:bob@example.org"
	carolAtt = "ATTENDEE;CN=Carol;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:carol@example.org"
	daveAtt  = "ATTENDEE;CN=Dave;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:dave@example.org"
	blueAtt  = "ATTENDEE;CN=Blue;CUTYPE=ROOM;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:blue@example.org"
	allAtts  = bobAtt + "\n" + carolAtt + "\n" + daveAtt + "\n" + blueAtt
)

// fixed returns a body that does not depend on the store.
func fixed(body string) func(*testing.T, *engine.DB) string {
	return func(*testing.T, *engine.DB) string { return body }
}

// declineOne is bob's client accepting his copy of weekly but declining
// the occurrence of 30 March with an override of it.
func declineOne(t *testing.T, db *engine.DB) string {
	o, err := db.Object("/dav/home/bob/calendar/", "weekly.ics", true)
	if err != nil {
		t.Fatal(err)
	}
	cal, err := engine.ParseCalendar(o.Body)
	if err != nil {
		t.Fatal(err)
	}
	setBob := func(c *ical.Component, ps string) {
		for i, p := range c.Props[ical.PropAttendee] {
			if p.Value == "mailto:bob@example.org" {
				c.Props[ical.PropAttendee][i].Params.Set(ical.ParamParticipationStatus, ps)
				c.Props[ical.PropAttendee][i].Params.Del(ical.ParamRSVP)
			}
		}
	}
	var master *ical.Component
	for _, c := range cal.Children {
		if c.Name == ical.CompEvent {
			setBob(c, "ACCEPTED")
			if c.Props.Get(ical.PropRecurrenceID) == nil {
				master = c
			}
		}
	}
	if master == nil {
		t.Fatalf("bob's copy has no master:\n%s", o.Body)
	}
	d := &ical.Component{Name: ical.CompEvent, Props: ical.Props{}}
	for name, props := range master.Props {
		if name != ical.PropRecurrenceRule && name != ical.PropExceptionDates && name != ical.PropRecurrenceDates {
			d.Props[name] = slices.Clone(props)
			for i := range d.Props[name] {
				d.Props[name][i].Params = maps.Clone(d.Props[name][i].Params)
			}
		}
	}
	for name, v := range map[string]string{ical.PropRecurrenceID: "20260330T090000", ical.PropDateTimeStart: "20260330T090000", ical.PropDateTimeEnd: "20260330T100000"} {
		p := ical.NewProp(name)
		p.Params.Set(ical.ParamTimezoneID, "Europe/Berlin")
		p.Value = v
		d.Props.Set(p)
	}
	setBob(d, "DECLINED")
	cal.Children = append(cal.Children, d)
	return encodeCal(t, cal)
}

func encodeCal(t *testing.T, cal *ical.Calendar) string {
	var b strings.Builder
	if err := ical.NewEncoder(&b).Encode(cal); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// thisAndFuture moves the occurrences from 6 April on to 11:00.
const thisAndFuture = "RECURRENCE-ID;RANGE=THISANDFUTURE;TZID=Europe/Berlin:20260406T090000\nDTSTART;TZID=Europe/Berlin:20260406T110000\nDTEND;TZID=Europe/Berlin:20260406T120000\nSUMMARY:Weekly (moved)"

// TestSchedulingScenario plays the scenario step by step (see above):
//
//  0. carol books blue on 13 April 11:00–12:00 (blue accepts);
//  1. alice invites bob, carol, dave and blue to the weekly meeting;
//  2. bob accepts it but declines 30 March (an override in his copy);
//  3. alice's client, from the copy it had before bob answered, moves the
//     meeting from 6 April on to 11:00 (RANGE=THISANDFUTURE): blue is
//     busy on 13 April at 11:00 and declines; bob's answers stay;
//  4. alice cancels the occurrence of 20 April (EXDATE);
//  5. alice removes dave;
//  6. alice deletes the meeting.
func TestSchedulingScenario(t *testing.T) {
	h, db := mustHandler(t, Options{})
	mustSchedulingUsers(t, h, db, "alice", "bob", "carol", "dave")
	mustRoom(t, h, db, "blue", engine.ResourceRoom, engine.AutoAcceptIfFree)
	users := []string{"alice", "bob", "carol", "dave", "blue"}
	const alicePath = "/dav/home/alice/calendar/weekly.ics"
	booking := icsText(berlinVTZ + "BEGIN:VEVENT\nUID:carols-booking\nDTSTAMP:20260301T000000Z\nDTSTART;TZID=Europe/Berlin:20260413T110000\n" +
		"DTEND;TZID=Europe/Berlin:20260413T120000\nSUMMARY:Carol's workshop\nORGANIZER:mailto:carol@example.org\n" + strings.Replace(blueAtt, "CN=Blue;", "", 1) + "\nEND:VEVENT")
	steps := []scenarioStep{
		{"0.booking", "carol", "PUT", "/dav/home/carol/calendar/carols-booking.ics", fixed(booking)},
		{"1.invite", "alice", "PUT", alicePath, fixed(weeklyEvent(0, allAtts, "", ""))},
		{"2.bob-declines-one", "bob", "PUT", "/dav/home/bob/calendar/weekly.ics", declineOne},
		{"3.move-thisandfuture", "alice", "PUT", alicePath, fixed(weeklyEvent(1, allAtts, "", thisAndFuture))},
		{"4.cancel-one", "alice", "PUT", alicePath, fixed(weeklyEvent(2, allAtts, "\nEXDATE;TZID=Europe/Berlin:20260420T090000", thisAndFuture))},
		{"5.remove-dave", "alice", "PUT", alicePath, fixed(weeklyEvent(3, bobAtt+"\n"+carolAtt+"\n"+blueAtt, "\nEXDATE;TZID=Europe/Berlin:20260420T090000", thisAndFuture))},
		{"6.delete", "alice", "DELETE", alicePath, fixed("")},
	}
	file := "testdata/scenario/weekly.txtar"
	ar, err := readArchive(file)
	if os.IsNotExist(err) && *update {
		ar, err = &archive{comment: "TestSchedulingScenario's expected calendars and inbox messages after each step (see the test).\n"}, nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var got []section
	seen := map[string]map[string]bool{} // user -> inbox names already shown
	for _, s := range steps {
		body := s.body(t, db)
		rec := serveUser(h, s.user, s.method, s.path, body)
		if rec.Code != http.StatusCreated && rec.Code != http.StatusNoContent {
			t.Fatalf("%s: %s %s: %d %s", s.name, s.method, s.path, rec.Code, rec.Body)
		}
		for _, u := range users {
			for _, coll := range []string{"calendar", "inbox"} {
				v, err := db.View()
				if err != nil {
					t.Fatal(err)
				}
				var msgs []string
				for o, err := range v.Objects("/dav/home/"+u+"/"+coll+"/", engine.ListOptions{Bodies: true}) {
					if err != nil {
						t.Fatal(err)
					}
					if coll == "calendar" {
						got = append(got, section{name: s.name + "/" + u + "/calendar/" + o.Name, data: canonICS(t, string(o.Body))})
						continue
					}
					if seen[u] == nil {
						seen[u] = map[string]bool{}
					}
					if !seen[u][o.Name] {
						seen[u][o.Name] = true
						msgs = append(msgs, canonICS(t, string(o.Body)))
					}
				}
				v.Close()
				if len(msgs) > 0 {
					sort.Strings(msgs)
					got = append(got, section{name: s.name + "/" + u + "/inbox", data: strings.Join(msgs, "")})
				}
			}
		}
	}
	if *update {
		ar.files = got
		if err := os.MkdirAll("testdata/scenario", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(file, ar.format(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want := map[string]string{}
	for _, f := range ar.files {
		want[f.name] = f.data
	}
	for _, g := range got {
		w, ok := want[g.name]
		switch {
		case !ok:
			t.Errorf("%s: not expected:\n%s", g.name, g.data)
		case canonICS(t, w) != g.data:
			t.Errorf("%s:\n--- got\n%s--- want\n%s", g.name, g.data, canonICS(t, w))
		}
		delete(want, g.name)
	}
	for name := range want {
		t.Errorf("%s: missing", name)
	}
}

// canonICS renders iCalendar text (one or more VCALENDARs) for a
// comparison by property: properties and parameters sorted, components
// sorted by their text, DTSTAMP left out, a VTIMEZONE by its TZID only.
func canonICS(t *testing.T, text string) string {
	t.Helper()
	text = strings.ReplaceAll(strings.ReplaceAll(text, "\r\n", "\n"), "\n", "\r\n")
	dec := ical.NewDecoder(strings.NewReader(text))
	var out []string
	for {
		cal, err := dec.Decode()
		if err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			t.Fatalf("parse: %v\n%s", err, text)
		}
		out = append(out, itiptest.Canon(stripStamps(cal.Component)))
	}
	sort.Strings(out)
	return strings.Join(out, "")
}

// stripStamps returns c without DTSTAMP and with each VTIMEZONE reduced
// to its TZID, for canonICS.
func stripStamps(c *ical.Component) *ical.Component {
	out := &ical.Component{Name: c.Name, Props: ical.Props{}}
	for name, props := range c.Props {
		if name != ical.PropDateTimeStamp && (c.Name != ical.CompTimezone || name == ical.PropTimezoneID) {
			out.Props[name] = props
		}
	}
	if c.Name != ical.CompTimezone {
		for _, ch := range c.Children {
			out.Children = append(out.Children, stripStamps(ch))
		}
	}
	return out
}
