package dav

import (
	"errors"
	"fmt"
	"mime"
	"net/http"

	"github.com/almanac/almanac/dav/internal/davxml"
	"github.com/almanac/almanac/engine"
)

// put answers PUT (RFC 4918 §9.7, RFC 4791 §5.3.2, RFC 6352 §6.3.2): it
// stores the body byte for byte and returns its ETag, 201 for a new object
// and 204 for a replaced one.
//
// The body is read first, and only then is the collection looked up, in
// the engine's summary (id, kind, component set) rather than its whole
// record: a slow upload holds nothing but its own bytes, so many slow
// PUTs into a collection with large properties do not each pin a decoded
// record (issue 13: 200 of them took 3.7 GB).
func (h *Handler) put(w http.ResponseWriter, r *http.Request) error {
	st := state(r)
	t := st.tgt
	if t.kind != targetHome || t.isHome() || t.slash {
		return httpErrorf(http.StatusMethodNotAllowed, "PUT needs an object path inside a collection")
	}
	body, err := h.readBody(w, r)
	if err != nil {
		return err
	}
	parent, name := t.parent()
	coll, err := h.db.CollectionSummary(parent)
	if errors.Is(err, engine.ErrNotFound) {
		return httpErrorf(http.StatusConflict, "collection %s does not exist", parent)
	}
	if err != nil {
		return fmt.Errorf("look up %s: %w", parent, err)
	}
	if _, err := h.db.Collection(t.collPath()); err == nil { // not the summary: it may outlive a deletion
		return httpErrorf(http.StatusMethodNotAllowed, "%s is a collection", t.collPath())
	}
	if coll.Kind == engine.KindInbox {
		return httpErrorf(http.StatusForbidden, "a schedule inbox holds only what the server delivers (RFC 6638 §2.2)")
	}
	ct := r.Header.Get("Content-Type")
	if err := checkContentType(coll.Kind, ct); err != nil {
		// The summary may predate a collection of another kind at the
		// path: judge by the live record before refusing.
		live, lerr := h.db.Collection(parent)
		if lerr != nil || checkContentType(live.Kind, ct) != nil {
			return err
		}
		coll = live
	}
	opts, err := h.putConditions(r, parent, name)
	if err != nil {
		return err
	}
	opts.ContentType = ct
	if coll.Kind == engine.KindCalendar {
		if done, err := h.scheduleWrite(w, r, parent, name, body, opts); done || err != nil {
			return err
		}
	}
	res, err := h.db.PutObject(r.Context(), st.meta, parent, name, body, opts)
	if errors.Is(err, engine.ErrNotFound) { // deleted since the summary was read
		return httpErrorf(http.StatusConflict, "collection %s does not exist", parent)
	}
	if err != nil {
		return mapKind(err, coll.Kind)
	}
	w.Header().Set("ETag", res.ETag)
	setScheduleTag(w, res.ScheduleTag)
	if res.Created {
		w.WriteHeader(http.StatusCreated)
	} else {
		w.WriteHeader(http.StatusNoContent)
	}
	return nil
}

// putConditions turns If-Match and If-None-Match into engine
// preconditions, which the engine checks atomically with the write.
func (h *Handler) putConditions(r *http.Request, parent, name string) (engine.PutOptions, error) {
	opts := engine.PutOptions{IfScheduleTagMatch: ifScheduleTagMatch(r)}
	im, inm := r.Header.Get("If-Match"), r.Header.Get("If-None-Match")
	if im == "" && inm == "" {
		return opts, nil
	}
	cur, err := h.db.Object(parent, name, false)
	if err != nil && !errors.Is(err, engine.ErrNotFound) {
		return opts, fmt.Errorf("look up %s%s: %w", parent, name, err)
	}
	if opts.IfMatch, err = ifMatch(im, cur); err != nil {
		return opts, err
	}
	if inm != "" {
		if tags := etagList(inm); len(tags) == 1 && tags[0] == "*" {
			opts.IfNoneMatch = true
		} else if noneMatch(inm, cur) {
			return opts, httpErrorf(http.StatusPreconditionFailed, "If-None-Match matches the current entity tag")
		}
	}
	return opts, nil
}

// checkContentType demands text/calendar in calendars and text/vcard in
// address books; a missing Content-Type is accepted (the data is
// validated anyway).
func checkContentType(kind engine.Kind, ct string) error {
	if ct == "" || (kind != engine.KindCalendar && kind != engine.KindAddressBook) {
		return nil
	}
	mt, _, err := mime.ParseMediaType(ct)
	switch kind {
	case engine.KindCalendar:
		if err != nil || mt != "text/calendar" {
			return errUnsupportedMediaType(davxml.C("supported-calendar-data"), ct)
		}
	case engine.KindAddressBook:
		if err != nil || (mt != "text/vcard" && mt != "text/x-vcard") {
			return errUnsupportedMediaType(davxml.CR("supported-address-data"), ct)
		}
	}
	return nil
}
