package query

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/almanac/almanac/engine/contentline"
	"github.com/almanac/almanac/engine/recur"
	"github.com/emersion/go-ical"
)

// FreeBusyQuery is a parsed CALDAV:free-busy-query body (RFC 4791 §7.10).
type FreeBusyQuery struct {
	Range TimeRange
}

type xmlFreeBusyQuery struct {
	TimeRange *xmlRange `xml:"urn:ietf:params:xml:ns:caldav time-range"`
}

// ParseFreeBusyQuery parses a free-busy-query body, whose time-range must
// have a start and an end.
//
// Errors are *Error: 400 for malformed XML, 403 CALDAV:valid-filter for a
// missing or malformed time-range.
func ParseFreeBusyQuery(body []byte) (*FreeBusyQuery, error) {
	var x xmlFreeBusyQuery
	if err := decode(body, NSCalDAV, "free-busy-query", &x); err != nil {
		return nil, err
	}
	if x.TimeRange == nil {
		return nil, errValidFilter("free-busy-query without time-range")
	}
	tr, err := parseRange(x.TimeRange, true)
	if err != nil {
		return nil, err
	}
	return &FreeBusyQuery{Range: *tr}, nil
}

// Free-busy types (RFC 5545 §3.2.9), in output order.
var fbTypes = []string{"BUSY", "BUSY-UNAVAILABLE", "BUSY-TENTATIVE"}

// FreeBusy accumulates busy time over a range.
type FreeBusy struct {
	tr      TimeRange
	lim     Limits
	periods map[string][]recur.Period
	// Unevaluated counts the objects whose busy time could not be
	// computed (the caller sets it); Render reports them in a COMMENT,
	// so that the answer says it is incomplete instead of hiding them.
	Unevaluated int
	// Self, when set, reports whether a calendar user address is one of
	// the user whose busy time this is: an instance in which such an
	// ATTENDEE has PARTSTAT=DECLINED is not busy for them, one with
	// PARTSTAT=TENTATIVE is BUSY-TENTATIVE (as CalendarServer counts it).
	Self func(addr string) bool

	// AddSimple's reused line scanner and zone resolver.
	scanner *contentline.Scanner
	zones   *recur.Zones
}

// NewFreeBusy starts a free-busy answer for tr.
//
// Errors: *Error with CALDAV:max-instances when tr exceeds
// lim.MaxExpandRange.
func NewFreeBusy(tr TimeRange, lim Limits) (*FreeBusy, error) {
	lim = lim.withDefaults()
	if err := checkRange(tr, lim); err != nil {
		return nil, err
	}
	return &FreeBusy{tr: tr, lim: lim, periods: map[string][]recur.Period{}}, nil
}

// Add merges the busy time of one calendar object: every instance of an
// opaque VEVENT that is not CANCELLED (TENTATIVE ones as BUSY-TENTATIVE)
// and that Self did not decline (see FreeBusy.Self), and the non-FREE periods of VFREEBUSY components. The work stops when
// ctx is done.
//
// Errors: *Error with CALDAV:max-instances, ErrUnevaluable, ctx's error.
func (fb *FreeBusy) Add(ctx context.Context, obj *CalendarObject, floating *time.Location) error {
	if floating == nil {
		floating = time.UTC
	}
	ins, err := obj.expand(ctx, ical.CompEvent, fb.tr.Start, fb.tr.End, fb.lim.options(floating))
	if err != nil {
		return instanceErr(err) // ErrUnevaluable: its busy time is unknown
	}
	for _, in := range ins {
		c := in.Comp
		if propIs(c, ical.PropTransparency, "TRANSPARENT") || propIs(c, ical.PropStatus, "CANCELLED") {
			continue
		}
		typ := "BUSY"
		if propIs(c, ical.PropStatus, "TENTATIVE") {
			typ = "BUSY-TENTATIVE"
		}
		switch fb.partStat(c) {
		case "DECLINED":
			continue
		case "TENTATIVE":
			typ = "BUSY-TENTATIVE"
		}
		if !in.End.After(in.Start) {
			continue
		}
		fb.add(typ, in.Start, in.End)
	}
	zones := recur.NewZones(obj.cal, floating)
	for _, c := range obj.cal.Children {
		if c.Name != ical.CompFreeBusy {
			continue
		}
		for _, p := range c.Props.Values(ical.PropFreeBusy) {
			typ := strings.ToUpper(p.Params.Get("FBTYPE"))
			if typ == "" {
				typ = "BUSY"
			}
			if typ == "FREE" {
				continue
			}
			ps, err := zones.Periods([]ical.Prop{p})
			if err != nil {
				continue
			}
			for _, per := range ps {
				fb.add(typ, per.Start, per.End)
			}
		}
	}
	return nil
}

// partStat is the upper-case PARTSTAT of the first ATTENDEE of c that
// is Self, "" when there is none.
func (fb *FreeBusy) partStat(c *ical.Component) string {
	if fb.Self == nil {
		return ""
	}
	for _, p := range c.Props.Values(ical.PropAttendee) {
		if fb.Self(p.Value) {
			return strings.ToUpper(strings.TrimSpace(p.Params.Get(ical.ParamParticipationStatus)))
		}
	}
	return ""
}

func propIs(c *ical.Component, name, value string) bool {
	p := c.Props.Get(name)
	return p != nil && strings.EqualFold(strings.TrimSpace(p.Value), value)
}

// add records [s, e) clipped to the range.
func (fb *FreeBusy) add(typ string, s, e time.Time) {
	if s.Before(fb.tr.Start) {
		s = fb.tr.Start
	}
	if e.After(fb.tr.End) {
		e = fb.tr.End
	}
	if !e.After(s) {
		return
	}
	fb.periods[typ] = append(fb.periods[typ], recur.Period{Start: s.UTC(), End: e.UTC()})
}

// merged sorts periods and joins those that overlap or touch.
func merged(ps []recur.Period) []recur.Period {
	slices.SortFunc(ps, func(a, b recur.Period) int { return a.Start.Compare(b.Start) })
	var out []recur.Period
	for _, p := range ps {
		if n := len(out); n > 0 && !p.Start.After(out[n-1].End) {
			if p.End.After(out[n-1].End) {
				out[n-1].End = p.End
			}
			continue
		}
		out = append(out, p)
	}
	return out
}

// Render writes the VCALENDAR with one VFREEBUSY (RFC 4791 §7.10): the
// range as DTSTART/DTEND and one FREEBUSY line per busy type, in UTC.
func (fb *FreeBusy) Render(now time.Time) []byte {
	const f = "20060102T150405Z"
	n := &Node{Name: ical.CompCalendar, Props: []*Line{
		newLine("VERSION", "2.0"), newLine("PRODID", "-//Almanac//Almanac//EN"),
	}}
	v := &Node{Name: ical.CompFreeBusy, Props: []*Line{
		newLine("DTSTAMP", now.UTC().Format(f)),
		newLine("DTSTART", fb.tr.Start.UTC().Format(f)),
		newLine("DTEND", fb.tr.End.UTC().Format(f)),
	}}
	for _, typ := range fbTypes {
		ps := merged(fb.periods[typ])
		if len(ps) == 0 {
			continue
		}
		vals := make([]byte, 0, len(ps)*(2*len(f)+2))
		for i, p := range ps {
			if i > 0 {
				vals = append(vals, ',')
			}
			vals = p.End.AppendFormat(append(p.Start.AppendFormat(vals, f), '/'), f)
		}
		v.Props = append(v.Props, newLine(ical.PropFreeBusy, string(vals), Param{Name: "FBTYPE", Values: []string{typ}}))
	}
	if fb.Unevaluated > 0 {
		v.Props = append(v.Props, newLine(ical.PropComment, fmt.Sprintf(
			"%d calendar object(s) in this range could not be evaluated and are not included", fb.Unevaluated)))
	}
	n.Children = []*Node{v}
	var b bytes.Buffer
	n.Write(&b)
	return b.Bytes()
}

// Overlaps reports whether a busy period of fb (of any type) overlaps
// one of o's; periods that only touch do not overlap.
func (fb *FreeBusy) Overlaps(o *FreeBusy) bool {
	all := func(f *FreeBusy) []recur.Period {
		var ps []recur.Period
		for _, typ := range fbTypes {
			ps = append(ps, f.periods[typ]...)
		}
		return merged(ps)
	}
	a, b := all(fb), all(o)
	for i, j := 0, 0; i < len(a) && j < len(b); {
		if a[i].Start.Before(b[j].End) && b[j].Start.Before(a[i].End) {
			return true
		}
		if a[i].End.Before(b[j].End) {
			i++
		} else {
			j++
		}
	}
	return false
}
