package recur

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"strings"
	"testing"
	"time"

	"github.com/almanac/almanac/internal/testscale"
	"github.com/emersion/go-ical"
)

// withDeadline runs fn in a goroutine and fails the test when it does not
// return within d: a regression to an endless loop fails instead of
// hanging the test binary (the goroutine is leaked, the test fails).
// d is generous; the test is about "returns", not about speed.
func withDeadline(t *testing.T, d time.Duration, fn func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn()
	}()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("did not return within %v", d)
	}
}

func ruleCal(dtstart, rule string) *ical.Calendar {
	return parseLenient(strings.Join([]string{"BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:t",
		"BEGIN:VEVENT", "UID:u", "DTSTAMP:20240101T000000Z", "DTSTART" + dtstart,
		"DURATION:PT30M", "RRULE:" + rule, "END:VEVENT", "END:VCALENDAR", ""}, "\r\n"))
}

// The rules of issue 13 item 2: each never returned from rrule-go's first
// next() (sub-daily time filters out of reach of INTERVAL's steps), or
// cost 0.2 s (impossible days). Expanding them, bounded or not, and their
// envelopes return promptly with DTSTART as the only instance, and
// CheckRule calls them impossible.
func TestImpossibleRules(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ dtstart, rule string }{
		{":20240101T100000Z", "FREQ=HOURLY;INTERVAL=2;BYHOUR=1;COUNT=3"},
		{":20240101T100000Z", "FREQ=HOURLY;INTERVAL=2;BYHOUR=1"},
		{";TZID=Europe/Berlin:20240101T100000", "FREQ=HOURLY;INTERVAL=4;BYHOUR=1,3,23"},
		{":20240101T100000Z", "FREQ=MINUTELY;INTERVAL=2;BYMINUTE=1;COUNT=3"},
		{":20240101T100000Z", "FREQ=MINUTELY;INTERVAL=120;BYHOUR=11"},
		{":20240101T100000Z", "FREQ=MINUTELY;INTERVAL=60;BYMINUTE=30"},
		{":20240101T100000Z", "FREQ=SECONDLY;INTERVAL=2;BYSECOND=1;COUNT=3"},
		{":20240101T100000Z", "FREQ=SECONDLY;INTERVAL=3600;BYMINUTE=1"},
		{":20240101T100000Z", "FREQ=SECONDLY;INTERVAL=7200;BYHOUR=1,3,5"},
		{":20240101T100000Z", "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30"},
		{":20240101T100000Z", "FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30"},
		{":20240101T100000Z", "FREQ=MONTHLY;BYMONTH=4,6,9,11;BYMONTHDAY=31"},
		{":20240101T100000Z", "FREQ=YEARLY;BYMONTH=1;BYYEARDAY=100"},
		{":20240101T100000Z", "FREQ=YEARLY;BYYEARDAY=1;BYMONTHDAY=2"},
		{":20240101T100000Z", "FREQ=YEARLY;BYWEEKNO=20;BYMONTH=1"},
		{":20240101T100000Z", "FREQ=MONTHLY;BYDAY=6MO,-6FR"},
		{":20240130T100000Z", "FREQ=YEARLY;BYMONTH=2"}, // Feb 30, DTSTART's day
		{":20240101T100000Z", "FREQ=SECONDLY;BYMONTH=2;BYMONTHDAY=30;BYHOUR=23"},
	} {
		t.Run(tc.rule, func(t *testing.T) {
			dt, _, err := NewZones(nil, time.UTC).parseValue("DTSTART", tc.dtstart[strings.Index(tc.dtstart, ":")+1:], tzParams(tc.dtstart))
			if err != nil {
				t.Fatal(err)
			}
			if err := CheckRule(tc.rule, dt); !errors.Is(err, ErrImpossibleRule) {
				t.Errorf("CheckRule = %v, want ErrImpossibleRule", err)
			}
			cal := ruleCal(tc.dtstart, tc.rule)
			withDeadline(t, time.Minute, func() {
				Envelope(cal)
				for _, r := range [][2]time.Time{
					{{}, {}},
					{utc("20240101T000000Z"), utc("20340101T000000Z")},
					{utc("20240101T000000Z"), {}},
				} {
					ins, err := Expand(context.Background(), cal, ical.CompEvent, r[0], r[1], Options{})
					if err != nil && !errors.Is(err, ErrUnbounded) {
						t.Errorf("Expand %v: %v", r, err)
					}
					if len(ins) > 1 {
						t.Errorf("Expand %v: %d instances, want DTSTART only", r, len(ins))
					}
				}
			})
		})
	}
}

func tzParams(dtstart string) ical.Params {
	p := ical.Params{}
	if tz, ok := strings.CutPrefix(dtstart, ";TZID="); ok {
		p.Set(ical.ParamTimezoneID, tz[:strings.Index(tz, ":")])
	}
	return p
}

// Rules that are possible, some rarely, expand to what they should, and
// the time filters of sub-daily rules (applied by iterate, not rrule-go)
// keep their meaning, COUNT included.
func TestPossibleRules(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		dtstart, rule string
		want          []string
	}{
		{":20240101T100000Z", "FREQ=HOURLY;INTERVAL=2;BYHOUR=12,13;COUNT=3",
			[]string{"20240101T100000Z", "20240101T120000Z", "20240102T120000Z", "20240103T120000Z"}},
		{":20240101T100000Z", "FREQ=HOURLY;INTERVAL=5;BYHOUR=1;COUNT=2", // every 5 h reaches every hour
			[]string{"20240101T100000Z", "20240102T010000Z", "20240107T010000Z"}},
		{":20240101T100000Z", "FREQ=MINUTELY;INTERVAL=90;BYHOUR=13;BYMINUTE=0;COUNT=2",
			[]string{"20240101T100000Z", "20240101T130000Z", "20240102T130000Z"}},
		{":20240101T100000Z", "FREQ=SECONDLY;INTERVAL=1800;BYMINUTE=30;BYHOUR=10;COUNT=2",
			[]string{"20240101T100000Z", "20240101T103000Z", "20240102T103000Z"}},
		{":20240101T100000Z", "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29;COUNT=2",
			[]string{"20240101T100000Z", "20240229T100000Z", "20280229T100000Z"}},
		{":20240101T100000Z", "FREQ=MONTHLY;BYDAY=5MO;COUNT=2",
			[]string{"20240101T100000Z", "20240129T100000Z", "20240429T100000Z"}},
		{":20240101T100000Z", "FREQ=YEARLY;BYWEEKNO=1;BYDAY=MO;COUNT=2",
			[]string{"20240101T100000Z", "20241230T100000Z"}},
		{":20240101T100000Z", "FREQ=YEARLY;BYYEARDAY=-1;BYMONTH=12;COUNT=1",
			[]string{"20240101T100000Z", "20241231T100000Z"}},
	} {
		t.Run(tc.rule, func(t *testing.T) {
			if err := CheckRule(tc.rule, utc(tc.dtstart[1:])); err != nil {
				t.Fatalf("CheckRule: %v", err)
			}
			var got []string
			withDeadline(t, time.Minute, func() {
				ins, err := Expand(context.Background(), ruleCal(tc.dtstart, tc.rule), ical.CompEvent, time.Time{}, time.Time{}, Options{})
				if err != nil {
					t.Error(err)
				}
				for _, in := range ins {
					got = append(got, fmtUTC(in.Start))
				}
			})
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestCheckRuleInvalid(t *testing.T) {
	t.Parallel()
	dt := utc("20240101T100000Z")
	for _, rule := range []string{
		"FREQ=MONTHLY;BYDAY=+1,3MO", // issue 13's conformance finding
		"FREQ=WEEKLY;BYDAY=0MO",
		"FREQ=DAILY;COUNT=3;UNTIL=20250101T000000Z",
		"FREQ=DAILY;COUNT=0",
		"FREQ=DAILY;INTERVAL=0",
		"FREQ=DAILY;INTERVAL=-1",
		"FREQ=DAILY;BYHOUR=24",
		"FREQ=DAILY;FREQ=WEEKLY",
		"FREQ=FORTNIGHTLY",
		"COUNT=3",
		"FREQ=DAILY;;COUNT=3",
		"FREQ=YEARLY;BYEASTER=0",
		"FREQ=YEARLY;BYMONTHDAY=32",
	} {
		if err := CheckRule(rule, dt); !errors.Is(err, ErrInvalidRule) {
			t.Errorf("CheckRule(%q) = %v, want ErrInvalidRule", rule, err)
		}
	}
	if err := CheckRule("RSCALE=GREGORIAN;FREQ=YEARLY;SKIP=FORWARD", dt); !errors.Is(err, ErrUnsupportedRule) {
		t.Errorf("RSCALE: %v, want ErrUnsupportedRule", err)
	}
	if err := CheckRule("freq=weekly;byday=mo,we;until=20250101T000000Z", dt); err != nil {
		t.Errorf("lower case: %v", err)
	}
}

// A client that goes away stops the work: Expand with a canceled context
// returns its error, and one canceled while expanding stops within a
// few hundred steps instead of running its budget out.
func TestExpandCanceled(t *testing.T) {
	t.Parallel()
	cal := ruleCal(":20240101T100000Z", "FREQ=SECONDLY")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Expand(ctx, cal, ical.CompEvent, utc("20240101T000000Z"), utc("20340101T000000Z"), Options{MaxIterations: 1 << 30, MaxInstances: 1 << 30})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Expand with a canceled context: %v", err)
	}
	b := newBudget(ctx, 1<<30)
	steps := 0
	for ; b.step() == nil; steps++ {
	}
	if steps >= checkEvery {
		t.Errorf("a canceled budget allowed %d steps", steps)
	}
}

// 19k RANGE=THISANDFUTURE overrides cost 30 s per query (a scan of the
// overrides per occurrence); the binary search makes it n log n, and
// the budget counts the overrides.
func TestManyFutureOverrides(t *testing.T) {
	t.Parallel()
	lines := []string{"BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:t",
		"BEGIN:VEVENT", "UID:u", "DTSTAMP:20240101T000000Z", "DTSTART:20000101T100000Z",
		"DURATION:PT30M", "RRULE:FREQ=HOURLY", "END:VEVENT"}
	start := utc("20000101T100000Z")
	for i := 0; i < 19000; i++ {
		rid := start.Add(time.Duration(i*7) * time.Hour).Format("20060102T150405Z")
		lines = append(lines, "BEGIN:VEVENT", "UID:u", "DTSTAMP:20240101T000000Z",
			"RECURRENCE-ID;RANGE=THISANDFUTURE:"+rid, "DTSTART:"+rid, "END:VEVENT")
	}
	cal := parseLenient(strings.Join(append(lines, "END:VCALENDAR", ""), "\r\n"))
	withDeadline(t, time.Minute, func() {
		Envelope(cal)
		ins, err := Expand(context.Background(), cal, ical.CompEvent, utc("20140101T000000Z"), utc("20150101T000000Z"), Options{})
		if err != nil {
			t.Error(err)
		}
		if len(ins) != 8760 {
			t.Errorf("%d instances", len(ins))
		}
		_, err = Expand(context.Background(), cal, ical.CompEvent, utc("20140101T000000Z"), utc("20150101T000000Z"), Options{MaxIterations: 10000})
		if !errors.Is(err, ErrTooManyInstances) {
			t.Errorf("default budget: %v, want ErrTooManyInstances", err)
		}
	})
}

// A VTIMEZONE with 10k observances took 51 s and 2.9 GB; its work is now
// bounded by MaxZoneWork and the zone is left unresolved (500
// observances of 300 onsets each are past it).
func TestHugeVTimezone(t *testing.T) {
	t.Parallel()
	lines := []string{"BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:t", "BEGIN:VTIMEZONE", "TZID:Huge"}
	for i := 0; i < 500; i++ {
		lines = append(lines, "BEGIN:STANDARD", fmt.Sprintf("DTSTART:%04d0101T000000", 1601+i%400),
			"TZOFFSETFROM:+0100", "TZOFFSETTO:+0100", "RRULE:FREQ=YEARLY", "END:STANDARD")
	}
	lines = append(lines, "END:VTIMEZONE", "BEGIN:VEVENT", "UID:u", "DTSTAMP:20240101T000000Z",
		"DTSTART;TZID=Huge:20240101T100000", "RRULE:FREQ=DAILY;COUNT=3", "END:VEVENT", "END:VCALENDAR", "")
	cal := parseLenient(strings.Join(lines, "\r\n"))
	withDeadline(t, time.Minute, func() {
		if _, err := LocationFromVTimezone(cal.Children[0]); !errors.Is(err, ErrZoneTooLarge) {
			t.Errorf("LocationFromVTimezone: %v, want ErrZoneTooLarge", err)
		}
		Envelope(cal)
		ins, err := Expand(context.Background(), cal, ical.CompEvent, time.Time{}, time.Time{}, Options{})
		if err != nil || len(ins) != 3 {
			t.Errorf("Expand: %d instances, %v", len(ins), err)
		}
	})
}

// TestImpossibleIsSound cross-checks the static check against rrule-go on
// random day-level rules: a rule called impossible must yield nothing
// besides DTSTART over 292 years (rrule-go's own reach), which holds
// every kind of year. A wrong verdict would refuse a valid rule at PUT.
// It draws 350 rules times ALMANAC_TEST_SCALE (about two in five are
// impossible, each iterated for up to 2^20 steps).
func TestImpossibleIsSound(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewSource(13))
	pick := func(n int, gen func() string) string {
		vs := make([]string, 1+rng.Intn(n))
		for i := range vs {
			vs[i] = gen()
		}
		return strings.Join(vs, ",")
	}
	signed := func(max int) func() string {
		return func() string {
			v := 1 + rng.Intn(max)
			if rng.Intn(3) == 0 {
				v = -v
			}
			return fmt.Sprint(v)
		}
	}
	days := []string{"MO", "TU", "WE", "TH", "FR", "SA", "SU"}
	impossibleSeen := 0
	rules := testscale.N(t, 350)
	for range rules {
		parts := []string{"FREQ=" + []string{"YEARLY", "MONTHLY", "WEEKLY", "DAILY"}[rng.Intn(4)]}
		if rng.Intn(2) == 0 {
			parts = append(parts, "BYMONTH="+pick(2, func() string { return fmt.Sprint(1 + rng.Intn(12)) }))
		}
		if rng.Intn(2) == 0 {
			parts = append(parts, "BYMONTHDAY="+pick(2, signed(31)))
		}
		if rng.Intn(3) == 0 {
			parts = append(parts, "BYYEARDAY="+pick(2, signed(366)))
		}
		if rng.Intn(3) == 0 {
			parts = append(parts, "BYWEEKNO="+pick(2, signed(53)))
		}
		if rng.Intn(2) == 0 {
			parts = append(parts, "BYDAY="+pick(2, func() string {
				d := days[rng.Intn(7)]
				if rng.Intn(2) == 0 {
					return signed(6)() + d
				}
				return d
			}))
		}
		rule := strings.Join(parts, ";")
		dt := time.Date(1900+rng.Intn(200), time.Month(1+rng.Intn(12)), 1+rng.Intn(28), 9, 0, 0, 0, time.UTC)
		opt, err := parseRule(rule, time.UTC)
		if err != nil || impossible(opt, dt) == "" {
			continue
		}
		impossibleSeen++
		n := 0
		// An error (rrule-go panics on BYDAY=-6MO in a MONTHLY rule) is no
		// occurrence either.
		err = iterate(*opt, dt, time.Time{}, newBudget(context.Background(), 1<<20), func(time.Time) bool { n++; return false })
		if n > 0 {
			t.Errorf("%s from %v: called impossible, yet %d occurrences (%v)", rule, dt, n, err)
		}
	}
	if impossibleSeen < rules/50 {
		t.Errorf("only %d impossible rules among %d generated", impossibleSeen, rules)
	}
}

// TestSimpleOccurrencesMatchIterate: for random DAILY and WEEKLY rules
// without BY parts (INTERVAL, COUNT, UNTIL before, at or between
// occurrences, or endless), from DTSTARTs in UTC, Berlin (in and next to
// the hours its DST changes skip and repeat), New York and Lord Howe (a
// half-hour change), up to random or no upper bounds, simpleOccurrences
// yields exactly what iterate (rrule-go) yields.
func TestSimpleOccurrencesMatchIterate(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewSource(1320))
	var zones []*time.Location
	for _, name := range []string{"UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe"} {
		loc, err := time.LoadLocation(name)
		if err != nil {
			t.Fatal(err)
		}
		zones = append(zones, loc)
	}
	for i := range testscale.N(t, 3000) {
		loc := zones[r.Intn(len(zones))]
		start := time.Date(2020+r.Intn(10), time.Month(1+r.Intn(12)), 1+r.Intn(31), r.Intn(24), 30*r.Intn(2), 0, 0, loc)
		if r.Intn(4) == 0 {
			start = time.Date(2026, []time.Month{3, 10}[r.Intn(2)], 20+r.Intn(10), 1+r.Intn(3), 30*r.Intn(2), 0, 0, loc)
		}
		rule := randomSimpleRule(r, start)
		opt, err := parseRule(rule, loc)
		if err != nil {
			t.Fatal(err)
		}
		if !simpleRule(opt) {
			t.Fatalf("%s is not simple", rule)
		}
		var hi time.Time
		if r.Intn(5) != 0 || opt.Count == 0 && opt.Until.IsZero() {
			hi = start.Add(time.Duration(r.Intn(24*900)) * time.Hour)
		}
		var got, want []time.Time
		b := func() *budget { return newBudget(context.Background(), 1<<20) }
		if err := simpleOccurrences(opt, start, hi, b(), func(t time.Time) bool { got = append(got, t); return true }); err != nil {
			t.Fatal(err)
		}
		if err := iterate(*opt, start, hi, b(), func(t time.Time) bool { want = append(want, t); return true }); err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want) || len(got) > 0 && (!got[0].Equal(want[0]) || !got[len(got)-1].Equal(want[len(want)-1])) || !equalTimes(got, want) {
			t.Fatalf("case %d: DTSTART %v %s before %v:\nsimpleOccurrences %d %v\niterate           %d %v", i, start, rule, hi, len(got), got, len(want), want)
		}
	}
}

func equalTimes(a, b []time.Time) bool {
	for i := range a {
		if !a[i].Equal(b[i]) {
			return false
		}
	}
	return len(a) == len(b)
}

// randomSimpleRule returns a DAILY or WEEKLY rule without BY parts, with
// or without INTERVAL, ending by COUNT, by an UNTIL between occurrences
// or on one, or never.
func randomSimpleRule(r *rand.Rand, start time.Time) string {
	rule := []string{"FREQ=DAILY", "FREQ=WEEKLY"}[r.Intn(2)]
	if r.Intn(2) == 0 {
		rule += fmt.Sprintf(";INTERVAL=%d", 1+r.Intn(5))
	}
	switch r.Intn(4) {
	case 0:
		rule += fmt.Sprintf(";COUNT=%d", 1+r.Intn(300))
	case 1:
		rule += ";UNTIL=" + start.Add(time.Duration(r.Intn(24*800))*time.Hour).UTC().Format("20060102T150405") + "Z"
	case 2:
		rule += ";UNTIL=" + start.AddDate(0, 0, 7*r.Intn(50)).UTC().Format("20060102T150405") + "Z" // on an occurrence
	}
	return rule
}
