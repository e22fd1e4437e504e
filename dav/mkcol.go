package dav

import (
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"

	"github.com/almanac/almanac/dav/internal/davxml"
	"github.com/almanac/almanac/engine"
)

// mkcol answers MKCOL (RFC 4918 §9.3) and extended MKCOL (RFC 5689): a
// plain collection without a body, or a collection whose DAV:resourcetype
// and initial properties come in a DAV:mkcol body. Any other body gets 415.
func (h *Handler) mkcol(w http.ResponseWriter, r *http.Request) error {
	body, err := h.readXMLBody(w, r)
	if err != nil {
		return err
	}
	spec, sets, err := h.collectionSpec(r)
	if err != nil {
		return err
	}
	spec.Kind = engine.KindPlain
	if len(body) > 0 {
		root, rerr := davxml.Root(body)
		if errors.Is(rerr, davxml.ErrDTD) || errors.Is(rerr, davxml.ErrBudget) {
			return errMalformedXML(rerr)
		}
		if rerr != nil || root != davxml.D("mkcol") {
			return httpErrorf(http.StatusUnsupportedMediaType, "MKCOL accepts no body or a DAV:mkcol body")
		}
		var mk davxml.Mkcol
		if err := decodeXML(body, &mk); err != nil {
			return err
		}
		sets = mk.Set
		spec.Kind = kindOf(sets)
	}
	return h.createCollection(w, r, spec, sets, davxml.D("mkcol-response"))
}

// mkcalendar answers MKCALENDAR (RFC 4791 §5.3.1): a calendar collection
// with the initial properties of an optional CALDAV:mkcalendar body.
func (h *Handler) mkcalendar(w http.ResponseWriter, r *http.Request) error {
	root, body, err := h.readXML(w, r)
	if err != nil {
		return err
	}
	spec, _, err := h.collectionSpec(r)
	if err != nil {
		return err
	}
	spec.Kind = engine.KindCalendar
	var mk davxml.Mkcalendar
	if body != nil {
		if root != davxml.C("mkcalendar") {
			return httpErrorf(http.StatusUnsupportedMediaType, "MKCALENDAR accepts no body or a CALDAV:mkcalendar body")
		}
		if err := decodeXML(body, &mk); err != nil {
			return err
		}
	}
	return h.createCollection(w, r, spec, mk.Set, davxml.C("mkcalendar-response"))
}

// collectionSpec checks that the request may create a collection at its
// path and returns the spec without a kind.
func (h *Handler) collectionSpec(r *http.Request) (engine.CollectionSpec, []davxml.SetRemove, error) {
	st := state(r)
	t := st.tgt
	if t.kind != targetHome || t.isHome() {
		return engine.CollectionSpec{}, nil, errResourceMustBeNull(r.URL.Path)
	}
	return engine.CollectionSpec{Path: t.collPath(), Owner: st.user}, nil, nil
}

// kindOf reads the collection kind from the DAV:resourcetype of an
// extended MKCOL (RFC 5689 §3).
func kindOf(sets []davxml.SetRemove) engine.Kind {
	for _, s := range sets {
		for _, p := range s.Prop.Props {
			if p.XMLName != davxml.PropResourceType {
				continue
			}
			switch {
			case p.Child(davxml.C("calendar")) != nil:
				return engine.KindCalendar
			case p.Child(davxml.CR("addressbook")) != nil:
				return engine.KindAddressBook
			}
		}
	}
	return engine.KindPlain
}

// createCollection applies the initial properties and creates the
// collection: 201, or a DAV:mkcol-response / CALDAV:mkcalendar-response
// listing the properties that failed (403, the others 424) and creating
// nothing.
func (h *Handler) createCollection(w http.ResponseWriter, r *http.Request, spec engine.CollectionSpec, sets []davxml.SetRemove, respName xml.Name) error {
	var results []davxml.PropValue
	var set []bool
	failed := false
	lim := h.db.Limits()
	for _, s := range sets {
		for _, p := range s.Prop.Props {
			if p.XMLName == davxml.PropResourceType {
				results = append(results, davxml.PropValue{Name: p.XMLName})
				set = append(set, false)
				continue
			}
			pe := setProp(&spec.Props, spec.Kind, p, true, lim)
			results = append(results, pe.result(p.XMLName))
			failed = failed || pe != nil
			set = append(set, true)
		}
	}
	if !failed && markOverLimit(results, set, lim.CheckProps(spec.Props)) {
		failed = true
	}
	if spec.Kind == engine.KindCalendar && len(spec.Props.Components) == 0 {
		// RFC 4791 §5.2.3: without CALDAV:supported-calendar-component-set
		// a calendar accepts every component type. An empty set in the
		// engine means its older default (VEVENT and VTODO), which the
		// calendars created before keep, so new ones name them all.
		spec.Props.Components = append([]string(nil), engine.AllComponents...)
	}
	if failed {
		for i := range results {
			if results[i].Status == 0 {
				results[i].Status = http.StatusFailedDependency
			}
		}
		return writePropResponse(w, r, respName, http.StatusForbidden, results)
	}
	if err := h.checkLocation(spec); err != nil {
		return err
	}
	if _, err := h.db.CreateCollection(r.Context(), state(r).meta, spec); err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusCreated)
	return nil
}

// checkLocation gives the precise error for a collection that cannot be
// created where asked: 405 when something exists, 409 without a parent,
// 403 calendar-collection-location-ok inside calendars and address books.
func (h *Handler) checkLocation(spec engine.CollectionSpec) error {
	v, err := h.db.View()
	if err != nil {
		return fmt.Errorf("open view: %w", err)
	}
	defer v.Close()
	if _, err := v.Collection(spec.Path); err == nil {
		return errResourceMustBeNull(spec.Path)
	}
	t := target{segs: splitCollPath(spec.Path)}
	parent, name := t.parent()
	pc, err := v.Collection(parent)
	if errors.Is(err, engine.ErrNotFound) {
		return httpErrorf(http.StatusConflict, "the parent collection %s does not exist", parent)
	}
	if err != nil {
		return fmt.Errorf("look up %s: %w", parent, err)
	}
	if _, err := v.Object(parent, name, false); err == nil {
		return errResourceMustBeNull(spec.Path)
	}
	if pc.Kind == engine.KindCalendar || pc.Kind == engine.KindAddressBook {
		switch spec.Kind {
		case engine.KindCalendar:
			return errCalendarLocation("a calendar cannot be created inside a calendar or address book")
		case engine.KindAddressBook:
			return precondition(http.StatusForbidden, davxml.CR("addressbook-collection-location-ok"),
				"an address book cannot be created inside a calendar or address book")
		}
		return httpErrorf(http.StatusConflict, "calendars and address books cannot contain collections")
	}
	return nil
}

// writePropResponse writes a single-response property report such as
// DAV:mkcol-response (RFC 5689 §5.2): propstats without a DAV:response
// wrapper.
func writePropResponse(w http.ResponseWriter, r *http.Request, root xml.Name, status int, props []davxml.PropValue) error {
	out, closeBody := responseBody(w, r, status, "application/xml; charset=utf-8")
	if err := davxml.WritePropstats(out, root, props); err != nil {
		return err
	}
	return closeBody()
}
