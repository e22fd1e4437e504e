package recur

import (
	"context"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-ical"
)

// parseLenient parses with go-ical, turning its panics into failures.
func parseLenient(text string) (cal *ical.Calendar) {
	defer func() {
		if recover() != nil {
			cal = nil
		}
	}()
	c, err := ical.NewDecoder(strings.NewReader(text)).Decode()
	if err != nil {
		return nil
	}
	return c
}

// checkEnvelope expands cal over a bounded window for every component
// type and fails when an instance can match outside the envelope.
func checkEnvelope(t *testing.T, cal *ical.Calendar) {
	t.Helper()
	lo, hi := Envelope(cal)
	start, end := utc("19900101T000000Z"), utc("20400101T000000Z")
	for _, comp := range []string{ical.CompEvent, ical.CompToDo, ical.CompJournal, ical.CompFreeBusy} {
		for _, floating := range []*time.Location{time.FixedZone("W", -12*3600), time.FixedZone("E", 14*3600)} {
			ins, err := Expand(context.Background(), cal, comp, start, end, Options{Floating: floating, MaxInstances: 2000, MaxIterations: 20000})
			if err != nil {
				continue
			}
			for _, in := range ins {
				l, h := in.Reach()
				if !lo.IsZero() && (l.IsZero() || l.Before(lo)) || !hi.IsZero() && (h.IsZero() || h.After(hi)) {
					t.Fatalf("%s instance [%v, %v] outside envelope [%v, %v]", comp, l, h, lo, hi)
				}
			}
		}
	}
}

// FuzzExpand runs arbitrary calendars through Expand and Envelope: no
// panics, bounded work, and the envelope property.
func FuzzExpand(f *testing.F) {
	files, _ := filepath.Glob("testdata/corpus/*.ics")
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(b))
	}
	f.Fuzz(func(t *testing.T, text string) {
		cal := parseLenient(text)
		if cal == nil {
			return
		}
		checkEnvelope(t, cal)
	})
}

// TestEnvelopeRandom checks the envelope property on generated recurring
// calendars: rules, time zones, floating and all-day times, durations,
// exceptions and overrides.
func TestEnvelopeRandom(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewSource(1))
	pick := func(xs ...string) string { return xs[rng.Intn(len(xs))] }
	for i := 0; i < 2000; i++ {
		day := time.Date(2000+rng.Intn(30), time.Month(1+rng.Intn(12)), 1+rng.Intn(28), rng.Intn(24), 15*rng.Intn(4), 0, 0, time.UTC)
		tz := pick("", ";TZID=Europe/Berlin", ";TZID=America/New_York", ";TZID=Pacific/Auckland", ";TZID=Unknown/Zone", "Z")
		val := day.Format("20060102T150405")
		if tz == "Z" {
			tz, val = "", val+"Z"
		}
		comp := pick("VEVENT", "VTODO", "VJOURNAL")
		lines := []string{"BEGIN:VCALENDAR", "BEGIN:" + comp, "UID:u", "DTSTAMP:20240101T000000Z"}
		if rng.Intn(6) == 0 {
			lines = append(lines, "DTSTART;VALUE=DATE:"+day.Format("20060102"))
		} else if comp != "VTODO" || rng.Intn(3) > 0 {
			lines = append(lines, "DTSTART"+tz+":"+val)
		}
		switch rng.Intn(4) {
		case 0:
			lines = append(lines, pick("DURATION:PT1H", "DURATION:P1D", "DURATION:P2W", "DURATION:PT0S"))
		case 1:
			end := day.Add(time.Duration(rng.Intn(72)) * time.Hour).Format("20060102T150405")
			if comp == "VTODO" {
				lines = append(lines, "DUE"+tz+":"+end)
			} else if comp == "VEVENT" {
				lines = append(lines, "DTEND"+tz+":"+end)
			}
		}
		if rng.Intn(3) > 0 {
			lines = append(lines, "RRULE:"+pick("FREQ=DAILY;COUNT=10", "FREQ=WEEKLY;BYDAY=MO,FR;COUNT=20",
				"FREQ=MONTHLY;BYMONTHDAY=-1;COUNT=12", "FREQ=YEARLY;UNTIL=20300101T000000Z", "FREQ=HOURLY;INTERVAL=7;COUNT=50",
				"FREQ=WEEKLY;INTERVAL=2"))
			lines = append(lines, "EXDATE"+tz+":"+day.AddDate(0, 0, 1).Format("20060102T150405"))
		}
		lines = append(lines, "END:"+comp)
		if rng.Intn(2) == 0 && comp != "VTODO" {
			rid := day.AddDate(0, 0, 7*rng.Intn(3))
			shift := time.Duration(rng.Intn(96)-48) * time.Hour
			rng := pick("", ";RANGE=THISANDFUTURE")
			lines = append(lines, "BEGIN:"+comp, "UID:u", "DTSTAMP:20240101T000000Z",
				"RECURRENCE-ID"+rng+tz+":"+rid.Format("20060102T150405"),
				"DTSTART"+tz+":"+rid.Add(shift).Format("20060102T150405"), "END:"+comp)
		}
		lines = append(lines, "END:VCALENDAR", "")
		text := strings.Join(lines, "\r\n")
		cal := parseLenient(text)
		if cal == nil {
			t.Fatalf("generated calendar does not parse:\n%s", text)
		}
		t.Run("", func(t *testing.T) {
			defer func() {
				if t.Failed() {
					t.Log(text)
				}
			}()
			checkEnvelope(t, cal)
		})
	}
}
