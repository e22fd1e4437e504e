package recur

import (
	"context"
	"fmt"
	"math/rand"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-ical"
	"github.com/google/go-cmp/cmp"
)

// TestPreparedReuse holds a Prepared, expanded again and again over
// random windows in random order (and from two goroutines at once, for
// the race detector), to a fresh Expand of each window: same instances
// (start, end, recurrence id, override, component) and same errors. The
// calendars are the corpus and random recurring events in UTC, Berlin,
// New York and floating time, with COUNT/UNTIL/endless simple and BY
// rules, RDATEs, EXDATEs (DATE-TIME and DATE), exact and
// THISANDFUTURE overrides: a Prepared must not keep anything from one
// expansion to the next (a COUNT shortened for a window, say).
func TestPreparedReuse(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewSource(2028))
	var cals []*ical.Calendar
	files, err := filepath.Glob("testdata/corpus/*.ics")
	if err != nil || len(files) == 0 {
		t.Fatalf("no corpus: %v", err)
	}
	for _, f := range files {
		cals = append(cals, mustReadCal(t, f))
	}
	for range 300 {
		cals = append(cals, mustParse(t, randomSeries(r)))
	}
	floats := []*time.Location{time.UTC, mustLoad(t, "Asia/Tokyo"), mustLoad(t, "America/Los_Angeles")}
	for i, cal := range cals {
		floating := floats[r.Intn(len(floats))]
		opts := Options{Floating: floating, MaxInstances: 400}
		for _, comp := range []string{ical.CompEvent, ical.CompToDo, ical.CompFreeBusy} {
			p, err := Prepare(context.Background(), cal, comp, floating, opts)
			if err != nil {
				t.Fatal(err)
			}
			type window struct{ from, to time.Time }
			var ws []window
			for range 12 {
				from := time.Date(2023+r.Intn(5), time.Month(1+r.Intn(12)), 1+r.Intn(28), r.Intn(24), 0, 0, 0, time.UTC)
				to := from.Add(time.Duration(1+r.Intn(24*90)) * time.Hour)
				switch r.Intn(6) {
				case 0:
					from = time.Time{}
				case 1:
					to = time.Time{}
				}
				ws = append(ws, window{from, to})
			}
			var wg sync.WaitGroup
			for g := range 2 {
				wg.Go(func() {
					for k := range ws {
						w := ws[(k+g*5)%len(ws)]
						got, gotErr := p.Expand(context.Background(), w.from, w.to, opts)
						want, wantErr := Expand(context.Background(), cal, comp, w.from, w.to, opts)
						if fmt.Sprint(gotErr) != fmt.Sprint(wantErr) {
							t.Errorf("calendar %d %s [%v, %v): error %v, fresh %v", i, comp, w.from, w.to, gotErr, wantErr)
							continue
						}
						if diff := cmp.Diff(instanceLines(want), instanceLines(got)); diff != "" {
							t.Errorf("calendar %d %s [%v, %v) (-fresh +prepared):\n%s", i, comp, w.from, w.to, diff)
						}
					}
				})
			}
			wg.Wait()
			if t.Failed() {
				t.FailNow()
			}
		}
	}
}

// instanceLines prints what an expansion's caller reads of its instances.
func instanceLines(ins []Instance) []string {
	var out []string
	for _, in := range ins {
		out = append(out, fmt.Sprintf("%p %v %v %v %v %v", in.Comp, in.Start, in.End, in.RecurrenceID, in.Override, in.AllDay))
	}
	return out
}

func mustLoad(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// randomSeries returns a calendar of one recurring VEVENT with random
// timing, rules, RDATE/EXDATE values and overrides.
func randomSeries(r *rand.Rand) string {
	start := time.Date(2024+r.Intn(3), time.Month(1+r.Intn(12)), 1+r.Intn(28), r.Intn(24), 30*r.Intn(2), 0, 0, time.UTC)
	stamp := func(t time.Time) string { return t.Format("20060102T150405") }
	zone := []string{"", "Z", "Europe/Berlin", "America/New_York"}[r.Intn(4)]
	val := func(name string, t time.Time) string {
		switch zone {
		case "":
			return name + ":" + stamp(t)
		case "Z":
			return name + ":" + stamp(t) + "Z"
		}
		return name + ";TZID=" + zone + ":" + stamp(t)
	}
	allDay := r.Intn(6) == 0
	if allDay {
		val = func(name string, t time.Time) string { return name + ";VALUE=DATE:" + t.Format("20060102") }
	}
	var b strings.Builder
	b.WriteString("BEGIN:VCALENDAR\nBEGIN:VEVENT\nUID:s\n" + val("DTSTART", start) + "\n")
	switch r.Intn(3) {
	case 0:
		b.WriteString(val("DTEND", start.Add(time.Duration(1+r.Intn(48))*30*time.Minute)) + "\n")
	case 1:
		fmt.Fprintf(&b, "DURATION:PT%dM\n", 15*(1+r.Intn(8)))
	}
	rules := []string{randomSimpleRule(r, start), "FREQ=MONTHLY;BYMONTHDAY=1,15", "FREQ=WEEKLY;BYDAY=MO,WE;COUNT=30", "FREQ=DAILY;INTERVAL=3;UNTIL=20271231T000000Z"}
	for n := 1 + r.Intn(2); n > 0; n-- {
		b.WriteString("RRULE:" + rules[r.Intn(len(rules))] + "\n")
	}
	if r.Intn(2) == 0 {
		b.WriteString(val("RDATE", start.AddDate(0, 0, 3+r.Intn(100))) + "\n")
	}
	for n := r.Intn(3); n > 0; n-- {
		b.WriteString(val("EXDATE", start.AddDate(0, 0, 7*r.Intn(30))) + "\n")
	}
	b.WriteString("END:VEVENT\n")
	for n := r.Intn(3); n > 0; n-- {
		rid := start.AddDate(0, 0, 7*r.Intn(30))
		rng := ""
		if r.Intn(3) == 0 {
			rng = ";RANGE=THISANDFUTURE"
		}
		ridLine := val("RECURRENCE-ID", rid)
		if i := strings.IndexAny(ridLine, ";:"); rng != "" {
			ridLine = ridLine[:i] + rng + ridLine[i:]
		}
		moved := rid.Add(time.Duration(r.Intn(5)-2) * time.Hour)
		b.WriteString("BEGIN:VEVENT\nUID:s\n" + ridLine + "\n" + val("DTSTART", moved) + "\n" + val("DTEND", moved.Add(time.Hour)) + "\nEND:VEVENT\n")
	}
	b.WriteString("END:VCALENDAR\n")
	return b.String()
}
