package recur

import (
	"context"
	"time"

	"github.com/emersion/go-ical"
)

// Spacing is what the engine's time index keeps of a calendar's VEVENT
// instances so that a query decides a window without expanding them:
// every instance start from First to Last (Unix seconds, both instance
// starts) is known, and two consecutive ones lie at most MaxGap seconds
// apart. A window that starts before Last and is longer than MaxGap, or
// that holds First, then holds the start of some instance strictly
// inside it, and such an instance overlaps it under every RFC 4791 §9.9
// rule of a VEVENT (Hits). The zero Spacing says nothing.
type Spacing struct {
	First, Last, MaxGap int64
}

// IsZero reports whether s says nothing.
func (s Spacing) IsZero() bool { return s == Spacing{} }

// Hits reports whether s proves that some VEVENT instance overlaps
// [start, end) (zero: unbounded on that side). False means that s does
// not tell, not that none does.
func (s Spacing) Hits(start, end time.Time) bool {
	if s.IsZero() {
		return false
	}
	first, last := time.Unix(s.First, 0), time.Unix(s.Last, 0)
	if start.IsZero() || first.After(start) {
		// First lies in (start, end) when it is before end.
		return end.IsZero() || first.Before(end)
	}
	// The last start at or before start is followed, within MaxGap, by
	// another: strictly after start, and before end when the window is
	// longer than MaxGap.
	return last.After(start) && (end.IsZero() || end.Sub(start) > time.Duration(s.MaxGap)*time.Second)
}

// SpacingInstances bounds the instances SeriesSpacing expands.
const SpacingInstances = 1024

// SeriesSpacing returns the Spacing of the VEVENT instances of p (from
// Prepare with ical.CompEvent) that start in [from, to): one expansion of
// the whole span when it has at most SpacingInstances instances, else a
// year at a time, stopping at the first year that fails or would take it
// past SpacingInstances (the Spacing then ends at the last year it
// finished); each expansion under p's MaxIterations. ok is false when p
// has a floating time (its instances then depend on the query's time
// zone), an instance starts at a fractional second, or fewer than two
// instances start in [from, to): a single instance is its own envelope.
// It reads no clock: the same calendar and bounds give the same Spacing.
func SeriesSpacing(ctx context.Context, p *Prepared, from, to time.Time) (s Spacing, ok bool) {
	if p.comp != ical.CompEvent || p.Floating {
		return Spacing{}, false
	}
	var sp spacer
	ins, err := p.Expand(ctx, from, to, Options{MaxInstances: SpacingInstances, MaxIterations: p.maxIterations})
	if err == nil {
		ok = sp.add(ins, from)
	} else {
		ok = true
		n := 0
		for w := from; w.Before(to) && ok; {
			next := w.AddDate(1, 0, 0)
			if next.After(to) {
				next = to
			}
			ins, err := p.Expand(ctx, w, next, Options{MaxInstances: SpacingInstances - n, MaxIterations: p.maxIterations})
			if err != nil {
				break
			}
			n += len(ins)
			ok = sp.add(ins, w)
			w = next
		}
	}
	if !ok || sp.count < 2 {
		return Spacing{}, false
	}
	return sp.s, true
}

// spacer reads a Spacing off instances given in order of their start.
type spacer struct {
	s     Spacing
	count int
}

// add reads the starts of ins (sorted by start) from w on: those starting
// before w overlap the window before it, which counted them (every VEVENT
// instance starting in a window overlaps it). It is false at a start with
// a fractional second.
func (sp *spacer) add(ins []Instance, w time.Time) bool {
	for _, in := range ins {
		t := in.Start
		if t.Before(w) {
			continue
		}
		if t.Nanosecond() != 0 {
			return false
		}
		u := t.Unix()
		switch {
		case sp.count == 0:
			sp.s.First = u
		case u == sp.s.Last:
			continue
		default:
			sp.s.MaxGap = max(sp.s.MaxGap, u-sp.s.Last)
		}
		sp.s.Last = u
		sp.count++
	}
	return true
}
