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
	"unsafe"

	"github.com/emersion/go-ical"
	"github.com/google/go-cmp/cmp"
)

// TestPreparedReuse holds a Prepared, expanded again and again over
// random windows in random order, each twice in a row (the second from
// its memo; the caller then changes its copy), from two goroutines at
// once for the race detector, to a fresh Expand of each window: same instances
// (start, end, recurrence id, override, component) and same errors. The
// calendars are the corpus and random recurring events in UTC, Berlin,
// New York and floating time, with COUNT/UNTIL/endless simple and BY
// rules, RDATEs, EXDATEs (DATE-TIME and DATE), exact and
// THISANDFUTURE overrides: a Prepared must not keep anything from one
// expansion to the next (a COUNT shortened for a window, say) but the
// memo of an identical one.
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
			// Each window's fresh expansion, the reference, made once: the
			// goroutines compare 48 prepared answers with these 12.
			type window struct {
				from, to time.Time
				want     []string
				wantErr  string
			}
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
				want, wantErr := Expand(context.Background(), cal, comp, from, to, opts)
				ws = append(ws, window{from: from, to: to, want: instanceLines(want), wantErr: fmt.Sprint(wantErr)})
			}
			var wg sync.WaitGroup
			for g := range 2 {
				wg.Go(func() {
					// Each window twice in a row: the second answer is
					// the memo's (unless the other goroutine moved it).
					for k := range 2 * len(ws) {
						w := ws[(k/2+g*5)%len(ws)]
						got, gotErr := p.Expand(context.Background(), w.from, w.to, opts)
						if fmt.Sprint(gotErr) != w.wantErr {
							t.Errorf("calendar %d %s [%v, %v): error %v, fresh %v", i, comp, w.from, w.to, gotErr, w.wantErr)
							continue
						}
						if diff := cmp.Diff(w.want, instanceLines(got)); diff != "" {
							t.Errorf("calendar %d %s [%v, %v) (-fresh +prepared):\n%s", i, comp, w.from, w.to, diff)
						}
						if len(got) > 0 {
							got[0].Start = time.Time{} // the caller's copy: the memo must not see it
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

// TestPreparedMemo: a Prepared remembers the last window of a recurring
// set and hands out copies; a different window, other limits or a
// result past MemoInstances are expanded anew.
func TestPreparedMemo(t *testing.T) {
	t.Parallel()
	if got := unsafe.Sizeof(Instance{}); MemoBytes < MemoInstances*int(got) {
		t.Fatalf("MemoBytes %d < %d instances of %d bytes", MemoBytes, MemoInstances, got)
	}
	cal := mustParse(t, "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nBEGIN:VEVENT\r\nUID:w\r\nDTSTAMP:20260101T000000Z\r\n"+
		"DTSTART:20260105T090000Z\r\nDURATION:PT1H\r\nRRULE:FREQ=WEEKLY;BYDAY=MO,TH\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")
	ctx := context.Background()
	p, err := Prepare(ctx, cal, ical.CompEvent, nil, Options{})
	if err != nil {
		t.Fatal(err)
	}
	check := func(from, to time.Time, opts Options, remembered bool) {
		t.Helper()
		got, err := p.Expand(ctx, from, to, opts)
		want, wantErr := Expand(ctx, cal, ical.CompEvent, from, to, opts)
		if fmt.Sprint(err) != fmt.Sprint(wantErr) {
			t.Fatalf("[%v, %v): error %v, fresh %v", from, to, err, wantErr)
		}
		if diff := cmp.Diff(instanceLines(want), instanceLines(got)); diff != "" {
			t.Fatalf("[%v, %v) (-fresh +prepared):\n%s", from, to, diff)
		}
		for i := range got {
			got[i].Start, got[i].Comp = time.Time{}, nil // the caller's copy
		}
		if ok := p.memo.ok && p.memo.start == from && p.memo.end == to && p.memo.maxInstances == opts.withDefaults().MaxInstances; ok != remembered {
			t.Fatalf("[%v, %v): remembered %v, want %v", from, to, ok, remembered)
		}
	}
	month := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	for range 3 {
		check(month, month.AddDate(0, 1, 0), Options{}, true)
	}
	check(month, month.AddDate(0, 0, 7), Options{}, true)
	check(month, month.AddDate(0, 0, 14), Options{MaxInstances: 3}, false) // ErrTooManyInstances: not kept
	check(month, month.AddDate(0, 0, 7), Options{}, true)
	check(month, month.AddDate(0, 3, 0), Options{}, false) // 26 instances: past MemoInstances
	check(month, month.AddDate(0, 1, 0), Options{}, true)
	check(month.AddDate(0, 1, 0), month.AddDate(0, 2, 0), Options{}, true)
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
