package dav

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"net/http"

	"github.com/almanac/almanac/dav/internal/davxml"
	"github.com/almanac/almanac/engine"
)

// reportRequest is what a REPORT handler works with. One View serves the
// whole request, so every response of the answer reflects the same moment.
type reportRequest struct {
	// View is the request's consistent view of the store; it is closed
	// when the REPORT handler returns.
	View *engine.View
	// Res is the resource of the Request-URI.
	Res *resource
	// Coll is the collection of the Request-URI, or for an object its
	// parent collection (nil for principals and the root).
	Coll *engine.Collection
	// User is the authenticated user.
	User string
	// Depth is the Depth header: 0, 1, or -1 for infinity. Its default
	// is 0 (RFC 3253 §3.6).
	Depth int
	// Body is the whole request body; its root element chose the report.
	Body []byte
	// st is the request's state: its access and mount (access.go).
	st *reqState
}

// report answers REPORT (RFC 3253 §3.6) by dispatching on the body's root
// element.
func (h *Handler) report(w http.ResponseWriter, r *http.Request) error {
	d, err := depth(r, 0)
	if err != nil {
		return err
	}
	body, err := h.readXMLBody(w, r)
	if err != nil {
		return err
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return httpErrorf(http.StatusBadRequest, "REPORT needs a body")
	}
	root, mg, err := davxml.ParseReport(body) // a multiget comes decoded
	if err != nil {
		return errMalformedXML(err)
	}
	st := state(r)
	if root != davxml.C("free-busy-query") && st.tgt.kind == targetHome && !st.acc.has(privRead) {
		return st.need(privRead)
	}
	v, err := h.db.View()
	if err != nil {
		return fmt.Errorf("open view: %w", err)
	}
	defer v.Close()
	res, err := h.lookup(v, st)
	if err != nil {
		return err
	}
	rq := &reportRequest{View: v, Res: res, Coll: res.coll, User: st.user, Depth: d, Body: body, st: st}
	switch root {
	case davxml.C("calendar-multiget"), davxml.CR("addressbook-multiget"):
		return h.multiget(w, r, rq, mg)
	case davxml.D("sync-collection"):
		return h.syncCollection(w, r, rq)
	case davxml.D("expand-property"):
		return h.expandProperty(w, r, rq)
	case davxml.C("calendar-query"):
		return h.calendarQuery(w, r, rq)
	case davxml.CR("addressbook-query"):
		return h.addressbookQuery(w, r, rq)
	case davxml.C("free-busy-query"):
		return h.freeBusyQuery(w, r, rq)
	case davxml.D("principal-property-search"):
		return h.principalPropertySearch(w, r, rq)
	case davxml.D("principal-search-property-set"):
		return h.principalSearchPropertySet(w, r, rq)
	case davxml.D("principal-match"):
		return h.principalMatch(w, r, rq)
	case davxml.D("acl-principal-prop-set"):
		return h.aclPrincipalPropSet(w, r, rq)
	case xml.Name{Space: davxml.NSCS, Local: "calendarserver-principal-property-search"}:
		return h.csPrincipalSearch(w, r, rq)
	}
	return precondition(http.StatusForbidden, davxml.D("supported-report"), "REPORT {%s}%s is not supported", root.Space, root.Local)
}

// propRequestOf turns the DAV:allprop, DAV:propname or DAV:prop of a
// REPORT body into a propRequest; with none of them it asks for getetag.
func propRequestOf(allProp, propName *struct{}, p *davxml.Prop) propRequest {
	var pr propRequest
	switch {
	case p != nil:
		pr = propRequest{names: davxml.Names(p.Props), elems: p.Props}
	case propName != nil:
		pr = propRequest{propName: true}
	case allProp != nil:
		pr = propRequest{allProp: true}
	default:
		pr = propRequest{names: []xml.Name{davxml.PropGetETag}}
	}
	return pr.withScratch()
}

// dataProp returns the name of the property that carries an object's body
// in collection kind: CALDAV:calendar-data or CARDDAV:address-data.
func dataProp(kind engine.Kind) xml.Name {
	if kind == engine.KindAddressBook {
		return davxml.PropAddressData
	}
	return davxml.PropCalendarData
}

// wantsData reports whether pr asks for the object body property of kind,
// in which case objects must be read with their bodies.
func (pr propRequest) wantsData(kind engine.Kind) bool {
	dp := dataProp(kind)
	for _, n := range pr.names {
		if n == dp {
			return true
		}
	}
	return false
}

// objectResponse writes the DAV:response of object o of collection c with
// the properties pr asks for. The body property of c's kind
// (CALDAV:calendar-data or CARDDAV:address-data) gets data as its text,
// escaped while it streams out; when data is nil it gets o.Body, so o must
// then have been read with its body (see wantsData). The body property
// asked of a collection of the other kind is reported 404.
//
// The query and multiget REPORTs pass as data the calendar-data or
// address-data they shaped (dav/query), nil when they did not.
func (h *Handler) objectResponse(ms *davxml.Multistatus, user string, c *engine.Collection, o *engine.Object, pr propRequest, data []byte) error {
	if pr.sc == nil {
		pr = pr.withScratch()
	}
	res := &pr.sc.res
	*res = resource{kind: resObject, user: user, coll: c, obj: o} // href from c.Path and o.Name
	vals := h.valuesFor(res, pr)
	dp := dataProp(c.Kind)
	for i := range vals {
		if vals[i].Name != dp {
			continue
		}
		if data == nil {
			data = o.Body
		}
		if data == nil {
			data = []byte{}
		}
		vals[i] = davxml.PropValue{Name: dp, Text: data}
	}
	return ms.ResponsePath(c.Path, o.Name, vals)
}
