package query

import (
	"context"
	"testing"
	"time"

	"github.com/almanac/almanac/engine"
)

// FuzzAvailability parses fuzzed calendar-availability texts and adds
// them to a week's free-busy: never a panic, and every busy period stays
// within the range.
func FuzzAvailability(f *testing.F) {
	f.Add("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VAVAILABILITY\r\nUID:a\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20260105T000000Z\r\n" +
		"BUSYTYPE:BUSY\r\nBEGIN:AVAILABLE\r\nUID:b\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20260105T080000Z\r\nDTEND:20260105T170000Z\r\n" +
		"RRULE:FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR\r\nEND:AVAILABLE\r\nEND:VAVAILABILITY\r\nEND:VCALENDAR\r\n")
	f.Add("BEGIN:VCALENDAR\r\nBEGIN:VAVAILABILITY\r\nDTEND;TZID=X:20260106T000000\r\nBEGIN:AVAILABLE\r\nDTSTART;VALUE=DATE:20260105\r\nDURATION:P1D\r\nEND:AVAILABLE\r\nEND:VAVAILABILITY\r\nEND:VCALENDAR\r\n")
	start := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
	tr := TimeRange{Start: start, End: start.Add(7 * 24 * time.Hour)}
	f.Fuzz(func(t *testing.T, text string) {
		cal, err := engine.ParseCalendar([]byte(text))
		if err != nil {
			return
		}
		a, err := AvailabilityOf(cal)
		if err != nil {
			return
		}
		fb, err := NewFreeBusy(tr, Limits{MaxInstances: 1000})
		if err != nil {
			t.Fatal(err)
		}
		if err := fb.AddAvailability(context.Background(), a, nil); err != nil {
			return
		}
		for typ, ps := range fb.periods {
			for _, p := range ps {
				if p.Start.Before(tr.Start) || p.End.After(tr.End) || !p.End.After(p.Start) {
					t.Fatalf("%s period %v-%v outside %v-%v", typ, p.Start, p.End, tr.Start, tr.End)
				}
			}
		}
	})
}
