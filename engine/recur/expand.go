package recur

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/emersion/go-ical"
)

// Default limits of Options.
const (
	DefaultMaxInstances  = 10000
	DefaultMaxIterations = 200000
)

var (
	// ErrTooManyInstances is returned when an expansion would produce
	// more than Options.MaxInstances instances, or compute more than
	// Options.MaxIterations occurrences (CALDAV:max-instances).
	ErrTooManyInstances = errors.New("recur: too many instances")
	// ErrUnbounded is returned when an infinite recurrence is expanded
	// without an end to the range.
	ErrUnbounded = errors.New("recur: infinite recurrence in an unbounded range")
)

// Options bound an expansion.
type Options struct {
	// Floating is the location of floating times and DATE values.
	// Default UTC.
	Floating *time.Location
	// MaxInstances is the most instances Expand returns. Default
	// DefaultMaxInstances.
	MaxInstances int
	// MaxIterations is the most recurrence occurrences Expand computes,
	// those before the range included. Default DefaultMaxIterations.
	MaxIterations int
}

func (o Options) withDefaults() Options {
	if o.Floating == nil {
		o.Floating = time.UTC
	}
	if o.MaxInstances <= 0 {
		o.MaxInstances = DefaultMaxInstances
	}
	if o.MaxIterations <= 0 {
		o.MaxIterations = DefaultMaxIterations
	}
	return o
}

// budget counts the work of one expansion: recurrence occurrences
// computed (kept or not) and overrides applied. It also watches the
// caller's context, every checkEvery steps, so that an expansion stops
// soon after its client went away.
type budget struct {
	left int
	ctx  context.Context
	n    int
}

// checkEvery is how many steps pass between two looks at the context.
const checkEvery = 256

func newBudget(ctx context.Context, n int) *budget { return &budget{left: n, ctx: ctx} }

func (b *budget) step() error {
	if b.left--; b.left < 0 {
		return ErrTooManyInstances
	}
	if b.n++; b.n%checkEvery == 0 {
		if err := b.ctx.Err(); err != nil {
			return fmt.Errorf("recur: expansion stopped: %w", err)
		}
	}
	return nil
}

// Expand returns the instances of the components named comp (VEVENT,
// VTODO, VJOURNAL or VFREEBUSY) in cal that overlap [start, end) by the
// RFC 4791 §9.9 rules, sorted by start. A zero start or end is unbounded.
// Components sharing a UID form one recurrence set: RRULE, RDATE and
// EXDATE (multi-valued, DATE and PERIOD values) give the occurrences,
// RECURRENCE-ID components replace them, and RANGE=THISANDFUTURE
// overrides move every later occurrence by their shift.
//
// The work is bounded by opts.MaxIterations and stops when ctx is done.
//
// Errors: ErrTooManyInstances, ErrUnbounded, ctx's error (wrapped),
// *RuleError for rules that cannot be expanded, and malformed date,
// duration or rule values.
func Expand(ctx context.Context, cal *ical.Calendar, comp string, start, end time.Time, opts Options) ([]Instance, error) {
	opts = opts.withDefaults()
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("recur: expansion stopped: %w", err)
	}
	p, err := Prepare(ctx, cal, comp, opts.Floating, opts)
	if err != nil {
		return nil, err
	}
	p.memoize = false // used once: a memo would only copy the answer
	return p.Expand(ctx, start, end, opts)
}

// group is one recurrence set: the components sharing a UID.
type group struct {
	master    *ical.Component
	overrides []*ical.Component
}

func (g group) comps() []*ical.Component {
	if g.master == nil {
		return g.overrides
	}
	return append([]*ical.Component{g.master}, g.overrides...)
}

// groups collects the components named comp by UID, in document order.
func groups(cal *ical.Calendar, comp string) []group {
	if cal == nil {
		return nil
	}
	var order []string
	byUID := map[string]*group{}
	for _, c := range cal.Children {
		if c.Name != comp {
			continue
		}
		uid := ""
		if p := c.Props.Get(ical.PropUID); p != nil {
			uid = p.Value
		}
		g := byUID[uid]
		if g == nil {
			g = &group{}
			byUID[uid] = g
			order = append(order, uid)
		}
		if c.Props.Get(ical.PropRecurrenceID) != nil {
			g.overrides = append(g.overrides, c)
		} else if g.master == nil {
			g.master = c
		} else {
			// A second master with the same UID stands alone.
			uid += "\x00" + fmt.Sprint(len(order))
			byUID[uid] = &group{master: c}
			order = append(order, uid)
		}
	}
	out := make([]group, len(order))
	for i, uid := range order {
		out[i] = *byUID[uid]
	}
	return out
}

// override is a RECURRENCE-ID component.
type override struct {
	tp     template
	rid    time.Time
	future bool // RANGE=THISANDFUTURE
}

// shift is how far the override moves its occurrence.
func (o override) shift() time.Duration { return o.tp.start.Sub(o.rid) }

func newOverride(z *Zones, c *ical.Component) (override, error) {
	ridProp := c.Props.Get(ical.PropRecurrenceID)
	rid, _, err := z.Time(ridProp)
	if err != nil {
		return override{}, err
	}
	tp, err := newTemplate(z, c)
	if err != nil {
		return override{}, err
	}
	if !tp.hasStart && tp.shape != shapeDueOnly && tp.shape != shapeTodoUndated {
		tp.start, tp.hasStart = rid, true
	}
	future := strings.EqualFold(ridProp.Params.Get(ical.ParamRange), "THISANDFUTURE")
	return override{tp: tp, rid: rid, future: future}, nil
}

// lastFuture returns the latest THISANDFUTURE override at or before t;
// future is sorted by RECURRENCE-ID. A binary search: with thousands of
// overrides, a scan per occurrence was quadratic (19k overrides: 30 s).
func lastFuture(future []override, t time.Time) (override, bool) {
	i := sort.Search(len(future), func(i int) bool { return future[i].rid.After(t) })
	if i == 0 {
		return override{}, false
	}
	return future[i-1], true
}

func abs(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

// freeBusyInstances turns VFREEBUSY components into instances: one for
// DTSTART/DTEND, else one per FREEBUSY period (RFC 4791 §9.9).
func freeBusyInstances(z *Zones, comps []*ical.Component) ([]Instance, error) {
	var out []Instance
	for _, c := range comps {
		ds, de := c.Props.Get(ical.PropDateTimeStart), c.Props.Get(ical.PropDateTimeEnd)
		if ds != nil && de != nil {
			s, _, err := z.Time(ds)
			if err != nil {
				return nil, err
			}
			e, _, err := z.Time(de)
			if err != nil {
				return nil, err
			}
			out = append(out, Instance{Start: s, End: e, Comp: c, shape: shapeFreeBusy})
			continue
		}
		periods, err := z.Periods(c.Props.Values(ical.PropFreeBusy))
		if err != nil {
			return nil, err
		}
		for _, p := range periods {
			out = append(out, Instance{Start: p.Start, End: p.End, Comp: c, shape: shapeSpan})
		}
	}
	return out, nil
}
