package dav

import (
	"context"
	"encoding/xml"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/almanac/almanac/dav/internal/davxml"
	"github.com/almanac/almanac/dav/query"
	"github.com/almanac/almanac/engine"
)

// FuzzParseTarget checks that path parsing never panics and never lets a
// traversal segment or a separator through. Which homes a user reaches is
// the privilege resolution's (access.go), tested by TestAccessMatrix.
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
		if tgt.kind == targetHome && (len(tgt.segs) < 2 || tgt.segs[0] != "home") {
			t.Fatalf("parseTarget(%q) = %v, not a home path", p, tgt.segs)
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

// FuzzPropPatchPropfind stores what a PROPPATCH body sets on a calendar
// and reads it back with PROPFIND allprop and propname: whatever the body,
// no answer may be a 500, what is stored stays within engine.Limits (the
// handler opens the engine with small ones), and every 207 must be
// namespace-well-formed XML
// (the FuzzRequestBodies finding `<x:a A:0="00000" A="0"><A:0/></x:a>` was
// stored and made every later PROPFIND of the collection ill-formed).
func FuzzPropPatchPropfind(f *testing.F) {
	for _, s := range []string{
		`<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><x:a A:0="00000" A="0"><A:0/></x:a></D:prop></D:set></D:propertyupdate>`,
		`<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><x:a xmlns:x="urn:x" xml:lang="en" b="c">t<x:b/></x:a></D:prop></D:set></D:propertyupdate>`,
		`<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><D:displayname>x</D:displayname><y:z xmlns:y="urn:y"/></D:prop></D:set><D:remove><D:prop><y:z xmlns:y="urn:y"/></D:prop></D:remove></D:propertyupdate>`,
		`<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><x:a xmlns:x="urn:x" xmlns:q="urn:q" q:r="1"/></D:prop></D:set></D:propertyupdate>`,
		`<D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:z"><D:set><D:prop><Z:a>0123456789012345678901234567890123456789</Z:a><Z:b/><Z:c/><Z:d/><Z:e/></D:prop></D:set></D:propertyupdate>`,
	} {
		f.Add([]byte(s))
	}
	h, db := mustHandlerLimits(f, Options{}, engine.Limits{MaxPropValue: 64, MaxDeadProps: 4, MaxPropsSize: 256})
	ctx := context.Background()
	if err := h.ensureHome(ctx, "alice", testMeta); err != nil {
		f.Fatal(err)
	}
	const cal = "/dav/home/alice/calendar/"
	send := func(method, body string, hdr ...string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, cal, strings.NewReader(body))
		req.SetBasicAuth("alice", "alice")
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		defer db.UpdateProps(ctx, testMeta, cal, func(p *engine.Props) error { *p = engine.Props{}; return nil })
		rec := send("PROPPATCH", string(body))
		if rec.Code >= 500 {
			t.Fatalf("PROPPATCH answered %d: %s", rec.Code, rec.Body)
		}
		if rec.Code == http.StatusMultiStatus {
			mustParse(t, "PROPPATCH", rec.Body.Bytes())
		}
		c, err := db.Collection(cal)
		if err != nil {
			t.Fatal(err)
		}
		if err := db.Limits().CheckProps(c.Props); err != nil {
			t.Fatalf("PROPPATCH stored properties over the limits: %v", err)
		}
		for _, q := range []string{`<propfind xmlns="DAV:"><allprop/></propfind>`, `<propfind xmlns="DAV:"><propname/></propfind>`} {
			rec := send("PROPFIND", q, "Depth", "0")
			if rec.Code != http.StatusMultiStatus {
				t.Fatalf("PROPFIND answered %d: %s", rec.Code, rec.Body)
			}
			mustParse(t, "PROPFIND", rec.Body.Bytes())
		}
	})
}

// mustParse fails t unless b is namespace-well-formed XML.
func mustParse(t *testing.T, what string, b []byte) {
	t.Helper()
	if _, err := davxml.Root(b); err != nil {
		t.Fatalf("%s answer is not well-formed (%v):\n%s", what, err, b)
	}
	if err := xml.Unmarshal(b, new(davxml.Elem)); err != nil {
		t.Fatalf("%s answer does not parse (%v):\n%s", what, err, b)
	}
}
