package query

import (
	"context"
	"time"

	"github.com/emersion/go-ical"

	"github.com/almanac/almanac/engine/recur"
)

// spacingShare sets the bytes an ObjectCache's series' spacings may take
// besides its objects' budget: 1/16 of it (512 KiB beside the default
// 8 MiB, some 2,500 series with the bench tool's names), so that they
// never push out a parsed object.
const spacingShare = 16

// spacingKey names an object version by what the engine's time index
// entry holds: its collection, its name and its strong ETag, which
// changes with every new body at that URL (RFC 9110 §8.8.1), so a
// spacing kept under it is never stale.
type spacingKey struct{ coll, name, etag string }

// spacingCost estimates the memory of one kept spacing: the key's bytes
// and string headers, the Spacing and the map's share of an entry.
func spacingCost(k spacingKey) int64 {
	return int64(len(k.coll)+len(k.name)+len(k.etag)) + 3*16 + 24 + 64
}

// Spacing returns the spacing kept for the object version (coll, name,
// etag), from KeepSpacing; ok is false when none is kept. A kept zero
// Spacing says the series was read and tells nothing (floating times,
// too few instances), so that it is not read again for that.
func (c *ObjectCache) Spacing(coll, name, etag string) (s recur.Spacing, ok bool) {
	if c == nil {
		return recur.Spacing{}, false
	}
	c.mu.Lock()
	s, ok = c.spacings[spacingKey{coll, name, etag}]
	c.mu.Unlock()
	return s, ok
}

// KeepSpacing keeps s, the spacing of the VEVENT instances of the object
// version (coll, name, etag), within the spacings' bytes, dropping random
// spacings to make room.
func (c *ObjectCache) KeepSpacing(coll, name, etag string, s recur.Spacing) {
	if c == nil {
		return
	}
	k := spacingKey{coll, name, etag}
	cost := spacingCost(k)
	limit := c.max / spacingShare
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.spacings[k]; ok {
		return
	}
	for old := range c.spacings {
		if c.spacingUsed+cost <= limit {
			break
		}
		c.spacingUsed -= spacingCost(old)
		delete(c.spacings, old)
	}
	if c.spacingUsed+cost > limit {
		return
	}
	c.spacings[k] = s
	c.spacingUsed += cost
}

// SpacingHorizon is the span of years whose instances SeriesSpacing
// reads around the year of the window that asks: from the year before it
// to the end of the year after it (a client's months around today; five
// years cost 1.7× the CPU and memory for the bench tool's series).
const SpacingHorizon = 3

// SeriesSpacing returns the recur.Spacing of obj's VEVENT instances over
// SpacingHorizon whole years around the year of t, each year expanded
// under lim's recurrence work (recur.SeriesSpacing: a zero Spacing when
// the object has floating times, fewer than two instances there, or
// cannot be expanded). It reads the series from the recur.Prepared a
// query over obj already made (Match), when there is one. recurs is
// false, and nothing is expanded, when no VEVENT of obj has an RRULE or
// RDATE: a single event is decided by its envelope or evaluated.
func (obj *CalendarObject) SeriesSpacing(ctx context.Context, t time.Time, lim Limits) (s recur.Spacing, recurs bool) {
	for _, c := range obj.cal.Children {
		if c.Name == ical.CompEvent && (c.Props.Get(ical.PropRecurrenceRule) != nil || c.Props.Get(ical.PropRecurrenceDates) != nil) {
			recurs = true
			break
		}
	}
	if !recurs {
		return recur.Spacing{}, false
	}
	p, err := obj.prepared(ctx, ical.CompEvent, lim.withDefaults().options(time.UTC))
	if err != nil {
		return recur.Spacing{}, true
	}
	from := time.Date(t.UTC().Year()-1, 1, 1, 0, 0, 0, 0, time.UTC)
	s, _ = recur.SeriesSpacing(ctx, p, from, from.AddDate(SpacingHorizon, 0, 0))
	return s, true
}
