package recur

import (
	"fmt"
	"strings"
	"time"

	"github.com/teambition/rrule-go"
)

// impossible returns why the rule opt from dtstart can never produce an
// occurrence, or "" when it may. It never calls a rule impossible that
// has an occurrence, by RFC 5545 or by rrule-go: where the two differ
// (BYDAY=MO,1TU is a union in the RFC, an intersection in rrule-go) it
// takes the wider reading. It does not find every impossible rule (an
// INTERVAL that never meets the BY days, a BYSETPOS past the set);
// iterate bounds the cost of those. Its work does not depend on the
// rule's values: at most 14 × 366 days and 1,440 times of day.
func impossible(opt *rrule.ROption, dtstart time.Time) string {
	if why := impossibleTime(opt, dtstart); why != "" {
		return why
	}
	return impossibleDay(opt, dtstart)
}

// impossibleTime checks the time-of-day filters of sub-daily rules: a
// rule stepping INTERVAL hours from DTSTART's hour only ever reaches the
// hours congruent to it modulo gcd(INTERVAL, 24); likewise minutes of
// the day modulo gcd(INTERVAL, 1440) and seconds modulo gcd(INTERVAL,
// 86400). rrule-go's inner loop never ends when none of the listed times
// is reachable.
func impossibleTime(opt *rrule.ROption, dtstart time.Time) string {
	if opt.Freq < rrule.HOURLY {
		return "" // BYHOUR, BYMINUTE, BYSECOND add times; they filter nothing
	}
	n := int64(max(opt.Interval, 1))
	h0, m0, s0 := dtstart.Clock()
	hours := valuesOr(opt.Byhour, 24)
	minutes, seconds := []int(nil), []int(nil)
	if opt.Freq >= rrule.MINUTELY {
		minutes = valuesOr(opt.Byminute, 60)
	}
	if opt.Freq == rrule.SECONDLY {
		seconds = opt.Bysecond
	}
	switch opt.Freq {
	case rrule.HOURLY:
		if len(opt.Byhour) == 0 {
			return ""
		}
		g := gcd(n, 24)
		for _, h := range hours {
			if mod(int64(h-h0), g) == 0 {
				return ""
			}
		}
		return fmt.Sprintf("every %d hours from %02d:00 never reaches %s", n, h0, timeParts(opt))
	case rrule.MINUTELY:
		if len(opt.Byhour)+len(opt.Byminute) == 0 {
			return ""
		}
		g := gcd(n, 1440)
		t0 := int64(h0*60 + m0)
		for _, h := range hours {
			for _, m := range minutes {
				if mod(int64(h*60+m)-t0, g) == 0 {
					return ""
				}
			}
		}
		return fmt.Sprintf("every %d minutes from %02d:%02d never reaches %s", n, h0, m0, timeParts(opt))
	default: // SECONDLY
		if len(opt.Byhour)+len(opt.Byminute)+len(opt.Bysecond) == 0 {
			return ""
		}
		g := gcd(n, 86400)
		t0 := int64(h0*3600 + m0*60 + s0)
		for _, h := range hours {
			for _, m := range minutes {
				base := int64(h*3600 + m*60)
				if len(seconds) == 0 {
					// Some second s in 0..59 with base+s ≡ t0 (mod g).
					if mod(t0-base, g) <= 59 {
						return ""
					}
					continue
				}
				for _, s := range seconds {
					if mod(base+int64(s)-t0, g) == 0 {
						return ""
					}
				}
			}
		}
		return fmt.Sprintf("every %d seconds from %02d:%02d:%02d never reaches %s", n, h0, m0, s0, timeParts(opt))
	}
}

// timeParts writes the time-of-day parts of a rule for a message.
func timeParts(opt *rrule.ROption) string {
	var parts []string
	for _, p := range []struct {
		name string
		vs   []int
	}{{"BYHOUR", opt.Byhour}, {"BYMINUTE", opt.Byminute}, {"BYSECOND", opt.Bysecond}} {
		if len(p.vs) > 0 {
			parts = append(parts, fmt.Sprintf("%s=%s", p.name, strings.Trim(strings.Join(strings.Fields(fmt.Sprint(p.vs)), ","), "[]")))
		}
	}
	return strings.Join(parts, ";")
}

// valuesOr returns vs, or 0..n-1 when vs is empty.
func valuesOr(vs []int, n int) []int {
	if len(vs) > 0 {
		return vs
	}
	all := make([]int, n)
	for i := range all {
		all[i] = i
	}
	return all
}

func mod(a, m int64) int64 {
	r := a % m
	if r < 0 {
		r += m
	}
	return r
}

// dayFilter holds a rule's day-level parts as lookup tables.
type dayFilter struct {
	month                  [13]bool
	hasMonth               bool
	mday, nmday            [32]bool // 1..31 and -1..-31
	hasMDay                bool
	yday, nyday            [367]bool
	hasYDay                bool
	week                   [55]bool // 1..53, negatives folded in (see weekOK)
	nweek                  [54]bool
	hasWeek                bool
	wday                   [7]bool // any ordinal, Monday = 0
	hasWDay                bool
	nth                    map[[2]int]bool // {weekday, n} with n != 0
	byMonthScope, anyPlain bool
}

// impossibleDay looks for one date, in any of the 14 kinds of Gregorian
// year (leap or not, by the weekday of January 1: every year is one of
// them), that passes the rule's BYMONTH, BYMONTHDAY, BYYEARDAY, BYWEEKNO
// and BYDAY parts, with the defaults rrule-go takes from DTSTART
// (FREQ=YEARLY without day parts is DTSTART's month and day). Week
// numbers are taken loosely (any week a day may belong to, whatever
// WKST), so the test can only err towards possible.
func impossibleDay(opt *rrule.ROption, dtstart time.Time) string {
	f := dayFilter{nth: map[[2]int]bool{}}
	bymonth, bymonthday := opt.Bymonth, opt.Bymonthday
	if len(opt.Byweekno)+len(opt.Byyearday)+len(opt.Bymonthday)+len(opt.Byweekday) == 0 {
		switch opt.Freq {
		case rrule.YEARLY:
			if len(bymonth) == 0 {
				bymonth = []int{int(dtstart.Month())}
			}
			bymonthday = []int{dtstart.Day()}
		case rrule.MONTHLY:
			bymonthday = []int{dtstart.Day()}
		}
	}
	for _, m := range bymonth {
		f.month[m], f.hasMonth = true, true
	}
	for _, d := range bymonthday {
		if d > 0 {
			f.mday[d] = true
		} else {
			f.nmday[-d] = true
		}
		f.hasMDay = true
	}
	for _, d := range opt.Byyearday {
		if d > 0 {
			f.yday[d] = true
		} else {
			f.nyday[-d] = true
		}
		f.hasYDay = true
	}
	for _, w := range opt.Byweekno {
		if w > 0 {
			f.week[w] = true
		} else {
			f.nweek[-w] = true
		}
		f.hasWeek = true
	}
	for _, w := range opt.Byweekday {
		f.hasWDay = true
		if w.N() == 0 || opt.Freq > rrule.MONTHLY {
			f.wday[w.Day()], f.anyPlain = true, true
		} else {
			f.nth[[2]int{w.Day(), w.N()}] = true
		}
	}
	f.byMonthScope = opt.Freq == rrule.MONTHLY || opt.Freq == rrule.YEARLY && len(bymonth) > 0
	if !f.hasMonth && !f.hasMDay && !f.hasYDay && !f.hasWeek && !f.hasWDay {
		return ""
	}
	for leap := 0; leap < 2; leap++ {
		for jan1 := 0; jan1 < 7; jan1++ {
			if f.yearHasDay(365+leap, jan1) {
				return ""
			}
		}
	}
	return "no day satisfies its BYMONTH, BYMONTHDAY, BYYEARDAY, BYWEEKNO and BYDAY parts together"
}

// yearHasDay reports whether a year of yearlen days whose January 1 falls
// on weekday jan1 (Monday = 0) has a day passing f.
func (f *dayFilter) yearHasDay(yearlen, jan1 int) bool {
	monthLen := [13]int{0, 31, 28 + yearlen - 365, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}
	doy := 0
	for m := 1; m <= 12; m++ {
		for d := 1; d <= monthLen[m]; d, doy = d+1, doy+1 {
			if f.hasMonth && !f.month[m] ||
				f.hasMDay && !f.mday[d] && !f.nmday[monthLen[m]-d+1] ||
				f.hasYDay && !f.yday[doy+1] && !f.nyday[yearlen-doy] ||
				f.hasWeek && !f.weekOK(doy, yearlen) {
				continue
			}
			if !f.hasWDay {
				return true
			}
			wd := (jan1 + doy) % 7
			if f.anyPlain && f.wday[wd] {
				return true
			}
			// The n-th weekday of the month (MONTHLY, YEARLY with
			// BYMONTH) or of the year.
			first, last := doy, doy
			if f.byMonthScope {
				first, last = d-1, monthLen[m]-d
			} else {
				last = yearlen - 1 - doy
			}
			if f.nth[[2]int{wd, first/7 + 1}] || f.nth[[2]int{wd, -(last/7 + 1)}] {
				return true
			}
		}
	}
	return false
}

// weekOK reports whether day doy (0-based) of a year may be in one of
// f's weeks: week 1 starts between December 29 and January 4, so week n
// holds days 7(n-1)-3 to 7n+2; the days before week 1 are in the last
// week (52 or 53) of the year before, those after the last in week 1.
func (f *dayFilter) weekOK(doy, yearlen int) bool {
	for n := max(1, (doy-2+6)/7); n <= 53 && 7*(n-1)-3 <= doy; n++ {
		if doy > 7*n+2 {
			continue
		}
		// Week n counted from the end: -(numweeks-n+1), numweeks 52 or 53.
		if f.week[n] || n <= 52 && f.nweek[53-n] || f.nweek[54-n] {
			return true
		}
	}
	if doy <= 2 && (f.week[52] || f.week[53] || f.nweek[1]) {
		return true
	}
	return doy >= yearlen-4 && (f.week[1] || f.nweek[52] || f.nweek[53])
}
