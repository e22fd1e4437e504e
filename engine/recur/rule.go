package recur

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/teambition/rrule-go"
)

// Why rule iteration is wrapped, and how (rrule-go v1.8.2, rrule.go,
// rIterator.generate):
//
// rrule-go's next() loops internally until a period yields an
// occurrence, and we only see (and count, and can cancel between) what it
// yields. Two of its loops can run for a long time without yielding:
//
//  1. For HOURLY, MINUTELY and SECONDLY rules, BYHOUR, BYMINUTE and
//     BYSECOND are filters, applied in an inner `for {}` loop that adds
//     INTERVAL until the time of day is in the lists. It has no other
//     exit: when no listed value is reachable from DTSTART's time in steps
//     of INTERVAL (FREQ=HOURLY;INTERVAL=2;BYHOUR=1 from an even hour), the
//     first next() never returns. Even when one is reachable, each day the
//     loop may take up to 86,400 steps we never see.
//  2. Periods whose days are all filtered out (BYMONTH, BYMONTHDAY,
//     BYYEARDAY, BYWEEKNO, BYDAY, BYSETPOS) yield nothing; the outer loop
//     goes on to year 9999 (rrule.MAXYEAR) unless one yields. An
//     impossible rule (BYMONTH=2;BYMONTHDAY=30) from 2020 costs ~8,000
//     years of periods, 0.2 s, per next().
//
// So iterate never hands rrule-go a time-of-day filter: for sub-daily
// rules it removes BYHOUR/BYMINUTE/BYSECOND (and COUNT, which counts
// filtered occurrences) and applies them to what rrule-go yields, which
// gives the same set (every occurrence of one period shares the
// period's hour, minute and second, so filtering occurrences equals
// filtering periods, BYSETPOS included), with every step counted in the
// budget. And it bounds the outer loop by moving the rule forward by a
// multiple of 400 years, the Gregorian calendar's exact period (weekdays,
// leap years, month lengths and week numbers all repeat), so that the
// end of the range the caller needs falls within 400 years of 9999:
// rrule-go then stops after at most ~700 years of empty periods (at most
// 292 years of range, rrule-go's own limit, plus the 400-year rounding),
// however rare or impossible the rule. It iterates wall clocks in UTC
// (rrule-go works on wall-clock fields) and places each result in the
// caller's location in its real year, as rrule-go would have.
//
// checkRule's static check refuses the impossible rules before any of
// this (a clear message at PUT, no iteration at query); the wrapping
// bounds the rest, including rules that are possible but rare or that
// the check cannot prove impossible (an INTERVAL that never meets the
// BY values).

// Rule errors. Both wrap the rule's text and a reason.
var (
	// ErrInvalidRule is a recurrence rule that is malformed or breaks
	// RFC 5545 §3.3.10.
	ErrInvalidRule = errors.New("recur: invalid recurrence rule")
	// ErrImpossibleRule is a rule that can never produce an occurrence
	// besides DTSTART (FREQ=HOURLY;INTERVAL=2;BYHOUR=1 from an even
	// hour, BYMONTH=2;BYMONTHDAY=30).
	ErrImpossibleRule = errors.New("recur: recurrence rule can never occur")
	// ErrUnsupportedRule is a valid rule this package cannot expand
	// (RFC 7529 RSCALE and SKIP).
	ErrUnsupportedRule = errors.New("recur: recurrence rule not supported")
)

// RuleError describes a refused recurrence rule.
type RuleError struct {
	Rule   string
	Reason string
	Err    error // ErrInvalidRule, ErrImpossibleRule or ErrUnsupportedRule
}

func (e *RuleError) Error() string {
	return fmt.Sprintf("RRULE %q: %s", clipRule(e.Rule), e.Reason)
}

// Unwrap returns the kind of the error.
func (e *RuleError) Unwrap() error { return e.Err }

func clipRule(s string) string {
	if len(s) > 120 {
		return s[:120] + "…"
	}
	return s
}

func ruleErr(kind error, rule, format string, args ...any) error {
	return &RuleError{Rule: rule, Reason: fmt.Sprintf(format, args...), Err: kind}
}

// parseRule parses an RRULE value (RFC 5545 §3.3.10) with rrule-go, in
// loc, after the checks rrule-go leaves out: each part once, COUNT and
// UNTIL not both, positive INTERVAL and COUNT, BY values in range
// (rrule-go's validateBounds), no ordinal 0 in BYDAY. Part names and
// values are case-insensitive. RFC 7529 RSCALE and SKIP give
// ErrUnsupportedRule.
func parseRule(rule string, loc *time.Location) (*rrule.ROption, error) {
	v := strings.ToUpper(strings.TrimSpace(rule))
	seen := map[string]bool{}
	for _, part := range strings.Split(v, ";") {
		k, val, ok := strings.Cut(part, "=")
		if !ok || k == "" || val == "" {
			return nil, ruleErr(ErrInvalidRule, rule, "malformed part %q", part)
		}
		if seen[k] {
			return nil, ruleErr(ErrInvalidRule, rule, "%s given twice", k)
		}
		seen[k] = true
		switch k {
		case "RSCALE", "SKIP":
			return nil, ruleErr(ErrUnsupportedRule, rule, "%s (RFC 7529) is not supported", k)
		case "DTSTART", "BYEASTER": // rrule-go extensions, not RFC 5545
			return nil, ruleErr(ErrInvalidRule, rule, "unknown part %s", k)
		case "BYDAY":
			for _, d := range strings.Split(val, ",") {
				if n := strings.TrimLeft(d, "+-"); len(n) > 2 && strings.Trim(n[:len(n)-2], "0") == "" {
					return nil, ruleErr(ErrInvalidRule, rule, "BYDAY %q has ordinal 0", d)
				}
			}
		}
	}
	if seen["COUNT"] && seen["UNTIL"] {
		return nil, ruleErr(ErrInvalidRule, rule, "COUNT and UNTIL together")
	}
	opt, err := rrule.StrToROptionInLocation(v, loc)
	if err != nil {
		return nil, ruleErr(ErrInvalidRule, rule, "%v", err)
	}
	if seen["INTERVAL"] && opt.Interval <= 0 {
		return nil, ruleErr(ErrInvalidRule, rule, "INTERVAL must be positive")
	}
	if seen["COUNT"] && opt.Count <= 0 {
		return nil, ruleErr(ErrInvalidRule, rule, "COUNT must be positive")
	}
	if simpleRule(opt) && opt.Interval >= 0 {
		return opt, nil // nothing for validateBounds to check: no BY part, INTERVAL not negative
	}
	if _, err := rrule.NewRRule(*opt); err != nil { // validateBounds
		return nil, ruleErr(ErrInvalidRule, rule, "%v", err)
	}
	return opt, nil
}

// CheckRule reports whether an RRULE value can be expanded from dtstart:
// nil, or a *RuleError wrapping ErrInvalidRule (malformed or against RFC
// 5545), ErrImpossibleRule (it can never occur) or ErrUnsupportedRule
// (RFC 7529 RSCALE). Its cost does not depend on the rule's values.
func CheckRule(rule string, dtstart time.Time) error {
	opt, err := parseRule(rule, dtstart.Location())
	if err != nil {
		return err
	}
	if why := impossible(opt, dtstart); why != "" {
		return ruleErr(ErrImpossibleRule, rule, "%s", why)
	}
	return nil
}

// iterate calls yield with the occurrences of the rule opt from dtstart
// (in dtstart's location) before hi, in order, until yield returns false.
// A zero hi is unbounded; rrule-go then stops ~292 years after dtstart.
// Every occurrence rrule-go computes, kept or not, is a step of b. See
// the comment at the top of this file for how rrule-go is guarded.
func iterate(opt rrule.ROption, dtstart, hi time.Time, b *budget, yield func(time.Time) bool) (err error) {
	defer func() {
		// rrule-go panics on some inputs (a DTSTART in year 0 indexes
		// past a table): an error of the data, never a crash.
		if r := recover(); r != nil {
			err = fmt.Errorf("recur: RRULE from %v: %v", dtstart, r)
		}
	}()
	loc := dtstart.Location()
	var byhour, byminute, bysecond []int
	count := 0
	if opt.Freq >= rrule.HOURLY {
		byhour, opt.Byhour = opt.Byhour, nil
		if opt.Freq >= rrule.MINUTELY {
			byminute, opt.Byminute = opt.Byminute, nil
		}
		if opt.Freq == rrule.SECONDLY {
			bysecond, opt.Bysecond = opt.Bysecond, nil
		}
		count, opt.Count = opt.Count, 0
	}
	shift := yearShift(dtstart, hi, opt.Until)
	wall := func(t time.Time) time.Time {
		t = t.In(loc)
		return time.Date(t.Year()+shift, t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), 0, time.UTC)
	}
	opt.Dtstart = wall(dtstart)
	if !opt.Until.IsZero() {
		opt.Until = wall(opt.Until)
	}
	r, err := rrule.NewRRule(opt)
	if err != nil {
		return fmt.Errorf("recur: RRULE: %w", err)
	}
	next := r.Iterator()
	for kept := 0; ; {
		w, ok := next()
		if !ok {
			return nil
		}
		if err := b.step(); err != nil {
			return err
		}
		if byhour != nil && !containsInt(byhour, w.Hour()) || byminute != nil && !containsInt(byminute, w.Minute()) ||
			bysecond != nil && !containsInt(bysecond, w.Second()) {
			continue
		}
		t := time.Date(w.Year()-shift, w.Month(), w.Day(), w.Hour(), w.Minute(), w.Second(), 0, loc)
		if !hi.IsZero() && !t.Before(hi) || !yield(t) {
			return nil
		}
		if kept++; count > 0 && kept >= count {
			return nil
		}
	}
}

// yearShift is the whole number of 400-year cycles iterate moves a rule
// back in time so that rrule-go, which stops after its MAXYEAR, reaches
// the latest wall-clock year the caller may need (rrule-go's limit then
// stands at MAXYEAR-shift for the caller's years).
func yearShift(dtstart, hi, until time.Time) int {
	loc := dtstart.Location()
	end := dtstart.Year() + 293
	if !hi.IsZero() {
		end = min(end, hi.In(loc).Year()+1)
	}
	if !until.IsZero() {
		end = min(end, until.In(loc).Year()+1)
	}
	if end < rrule.MAXYEAR {
		return (rrule.MAXYEAR - end) / 400 * 400
	}
	return 0
}

func containsInt(xs []int, x int) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}
