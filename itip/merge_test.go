package itip

import (
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-ical"
)

// TestKeepReplies: an organizer's stale copy (fetched before bob answered
// and declined one instance) PUT again keeps bob's answers, the override
// the server made for his declined instance included; a PARTSTAT the
// organizer sets for carol gives way to hers; the organizer's own and a
// SCHEDULE-AGENT=CLIENT attendee's stay as sent; a moved instance may go
// back to NEEDS-ACTION but not to another answer; an override the
// organizer moved is not made again.
func TestKeepReplies(t *testing.T) {
	w := newWorld(t)
	w.organizerPut(series(0, "", ""))
	stale := series(0, "", "")
	w.attendeePut(bob, func(c *ical.Calendar) { acceptDeclining(t, c, bob, time.Date(2026, 3, 30, 7, 0, 0, 0, time.UTC)) })
	const carolAddr = "mailto:carol@example.org"
	partstats := func(c *ical.Calendar) string {
		var out []string
		for _, comp := range c.Children {
			if comp.Name != ical.CompEvent {
				continue
			}
			k := "master"
			if p := comp.Props.Get(ical.PropRecurrenceID); p != nil {
				k = p.Value
			}
			for _, p := range comp.Props[ical.PropAttendee] {
				out = append(out, k+" "+strings.TrimPrefix(p.Value, "mailto:")+"="+p.Params.Get(ical.ParamParticipationStatus))
			}
		}
		return strings.Join(out, "\n")
	}
	moved := func(bobPS string) string {
		return series(1, "", override(1, "20260330T090000", "", "20260330T110000", "20260330T120000",
			olgaLine+"\nATTENDEE;PARTSTAT="+bobPS+":"+bob+"\n"+carolLine+"\n"+danLine))
	}
	row := func(k, olga, bob, carol, dan string) []string {
		return []string{k + " olga@example.org=" + olga, k + " bob@example.org=" + bob, k + " carol@example.org=" + carol, k + " dan@example.org=" + dan}
	}
	join := func(rows ...[]string) string {
		var out []string
		for _, r := range rows {
			out = append(out, r...)
		}
		return strings.Join(out, "\n")
	}
	for _, s := range []struct {
		name, new string
		want      string
	}{
		{"stale", stale, join(row("master", "ACCEPTED", "ACCEPTED", "", ""),
			row("20260323T090000", "ACCEPTED", "ACCEPTED", "", ""),
			row("20260330T090000", "ACCEPTED", "DECLINED", "", ""))},
		{"forged", strings.Replace(stale, carolLine, "ATTENDEE;PARTSTAT=ACCEPTED:"+carolAddr, 1), join(row("master", "ACCEPTED", "ACCEPTED", "", ""),
			row("20260323T090000", "ACCEPTED", "ACCEPTED", "", ""),
			row("20260330T090000", "ACCEPTED", "DECLINED", "", ""))},
		{"the organizer's own, a client-scheduled attendee", strings.ReplaceAll(strings.ReplaceAll(stale, olgaLine, "ATTENDEE;PARTSTAT=TENTATIVE:mailto:olga@example.org"), danLine, "ATTENDEE;SCHEDULE-AGENT=CLIENT;PARTSTAT=ACCEPTED:mailto:dan@example.org"),
			join(row("master", "TENTATIVE", "ACCEPTED", "", "ACCEPTED"),
				row("20260323T090000", "TENTATIVE", "ACCEPTED", "", "ACCEPTED"),
				row("20260330T090000", "TENTATIVE", "DECLINED", "", "ACCEPTED"))},
		{"a moved instance reset", moved("NEEDS-ACTION"), join(row("master", "ACCEPTED", "ACCEPTED", "", ""),
			row("20260323T090000", "ACCEPTED", "ACCEPTED", "", ""),
			row("20260330T090000", "ACCEPTED", "NEEDS-ACTION", "", ""))},
		{"a moved instance answered by the organizer", moved("ACCEPTED"), join(row("master", "ACCEPTED", "ACCEPTED", "", ""),
			row("20260323T090000", "ACCEPTED", "ACCEPTED", "", ""),
			row("20260330T090000", "ACCEPTED", "DECLINED", "", ""))},
	} {
		t.Run(s.name, func(t *testing.T) {
			next := mustParse(t, s.new)
			before := canon(next)
			got, err := KeepReplies(w.org, next, testOpts())
			if err != nil {
				t.Fatal(err)
			}
			if canon(next) != before {
				t.Error("KeepReplies modified its argument")
			}
			if g := partstats(got); g != s.want {
				t.Errorf("got\n%s\nwant\n%s", g, s.want)
			}
			mustEncode(t, got)
		})
	}
	if got, err := KeepReplies(w.org, w.org, testOpts()); err != nil || got != w.org {
		t.Errorf("the stored copy itself: %v, changed %v", err, got != w.org)
	}
	if got, err := KeepReplies(nil, mustParse(t, strings.Replace(series(0, "", ""), bobLine, "ATTENDEE;PARTSTAT=ACCEPTED:"+bob, 2)), testOpts()); err != nil || !strings.Contains(partstats(got), "master bob@example.org=NEEDS-ACTION") {
		t.Errorf("a new object's answers set by the organizer: %v\n%s", err, partstats(got))
	}
}
