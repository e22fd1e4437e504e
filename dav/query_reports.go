package dav

import (
	"encoding/xml"
	"net/http"

	"github.com/almanac/almanac/dav/internal/davxml"
)

// This file is the hand-off to the dav/query engineer: the three query
// REPORTs are dispatched here by report (report.go) with the request's
// consistent View and collection in rq. To answer one:
//
//  1. decode rq.Body (davxml.Decode guards against DTDs; the root element
//     is already known to be the right one);
//  2. ms, end := startMultistatus(w, r) — a streaming 207 writer, gzip
//     when accepted;
//  3. for each matching object o (rq.View.Objects(rq.Coll.Path,
//     engine.ListOptions{Bodies: true, Start: ..., End: ...})):
//     h.objectResponse(ms, rq.User, rq.Coll, o, pr, data) where pr is
//     propRequestOf(...) of the body's prop element and data the
//     calendar-data text to send (nil: the stored body);
//  4. return end().
//
// Errors returned before startMultistatus become the right status through
// writeError: return *PreconditionError values (for instance
// precondition(http.StatusForbidden, davxml.C("valid-filter"), "...")).

// calendarQuery answers CALDAV:calendar-query (RFC 4791 §7.8). Not
// implemented yet: 501 with a DAV:error body.
func (h *Handler) calendarQuery(w http.ResponseWriter, r *http.Request, rq *reportRequest) error {
	return notImplementedReport(davxml.C("calendar-query"))
}

// addressbookQuery answers CARDDAV:addressbook-query (RFC 6352 §8.6). Not
// implemented yet: 501 with a DAV:error body.
func (h *Handler) addressbookQuery(w http.ResponseWriter, r *http.Request, rq *reportRequest) error {
	return notImplementedReport(davxml.CR("addressbook-query"))
}

// freeBusyQuery answers CALDAV:free-busy-query (RFC 4791 §7.10). Not
// implemented yet: 501 with a DAV:error body.
func (h *Handler) freeBusyQuery(w http.ResponseWriter, r *http.Request, rq *reportRequest) error {
	return notImplementedReport(davxml.C("free-busy-query"))
}

func notImplementedReport(name xml.Name) error {
	return precondition(http.StatusNotImplemented, davxml.D("supported-report"), "REPORT %s is not implemented yet", name.Local)
}
