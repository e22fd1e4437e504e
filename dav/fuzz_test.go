package dav

import (
	"strings"
	"testing"

	"github.com/almanac/almanac/dav/internal/davxml"
	"github.com/almanac/almanac/dav/query"
)

// FuzzParseTarget checks that path parsing never panics and never lets a
// traversal segment or a separator through.
func FuzzParseTarget(f *testing.F) {
	for _, s := range []string{"/dav/", "/dav/home/alice/calendar/a.ics", "/dav/home/alice/%2e%2e/bob/",
		"/dav/home/alice/a%2Fb", "/dav/principals/alice/", "//dav//home/alice", "/dav/home/alice/%zz", "/dav/home/alice/a%00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		tgt, err := parseTarget(p, "alice")
		if err != nil {
			return
		}
		for _, s := range tgt.segs {
			if s == "" || s == "." || s == ".." || strings.ContainsAny(s, "/\x00\\") {
				t.Fatalf("parseTarget(%q) let segment %q through", p, s)
			}
		}
		if tgt.kind == targetHome && tgt.segs[1] != "alice" {
			t.Fatalf("parseTarget(%q) reached another home", p)
		}
	})
}

// FuzzRequestBodies feeds every request body parser (PROPFIND, PROPPATCH,
// MKCOL, MKCALENDAR and the REPORT bodies, with the calendar-data and
// address-data of a multiget) the same input: none may panic,
// and a dead property that parses must serialize to XML that parses again.
func FuzzRequestBodies(f *testing.F) {
	for _, s := range []string{
		`<propfind xmlns="DAV:"><prop><getetag/></prop></propfind>`,
		`<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><x:a xmlns:x="urn:x" b="c">t<x:b/></x:a></D:prop></D:set></D:propertyupdate>`,
		`<D:mkcol xmlns:D="DAV:"><D:set><D:prop><D:resourcetype><D:collection/></D:resourcetype></D:prop></D:set></D:mkcol>`,
		`<C:mkcalendar xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:set><D:prop><D:displayname>x</D:displayname></D:prop></D:set></C:mkcalendar>`,
		`<D:sync-collection xmlns:D="DAV:"><D:sync-token/><D:limit><D:nresults>1</D:nresults></D:limit></D:sync-collection>`,
		`<D:expand-property xmlns:D="DAV:"><D:property name="a"><D:property name="b"/></D:property></D:expand-property>`,
		`<C:calendar-multiget xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><C:calendar-data><C:comp name="VCALENDAR"><C:comp name="VEVENT"><C:prop name="UID"/></C:comp></C:comp><C:expand start="20260101T000000Z" end="20260201T000000Z"/></C:calendar-data></D:prop><D:href>/a.ics</D:href></C:calendar-multiget>`,
		`<R:addressbook-multiget xmlns:D="DAV:" xmlns:R="urn:ietf:params:xml:ns:carddav"><D:prop><R:address-data version="4.0"><R:prop name="FN"/></R:address-data></D:prop></R:addressbook-multiget>`,
		`<!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if _, err := davxml.Root(body); err != nil {
			return
		}
		var pf davxml.Propfind
		davxml.Decode(body, &pf)
		var mk davxml.Mkcol
		davxml.Decode(body, &mk)
		var mc davxml.Mkcalendar
		davxml.Decode(body, &mc)
		var mg davxml.Multiget
		if davxml.Decode(body, &mg) == nil {
			query.ParseCalendarData(mg.Prop)
			query.ParseAddressData(mg.Prop)
		}
		var sc davxml.SyncCollection
		davxml.Decode(body, &sc)
		var ep davxml.ExpandProperty
		davxml.Decode(body, &ep)
		var pu davxml.PropertyUpdate
		if davxml.Decode(body, &pu) != nil {
			return
		}
		for _, op := range pu.Ops {
			for _, p := range op.Prop.Props {
				out := p.Marshal()
				var back davxml.Elem
				if err := davxml.Decode([]byte(out), &back); err != nil {
					t.Fatalf("dead property %q does not parse back: %v", out, err)
				}
				if back.XMLName != p.XMLName {
					t.Fatalf("dead property name %v became %v", p.XMLName, back.XMLName)
				}
			}
		}
	})
}
