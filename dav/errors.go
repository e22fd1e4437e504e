package dav

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/almanac/almanac/dav/internal/davxml"
	davpush "github.com/almanac/almanac/dav/push"
	"github.com/almanac/almanac/dav/query"
	"github.com/almanac/almanac/engine"
)

// PreconditionError is an error with an HTTP status, and when Cond is set
// the RFC precondition or postcondition element reported in a DAV:error
// body (RFC 4918 §16). Href, when set, goes inside the condition element
// (CALDAV:no-uid-conflict names the conflicting resource). Msg is a
// sentence for a person, sent in the body too.
type PreconditionError struct {
	Status int
	Cond   xml.Name
	Href   string
	Msg    string
	// Inner, when set instead of Href, is the condition element's content
	// as XML with the D prefix for DAV: (DAV:need-privileges lists
	// resources and privileges, RFC 3744 §7.1.1).
	Inner string
}

// Error returns the message with the condition's name.
func (e *PreconditionError) Error() string {
	if e.Cond.Local == "" {
		return fmt.Sprintf("dav: %d: %s", e.Status, e.Msg)
	}
	return fmt.Sprintf("dav: %d %s: %s", e.Status, e.Cond.Local, e.Msg)
}

// httpErrorf returns a PreconditionError without a condition element.
func httpErrorf(status int, format string, args ...any) *PreconditionError {
	return &PreconditionError{Status: status, Msg: fmt.Sprintf(format, args...)}
}

// precondition returns a PreconditionError for cond.
func precondition(status int, cond xml.Name, format string, args ...any) *PreconditionError {
	return &PreconditionError{Status: status, Cond: cond, Msg: fmt.Sprintf(format, args...)}
}

var (
	errNotFound     = httpErrorf(http.StatusNotFound, "not found")
	errUnauthorized = httpErrorf(http.StatusUnauthorized, "authentication required")
)

// errNoUIDConflict is CALDAV:no-uid-conflict or CARDDAV:no-uid-conflict
// (RFC 4791 §5.3.2.1, RFC 6352 §6.3.2.1): href holds the UID already.
func errNoUIDConflict(ns, href, uid string) *PreconditionError {
	e := precondition(http.StatusForbidden, xml.Name{Space: ns, Local: "no-uid-conflict"}, "UID %q is already used by %s", uid, href)
	e.Href = href
	return e
}

// errNeedPrivileges is DAV:need-privileges (RFC 3744 §7.1.1): 403 naming
// the resource (an unescaped path) and the privilege the user lacks on it.
func errNeedPrivileges(path string, priv xml.Name) *PreconditionError {
	e := precondition(http.StatusForbidden, davxml.D("need-privileges"), "you need the %s privilege on %s", priv.Local, path)
	p := "<D:" + priv.Local + "/>"
	if priv.Space != davxml.NSDAV {
		p = "<P:" + priv.Local + ` xmlns:P="` + davxml.EscapeString(priv.Space) + `"/>`
	}
	e.Inner = "<D:resource>" + hrefValue(path) + "<D:privilege>" + p + "</D:privilege></D:resource>"
	return e
}

// errValidSyncToken is DAV:valid-sync-token (RFC 6578 §3.2).
func errValidSyncToken(msg string) *PreconditionError {
	return precondition(http.StatusForbidden, davxml.D("valid-sync-token"), "%s", msg)
}

// errPropfindFiniteDepth is DAV:propfind-finite-depth (RFC 4918 §9.1).
func errPropfindFiniteDepth() *PreconditionError {
	return precondition(http.StatusForbidden, davxml.D("propfind-finite-depth"), "PROPFIND with Depth: infinity is not supported")
}

// errCalendarLocation is CALDAV:calendar-collection-location-ok (RFC 4791
// §5.3.1.1).
func errCalendarLocation(msg string) *PreconditionError {
	return precondition(http.StatusForbidden, davxml.C("calendar-collection-location-ok"), "%s", msg)
}

// errResourceMustBeNull is DAV:resource-must-be-null (RFC 4791 §5.3.1.1,
// RFC 5689 §3) with status 405 (RFC 4918 §9.3.1).
func errResourceMustBeNull(path string) *PreconditionError {
	return precondition(http.StatusMethodNotAllowed, davxml.D("resource-must-be-null"), "%s exists already", path)
}

// errUnsupportedMediaType is CALDAV:supported-calendar-data or
// CARDDAV:supported-address-data (RFC 4791 §5.3.2.1, RFC 6352 §6.3.2.1)
// for a PUT whose Content-Type the collection does not take.
func errUnsupportedMediaType(cond xml.Name, ct string) *PreconditionError {
	return precondition(http.StatusUnsupportedMediaType, cond, "content type %q is not accepted here", ct)
}

// errMalformedXML is a 400 for a request body that is not acceptable XML.
func errMalformedXML(err error) *PreconditionError {
	return httpErrorf(http.StatusBadRequest, "%v", err)
}

// MapError is the one mapping from an error to its HTTP answer: a
// *PreconditionError with the status and, where an RFC defines one, the
// condition element. Every error answer of package dav and of dav/audit
// (history, restore and the admin API) goes through it, so that an error
// means the same status everywhere. kind is the collection the request
// writes to; it chooses between the CalDAV and CardDAV namespace of a
// condition the two share (no-uid-conflict, max-resource-size), CalDAV
// when it is neither (0).
//
//	*PreconditionError                    itself
//	*http.MaxBytesError                   413
//	*query.Error                          its status and condition
//	*engine.InvalidDataError              403 CALDAV:/CARDDAV:<cond> (413 for an oversized plain member)
//	*engine.UIDConflictError              403 CALDAV:/CARDDAV:no-uid-conflict with the holder's href
//	*engine.ETagMismatchError             412
//	*engine.NameTooLongError              414 (a name or path over engine.Limits)
//	*engine.PropsLimitError               507 (properties over engine.Limits)
//	*engine.PushLimitError                403 push-not-available (WebDAV-Push registrations)
//	engine.ErrNotFound                    404
//	engine.ErrAddressTaken                409 (another user has the email address)
//	engine.ErrExists                      412 (If-None-Match, Overwrite: F)
//	engine.ErrConflict, ErrCompacted      409
//	engine.ErrRescheduleDone              409 (a restore's reschedule item ended already)
//	engine.ErrInvalidName                 400
//	engine.ErrTokenExpired, ErrInvalidToken 403 DAV:valid-sync-token
//	engine.ErrNoSpace                     507 DAV:sufficient-disk-space (RFC 4331 §6)
//	engine.ErrClosed                      503 (shutting down)
//	engine.ErrUnavailable, *LogConflictError 503 with Retry-After (a cluster's log without quorum)
//	engine.ErrDiverged, *ReplicaAheadError 503 with Retry-After (a node to rebuild; the others answer)
//	davxml.ErrDTD                         400
//	context.Canceled                      499 (the client went away; not an internal error)
//	anything else (*engine.VerifyError…)  500 with an opaque message
//
// It returns nil for a nil error. Callers log the error when the status
// is 500 (IsInternal).
func MapError(err error, kind engine.Kind) *PreconditionError {
	if err == nil {
		return nil
	}
	ns := davxml.NSCalDAV
	if kind == engine.KindAddressBook {
		ns = davxml.NSCardDAV
	}
	var (
		pe   *PreconditionError
		mbe  *http.MaxBytesError
		qe   *query.Error
		inv  *engine.InvalidDataError
		uid  *engine.UIDConflictError
		etag *engine.ETagMismatchError
		long *engine.NameTooLongError
		lim  *engine.PropsLimitError
		shl  *engine.SharingLimitError
		psh  *engine.PushLimitError
	)
	switch {
	case errors.As(err, &pe):
		return pe
	case errors.As(err, &mbe):
		return httpErrorf(http.StatusRequestEntityTooLarge, "the request body exceeds %d bytes", mbe.Limit)
	case errors.As(err, &qe):
		if qe.Cond == "" {
			return httpErrorf(qe.Status, "%s", qe.Msg)
		}
		return precondition(qe.Status, xml.Name{Space: qe.Space, Local: qe.Cond}, "%s", qe.Msg)
	case errors.As(err, &inv):
		switch inv.Cond {
		case engine.CondValidAddressData, engine.CondSupportedAddressData:
			ns = davxml.NSCardDAV
		case engine.CondMaxResourceSize:
			if kind != engine.KindCalendar && kind != engine.KindAddressBook && kind != 0 {
				return httpErrorf(http.StatusRequestEntityTooLarge, "%s", inv.Msg)
			}
		default:
			ns = davxml.NSCalDAV
		}
		return precondition(http.StatusForbidden, xml.Name{Space: ns, Local: string(inv.Cond)}, "%s", inv.Msg)
	case errors.As(err, &uid):
		return errNoUIDConflict(ns, davxml.Href(uid.Href), uid.UID)
	case errors.As(err, &etag):
		return httpErrorf(http.StatusPreconditionFailed, "%v", err)
	case errors.As(err, &long):
		return httpErrorf(http.StatusRequestURITooLong, "%s", strings.TrimPrefix(long.Error(), "engine: "))
	case errors.As(err, &lim):
		return httpErrorf(http.StatusInsufficientStorage, "%s", strings.TrimPrefix(lim.Error(), "engine: "))
	case errors.As(err, &shl):
		return httpErrorf(http.StatusForbidden, "%s", strings.TrimPrefix(shl.Error(), "engine: "))
	case errors.As(err, &psh):
		return precondition(http.StatusForbidden, davpush.CondPushNotAvailable, "%s", strings.TrimPrefix(psh.Error(), "engine: "))
	case errors.Is(err, engine.ErrNotFound):
		return errNotFound
	case errors.Is(err, engine.ErrAddressTaken):
		return httpErrorf(http.StatusConflict, "%s", strings.TrimPrefix(err.Error(), "engine: already exists: "))
	case errors.Is(err, engine.ErrExists):
		return httpErrorf(http.StatusPreconditionFailed, "the destination exists")
	case errors.Is(err, engine.ErrConflict):
		return httpErrorf(http.StatusConflict, "%s", strings.TrimPrefix(err.Error(), "engine: conflict: "))
	case errors.Is(err, engine.ErrBackupBusy):
		return httpErrorf(http.StatusConflict, "a backup is already running; try again when it ends")
	case errors.Is(err, engine.ErrCompacted), errors.Is(err, engine.ErrRescheduleDone):
		return httpErrorf(http.StatusConflict, "%s", strings.TrimPrefix(err.Error(), "engine: "))
	case errors.Is(err, engine.ErrInvalidName):
		return httpErrorf(http.StatusBadRequest, "invalid name")
	case errors.Is(err, engine.ErrTokenExpired):
		return errValidSyncToken("the sync token has expired; sync again from scratch")
	case errors.Is(err, engine.ErrInvalidToken):
		return errValidSyncToken("the sync token is not valid for this collection")
	case errors.Is(err, engine.ErrNoSpace):
		return precondition(http.StatusInsufficientStorage, davxml.D("sufficient-disk-space"),
			"the server has no space left to store this; reads still work, try again later")
	case errors.As(err, new(overloadedError)):
		limit, secs, _ := Overloaded(err)
		return httpErrorf(http.StatusServiceUnavailable, "%s; retry in %d seconds", limit, secs)
	case errors.Is(err, engine.ErrClosed):
		return httpErrorf(http.StatusServiceUnavailable, "the server is shutting down")
	case errors.Is(err, engine.ErrUnavailable) || errors.Is(err, engine.ErrDiverged) || errors.As(err, new(*engine.LogConflictError)) ||
		errors.As(err, new(*engine.ReplicaAheadError)):
		return httpErrorf(http.StatusServiceUnavailable, "the cluster's log cannot take writes now (no quorum, or too many concurrent writers); reads still work, try again shortly")
	case errors.Is(err, davxml.ErrDTD):
		return errMalformedXML(err)
	case errors.Is(err, context.Canceled):
		return httpErrorf(StatusClientClosedRequest, "request canceled")
	}
	return httpErrorf(http.StatusInternalServerError, "internal error")
}

// mapKind is MapError for a handler that knows the collection's kind. An
// error MapError does not know is returned as it is, so that writeError
// logs it with its details before answering 500.
func mapKind(err error, kind engine.Kind) error {
	if pe := MapError(err, kind); !pe.IsInternal() {
		return pe
	}
	return err
}

// StatusClientClosedRequest is the status logged for a request whose
// client went away before the answer (nginx's 499); the client never sees
// it.
const StatusClientClosedRequest = 499

// IsInternal reports whether pe is the 500 MapError gives an error it does
// not know, which the caller logs with its details.
func (pe *PreconditionError) IsInternal() bool {
	return pe.Status == http.StatusInternalServerError
}

// writeError writes the response for an error a method handler returned,
// mapped by MapError. An internal error is logged and answered with an
// opaque 500 naming the request id.
func (h *Handler) writeError(w http.ResponseWriter, r *http.Request, err error) {
	if sr, ok := w.(*statusRecorder); ok && sr.status != 0 {
		// The answer is already streaming: all that is left is to log.
		level := slog.LevelError
		if errors.Is(err, context.Canceled) {
			level = slog.LevelDebug
		}
		h.log.LogAttrs(r.Context(), level, "error after the response started",
			slog.String("method", r.Method), slog.String("path", r.URL.Path),
			slog.String("request_id", w.Header().Get("X-Request-Id")), slog.String("error", err.Error()))
		return
	}
	pe := MapError(err, 0)
	switch {
	case pe.IsInternal():
		h.log.LogAttrs(r.Context(), slog.LevelError, "internal error",
			slog.String("method", r.Method), slog.String("path", r.URL.Path),
			slog.String("request_id", w.Header().Get("X-Request-Id")), slog.String("error", err.Error()))
		pe = httpErrorf(http.StatusInternalServerError, "internal error; see the server log for request %s", w.Header().Get("X-Request-Id"))
	case pe.Status == StatusClientClosedRequest:
		h.log.LogAttrs(r.Context(), slog.LevelDebug, "client went away",
			slog.String("method", r.Method), slog.String("path", r.URL.Path),
			slog.String("request_id", w.Header().Get("X-Request-Id")))
	}
	writePrecondition(w, r, pe)
}

// writePrecondition writes pe: a DAV:error body when it has a condition,
// plain text otherwise.
func writePrecondition(w http.ResponseWriter, r *http.Request, pe *PreconditionError) {
	hdr := w.Header()
	hdr.Del("Content-Encoding")
	hdr.Del("ETag")
	if pe.Status == http.StatusUnauthorized {
		hdr.Add("WWW-Authenticate", `Basic realm="Almanac", charset="UTF-8"`) // after a Bearer challenge (bearer.go)
	}
	if pe.Status == http.StatusServiceUnavailable && hdr.Get("Retry-After") == "" {
		hdr.Set("Retry-After", "1")
	}
	if pe.Cond.Local == "" {
		hdr.Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(pe.Status)
		if r.Method != http.MethodHead {
			fmt.Fprintln(w, pe.Msg)
		}
		return
	}
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="utf-8"?>` + "\n" + `<D:error xmlns:D="DAV:">`)
	inner := pe.Inner
	if pe.Href != "" {
		inner = "<D:href>" + davxml.EscapeString(pe.Href) + "</D:href>"
	}
	if pe.Cond.Space == davxml.NSDAV {
		b.WriteString("<D:" + pe.Cond.Local)
	} else {
		b.WriteString("<P:" + pe.Cond.Local + ` xmlns:P="` + davxml.EscapeString(pe.Cond.Space) + `"`)
	}
	if inner == "" {
		b.WriteString("/>")
	} else {
		b.WriteString(">" + inner)
		if pe.Cond.Space == davxml.NSDAV {
			b.WriteString("</D:" + pe.Cond.Local + ">")
		} else {
			b.WriteString("</P:" + pe.Cond.Local + ">")
		}
	}
	b.WriteString(`<A:message xmlns:A="` + davxml.NSAlmanac + `">` + davxml.EscapeString(pe.Msg) + "</A:message></D:error>\n")
	hdr.Set("Content-Type", "application/xml; charset=utf-8")
	w.WriteHeader(pe.Status)
	if r.Method != http.MethodHead {
		w.Write([]byte(b.String()))
	}
}
