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
// Prepare with ical.CompEvent) that start in [from, to), expanding a
// year at a time under p's MaxIterations each and stopping at the first
// year that fails or would take it past SpacingInstances instances (the
// Spacing then ends at the last year it finished). ok is false when p
// has a floating time (its instances then depend on the query's time
// zone), an instance starts at a fractional second, or fewer than two
// instances start in [from, to): a single instance is its own envelope.
// It reads no clock: the same calendar and bounds give the same Spacing.
func SeriesSpacing(ctx context.Context, p *Prepared, from, to time.Time) (s Spacing, ok bool) {
	if p.comp != ical.CompEvent || p.Floating {
		return Spacing{}, false
	}
	n, count := 0, 0
	for w := from; w.Before(to); {
		next := w.AddDate(1, 0, 0)
		if next.After(to) {
			next = to
		}
		ins, err := p.Expand(ctx, w, next, Options{MaxInstances: SpacingInstances - n, MaxIterations: p.maxIterations})
		if err != nil {
			break
		}
		n += len(ins)
		// ins is sorted by start; those starting before w were counted
		// in the year before (every VEVENT instance starting in a window
		// overlaps it).
		for _, in := range ins {
			t := in.Start
			if t.Before(w) {
				continue
			}
			if t.Nanosecond() != 0 {
				return Spacing{}, false
			}
			u := t.Unix()
			switch {
			case count == 0:
				s.First = u
			case u == s.Last:
				continue
			default:
				s.MaxGap = max(s.MaxGap, u-s.Last)
			}
			s.Last = u
			count++
		}
		w = next
	}
	if count < 2 {
		return Spacing{}, false
	}
	return s, true
}
