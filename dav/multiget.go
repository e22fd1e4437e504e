package dav

import (
	"encoding/xml"
	"errors"
	"net/http"

	"github.com/almanac/almanac/dav/internal/davxml"
	"github.com/almanac/almanac/engine"
)

// multiget answers CALDAV:calendar-multiget (RFC 4791 §7.9) and
// CARDDAV:addressbook-multiget (RFC 6352 §8.7): the properties of each
// href, 404 for hrefs that name nothing (or something of another user).
func (h *Handler) multiget(w http.ResponseWriter, r *http.Request, rq *reportRequest, root xml.Name) error {
	var mg davxml.Multiget
	if err := decodeXML(rq.Body, &mg); err != nil {
		return err
	}
	kind := engine.KindCalendar
	if root.Space == davxml.NSCardDAV {
		kind = engine.KindAddressBook
	}
	if rq.Coll == nil || rq.Res.kind != resCollection || rq.Coll.Kind != kind {
		return httpErrorf(http.StatusForbidden, "%s applies to a %s collection", root.Local, kind)
	}
	pr := propRequestOf(mg.AllProp, mg.PropName, mg.Prop)
	withBody := pr.wantsData(kind)
	ms, end := startMultistatus(w, r)
	for _, href := range mg.Hrefs {
		o, c, err := h.multigetObject(rq, href, withBody)
		if errors.Is(err, engine.ErrNotFound) || errors.Is(err, errNotFound) {
			ms.StatusResponse(href, http.StatusNotFound)
			continue
		}
		var pe *PreconditionError
		if errors.As(err, &pe) {
			ms.StatusResponse(href, pe.Status)
			continue
		}
		if err != nil {
			return err
		}
		if err := h.objectResponse(ms, rq.User, c, o, pr, nil); err != nil {
			return err
		}
	}
	return end()
}

// multigetObject resolves one href of a multiget to an object inside the
// request's collection with one engine read: an href outside the user's
// space, with a trailing slash, or naming anything but a member object of
// the collection gives errNotFound or ErrNotFound.
func (h *Handler) multigetObject(rq *reportRequest, href string, withBody bool) (*engine.Object, *engine.Collection, error) {
	p, err := hrefPath(href)
	if err != nil {
		return nil, nil, err
	}
	t, err := parseTarget(p, rq.User)
	if err != nil {
		return nil, nil, err
	}
	if t.kind != targetHome || t.slash || t.isHome() {
		return nil, nil, errNotFound
	}
	parent, name := t.parent()
	if parent != rq.Coll.Path {
		return nil, nil, errNotFound
	}
	o, err := rq.View.Object(parent, name, withBody)
	if err != nil {
		return nil, nil, err
	}
	return o, rq.Coll, nil
}
