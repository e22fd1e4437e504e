package recur

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"slices"
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

// TestExpandWindowRandom: the instances Expand returns for a window equal
// those of an expansion over decades filtered by the window, for random
// DAILY and WEEKLY rules (randomSimpleRule, and an EXDATE),
// in UTC, Berlin (DTSTART in the hour its DST change skips or repeats) and
// New York: the aligned start of a windowed expansion (alignedStart, also
// for COUNT rules) drops no occurrence and adds none.
func TestExpandWindowRandom(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewSource(2027))
	zones := []string{"", "Europe/Berlin", "America/New_York"}
	for i := range 1500 {
		zone := zones[r.Intn(len(zones))]
		start := time.Date(2024+r.Intn(3), time.Month(1+r.Intn(12)), 1+r.Intn(28), r.Intn(24), 30*r.Intn(2), 0, 0, time.UTC)
		if r.Intn(4) == 0 { // Berlin's gap (2026-03-29) and fold (2026-10-25) hours, and the days around them
			start = time.Date(2026, []time.Month{3, 10}[r.Intn(2)], 20+r.Intn(10), 2, 30, 0, 0, time.UTC)
		}
		dtstart := "DTSTART:" + start.Format("20060102T150405") + "Z"
		if zone != "" {
			dtstart = "DTSTART;TZID=" + zone + ":" + start.Format("20060102T150405")
		}
		rule := randomSimpleRule(r, start)
		exdate := ""
		if r.Intn(3) == 0 {
			exdate = "EXDATE:" + start.AddDate(0, 0, 7*r.Intn(20)).UTC().Format("20060102T150405") + "Z\n"
			if zone != "" {
				exdate = "EXDATE;TZID=" + zone + ":" + start.AddDate(0, 0, 7*r.Intn(20)).Format("20060102T150405") + "\n"
			}
		}
		cal := mustParse(t, "BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:a\n"+dtstart+"\nDURATION:PT45M\nRRULE:"+rule+"\n"+exdate+"END:VEVENT\nEND:VCALENDAR\n")
		from := start.Add(time.Duration(r.Intn(24*500)-24*10) * time.Hour)
		if start.Year() == 2026 && start.Hour() == 2 && r.Intn(2) == 0 {
			from = time.Date(2026, start.Month(), 29+r.Intn(5), r.Intn(24), 0, 0, 0, time.UTC) // an aligned start near the change
		}
		to := from.Add(time.Duration(1+r.Intn(24*60)) * time.Hour)
		got, err := Expand(context.Background(), cal, ical.CompEvent, from, to, Options{})
		if err != nil {
			t.Fatal(err)
		}
		all, err := Expand(context.Background(), cal, ical.CompEvent, utc("20200101T000000Z"), utc("20350101T000000Z"), Options{MaxInstances: 1 << 20, MaxIterations: 1 << 22})
		if err != nil {
			t.Fatal(err)
		}
		var want []time.Time
		for _, in := range all {
			if in.Overlaps(from, to) {
				want = append(want, in.Start)
			}
		}
		var starts []time.Time
		for _, in := range got {
			starts = append(starts, in.Start)
		}
		if !slices.EqualFunc(starts, want, time.Time.Equal) {
			t.Fatalf("case %d: %s %s EXDATE %q over [%v, %v):\ngot  %v\nwant %v", i, dtstart, rule, exdate, from, to, starts, want)
		}
	}
}
