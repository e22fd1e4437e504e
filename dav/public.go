package dav

import (
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/almanac/almanac/dav/internal/davxml"
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
// hash. A published calendar (CS:publish-calendar, postPublish) has one
// link whose token the engine derives from the store secret, so
// CS:publish-url can show it again. An unknown, revoked or malformed token
// answers 404, the same every time.

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

// linkTarget returns the collection of the request for a public link:
// the owner's calendar or address book.
func (h *Handler) linkTarget(st *reqState) (*resource, error) {
	res, err := h.lookupNow(st)
	if err != nil {
		return nil, err
	}
	if res.acc < accessOwner {
		return nil, st.need(privWriteACL)
	}
	if res.kind != resCollection || (res.coll.Kind != engine.KindCalendar && res.coll.Kind != engine.KindAddressBook) {
		return nil, httpErrorf(http.StatusForbidden, "only a calendar or an address book gets a public link")
	}
	return res, nil
}

// linkPath is the URL path of the public link with token to collection c.
func linkPath(c *engine.Collection, token string) string {
	if c.Kind == engine.KindAddressBook {
		return pubPrefix + token + ".vcf"
	}
	return pubPrefix + token + ".ics"
}

// origin is the scheme and host the request was sent to, for the
// absolute URLs of links.
func origin(r *http.Request) string {
	if r.TLS == nil {
		return "http://" + r.Host
	}
	return "https://" + r.Host
}

// postShareLink answers POST <collection>?share-link: a new public link,
// for the owner only (`freebusy` in the query makes it free-busy only).
func (h *Handler) postShareLink(w http.ResponseWriter, r *http.Request) error {
	st := state(r)
	res, err := h.linkTarget(st)
	if err != nil {
		return err
	}
	token, link, err := h.db.CreateLink(r.Context(), st.meta, res.coll.Path, r.URL.Query().Has("freebusy"))
	if err != nil {
		return err
	}
	path := linkPath(res.coll, token)
	hdr := w.Header()
	hdr.Set("Location", path)
	hdr.Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusCreated)
	fmt.Fprintf(w, "%s%s\nwebcal://%s%s\nid %s\n", origin(r), path, r.Host, path, link.ID)
	return nil
}

// The bodies of CalendarServer's publishing POSTs, sent to a calendar
// (macOS Calendar's "Publish"; the elements have no content).
var (
	rootPublish   = xml.Name{Space: davxml.NSCS, Local: "publish-calendar"}
	rootUnpublish = xml.Name{Space: davxml.NSCS, Local: "unpublish-calendar"}
)

// postPublish answers CS:publish-calendar (202, as iCloud does: the
// collection's published link is made, or kept when it has one; PROPFIND
// shows its URL as CS:publish-url) and CS:unpublish-calendar (200: the
// published link is revoked). Only the owner may.
func (h *Handler) postPublish(w http.ResponseWriter, r *http.Request, publish bool) error {
	st := state(r)
	res, err := h.linkTarget(st)
	if err != nil {
		return err
	}
	if res.coll.Kind != engine.KindCalendar {
		return httpErrorf(http.StatusForbidden, "only a calendar is published (an address book gets a link with ?share-link)")
	}
	status := http.StatusOK
	if publish {
		_, err = h.db.Publish(r.Context(), st.meta, res.coll.Path)
		status = http.StatusAccepted
	} else {
		err = h.db.Unpublish(r.Context(), st.meta, res.coll.Path)
	}
	if err != nil {
		return err
	}
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(status)
	return nil
}
