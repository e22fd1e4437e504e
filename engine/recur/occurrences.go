package recur

import (
	"slices"
	"sort"
	"time"

	"github.com/teambition/rrule-go"
)

// occurrences returns the start times (and, for RDATE periods, end times)
// of the master's recurrence set that fall in [lo, hi): DTSTART, every
// RRULE occurrence and RDATE value, minus EXDATE values. A zero lo or hi
// is unbounded.
func (pg *prepGroup) occurrences(dtstart, lo, hi time.Time, b *budget) ([]Period, error) {
	in := func(t time.Time) bool {
		return (lo.IsZero() || !t.Before(lo)) && (hi.IsZero() || t.Before(hi))
	}
	var occs []Period
	if in(dtstart) {
		occs = append(occs, Period{Start: dtstart})
	}
	for _, r := range pg.rules {
		if r.err != nil {
			return nil, r.err
		}
		opt := r.opt
		if opt == nil {
			var err error
			if opt, err = parseRule(r.value, dtstart.Location()); err != nil {
				return nil, err
			}
		} else {
			cp := *opt // ruleOccurrences changes COUNT
			opt = &cp
		}
		ts, err := ruleOccurrences(opt, dtstart, lo, hi, b)
		if err != nil {
			return nil, err
		}
		occs = slices.Grow(occs, len(ts))
		for _, t := range ts {
			occs = append(occs, Period{Start: t})
		}
	}
	if pg.rdErr != nil {
		return nil, pg.rdErr
	}
	for _, p := range pg.rdates {
		if in(p.Start) {
			occs = append(occs, Period{Start: p.Start, End: p.End})
		}
	}
	if pg.exErr != nil {
		return nil, pg.exErr
	}
	sort.SliceStable(occs, func(i, j int) bool { return occs[i].Start.Before(occs[j].Start) })
	var prev int64
	out := occs[:0]
	for i, oc := range occs {
		u := oc.Start.Unix()
		if i > 0 && u == prev { // sorted: duplicates are adjacent
			continue
		}
		prev = u
		if pg.excluded[u] || pg.hasExcludedDays && pg.excludedDays[oc.Start.Format("20060102")] {
			continue
		}
		out = append(out, oc)
	}
	return out, nil
}

// ruleOccurrences iterates one RRULE from dtstart and keeps the
// occurrences in [lo, hi). An infinite rule has its start moved to a
// period boundary near lo first, so that far-future ranges cost little.
// A rule that can never occur (impossible) adds nothing, without
// iterating; one this package cannot expand is an error.
func ruleOccurrences(opt *rrule.ROption, dtstart, lo, hi time.Time, b *budget) (out []time.Time, err error) {
	if impossible(opt, dtstart) != "" {
		return nil, nil
	}
	if opt.Count == 0 && opt.Until.IsZero() && hi.IsZero() {
		return nil, ErrUnbounded
	}
	start := dtstart
	switch {
	case opt.Count == 0 && !lo.IsZero():
		start, _ = alignedStart(opt.Freq, opt.Interval, dtstart, lo)
	case opt.Count > 0 && !lo.IsZero() && simpleRule(opt):
		// Every INTERVAL days or weeks: the n-th occurrence is DTSTART
		// plus n periods, so the rule from an aligned start with n fewer
		// occurrences is the original's from there on. A weekly COUNT=52
		// series asked for a month near its end no longer steps through
		// the year before it.
		var skipped int
		start, skipped = alignedStart(opt.Freq, opt.Interval, dtstart, lo)
		if opt.Count -= skipped; opt.Count <= 0 {
			return nil, nil
		}
	}
	if opt.Count > 0 && lo.IsZero() { // the common bounded rule: room for all of it
		out = make([]time.Time, 0, min(opt.Count, 1024))
	}
	keep := func(t time.Time) bool {
		if lo.IsZero() || !t.Before(lo) {
			out = append(out, t)
		}
		return true
	}
	if simpleRule(opt) && opt.Interval <= maxSimpleInterval && start.Year() > 0 { // rrule-go fails on year 0: keep its error
		err = simpleOccurrences(opt, start, hi, b, keep)
	} else {
		err = iterate(*opt, start, hi, b, keep)
	}
	if err != nil {
		return nil, err
	}
	return out, nil
}

// simpleOccurrences yields the occurrences before hi of a simpleRule
// from start as iterate (rrule-go) does: start's wall clock plus whole
// periods, compared with UNTIL on the wall clock, then placed in start's
// location; without building rrule-go's iterator, which was most of what
// a month query costs for each weekly series that reaches the month.
// The rule_test.go property test holds it to iterate.
func simpleOccurrences(opt *rrule.ROption, start, hi time.Time, b *budget, yield func(time.Time) bool) error {
	loc := start.Location()
	days := max(opt.Interval, 1)
	if opt.Freq == rrule.WEEKLY {
		days *= 7
	}
	wall := func(t time.Time) time.Time {
		return time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), 0, time.UTC)
	}
	w0 := wall(start)
	var until time.Time
	if !opt.Until.IsZero() {
		until = wall(opt.Until.In(loc))
	}
	lastYear := rrule.MAXYEAR - yearShift(start, hi, opt.Until) // where rrule-go stops
	for k := 0; opt.Count == 0 || k < opt.Count; k++ {
		w := w0.AddDate(0, 0, k*days)
		if !until.IsZero() && w.After(until) || w.Year() > lastYear {
			return nil
		}
		t := time.Date(w.Year(), w.Month(), w.Day(), w.Hour(), w.Minute(), w.Second(), 0, loc)
		if !hi.IsZero() && !t.Before(hi) {
			return nil
		}
		if err := b.step(); err != nil {
			return err
		}
		if !yield(t) {
			return nil
		}
	}
	return nil
}

// alignedStart moves dtstart forward by whole periods of a DAILY, WEEKLY
// or sub-daily rule (whole days, so wall-clock times and weekdays stay),
// stopping before lo, and returns how many periods of the rule it moved
// (exact for DAILY and WEEKLY). The occurrence set from the new start
// equals the original one's from there on, for rules without COUNT. A
// start whose wall clock would change (moved into a DST gap) stays.
func alignedStart(freq rrule.Frequency, interval int, dtstart, lo time.Time) (time.Time, int) {
	if interval <= 0 {
		interval = 1
	}
	var days, period int64
	switch freq {
	case rrule.WEEKLY:
		days, period = 7*int64(interval), 7*int64(interval)
	case rrule.DAILY:
		days, period = int64(interval), int64(interval)
	case rrule.HOURLY, rrule.MINUTELY, rrule.SECONDLY:
		secs := int64(interval)
		if freq == rrule.HOURLY {
			secs *= 3600
		} else if freq == rrule.MINUTELY {
			secs *= 60
		}
		days = secs / gcd(secs, 86400) // lcm(secs, 1 day) in days
	default:
		return dtstart, 0
	}
	gap := int64(lo.Sub(dtstart).Hours()/24) - 2
	if days <= 0 || gap < days {
		return dtstart, 0
	}
	moved := gap / days * days
	start := dtstart.AddDate(0, 0, int(moved))
	if start.Hour() != dtstart.Hour() || start.Minute() != dtstart.Minute() || start.Second() != dtstart.Second() {
		return dtstart, 0
	}
	if period == 0 {
		return start, 0
	}
	return start, int(moved / period)
}

func gcd(a, b int64) int64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}
