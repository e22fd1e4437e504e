package dav

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/almanac/almanac/engine"
)

// Public links: GET /pub/<token>.ics serves a calendar (or .vcf an
// address book) read-only to whoever holds the token, without
// authentication, with the collection's CTag as ETag, Last-Modified,
// 304 for If-None-Match and If-Modified-Since, and gzip. A free-busy-only
// link serves a VFREEBUSY of the next 180 days (and the last 7). The
// owner makes a link with POST <collection>?share-link (or `almanac share
// link create`), which answers 201 with the link's URL in Location and
// its https and webcal forms in the body; the log holds only the token's
// hash. An unknown, revoked or malformed token answers 404, the same
// every time.

// pubPrefix is the URL path under which links are served.
const pubPrefix = "/pub/"

// maxTokenLength bounds a token read from a URL; the engine's are 43
// characters.
const maxTokenLength = 64

// servePublic answers a request under /pub/.
func (h *Handler) servePublic(w http.ResponseWriter, r *http.Request) error {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		return httpErrorf(http.StatusMethodNotAllowed, "a public link is read with GET")
	}
	name := strings.TrimPrefix(r.URL.Path, pubPrefix)
	token, ext, ok := strings.Cut(name, ".")
	if !ok || (ext != "ics" && ext != "vcf") || len(token) == 0 || len(token) > maxTokenLength || strings.Trim(token, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") != "" {
		return errNotFound
	}
	v, err := h.db.View()
	if err != nil {
		return fmt.Errorf("open view: %w", err)
	}
	defer v.Close()
	link, err := v.Link(token)
	if errors.Is(err, engine.ErrNotFound) {
		return errNotFound
	}
	if err != nil {
		return err
	}
	c, err := v.Collection(link.Path)
	if err != nil {
		return err
	}
	want := "ics"
	if c.Kind == engine.KindAddressBook {
		want = "vcf"
	}
	if ext != want || (c.Kind != engine.KindCalendar && c.Kind != engine.KindAddressBook) {
		return errNotFound
	}
	etag := `"` + c.CTag + `"`
	hdr := w.Header()
	hdr.Set("ETag", etag)
	hdr.Set("Last-Modified", c.Modified.UTC().Format(http.TimeFormat))
	hdr.Set("Cache-Control", "private, no-cache")
	if notModified(r, etag, c.Modified) {
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	switch {
	case link.FreeBusyOnly:
		return h.publicFreeBusy(w, r, v, c)
	case c.Kind == engine.KindAddressBook:
		return h.getAddressBook(w, r, v, c)
	}
	return h.getCalendar(w, r, v, c)
}

// notModified reports whether r's If-None-Match (or, without it,
// If-Modified-Since) says the client holds the current version (RFC 9110
// §13.1.2, §13.1.3).
func notModified(r *http.Request, etag string, modified time.Time) bool {
	if inm := r.Header.Get("If-None-Match"); inm != "" {
		for _, t := range strings.Split(inm, ",") {
			if t = strings.TrimSpace(t); t == etag || t == "*" || t == "W/"+etag {
				return true
			}
		}
		return false
	}
	if ims, err := http.ParseTime(r.Header.Get("If-Modified-Since")); err == nil {
		return !modified.Truncate(time.Second).After(ims)
	}
	return false
}

// publicFreeBusy serves the free-busy time of calendar c from 7 days ago
// to 180 days ahead, as free-busy-query computes it.
func (h *Handler) publicFreeBusy(w http.ResponseWriter, r *http.Request, v *engine.View, c *engine.Collection) error {
	if c.Kind != engine.KindCalendar {
		return errNotFound
	}
	now := time.Now().UTC()
	body := fmt.Sprintf(`<C:free-busy-query xmlns:C="urn:ietf:params:xml:ns:caldav"><C:time-range start="%s" end="%s"/></C:free-busy-query>`,
		now.AddDate(0, 0, -7).Format("20060102T150405Z"), now.AddDate(0, 0, 180).Format("20060102T150405Z"))
	res := &resource{kind: resCollection, path: c.Path, coll: c, acc: accessFreeBusy}
	return h.freeBusyQuery(w, r, &reportRequest{View: v, Res: res, Coll: c, Depth: 1, Body: []byte(body)})
}

// postShareLink answers POST <collection>?share-link: a new public link,
// for the owner only (`freebusy` in the query makes it free-busy only).
func (h *Handler) postShareLink(w http.ResponseWriter, r *http.Request) error {
	st := state(r)
	res, err := h.lookupNow(st)
	if err != nil {
		return err
	}
	if res.acc < accessOwner {
		return st.need(privWriteACL)
	}
	if res.kind != resCollection || (res.coll.Kind != engine.KindCalendar && res.coll.Kind != engine.KindAddressBook) {
		return httpErrorf(http.StatusForbidden, "only a calendar or an address book gets a public link")
	}
	token, link, err := h.db.CreateLink(r.Context(), st.meta, res.coll.Path, r.URL.Query().Has("freebusy"))
	if err != nil {
		return err
	}
	ext := "ics"
	if res.coll.Kind == engine.KindAddressBook {
		ext = "vcf"
	}
	path := pubPrefix + token + "." + ext
	scheme := "https"
	if r.TLS == nil {
		scheme = "http"
	}
	hdr := w.Header()
	hdr.Set("Location", path)
	hdr.Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusCreated)
	fmt.Fprintf(w, "%s://%s%s\nwebcal://%s%s\nid %s\n", scheme, r.Host, path, r.Host, path, link.ID)
	return nil
}
