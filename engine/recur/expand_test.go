package recur

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-ical"
	"github.com/google/go-cmp/cmp"
)

// TestCorpus compares Expand with the independent expansion in
// testdata/gen_expected.py (python-dateutil, icalendar's VTIMEZONE).
func TestCorpus(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("testdata/corpus/*.ics")
	if err != nil || len(files) == 0 {
		t.Fatalf("no corpus: %v", err)
	}
	start, end := utc("20240101T000000Z"), utc("20260101T000000Z")
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			cal := mustReadCal(t, f)
			want, err := os.ReadFile(strings.TrimSuffix(f, ".ics") + ".expected")
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, comp := range []string{ical.CompEvent, ical.CompToDo} {
				ins, err := Expand(context.Background(), cal, comp, start, end, Options{})
				if err != nil {
					t.Fatal(err)
				}
				for _, in := range ins {
					got = append(got, strings.Join([]string{comp, in.Comp.Props.Get(ical.PropUID).Value,
						fmtUTC(in.RecurrenceID), fmtUTC(in.Start), fmtUTC(in.End)}, " "))
				}
			}
			sort.Strings(got)
			wantLines := strings.Split(strings.TrimSpace(string(want)), "\n")
			if diff := cmp.Diff(wantLines, got); diff != "" {
				t.Errorf("instances (-python +go):\n%s", diff)
			}
			envelopeHolds(t, cal)
		})
	}
}

// envelopeHolds checks that every instance lies within the envelope.
func envelopeHolds(t *testing.T, cal *ical.Calendar) {
	t.Helper()
	lo, hi := Envelope(cal)
	for _, comp := range []string{ical.CompEvent, ical.CompToDo, ical.CompJournal, ical.CompFreeBusy} {
		for _, floating := range []*time.Location{time.UTC, time.FixedZone("W", -12*3600), time.FixedZone("E", 14*3600)} {
			end := time.Time{}
			if hi.IsZero() {
				end = utc("21000101T000000Z")
			}
			ins, err := Expand(context.Background(), cal, comp, time.Time{}, end, Options{Floating: floating, MaxInstances: 1 << 20, MaxIterations: 1 << 20})
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

func TestExpandWindow(t *testing.T) {
	t.Parallel()
	cal := mustReadCal(t, "testdata/corpus/outlook-custom-tz.ics")
	t.Run("OK", func(t *testing.T) {
		// 30 minutes starting at the end of the 2024-04-22 instance
		// misses it; a range ending at its start misses it too.
		ins, err := Expand(context.Background(), cal, ical.CompEvent, utc("20240422T080000Z"), utc("20240429T073000Z"), Options{})
		if err != nil {
			t.Fatal(err)
		}
		if len(ins) != 0 {
			t.Fatalf("got %d instances, want none: %v", len(ins), ins)
		}
		ins, err = Expand(context.Background(), cal, ical.CompEvent, utc("20240422T075959Z"), utc("20240422T080000Z"), Options{})
		if err != nil || len(ins) != 1 {
			t.Fatalf("got %v, %v; want one instance", ins, err)
		}
	})
	t.Run("ErrUnbounded", func(t *testing.T) {
		cal := mustParse(t, "BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:a\nDTSTART:20240101T000000Z\nRRULE:FREQ=DAILY\nEND:VEVENT\nEND:VCALENDAR\n")
		if _, err := Expand(context.Background(), cal, ical.CompEvent, utc("20240101T000000Z"), time.Time{}, Options{}); !errors.Is(err, ErrUnbounded) {
			t.Fatalf("err = %v, want ErrUnbounded", err)
		}
	})
	t.Run("ErrTooManyInstances", func(t *testing.T) {
		cal := mustParse(t, "BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:a\nDTSTART:20240101T000000Z\nRRULE:FREQ=MINUTELY\nEND:VEVENT\nEND:VCALENDAR\n")
		_, err := Expand(context.Background(), cal, ical.CompEvent, utc("20240101T000000Z"), utc("20250101T000000Z"), Options{MaxInstances: 1000})
		if !errors.Is(err, ErrTooManyInstances) {
			t.Fatalf("err = %v, want ErrTooManyInstances", err)
		}
	})
}

// TestInfiniteRuleFarFuture checks that an endless sub-daily rule queried
// decades ahead yields exactly the occurrences of the window, starting
// iteration near it (the work bound is what lets it pass the budget).
func TestInfiniteRuleFarFuture(t *testing.T) {
	t.Parallel()
	cal := mustParse(t, "BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:a\nDTSTART;TZID=Europe/Berlin:20000101T000700\nDURATION:PT1M\nRRULE:FREQ=MINUTELY;INTERVAL=10\nEND:VEVENT\nEND:VCALENDAR\n")
	start, end := utc("20640331T000000Z"), utc("20640331T020000Z")
	ins, err := Expand(context.Background(), cal, ical.CompEvent, start, end, Options{MaxIterations: 10000})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(ins), 12; got != want {
		t.Fatalf("got %d instances, want %d", got, want)
	}
	for _, in := range ins {
		if in.Start.Minute()%10 != 7 {
			t.Errorf("instance at %v is off the rule's 10-minute grid", in.Start)
		}
	}
}

func TestAlarmTriggers(t *testing.T) {
	t.Parallel()
	cal := mustParse(t, `BEGIN:VCALENDAR
BEGIN:VEVENT
UID:a
DTSTART:20240101T100000Z
DTEND:20240101T110000Z
BEGIN:VALARM
ACTION:DISPLAY
TRIGGER;RELATED=END:-PT15M
REPEAT:2
DURATION:PT5M
END:VALARM
END:VEVENT
END:VCALENDAR
`)
	ins, err := Expand(context.Background(), cal, ical.CompEvent, time.Time{}, time.Time{}, Options{})
	if err != nil || len(ins) != 1 {
		t.Fatalf("expand: %v %v", ins, err)
	}
	got, err := AlarmTriggers(ins[0], ins[0].Comp.Children[0])
	if err != nil {
		t.Fatal(err)
	}
	var s []string
	for _, g := range got {
		s = append(s, fmtUTC(g))
	}
	want := []string{"20240101T104500Z", "20240101T105000Z", "20240101T105500Z"}
	if diff := cmp.Diff(want, s); diff != "" {
		t.Errorf("triggers (-want +got):\n%s", diff)
	}
}

// BenchmarkInfiniteFarFuture expands an endless rule one day, ten and
// forty years after its start: iteration starts near the range, so the
// cost does not grow with the distance.
func BenchmarkInfiniteFarFuture(b *testing.B) {
	for _, rule := range []string{"FREQ=MINUTELY", "FREQ=DAILY;BYDAY=MO,WE", "FREQ=MONTHLY;BYDAY=-1FR"} {
		cal := mustParse(b, "BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:a\nDTSTART;TZID=Europe/Berlin:20200101T090000\nDURATION:PT30M\nRRULE:"+rule+"\nEND:VEVENT\nEND:VCALENDAR\n")
		for _, years := range []int{0, 10, 40} {
			b.Run(fmt.Sprintf("%s/+%dy", rule, years), func(b *testing.B) {
				start := time.Date(2020+years, 6, 1, 0, 0, 0, 0, time.UTC)
				for b.Loop() {
					if _, err := Expand(context.Background(), cal, ical.CompEvent, start, start.Add(24*time.Hour), Options{}); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
