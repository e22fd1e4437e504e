package recur

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-ical"
)

// maxAlarmRepeat bounds REPEAT.
const maxAlarmRepeat = 1000

// AlarmTriggers returns the times a VALARM of in fires (RFC 5545
// §3.8.6.3): TRIGGER as an absolute UTC DATE-TIME, or as a duration from
// the instance's start (or end, with RELATED=END), then REPEAT more times
// every DURATION.
func AlarmTriggers(in Instance, alarm *ical.Component) ([]time.Time, error) {
	trig := alarm.Props.Get(ical.PropTrigger)
	if trig == nil {
		return nil, nil
	}
	var first time.Time
	if strings.EqualFold(trig.Params.Get(ical.ParamValue), "DATE-TIME") {
		t, _, err := NewZones(nil, time.UTC).Time(trig)
		if err != nil {
			return nil, err
		}
		first = t
	} else {
		d, err := ParseDuration(trig.Value)
		if err != nil {
			return nil, fmt.Errorf("recur: TRIGGER: %w", err)
		}
		base := in.Start
		if strings.EqualFold(trig.Params.Get(ical.ParamRelated), "END") {
			base = in.End
		}
		first = d.AddTo(base)
	}
	out := []time.Time{first}
	n, every, err := alarmRepeat(alarm)
	if err != nil {
		return nil, err
	}
	for i := 1; i <= n; i++ {
		out = append(out, first.Add(time.Duration(i)*every))
	}
	return out, nil
}

// AlarmReach returns how far from its instance's start or end a VALARM
// with a relative trigger can fire, erring long.
func AlarmReach(alarm *ical.Component) time.Duration {
	var r time.Duration
	if trig := alarm.Props.Get(ical.PropTrigger); trig != nil {
		if d, err := ParseDuration(trig.Value); err == nil {
			r = abs(d.Approx()) + 2*time.Hour
		}
	}
	if n, every, err := alarmRepeat(alarm); err == nil {
		r += time.Duration(n) * every
	}
	return r
}

func alarmRepeat(alarm *ical.Component) (int, time.Duration, error) {
	rp, dp := alarm.Props.Get(ical.PropRepeat), alarm.Props.Get(ical.PropDuration)
	if rp == nil || dp == nil {
		return 0, 0, nil
	}
	n, err := strconv.Atoi(strings.TrimSpace(rp.Value))
	if err != nil || n < 0 || n > maxAlarmRepeat {
		return 0, 0, fmt.Errorf("recur: REPEAT %q", rp.Value)
	}
	d, err := ParseDuration(dp.Value)
	if err != nil {
		return 0, 0, fmt.Errorf("recur: VALARM DURATION: %w", err)
	}
	return n, abs(d.Approx()), nil
}
