package dav

import (
	"errors"
	"net/http"
	"strings"
	"sync"

	"github.com/almanac/almanac/dav/internal/davxml"
	"github.com/almanac/almanac/engine"
)

// multiget answers CALDAV:calendar-multiget (RFC 4791 §7.9) and
// CARDDAV:addressbook-multiget (RFC 6352 §8.7): the properties of each
// href, 404 for hrefs that name nothing (or something of another user).
// calendar-data and address-data are shaped as in the query REPORTs
// (RFC 4791 §9.6, RFC 6352 §10.4), before the 207 starts so that an
// error such as CALDAV:max-instances gets its own status; without
// shaping the stored bodies stream out as read. getetag stays the stored
// object's either way.
//
// mg is the body as davxml.ParseReport decoded it.
func (h *Handler) multiget(w http.ResponseWriter, r *http.Request, rq *reportRequest, mg *davxml.Multiget) error {
	root := mg.XMLName
	kind := engine.KindCalendar
	if root.Space == davxml.NSCardDAV {
		kind = engine.KindAddressBook
	}
	if rq.Coll == nil || rq.Res.kind != resCollection || rq.Coll.Kind != kind {
		return httpErrorf(http.StatusForbidden, "%s applies to a %s collection", root.Local, kind)
	}
	pr := propRequestOf(mg.AllProp, mg.PropName, mg.Prop)
	withBody := pr.wantsData(kind)
	shape, err := h.shaperOf(r.Context(), rq.Coll, mg.Prop)
	if err != nil {
		return err
	}
	names := make([]string, len(mg.Hrefs))
	errs := make([]error, len(mg.Hrefs))
	var plainDir string // see plainMember
	for i, href := range mg.Hrefs {
		names[i], errs[i] = h.multigetName(rq, href, &plainDir)
	}
	sc, _ := bulkScratch.Get().(*engine.BulkScratch)
	if sc == nil {
		sc = new(engine.BulkScratch)
	}
	objs, err := rq.View.ObjectsIn(rq.Coll, names, withBody, sc)
	defer func() {
		if cap(sc.Bodies) <= maxPooledBodies && len(names) <= maxPooledObjects {
			bulkScratch.Put(sc)
		}
	}()
	if err != nil {
		return err
	}
	var data [][]byte
	if shape != nil {
		data = make([][]byte, len(names))
		for i := range names {
			if o := objs[i]; errs[i] == nil && o != nil {
				if data[i], err = shape(o); err != nil {
					return err
				}
			}
		}
	}
	ms, end := startMultistatus(w, r)
	var pe *PreconditionError // outside the loop: errors.As makes it escape
	for i, href := range mg.Hrefs {
		switch o := objs[i]; {
		case errors.As(errs[i], &pe):
			ms.StatusResponse(href, pe.Status)
		case errs[i] != nil, o == nil:
			ms.StatusResponse(href, http.StatusNotFound)
		default:
			var d []byte
			if data != nil {
				d = data[i]
			}
			if err := h.objectResponse(ms, rq.User, rq.Coll, o, pr, d); err != nil {
				return err
			}
		}
	}
	return end()
}

// bulkScratch pools what a multiget's objects and bodies are read into,
// for up to maxPooledObjects objects and maxPooledBodies bytes of bodies:
// a 100-object multiget of 1 KB events allocated 100 KB for the bodies
// and 26 KB for the Objects per request.
var bulkScratch sync.Pool

const (
	maxPooledBodies  = 1 << 20
	maxPooledObjects = 1000
)

// multigetName resolves one href of a multiget to the name of a member of
// the request's collection: an href outside the user's space, with a
// trailing slash, or naming anything but a member object of the
// collection gives errNotFound (or the PreconditionError of a malformed
// href). plainDir is plainMember's, kept across the hrefs of a request.
func (h *Handler) multigetName(rq *reportRequest, href string, plainDir *string) (string, error) {
	if name, ok := plainMember(rq, href, plainDir); ok {
		return name, nil
	}
	return parsedMember(rq, href)
}

// parsedMember is multigetName for any href: parsed as a URL, split and
// unescaped.
func parsedMember(rq *reportRequest, href string) (string, error) {
	p, err := hrefPath(href)
	if err != nil {
		return "", err
	}
	t, err := parseTarget(p, rq.User)
	if err != nil {
		return "", err
	}
	if t.kind != targetHome || t.slash || t.isHome() {
		return "", errNotFound
	}
	parent, name := t.parent()
	if parent != rq.Coll.Path && rq.st.enginePath(parent) != rq.Coll.Path {
		return "", errNotFound
	}
	return name, nil
}

// plainMember resolves the href clients send, the collection's path as
// the request addressed it followed by a name, without parsing it as a
// URL and splitting it into segments (a tenth of a multiget's time) when
// both are made of characters that URL parsing and escaping leave alone.
// ok is false for any other href, which multigetName then parses; where
// ok is true the name is what parsing gives (FuzzPlainMember). *plainDir
// is the directory part of an href it took before, "" at first: the
// hrefs of a multiget share it, which is then checked once.
func plainMember(rq *reportRequest, href string, plainDir *string) (name string, ok bool) {
	href = strings.TrimSpace(href)
	i := strings.LastIndexByte(href, '/')
	if i < 0 {
		return "", false
	}
	dir, name := href[:i+1], href[i+1:]
	if name == "" || name == "." || name == ".." || !plainPath(name) {
		return "", false
	}
	if dir != *plainDir {
		if dir != rq.Coll.Path && rq.st.enginePath(dir) != rq.Coll.Path || !plainPath(dir) ||
			!strings.HasPrefix(rq.Coll.Path, "/dav/home/") {
			return "", false
		}
		*plainDir = dir
	}
	return name, true
}

// plainPath reports whether s holds only letters, digits, "/" and
// "-._~@+=,", which a path keeps as they are through URL parsing,
// escaping and unescaping.
func plainPath(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || ('0' <= c && c <= '9') {
			continue
		}
		switch c {
		case '/', '-', '.', '_', '~', '@', '+', '=', ',':
			continue
		}
		return false
	}
	return true
}
