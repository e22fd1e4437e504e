package query

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/almanac/almanac/engine/recur"
	"github.com/emersion/go-ical"
)

// evaluator applies a comp-filter tree to one calendar.
type evaluator struct {
	ctx   context.Context
	obj   *CalendarObject
	opts  recur.Options
	zones *recur.Zones
	cache map[cacheKey]instanceSet
}

// instanceSet is the instances of one component type over one range, and
// which components they come from: a filter asks, per component, whether
// it has an instance, and with thousands of overrides a scan of the
// instances per component was quadratic.
type instanceSet struct {
	list  []recur.Instance
	comps []*ical.Component // the components the instances take their properties from, once each
}

// has reports whether an instance of the set takes its properties from c.
func (s instanceSet) has(c *ical.Component) bool { return slices.Contains(s.comps, c) }

type cacheKey struct {
	comp       string
	start, end time.Time
}

// matchComps applies filter f to comp itself (depth 0: the VCALENDAR).
func (e *evaluator) matchComps(comp *ical.Component, f CompFilter, depth int) (bool, error) {
	if comp.Name != f.Name {
		return false, nil
	}
	if f.IsNotDefined {
		return false, nil
	}
	return e.matchBody(comp, nil, f, depth)
}

// matchBody applies f's tests (except the name) to comp; parent is
// comp's parent component (for VALARM time-ranges).
func (e *evaluator) matchBody(comp, parent *ical.Component, f CompFilter, depth int) (bool, error) {
	if f.TimeRange != nil {
		ok, err := e.inRange(comp, parent, *f.TimeRange, depth)
		if err != nil || !ok {
			return false, err
		}
	}
	for _, pf := range f.Props {
		ok, err := e.matchProp(comp, pf)
		if err != nil || !ok {
			return false, err
		}
	}
	for _, cf := range f.Comps {
		ok, err := e.matchChild(comp, cf, depth+1)
		if err != nil || !ok {
			return false, err
		}
	}
	return true, nil
}

// matchChild: some child of comp named f.Name passes f, or, with
// is-not-defined, none exists.
func (e *evaluator) matchChild(comp *ical.Component, f CompFilter, depth int) (bool, error) {
	found := false
	for _, c := range comp.Children {
		if c.Name != f.Name {
			continue
		}
		found = true
		if f.IsNotDefined {
			return false, nil
		}
		ok, err := e.matchBody(c, comp, f, depth)
		if err != nil || ok {
			return ok, err
		}
	}
	return f.IsNotDefined && !found, nil
}

// instances returns the instances of component type name overlapping
// [start, end), cached per range.
func (e *evaluator) instances(name string, start, end time.Time) (instanceSet, error) {
	k := cacheKey{name, start, end}
	if got, ok := e.cache[k]; ok {
		return got, nil
	}
	got, err := e.obj.expand(e.ctx, name, start, end, e.opts)
	if errors.Is(err, recur.ErrUnbounded) && !start.IsZero() {
		// Only a start: look as far as the expand limit allows.
		got, err = e.obj.expand(e.ctx, name, start, start.Add(DefaultMaxExpandRange), e.opts)
	}
	if err != nil {
		return instanceSet{}, err
	}
	set := instanceSet{list: got}
	for _, in := range got {
		if !set.has(in.Comp) {
			set.comps = append(set.comps, in.Comp)
		}
	}
	e.cache[k] = set
	return set, nil
}

// inRange applies a time-range to a component: its instances for a
// top-level component, its triggers for a VALARM (RFC 4791 §9.9).
func (e *evaluator) inRange(comp, parent *ical.Component, tr TimeRange, depth int) (bool, error) {
	if comp.Name != ical.CompAlarm || parent == nil {
		ins, err := e.instances(comp.Name, tr.Start, tr.End)
		if err != nil {
			return false, err
		}
		return ins.has(comp), nil
	}
	hit := func(t time.Time) bool {
		return (tr.Start.IsZero() || !t.Before(tr.Start)) && (tr.End.IsZero() || t.Before(tr.End))
	}
	if trig := comp.Props.Get(ical.PropTrigger); trig != nil && trig.Params.Get(ical.ParamValue) == "DATE-TIME" {
		ts, err := recur.AlarmTriggers(recur.Instance{}, comp)
		if err != nil {
			return false, nil
		}
		for _, t := range ts {
			if hit(t) {
				return true, nil
			}
		}
		return false, nil
	}
	reach := recur.AlarmReach(comp) + time.Second
	start, end := tr.Start, tr.End
	if !start.IsZero() {
		start = start.Add(-reach)
	}
	if !end.IsZero() {
		end = end.Add(reach)
	}
	ins, err := e.instances(parent.Name, start, end)
	if err != nil {
		return false, err
	}
	if !ins.has(parent) {
		return false, nil
	}
	for _, in := range ins.list {
		if in.Comp != parent {
			continue
		}
		ts, err := recur.AlarmTriggers(in, comp)
		if err != nil {
			return false, nil
		}
		for _, t := range ts {
			if hit(t) {
				return true, nil
			}
		}
	}
	return false, nil
}

// matchProp applies a CalDAV prop-filter (RFC 4791 §9.7.2): some
// property of the name passes every test, or none exists with
// is-not-defined.
func (e *evaluator) matchProp(comp *ical.Component, f PropFilter) (bool, error) {
	props := comp.Props.Values(f.Name)
	if f.IsNotDefined {
		return len(props) == 0, nil
	}
	for i := range props {
		if e.propPasses(&props[i], f) {
			return true, nil
		}
	}
	return false, nil
}

func (e *evaluator) propPasses(p *ical.Prop, f PropFilter) bool {
	if f.TimeRange != nil {
		if e.zones == nil { // only a prop-filter's time-range needs them
			e.zones = recur.NewZones(e.obj.cal, e.opts.Floating)
		}
		t, _, err := e.zones.Time(p)
		if err != nil {
			return false
		}
		if !f.TimeRange.Start.IsZero() && t.Before(f.TimeRange.Start) || !f.TimeRange.End.IsZero() && !t.Before(f.TimeRange.End) {
			return false
		}
	}
	for i := range f.TextMatches {
		if !f.TextMatches[i].Matches(unescapeText(p.Value)) {
			return false
		}
	}
	for _, pf := range f.Params {
		if !paramPasses(p.Params[pf.Name], pf) {
			return false
		}
	}
	return true
}

// paramPasses applies a param-filter (RFC 4791 §9.7.3, RFC 6352
// §10.5.2) to a parameter's values.
func paramPasses(values []string, f ParamFilter) bool {
	if f.IsNotDefined {
		return len(values) == 0
	}
	if len(values) == 0 {
		return false
	}
	if f.TextMatch == nil {
		return true
	}
	for _, v := range values {
		if f.TextMatch.Matches(v) {
			return true
		}
	}
	return false
}
