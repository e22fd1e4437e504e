package query

import (
	"bytes"
	"context"
	"strings"
	"time"

	"github.com/almanac/almanac/engine/recur"
	"github.com/emersion/go-ical"
)

// Render returns the calendar data to send for obj (RFC 4791 §9.6): the
// stored body byte for byte when d asks for no shaping; else the object
// with recurrence sets expanded (expand) or trimmed (limit-recurrence-set),
// FREEBUSY periods trimmed (limit-freebusy-set) and components and
// properties selected (comp), written from the original content lines in
// their original order and folded at 75 octets.
//
// The work stops when ctx is done.
//
// Errors: *Error with CALDAV:max-instances when an expansion exceeds lim;
// ErrUnevaluable; ctx's error.
func (d *CalendarData) Render(ctx context.Context, obj *CalendarObject, floating *time.Location, lim Limits) ([]byte, error) {
	if !d.Shaped() {
		return obj.Body, nil
	}
	if floating == nil {
		floating = time.UTC
	}
	lim = lim.withDefaults()
	tree := obj.root
	var err error
	switch {
	case d.Expand != nil:
		if tree, err = expandTree(ctx, obj, *d.Expand, floating, lim); err != nil {
			return nil, err
		}
	case d.LimitRecurrenceSet != nil:
		if tree, err = limitRecurrence(ctx, obj, *d.LimitRecurrenceSet, floating, lim); err != nil {
			return nil, err
		}
	}
	if d.LimitFreeBusySet != nil {
		tree = limitFreeBusy(obj, tree, *d.LimitFreeBusySet, floating)
	}
	if d.Comp != nil {
		if tree = selectComp(tree, *d.Comp); tree == nil {
			return nil, nil
		}
	}
	var b bytes.Buffer
	tree.Write(&b)
	return b.Bytes(), nil
}

// isRecurring reports whether name can have instances.
func isRecurring(name string) bool {
	return name == ical.CompEvent || name == ical.CompToDo || name == ical.CompJournal
}

func checkRange(tr TimeRange, lim Limits) error {
	if tr.End.Sub(tr.Start) > lim.MaxExpandRange {
		return errMaxInstances("range longer than %v", lim.MaxExpandRange)
	}
	return nil
}

// expandTree writes every instance overlapping tr as its own component
// (RFC 4791 §9.6.5): times in UTC, RECURRENCE-ID set, no RRULE, RDATE or
// EXDATE. VTIMEZONEs are dropped since no time refers to them any more.
func expandTree(ctx context.Context, obj *CalendarObject, tr TimeRange, floating *time.Location, lim Limits) (*Node, error) {
	if err := checkRange(tr, lim); err != nil {
		return nil, err
	}
	out := &Node{Name: obj.root.Name, Props: obj.root.Props}
	done := map[string]bool{}
	for _, c := range obj.cal.Children {
		switch {
		case c.Name == ical.CompTimezone:
		case !isRecurring(c.Name):
			out.Children = append(out.Children, obj.nodes[c])
		case !done[c.Name]:
			done[c.Name] = true
			ins, err := obj.expand(ctx, c.Name, tr.Start, tr.End, lim.options(floating))
			if err != nil {
				return nil, instanceErr(err)
			}
			for _, in := range ins {
				out.Children = append(out.Children, instanceNode(obj.nodes[in.Comp], in))
			}
		}
	}
	return out, nil
}

// instanceNode is the component of one instance.
func instanceNode(src *Node, in recur.Instance) *Node {
	n := &Node{Name: src.Name, Children: src.Children}
	hasRID := false
	for _, l := range src.Props {
		switch l.Name {
		case "RRULE", "RDATE", "EXDATE", "EXRULE":
		case ical.PropDateTimeStart:
			n.Props = append(n.Props, timeLine(l.Name, in.Start, in.AllDay))
		case ical.PropDateTimeEnd, ical.PropDue:
			n.Props = append(n.Props, timeLine(l.Name, in.End, in.AllDay))
		case ical.PropRecurrenceID:
			hasRID = true
			n.Props = append(n.Props, timeLine(l.Name, in.RecurrenceID, in.AllDay))
		default:
			n.Props = append(n.Props, l)
		}
	}
	if !hasRID && !in.RecurrenceID.IsZero() {
		n.Props = append(n.Props, timeLine(ical.PropRecurrenceID, in.RecurrenceID, in.AllDay))
	}
	return n
}

// timeLine writes a DATE (all-day) or UTC DATE-TIME property.
func timeLine(name string, t time.Time, date bool) *Line {
	if date {
		return newLine(name, t.Format("20060102"), Param{Name: "VALUE", Values: []string{"DATE"}})
	}
	return newLine(name, t.UTC().Format("20060102T150405Z"))
}

// limitRecurrence keeps the masters and only the overrides that affect
// tr (RFC 4791 §9.6.6): those whose instance overlaps it, whose
// RECURRENCE-ID lies in it, and THISANDFUTURE ones starting before its end.
func limitRecurrence(ctx context.Context, obj *CalendarObject, tr TimeRange, floating *time.Location, lim Limits) (*Node, error) {
	if err := checkRange(tr, lim); err != nil {
		return nil, err
	}
	keep := map[*ical.Component]bool{}
	zones := recur.NewZones(obj.cal, floating)
	for _, name := range []string{ical.CompEvent, ical.CompToDo, ical.CompJournal} {
		ins, err := obj.expand(ctx, name, tr.Start, tr.End, lim.options(floating))
		if err != nil {
			return nil, instanceErr(err)
		}
		for _, in := range ins {
			keep[in.Comp] = true
		}
	}
	out := &Node{Name: obj.root.Name, Props: obj.root.Props}
	for _, c := range obj.cal.Children {
		rp := c.Props.Get(ical.PropRecurrenceID)
		if rp == nil || !isRecurring(c.Name) || keep[c] {
			out.Children = append(out.Children, obj.nodes[c])
			continue
		}
		rid, _, err := zones.Time(rp)
		if err != nil {
			continue
		}
		future := strings.EqualFold(rp.Params.Get(ical.ParamRange), "THISANDFUTURE")
		if rid.Before(tr.End) && (future || !rid.Before(tr.Start)) {
			out.Children = append(out.Children, obj.nodes[c])
		}
	}
	return out, nil
}

// limitFreeBusy keeps only the FREEBUSY periods of VFREEBUSY components
// that overlap tr (RFC 4791 §9.6.7).
func limitFreeBusy(obj *CalendarObject, tree *Node, tr TimeRange, floating *time.Location) *Node {
	zones := recur.NewZones(obj.cal, floating)
	out := &Node{Name: tree.Name, Props: tree.Props}
	for _, c := range tree.Children {
		if c.Name != ical.CompFreeBusy {
			out.Children = append(out.Children, c)
			continue
		}
		fb := &Node{Name: c.Name, Children: c.Children}
		for _, l := range c.Props {
			if l.Name != ical.PropFreeBusy {
				fb.Props = append(fb.Props, l)
				continue
			}
			var kept []string
			for _, v := range strings.Split(l.Value, ",") {
				ps, err := zones.Periods([]ical.Prop{{Name: l.Name, Params: ical.Params{}, Value: v}})
				if err != nil || len(ps) != 1 {
					continue
				}
				if ps[0].Start.Before(tr.End) && ps[0].End.After(tr.Start) {
					kept = append(kept, v)
				}
			}
			if len(kept) > 0 {
				nl := &Line{Name: l.Name, Params: l.Params, Value: strings.Join(kept, ",")}
				nl.Raw = formatLine(nl)
				fb.Props = append(fb.Props, nl)
			}
		}
		out.Children = append(out.Children, fb)
	}
	return out
}

// selectComp applies CALDAV:comp (RFC 4791 §9.6.1); nil when n is not the
// selected component.
func selectComp(n *Node, sel CompSel) *Node {
	if n.Name != sel.Name {
		return nil
	}
	out := &Node{Name: n.Name, Props: selectProps(n.Props, sel.AllProps, sel.Props)}
	for _, c := range n.Children {
		if sel.AllComps {
			out.Children = append(out.Children, c)
			continue
		}
		for _, s := range sel.Comps {
			if s.Name == c.Name {
				if got := selectComp(c, s); got != nil {
					out.Children = append(out.Children, got)
				}
				break
			}
		}
	}
	return out
}

// selectProps keeps the listed properties, in their original order;
// novalue ones lose their value.
func selectProps(props []*Line, all bool, sel []PropSel) []*Line {
	if all {
		return props
	}
	var out []*Line
	for _, l := range props {
		for _, s := range sel {
			if s.Name != l.Name {
				continue
			}
			if s.NoValue {
				nl := &Line{Group: l.Group, Name: l.Name, Params: l.Params}
				nl.Raw = formatLine(nl)
				l = nl
			}
			out = append(out, l)
			break
		}
	}
	return out
}
