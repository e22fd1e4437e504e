package recur

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/emersion/go-ical"
)

// Spacing is what a caller keeps of a calendar's VEVENT instances (dav's
// object cache, beside the time index) so that a query decides a window
// without reading or expanding them:
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
// the whole span when at most SpacingInstances instances start in it,
// else a year at a time, stopping at the first year that fails or would
// take it past SpacingInstances (the Spacing then ends at the last year
// it finished); each expansion under p's MaxIterations. ok is false when
// p has a floating time (its instances then depend on the query's time
// zone), an instance starts at a fractional second, the span cannot be
// expanded, or fewer than two instances start in [from, to): a single
// instance is its own envelope. It reads no clock: the same calendar and
// bounds give the same Spacing.
func SeriesSpacing(ctx context.Context, p *Prepared, from, to time.Time) (s Spacing, ok bool) {
	if p.comp != ical.CompEvent || p.Floating {
		return Spacing{}, false
	}
	var sp spacer
	starts, err := p.starts(ctx, from, to, SpacingInstances)
	switch {
	case err == nil:
		sp.add(starts)
	case errors.Is(err, ErrTooManyInstances):
		n := 0
		for w := from; w.Before(to); {
			next := w.AddDate(1, 0, 0)
			if next.After(to) {
				next = to
			}
			starts, err := p.starts(ctx, w, next, SpacingInstances-n)
			if errors.Is(err, errFractional) {
				return Spacing{}, false
			} else if err != nil {
				break
			}
			n += len(starts)
			sp.add(starts)
			w = next
		}
	default:
		return Spacing{}, false
	}
	if sp.count < 2 {
		return Spacing{}, false
	}
	return sp.s, true
}

// errFractional stops a Spacing at an instance that starts at a
// fractional second.
var errFractional = errors.New("recur: an instance starts at a fractional second")

// starts returns, sorted, the Unix seconds at which the instances of p
// (VEVENTs) that Expand gives for [from, to) start, those starting in
// [from, to) only (every VEVENT instance starting in a window overlaps
// it), without building Expand's answer. It fails as Expand does (under
// p's MaxIterations), with ErrTooManyInstances past limit starts, and with
// errFractional.
func (p *Prepared) starts(ctx context.Context, from, to time.Time, limit int) ([]int64, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("recur: expansion stopped: %w", err)
	}
	b := newBudget(ctx, p.maxIterations)
	var out []int64
	for i := range p.groups {
		got, err := p.groups[i].expand(from, to, b)
		if err != nil {
			return nil, err
		}
		for _, in := range got {
			if in.Start.Before(from) || !in.Start.Before(to) {
				continue
			}
			if in.Start.Nanosecond() != 0 {
				return nil, errFractional
			}
			out = append(out, in.Start.Unix())
		}
		if len(out) > limit {
			return nil, ErrTooManyInstances
		}
	}
	slices.Sort(out)
	return out, nil
}

// spacer reads a Spacing off instance starts given in order.
type spacer struct {
	s     Spacing
	count int
}

// add reads starts (sorted, Unix seconds), each after those added before.
func (sp *spacer) add(starts []int64) {
	for _, u := range starts {
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
}
