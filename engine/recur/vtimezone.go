package recur

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-ical"
	"github.com/teambition/rrule-go"
)

// zoneHorizon is the last year for which VTIMEZONE observance rules are
// expanded into transitions; later instants use the last offset.
const zoneHorizon = 2200

// zoneFloor is the year from which yearly observance rules are
// iterated when their DTSTART is older (Outlook writes 1601).
const zoneFloor = 1900

// maxOnsets bounds the transitions taken from one observance.
const maxOnsets = 2000

// MaxZoneWork bounds the work of interpreting the VTIMEZONEs of one
// calendar (Zones) or one VTIMEZONE (LocationFromVTimezone): observances
// read, plus RRULE occurrences and RDATE values computed. A real zone
// needs a few hundred (two yearly rules from 1900 to 2200: 600; a full
// history adds a few hundred RDATEs); a VTIMEZONE with 10k observances
// needed 51 s and 2.9 GB before, and costs ~25 ms now (a yearly
// occurrence costs rrule-go a pass over 366 days).
const MaxZoneWork = 5000

// ErrZoneTooLarge is returned for a VTIMEZONE past MaxZoneWork; its TZID
// is then resolved as if it had no VTIMEZONE.
var ErrZoneTooLarge = errors.New("recur: VTIMEZONE has too many observances or transitions")

// LocationFromVTimezone interprets a VTIMEZONE component (RFC 5545
// §3.6.5): every STANDARD and DAYLIGHT observance contributes the onsets
// given by its DTSTART, RRULE and RDATE, each switching to TZOFFSETTO.
// The result is an ordinary *time.Location named after the TZID.
//
// Errors: ErrZoneTooLarge past MaxZoneWork, malformed values.
func LocationFromVTimezone(comp *ical.Component) (*time.Location, error) {
	return locationFromVTimezone(comp, newBudget(context.Background(), MaxZoneWork))
}

func locationFromVTimezone(comp *ical.Component, b *budget) (*time.Location, error) {
	tzid := ""
	if p := comp.Props.Get(ical.PropTimezoneID); p != nil {
		tzid = p.Value
	}
	var ts []transition
	for _, obs := range comp.Children {
		if obs.Name != "STANDARD" && obs.Name != "DAYLIGHT" {
			continue
		}
		got, err := observanceOnsets(obs, b)
		if errors.Is(err, ErrTooManyInstances) {
			err = ErrZoneTooLarge
		}
		if err != nil {
			return nil, fmt.Errorf("recur: VTIMEZONE %q: %w", tzid, err)
		}
		ts = append(ts, got...)
	}
	return locationFromTransitions(tzid, ts)
}

// observanceOnsets lists the transitions of one STANDARD or DAYLIGHT
// sub-component, each a step of b.
func observanceOnsets(obs *ical.Component, b *budget) (ts []transition, err error) {
	if err := b.step(); err != nil {
		return nil, err
	}
	from, err := utcOffset(obs.Props.Get(ical.PropTimezoneOffsetFrom))
	if err != nil {
		return nil, fmt.Errorf("TZOFFSETFROM: %w", err)
	}
	to, err := utcOffset(obs.Props.Get(ical.PropTimezoneOffsetTo))
	if err != nil {
		return nil, fmt.Errorf("TZOFFSETTO: %w", err)
	}
	name := obs.Name[:3]
	if p := obs.Props.Get(ical.PropTimezoneName); p != nil && p.Value != "" {
		name = p.Value
	}
	dst := obs.Name == "DAYLIGHT"
	ds := obs.Props.Get(ical.PropDateTimeStart)
	if ds == nil {
		return nil, fmt.Errorf("%s without DTSTART", obs.Name)
	}
	// Onsets are local times in the offset before the change: compute
	// them as wall clocks in UTC, then subtract TZOFFSETFROM.
	start, err := parseWall(ds.Value)
	if err != nil {
		return nil, fmt.Errorf("DTSTART: %w", err)
	}
	walls := []time.Time{start}
	if r := obs.Props.Get(ical.PropRecurrenceRule); r != nil {
		opt, err := parseRule(r.Value, time.UTC)
		if err != nil {
			return nil, err
		}
		if !opt.Until.IsZero() && untilIsUTC(r.Value) {
			opt.Until = opt.Until.Add(time.Duration(from) * time.Second)
		}
		first := start
		if opt.Count == 0 && opt.Freq == rrule.YEARLY && start.Year() < zoneFloor {
			// rrule-go stops 292 years after its start: begin near the
			// years that matter. Onsets before zoneFloor only matter for
			// historical times.
			if s := time.Date(zoneFloor, start.Month(), start.Day(), start.Hour(), start.Minute(), start.Second(), 0, time.UTC); s.Day() == start.Day() {
				first = s
			}
		}
		if impossible(opt, first) == "" {
			err = iterate(*opt, first, time.Date(zoneHorizon+1, 1, 1, 0, 0, 0, 0, time.UTC), b, func(t time.Time) bool {
				walls = append(walls, t)
				return len(walls) <= maxOnsets
			})
			if err != nil {
				return nil, err
			}
		}
	}
	for _, p := range obs.Props.Values(ical.PropRecurrenceDates) {
		for _, v := range strings.Split(p.Value, ",") {
			if err := b.step(); err != nil {
				return nil, err
			}
			t, err := parseWall(strings.SplitN(v, "/", 2)[0])
			if err != nil {
				return nil, fmt.Errorf("RDATE: %w", err)
			}
			walls = append(walls, t)
		}
	}
	ts = make([]transition, 0, len(walls))
	for _, w := range walls {
		ts = append(ts, transition{At: w.Unix() - int64(from), Offset: to, DST: dst, Name: name})
	}
	return ts, nil
}

// parseWall reads a DATE-TIME (or DATE) value as a wall clock in UTC,
// ignoring a trailing Z.
func parseWall(v string) (time.Time, error) {
	v = strings.TrimSuffix(strings.TrimSpace(v), "Z")
	if len(v) == 8 {
		return time.Parse("20060102", v)
	}
	return time.Parse("20060102T150405", v)
}

// utcOffset parses a UTC-OFFSET value (RFC 5545 §3.3.14): ±hhmm[ss].
func utcOffset(p *ical.Prop) (int32, error) {
	if p == nil {
		return 0, fmt.Errorf("missing")
	}
	v := strings.TrimSpace(p.Value)
	if len(v) != 5 && len(v) != 7 || v[0] != '+' && v[0] != '-' {
		return 0, fmt.Errorf("malformed UTC offset %q", v)
	}
	var secs int64
	for i, mul := range []int64{3600, 60, 1} {
		if 1+2*i >= len(v) {
			break
		}
		n, err := strconv.ParseUint(v[1+2*i:3+2*i], 10, 8)
		if err != nil {
			return 0, fmt.Errorf("malformed UTC offset %q", v)
		}
		secs += int64(n) * mul
	}
	if secs >= 24*3600 {
		return 0, fmt.Errorf("UTC offset %q out of range", v)
	}
	if v[0] == '-' {
		secs = -secs
	}
	return int32(secs), nil
}

// untilIsUTC reports whether an RRULE's UNTIL part is a UTC date-time.
func untilIsUTC(rule string) bool {
	for _, part := range strings.Split(rule, ";") {
		k, v, _ := strings.Cut(part, "=")
		if strings.EqualFold(k, "UNTIL") {
			return strings.HasSuffix(strings.ToUpper(strings.TrimSpace(v)), "Z")
		}
	}
	return false
}
