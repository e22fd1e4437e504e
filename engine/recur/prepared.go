package recur

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/emersion/go-ical"
	"github.com/teambition/rrule-go"
)

// Prepared is what an expansion reads from a calendar's components of one
// type whatever the range: their DTSTART/DTEND/DURATION, RECURRENCE-IDs,
// RDATE and EXDATE values and simple rules, parsed once. A caller that
// keeps a parsed calendar between queries (dav/query's object cache)
// keeps its Prepared too, so that a month query over a weekly series
// only steps the rule through the month: parsing the series was most of
// what expanding it cost (profile of BenchmarkQueryMonth10k).
//
// Expand(ctx, cal, …) is Prepare then Prepared.Expand, so both give the
// same instances and the same errors in the same order. A Prepared is
// read-only once made, but for the memo of its last expansion, and safe
// for concurrent use.
type Prepared struct {
	comp          string
	maxIterations int
	groups        []prepGroup
	// Floating is set when a time of the components was placed in the
	// floating location: only then does the Prepared depend on it.
	Floating bool

	// memoize is set when a group has a recurring master (only then is
	// an expansion worth remembering) and no time is floating (a caller
	// keeps a Prepared per floating location, and those rarely meet
	// again: one memo per recurring object is what a caller budgets).
	memoize bool
	memo    memo
}

// MemoInstances bounds the instances a Prepared remembers of its last
// expansion (one window): a month of a weekly series, or of one with up
// to three days a week. A caller that budgets the memory of what it
// keeps (dav/query's object cache) counts MemoBytes for a recurring
// object.
const MemoInstances = 16

// MemoBytes is what a Prepared's memo may hold at most, in bytes (an
// Instance is 136 bytes on 64-bit platforms; TestPreparedMemo checks).
const MemoBytes = MemoInstances*136 + 64

// memo is a Prepared's last expansion of a recurring set: clients ask
// the same window (this month) at every sync, and stepping ~400 weekly
// series through it was ~40% of a month query's CPU after the parse was
// cached (profile of BenchmarkQueryMonth10k, session 13). An expansion
// is a function of the Prepared, the window and the limits, and never
// reads the clock, so the answer for an identical window is the one
// remembered; the ctx check and the budget's outcome (no error, at most
// MaxInstances) are the same for it. Only successful expansions of at
// most MemoInstances are kept, and handed out as copies.
type memo struct {
	mu           sync.Mutex
	ok           bool
	start, end   time.Time
	maxInstances int
	out          []Instance
}

// get returns a copy of the remembered expansion of [start, end).
func (m *memo) get(start, end time.Time, maxInstances int) ([]Instance, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	// == on time.Time is stricter than Equal (location and monotonic
	// reading too): a miss at worst, never a wrong answer.
	if !m.ok || m.start != start || m.end != end || m.maxInstances != maxInstances {
		return nil, false
	}
	return slices.Clone(m.out), true
}

// put remembers a copy of out as the expansion of [start, end).
func (m *memo) put(start, end time.Time, maxInstances int, out []Instance) {
	if len(out) > MemoInstances {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.ok, m.start, m.end, m.maxInstances, m.out = true, start, end, maxInstances, slices.Clone(out)
}

// prepGroup is one recurrence set (or, for VFREEBUSY, one UID's
// components) as Prepare read it. err is the first error an expansion of
// the group meets, after charging steps overrides to its budget.
type prepGroup struct {
	fb     []Instance // VFREEBUSY: its instances, whatever the range
	exact  []override
	future []override // sorted by RECURRENCE-ID
	steps  int        // overrides to charge before err (or all of them)
	err    error

	master *ical.Component
	mt     template
	recurs bool
	rules  []prepRule
	// rdates and exdates: read only for a recurring master with a start.
	rdates, exdates []Period
	rdErr, exErr    error
	excluded        map[int64]bool
	excludedDays    map[string]bool
	hasExcludedDays bool
}

// prepRule is one RRULE of a master: parsed once when simple (no BY
// parts, so nothing rrule-go could share with the caller), else parsed
// at each expansion as before.
type prepRule struct {
	value string
	opt   *rrule.ROption // nil: parse value at each expansion
	err   error
}

// Prepare reads the components named comp of cal (see Expand) with
// floating times in floating (nil: UTC). It parses at most
// opts.MaxIterations overrides in all, the most an expansion under the
// same options can reach before ErrTooManyInstances; Prepared.Expand
// must be called with the same MaxIterations. ctx stops it (an error
// only then).
func Prepare(ctx context.Context, cal *ical.Calendar, comp string, floating *time.Location, opts Options) (*Prepared, error) {
	opts.Floating = floating
	opts = opts.withDefaults()
	z := NewZones(cal, opts.Floating)
	p := &Prepared{comp: comp, maxIterations: opts.MaxIterations}
	left := opts.MaxIterations
	for _, g := range groups(cal, comp) {
		var pg prepGroup
		if comp == ical.CompFreeBusy {
			pg.fb, pg.err = freeBusyInstances(z, g.comps())
		} else if err := pg.read(ctx, z, g, &left); err != nil {
			return nil, err
		}
		p.groups = append(p.groups, pg)
		p.memoize = p.memoize || pg.recurs
	}
	p.Floating = z.Floating
	p.memoize = p.memoize && !p.Floating
	return p, nil
}

// read prepares one recurrence set, stopping at its first error as
// expandGroup did; left counts the overrides the budget allows in all.
func (pg *prepGroup) read(ctx context.Context, z *Zones, g group, left *int) error {
	for i, c := range g.overrides {
		if *left <= 0 {
			// An expansion fails with ErrTooManyInstances before it
			// reaches this override: nothing past it is read.
			pg.steps = len(g.overrides)
			return nil
		}
		*left--
		if i%checkEvery == checkEvery-1 {
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("recur: expansion stopped: %w", err)
			}
		}
		o, err := newOverride(z, c)
		if err != nil {
			pg.steps, pg.err = i+1, err
			return nil
		}
		if o.future {
			pg.future = append(pg.future, o)
		} else {
			pg.exact = append(pg.exact, o)
		}
	}
	pg.steps = len(g.overrides)
	sort.Slice(pg.future, func(i, j int) bool { return pg.future[i].rid.Before(pg.future[j].rid) })
	if g.master == nil {
		return nil
	}
	pg.master = g.master
	if pg.mt, pg.err = newTemplate(z, g.master); pg.err != nil {
		return nil
	}
	pg.recurs = g.master.Props.Get(ical.PropRecurrenceRule) != nil || g.master.Props.Get(ical.PropRecurrenceDates) != nil
	if !pg.recurs || !pg.mt.hasStart {
		return nil
	}
	for _, r := range g.master.Props.Values(ical.PropRecurrenceRule) {
		pr := prepRule{value: r.Value}
		opt, err := parseRule(r.Value, pg.mt.start.Location())
		switch {
		case err != nil:
			pr.err = err
		case simpleRule(opt):
			pr.opt = opt
		}
		pg.rules = append(pg.rules, pr)
	}
	pg.rdates, pg.rdErr = z.Periods(g.master.Props.Values(ical.PropRecurrenceDates))
	pg.exdates, pg.exErr = z.Periods(g.master.Props.Values(ical.PropExceptionDates))
	pg.excluded = map[int64]bool{}
	pg.excludedDays = map[string]bool{}
	for _, p := range pg.exdates {
		pg.excluded[p.Start.Unix()] = true
		if p.Date {
			pg.excludedDays[p.Start.Format("20060102")] = true
		}
	}
	pg.hasExcludedDays = len(pg.excludedDays) > 0
	return nil
}

// Expand returns the prepared components' instances that overlap
// [start, end), as the package's Expand does. opts.Floating is ignored
// (Prepare fixed it); opts.MaxIterations must be Prepare's.
func (p *Prepared) Expand(ctx context.Context, start, end time.Time, opts Options) ([]Instance, error) {
	opts = opts.withDefaults()
	if opts.MaxIterations != p.maxIterations {
		return nil, fmt.Errorf("recur: prepared for %d iterations, expanded with %d", p.maxIterations, opts.MaxIterations)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("recur: expansion stopped: %w", err)
	}
	if p.memoize {
		if out, ok := p.memo.get(start, end, opts.MaxInstances); ok {
			return out, nil
		}
	}
	b := newBudget(ctx, opts.MaxIterations)
	var out []Instance
	for i := range p.groups {
		g := &p.groups[i]
		var got []Instance
		var err error
		if p.comp == ical.CompFreeBusy {
			got, err = g.fb, g.err
		} else {
			got, err = g.expand(start, end, b)
		}
		if err != nil {
			return nil, err
		}
		for _, in := range got {
			if (start.IsZero() && end.IsZero()) || in.Overlaps(start, end) {
				out = append(out, in)
			}
		}
		if len(out) > opts.MaxInstances {
			return nil, ErrTooManyInstances
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Start.Before(out[j].Start) })
	if p.memoize {
		p.memo.put(start, end, opts.MaxInstances, out)
	}
	return out, nil
}

// expand returns the instances of one recurrence set that may overlap
// [start, end); the caller applies the exact rule.
func (pg *prepGroup) expand(start, end time.Time, b *budget) ([]Instance, error) {
	for range pg.steps {
		if err := b.step(); err != nil {
			return nil, err
		}
	}
	if pg.err != nil {
		return nil, pg.err
	}
	var out []Instance
	for _, o := range pg.exact {
		in := o.tp.at(o.tp.start)
		in.RecurrenceID, in.Override = o.rid, true
		out = append(out, in)
	}
	if pg.master == nil {
		return out, nil
	}
	mt := pg.mt
	if !pg.recurs || !mt.hasStart {
		return append(out, mt.at(mt.start)), nil
	}
	// Occurrences starting this much before the range may still reach it.
	reach := mt.length()
	for _, o := range pg.future {
		if r := abs(o.shift()) + o.tp.length(); r > reach {
			reach = r
		}
	}
	lo, hi := start, end
	if !lo.IsZero() {
		lo = lo.Add(-reach - time.Second)
	}
	if !hi.IsZero() {
		hi = hi.Add(reach + time.Second)
	}
	occs, err := pg.occurrences(mt.start, lo, hi, b)
	if err != nil {
		return nil, err
	}
	replaced := map[int64]bool{}
	for _, o := range pg.exact {
		replaced[o.rid.Unix()] = true
	}
	out = slices.Grow(out, len(occs))
	for _, oc := range occs {
		if replaced[oc.Start.Unix()] {
			continue
		}
		var in Instance
		if o, ok := lastFuture(pg.future, oc.Start); ok {
			in = o.tp.at(oc.Start.Add(o.shift()))
			in.Override = true
		} else {
			in = mt.at(oc.Start)
			if !oc.End.IsZero() {
				in.End = oc.End
			}
		}
		in.RecurrenceID = oc.Start
		out = append(out, in)
	}
	return out, nil
}

// expandGroup prepares and expands one recurrence set under budget b (of
// b.left steps), as Prepare and Prepared.Expand do for a whole calendar.
func expandGroup(z *Zones, g group, start, end time.Time, b *budget) ([]Instance, error) {
	var pg prepGroup
	left := b.left
	if err := pg.read(b.ctx, z, g, &left); err != nil {
		return nil, err
	}
	return pg.expand(start, end, b)
}
