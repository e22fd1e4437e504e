package query

import (
	"strings"

	"github.com/almanac/almanac/dav/internal/davxml"
)

// The CALDAV:calendar-data (RFC 4791 §9.6) and CARDDAV:address-data
// (RFC 6352 §10.4) elements of a REPORT's DAV:prop, which say how to shape
// the data returned. One parser serves the query REPORTs, which read their
// own through ParseCalendarQuery and ParseAddressbookQuery, and the
// multiget REPORTs, whose bodies package dav parses and hands over.
//
// Their sub-elements and attributes match by local name, in any
// namespace, like the elements of the filters.

// ParseCalendarData reads the CALDAV:calendar-data element of prop, the
// DAV:prop of a REPORT body (RFC 4791 §9.6); nil when prop does not ask
// for calendar-data. ParseCalendarQuery reads its own with it, and
// calendar-multiget (RFC 4791 §7.9) calls it directly, so that both
// shape the data alike.
//
// Errors are *Error: 403 with CALDAV:supported-calendar-data for another
// media type or version, 403 with CALDAV:valid-filter for an expand,
// limit-recurrence-set or limit-freebusy-set without start or end, with a
// time that is not a UTC date-time or with end not after start, 400 for
// expand together with limit-recurrence-set.
func ParseCalendarData(prop *davxml.Prop) (*CalendarData, error) {
	x := dataElem(prop, NSCalDAV, "calendar-data")
	if x == nil {
		return nil, nil
	}
	ct, version := attrValue(x, "content-type"), attrValue(x, "version")
	if ct != "" && !strings.EqualFold(ct, "text/calendar") || version != "" && version != "2.0" {
		return nil, errorf(403, NSCalDAV, "supported-calendar-data", "calendar-data %s version %s", ct, version)
	}
	d := &CalendarData{}
	if c := child(x, "comp"); c != nil {
		sel := parseCompSel(c, 0)
		d.Comp = &sel
	}
	var err error
	if d.Expand, err = parseRange(rangeElem(child(x, "expand")), true); err != nil {
		return nil, err
	}
	if d.LimitRecurrenceSet, err = parseRange(rangeElem(child(x, "limit-recurrence-set")), true); err != nil {
		return nil, err
	}
	if d.LimitFreeBusySet, err = parseRange(rangeElem(child(x, "limit-freebusy-set")), true); err != nil {
		return nil, err
	}
	if d.Expand != nil && d.LimitRecurrenceSet != nil {
		return nil, errBadRequest("calendar-data with both expand and limit-recurrence-set")
	}
	return d, nil
}

// parseCompSel reads CALDAV:comp (RFC 4791 §9.6.1) at nesting depth.
func parseCompSel(x *davxml.Elem, depth int) CompSel {
	allProp, allComp := child(x, "allprop") != nil, child(x, "allcomp") != nil
	c := CompSel{Name: strings.ToUpper(attrValue(x, "name")), AllProps: allProp, AllComps: allComp, Props: propSels(x)}
	subs := children(x, "comp")
	if !allProp && len(c.Props) == 0 {
		c.AllProps = true
	}
	if !allComp && len(subs) == 0 {
		c.AllComps = depth > 0 // RFC 4791 §9.6.1: nested comps default to all
	}
	if depth < maxFilterDepth {
		for _, sub := range subs {
			c.Comps = append(c.Comps, parseCompSel(sub, depth+1))
		}
	}
	return c
}

// ParseAddressData reads the CARDDAV:address-data element of prop, the
// DAV:prop of a REPORT body (RFC 6352 §10.4); nil when prop does not ask
// for address-data. ParseAddressbookQuery reads its own with it, and
// addressbook-multiget (RFC 6352 §8.7) calls it directly, so that both
// shape the data alike.
//
// Errors are *Error: 403 with CARDDAV:supported-address-data for a media
// type other than text/vcard or a version other than 3.0 and 4.0.
func ParseAddressData(prop *davxml.Prop) (*AddressData, error) {
	x := dataElem(prop, NSCardDAV, "address-data")
	if x == nil {
		return nil, nil
	}
	if ct := attrValue(x, "content-type"); ct != "" && !strings.EqualFold(ct, "text/vcard") {
		return nil, errorf(403, NSCardDAV, "supported-address-data", "address-data content-type %q", ct)
	}
	d := &AddressData{}
	switch v := attrValue(x, "version"); v {
	case "", "3.0", "4.0":
		d.Version = v
	default:
		return nil, errorf(403, NSCardDAV, "supported-address-data", "vCard version %q", v)
	}
	if child(x, "allprop") == nil {
		d.Props = propSels(x)
	}
	return d, nil
}

// dataElem returns the element {space}local among the properties of p, a
// REPORT's DAV:prop; nil when there is none.
func dataElem(p *davxml.Prop, space, local string) *davxml.Elem {
	if p == nil {
		return nil
	}
	for i := range p.Props {
		if p.Props[i].XMLName.Space == space && p.Props[i].XMLName.Local == local {
			return &p.Props[i]
		}
	}
	return nil
}

// children returns the children of e named local.
func children(e *davxml.Elem, local string) []*davxml.Elem {
	var out []*davxml.Elem
	for i := range e.Children {
		if e.Children[i].XMLName.Local == local {
			out = append(out, &e.Children[i])
		}
	}
	return out
}

// child returns the first child of e named local, or nil.
func child(e *davxml.Elem, local string) *davxml.Elem {
	for i := range e.Children {
		if e.Children[i].XMLName.Local == local {
			return &e.Children[i]
		}
	}
	return nil
}

// attr returns the attribute local of e; nil when e has none.
func attr(e *davxml.Elem, local string) *string {
	for i := range e.Attrs {
		if e.Attrs[i].Name.Local == local {
			return &e.Attrs[i].Value
		}
	}
	return nil
}

func attrValue(e *davxml.Elem, local string) string {
	if v := attr(e, local); v != nil {
		return *v
	}
	return ""
}

// rangeElem reads the start and end attributes of an expand or limit
// element; nil when e is nil.
func rangeElem(e *davxml.Elem) *xmlRange {
	if e == nil {
		return nil
	}
	return &xmlRange{Start: attr(e, "start"), End: attr(e, "end")}
}

// propSels reads the prop children of a comp or address-data element.
func propSels(e *davxml.Elem) []PropSel {
	var out []PropSel
	for _, p := range children(e, "prop") {
		out = append(out, PropSel{Name: strings.ToUpper(attrValue(p, "name")), NoValue: attrValue(p, "novalue") == "yes"})
	}
	return out
}
