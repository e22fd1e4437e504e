package dav

import (
	"fmt"
	"net/http"
	"strconv"

	"github.com/almanac/almanac/engine"
)

// get answers GET and HEAD: an object's stored bytes with its ETag, or a
// whole calendar or address book as one document, streamed.
func (h *Handler) get(w http.ResponseWriter, r *http.Request) error {
	v, err := h.db.View()
	if err != nil {
		return fmt.Errorf("open view: %w", err)
	}
	defer v.Close()
	res, err := h.lookup(v, state(r))
	if err != nil {
		return err
	}
	switch {
	case res.kind == resObject:
		return h.getObject(w, r, v, res)
	case res.kind == resNotification:
		return h.getNotification(w, r, res)
	case res.kind == resCollection && res.coll.Kind == engine.KindCalendar:
		return h.getCalendar(w, r, v, res.coll)
	case res.kind == resCollection && res.coll.Kind == engine.KindAddressBook:
		return h.getAddressBook(w, r, v, res.coll)
	}
	w.Header().Set("Allow", "OPTIONS, PROPFIND, PROPPATCH, MKCOL, MKCALENDAR, DELETE, REPORT")
	return httpErrorf(http.StatusMethodNotAllowed, "GET of this collection is not supported; use PROPFIND")
}

// getObject serves one object with conditional GET (RFC 9110 §13):
// If-Match that fails gives 412, If-None-Match that matches 304.
func (h *Handler) getObject(w http.ResponseWriter, r *http.Request, v *engine.View, res *resource) error {
	o, err := v.Object(res.coll.Path, res.obj.Name, r.Method != http.MethodHead)
	if err != nil {
		return err
	}
	if hdr := r.Header.Get("If-Match"); hdr != "" {
		if tag, err := ifMatch(hdr, o); err != nil || (tag != "*" && tag != o.ETag) {
			return httpErrorf(http.StatusPreconditionFailed, "If-Match does not match the current entity tag")
		}
	}
	hdr := w.Header()
	hdr.Set("ETag", o.ETag)
	setScheduleTag(w, o.ScheduleTag)
	hdr.Set("Last-Modified", o.Modified.UTC().Format(http.TimeFormat))
	if noneMatch(r.Header.Get("If-None-Match"), o) {
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	hdr.Set("Content-Type", o.ContentType)
	hdr.Set("Content-Length", strconv.FormatInt(o.Size, 10))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		if _, err := w.Write(o.Body); err != nil {
			return fmt.Errorf("write body: %w", err)
		}
	}
	return nil
}
