package recur

import (
	"fmt"
	"math/rand"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-ical"
)

// TestSimpleEnvelope: for random DAILY and WEEKLY rules without BY parts,
// in UTC, floating, and zones with DST, with DTEND, DURATION or all-day
// values, the envelope computed without expanding the rule holds the one
// computed by expanding it, and equals it when no EXDATE removes an end.
func TestSimpleEnvelope(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewSource(1))
	zones := []string{"", "Z", "America/New_York", "Europe/Berlin", "Australia/Lord_Howe"}
	checked := 0
	for i := 0; i < 2000; i++ {
		tz := zones[rng.Intn(len(zones))]
		allDay := rng.Intn(5) == 0
		start := time.Date(2026, time.Month(1+rng.Intn(12)), 1+rng.Intn(28), rng.Intn(24), 30*rng.Intn(2), 0, 0, time.UTC)
		var b strings.Builder
		b.WriteString("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\nUID:u\r\nDTSTAMP:20260101T000000Z\r\n")
		switch {
		case allDay:
			fmt.Fprintf(&b, "DTSTART;VALUE=DATE:%s\r\n", start.Format("20060102"))
		case tz == "Z":
			fmt.Fprintf(&b, "DTSTART:%sZ\r\n", start.Format("20060102T150405"))
		case tz == "":
			fmt.Fprintf(&b, "DTSTART:%s\r\n", start.Format("20060102T150405"))
		default:
			fmt.Fprintf(&b, "DTSTART;TZID=%s:%s\r\n", tz, start.Format("20060102T150405"))
		}
		switch rng.Intn(3) {
		case 0:
			if !allDay && tz != "" && tz != "Z" {
				fmt.Fprintf(&b, "DTEND;TZID=%s:%s\r\n", tz, start.Add(90*time.Minute).Format("20060102T150405"))
			} else if !allDay && tz == "Z" {
				fmt.Fprintf(&b, "DTEND:%sZ\r\n", start.Add(time.Hour).Format("20060102T150405"))
			}
		case 1:
			fmt.Fprintf(&b, "DURATION:P%dDT%dH\r\n", rng.Intn(3), rng.Intn(5))
		}
		rule := []string{"FREQ=DAILY", "FREQ=WEEKLY"}[rng.Intn(2)]
		if rng.Intn(2) == 0 {
			rule += fmt.Sprintf(";INTERVAL=%d", 1+rng.Intn(3))
		}
		if rng.Intn(3) == 0 {
			until := start.AddDate(0, 0, rng.Intn(400))
			rule += ";UNTIL=" + until.Format("20060102T150405Z")
		} else {
			rule += fmt.Sprintf(";COUNT=%d", 1+rng.Intn(80))
		}
		if rng.Intn(4) == 0 {
			rule += ";WKST=SU"
		}
		fmt.Fprintf(&b, "RRULE:%s\r\n", rule)
		exdate := rng.Intn(4) == 0
		if exdate {
			fmt.Fprintf(&b, "EXDATE:%sZ\r\n", start.Format("20060102T150405"))
		}
		simple := !exdate || strings.Contains(rule, "COUNT=") && !strings.Contains(rule, "COUNT=1;") && !strings.HasSuffix(rule, "COUNT=1")
		b.WriteString("END:VEVENT\r\nEND:VCALENDAR\r\n")
		cal := mustParse(t, b.String())
		for _, floating := range []*time.Location{time.UTC, time.FixedZone("E", 14*3600)} {
			z := NewZones(cal, floating)
			g := groups(cal, ical.CompEvent)[0]
			lo, hi, ok := simpleEnvelope(z, g)
			if ok != simple {
				t.Fatalf("rule %s with EXDATE %v: simple %v, want %v", rule, exdate, ok, simple)
			}
			if !ok {
				continue
			}
			wlo, whi, wok := expandedEnvelope(z, ical.CompEvent, g)
			if !wok || wlo.IsZero() && whi.IsZero() { // unreadable, or every occurrence excluded
				continue
			}
			if lo.After(wlo) || hi.Before(whi) {
				t.Fatalf("simple envelope [%v, %v] narrower than the expanded [%v, %v]:\n%s", lo, hi, wlo, whi, b.String())
			}
			if !exdate && !strings.Contains(rule, "UNTIL") && (!lo.Equal(wlo) || !hi.Equal(whi)) {
				t.Fatalf("simple envelope [%v, %v], expanded [%v, %v]:\n%s", lo, hi, wlo, whi, b.String())
			}
			checked++
		}
	}
	if checked < 2500 {
		t.Fatalf("only %d envelopes compared", checked)
	}
}

// TestSimpleRuleOnly: rules with a BY part, RDATE or overrides, or whose
// EXDATEs may remove every occurrence, are left to the expansion.
func TestSimpleRuleOnly(t *testing.T) {
	t.Parallel()
	for _, extra := range []string{
		"RRULE:FREQ=WEEKLY;BYDAY=MO,WE;COUNT=5\r\n",
		"RRULE:FREQ=DAILY;BYHOUR=9,17;COUNT=5\r\n",
		"RRULE:FREQ=MONTHLY;COUNT=5\r\n",
		"RRULE:FREQ=DAILY;COUNT=5\r\nRDATE:20270101T090000Z\r\n",
		"RRULE:FREQ=DAILY\r\n",
		"RRULE:FREQ=DAILY;COUNT=2\r\nEXDATE:20260105T090000Z,20260106T090000Z\r\n",
		"RRULE:FREQ=DAILY;UNTIL=20260110T090000Z\r\nEXDATE:20260105T090000Z\r\n",
	} {
		cal := mustParse(t, "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\nUID:u\r\nDTSTAMP:20260101T000000Z\r\n"+
			"DTSTART:20260105T090000Z\r\nDTEND:20260105T100000Z\r\n"+extra+"END:VEVENT\r\nEND:VCALENDAR\r\n")
		if _, _, ok := simpleEnvelope(NewZones(cal, time.UTC), groups(cal, ical.CompEvent)[0]); ok {
			t.Errorf("%q taken as simple", extra)
		}
	}
}

// TestSimpleEnvelopeLimits: a COUNT past the expansion's budget or a huge
// INTERVAL is not multiplied out: the rule goes to the expansion, which
// leaves the envelope open.
func TestSimpleEnvelopeLimits(t *testing.T) {
	t.Parallel()
	for _, rule := range []string{"FREQ=DAILY;COUNT=2000000000", "FREQ=WEEKLY;INTERVAL=2000000000;COUNT=3"} {
		cal := mustParse(t, "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\nUID:u\r\nDTSTAMP:20260101T000000Z\r\n"+
			"DTSTART:20260105T090000Z\r\nDTEND:20260105T100000Z\r\nRRULE:"+rule+"\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")
		if _, _, ok := simpleEnvelope(NewZones(cal, time.UTC), groups(cal, ical.CompEvent)[0]); ok {
			t.Errorf("%s taken as simple", rule)
		}
		if lo, _ := Envelope(cal); !lo.Equal(utc("20260105T085900Z")) {
			t.Errorf("%s: envelope starts %v", rule, lo)
		}
	}
}
