package recur

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-ical"
)

// Time parses a DATE or DATE-TIME property. date reports a DATE value,
// which is midnight in the floating location.
func (z *Zones) Time(p *ical.Prop) (t time.Time, date bool, err error) {
	if p == nil {
		return time.Time{}, false, fmt.Errorf("recur: missing date-time")
	}
	return z.parseValue(p.Name, strings.TrimSpace(p.Value), p.Params)
}

// parseValue parses one DATE or DATE-TIME value with the parameters of
// its property.
func (z *Zones) parseValue(name, v string, params ical.Params) (time.Time, bool, error) {
	isDate := strings.EqualFold(params.Get(ical.ParamValue), "DATE") || len(v) == 8
	if isDate {
		t, err := time.ParseInLocation("20060102", v, z.floating)
		if err != nil {
			return time.Time{}, false, fmt.Errorf("recur: %s: malformed date %q", name, v)
		}
		z.Floating = true
		return t, true, nil
	}
	if strings.HasSuffix(v, "Z") {
		t, err := time.Parse("20060102T150405Z", v)
		if err != nil {
			return time.Time{}, false, fmt.Errorf("recur: %s: malformed date-time %q", name, v)
		}
		return t, false, nil
	}
	loc := z.floating
	if tzid := params.Get(ical.ParamTimezoneID); tzid != "" {
		var ok bool
		loc, ok = z.Location(tzid)
		if !ok {
			z.Floating = true
		}
	} else {
		z.Floating = true
	}
	t, err := time.ParseInLocation("20060102T150405", v, loc)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("recur: %s: malformed date-time %q", name, v)
	}
	return t, false, nil
}

// Period is one value of a multi-valued RDATE, EXDATE or FREEBUSY
// property. End is zero unless the value was a PERIOD.
type Period struct {
	Start, End time.Time
	Date       bool
}

// Periods parses every value of every given property: comma-separated
// DATE, DATE-TIME or PERIOD values (start/end or start/duration).
func (z *Zones) Periods(props []ical.Prop) ([]Period, error) {
	var out []Period
	for _, p := range props {
		for _, v := range strings.Split(p.Value, ",") {
			v = strings.TrimSpace(v)
			if v == "" {
				continue
			}
			first, second, isPeriod := strings.Cut(v, "/")
			start, date, err := z.parseValue(p.Name, first, p.Params)
			if err != nil {
				return nil, err
			}
			per := Period{Start: start, Date: date}
			if isPeriod {
				if strings.HasPrefix(second, "P") || strings.HasPrefix(second, "+P") || strings.HasPrefix(second, "-P") {
					d, err := ParseDuration(second)
					if err != nil {
						return nil, fmt.Errorf("recur: %s: %w", p.Name, err)
					}
					per.End = d.AddTo(start)
				} else if per.End, _, err = z.parseValue(p.Name, second, p.Params); err != nil {
					return nil, err
				}
			}
			out = append(out, per)
		}
	}
	return out, nil
}

// Duration is an RFC 5545 §3.3.6 duration: a nominal part in days
// (weeks count as 7 days), which keeps the wall-clock time across DST
// changes, and an exact part in seconds.
type Duration struct {
	Neg  bool
	Days int
	Secs int64
}

// maxDurationSecs bounds parsed durations (about 100 years).
const maxDurationSecs = 100 * 366 * 86400

// ParseDuration parses a duration such as "P1D", "-PT15M" or "P1W".
func ParseDuration(s string) (Duration, error) {
	var d Duration
	v := strings.TrimSpace(s)
	if strings.HasPrefix(v, "+") {
		v = v[1:]
	} else if strings.HasPrefix(v, "-") {
		d.Neg, v = true, v[1:]
	}
	if !strings.HasPrefix(v, "P") || len(v) < 3 {
		return Duration{}, fmt.Errorf("malformed duration %q", s)
	}
	v = v[1:]
	inTime := false
	for len(v) > 0 {
		if v[0] == 'T' {
			if inTime {
				return Duration{}, fmt.Errorf("malformed duration %q", s)
			}
			inTime, v = true, v[1:]
			continue
		}
		i := 0
		for i < len(v) && v[i] >= '0' && v[i] <= '9' {
			i++
		}
		if i == 0 || i == len(v) || i > 9 {
			return Duration{}, fmt.Errorf("malformed duration %q", s)
		}
		n, _ := strconv.ParseInt(v[:i], 10, 64)
		switch unit := v[i]; {
		case unit == 'W' && !inTime:
			d.Days += int(n) * 7
		case unit == 'D' && !inTime:
			d.Days += int(n)
		case unit == 'H' && inTime:
			d.Secs += n * 3600
		case unit == 'M' && inTime:
			d.Secs += n * 60
		case unit == 'S' && inTime:
			d.Secs += n
		default:
			return Duration{}, fmt.Errorf("malformed duration %q", s)
		}
		v = v[i+1:]
	}
	if int64(d.Days)*86400+d.Secs > maxDurationSecs {
		return Duration{}, fmt.Errorf("duration %q too long", s)
	}
	return d, nil
}

// AddTo returns t moved by d: days on the wall clock of t's location,
// then seconds of elapsed time.
func (d Duration) AddTo(t time.Time) time.Time {
	if d.Neg {
		return t.AddDate(0, 0, -d.Days).Add(-time.Duration(d.Secs) * time.Second)
	}
	return t.AddDate(0, 0, d.Days).Add(time.Duration(d.Secs) * time.Second)
}

// Approx returns d as elapsed time with 24-hour days, for bounds that
// must only be roughly right.
func (d Duration) Approx() time.Duration {
	a := time.Duration(int64(d.Days)*86400+d.Secs) * time.Second
	if d.Neg {
		return -a
	}
	return a
}
