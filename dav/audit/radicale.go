package audit

import (
	"encoding/xml"
	"maps"
	"slices"
	"strings"

	"github.com/almanac/almanac/dav/internal/davxml"
	"github.com/almanac/almanac/engine"
)

// radicaleNS are the namespace prefixes of Radicale's .Radicale.props
// keys ("D:displayname"); a key in another namespace is written in Clark
// notation ("{urn:x}name"). From Radicale's xmlutils.NAMESPACES.
var radicaleNS = map[string]string{
	"C":        "urn:ietf:params:xml:ns:caldav",
	"CR":       "urn:ietf:params:xml:ns:carddav",
	"D":        "DAV:",
	"CS":       "http://calendarserver.org/ns/",
	"ICAL":     "http://apple.com/ns/ical/",
	"ME":       "http://me.com/_namespace/",
	"RADICALE": "http://radicale.org/ns/",
}

// radicaleKey turns a .Radicale.props key into an XML name; ok is false
// for a key in neither form.
func radicaleKey(k string) (n xml.Name, ok bool) {
	if rest, found := strings.CutPrefix(k, "{"); found {
		ns, local, found := strings.Cut(rest, "}")
		return xml.Name{Space: ns, Local: local}, found && local != ""
	}
	prefix, local, found := strings.Cut(k, ":")
	ns, known := radicaleNS[prefix]
	return xml.Name{Space: ns, Local: local}, found && known && local != ""
}

// radicaleKeyOf is the .Radicale.props key of n.
func radicaleKeyOf(n xml.Name) string {
	for p, ns := range radicaleNS {
		if ns == n.Space {
			return p + ":" + n.Local
		}
	}
	return "{" + n.Space + "}" + n.Local
}

// SetRadicaleProps copies the properties of a Radicale collection (its
// .Radicale.props) into c: tag (the kind), D:displayname,
// C:calendar-description or CR:addressbook-description,
// ICAL:calendar-color, ICAL:calendar-order, C:calendar-timezone and
// C:supported-calendar-component-set (VEVENT, VTODO and VJOURNAL when
// absent, as Radicale serves it). Properties outside the DAV, CalDAV
// and CardDAV namespaces (what clients set with PROPPATCH) become dead
// properties; other DAV, CalDAV and CardDAV ones are computed, not stored,
// and are dropped, as are names and values XML cannot carry.
func (c *ImportCollection) SetRadicaleProps(p map[string]string) {
	switch p["tag"] {
	case "VADDRESSBOOK":
		c.Kind = "addressbook"
	case "VCALENDAR":
		c.Kind = "calendar"
		c.Components = []string{"VEVENT", "VTODO", "VJOURNAL"} // Radicale's default
	}
	for _, k := range slices.Sorted(maps.Keys(p)) {
		v := p[k]
		n, ok := radicaleKey(k)
		if !ok || v == "" {
			continue
		}
		switch n {
		case davxml.PropDisplayName:
			c.DisplayName = v
		case davxml.PropCalendarDescription, davxml.PropAddressbookDesc:
			c.Description = v
		case davxml.PropCalendarColor:
			c.Color = strings.TrimSpace(v)
		case davxml.PropCalendarOrder:
			c.Order = strings.TrimSpace(v)
		case davxml.PropCalendarTimezone:
			c.Timezone = v
		case davxml.PropSupportedComponents:
			// A set naming no component we know (",", "X-FOO") is read as
			// absent: an empty set would be written back as no key at all,
			// which reads as the default, and a round trip must not change.
			var comps []string
			for comp := range strings.SplitSeq(v, ",") {
				if comp = strings.ToUpper(strings.TrimSpace(comp)); slices.Contains(engine.AllComponents, comp) {
					comps = append(comps, comp)
				}
			}
			if comps != nil {
				c.Components = comps
			}
		default:
			switch n.Space {
			case davxml.NSDAV, davxml.NSCalDAV, davxml.NSCardDAV:
				continue
			}
			e := davxml.Elem{XMLName: n, Text: v}
			x := e.Marshal()
			if !davxml.ValidName(n) || n.Space == "" {
				continue // no element can carry it
			}
			if _, err := davxml.Root([]byte(x)); err != nil {
				continue // text XML cannot hold (control characters)
			}
			if c.Dead == nil {
				c.Dead = map[string]string{}
			}
			c.Dead["{"+n.Space+"}"+n.Local] = x
		}
	}
}

// RadicaleProps returns the .Radicale.props of c, so that Radicale reads
// an exported collection back with its kind and properties. Dead
// properties whose value is text go along; others (with child elements)
// have no form there and are left out.
func (c *ImportCollection) RadicaleProps() map[string]string {
	p := map[string]string{"tag": "VCALENDAR"}
	cal := c.Kind != "addressbook"
	if !cal {
		p["tag"] = "VADDRESSBOOK"
	}
	set := func(n xml.Name, v string) {
		if v != "" {
			p[radicaleKeyOf(n)] = v
		}
	}
	set(davxml.PropDisplayName, c.DisplayName)
	if cal {
		set(davxml.PropCalendarDescription, c.Description)
	} else {
		set(davxml.PropAddressbookDesc, c.Description)
	}
	set(davxml.PropCalendarColor, c.Color)
	set(davxml.PropCalendarOrder, c.Order)
	set(davxml.PropCalendarTimezone, c.Timezone)
	set(davxml.PropSupportedComponents, strings.Join(c.Components, ","))
	for _, v := range c.Dead {
		var e davxml.Elem
		if err := xml.Unmarshal([]byte(v), &e); err != nil || len(e.Children) > 0 {
			continue
		}
		set(e.XMLName, e.Text)
	}
	return p
}
