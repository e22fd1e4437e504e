package dav

import (
	"encoding/xml"
	"fmt"
	"net/http"
	"strings"

	"github.com/almanac/almanac/engine"
)

// Every request under /dav/home/ is resolved by the engine's privilege
// resolution (engine.View.Access) before its method runs: the access
// level the user holds there, and the path it addresses. A path through a
// mount in the user's home (/dav/home/bob/alice-cal/x.ics) addresses the
// owner's collection (/dav/home/alice/cal/x.ics): the request runs on the
// owner's path, and its answer names the mount's hrefs again
// (Multistatus.Alias). No access answers 404, as for a path that does not
// exist; less access than the method needs answers 403 with
// DAV:need-privileges (RFC 3744 §7.1.1) naming the resource and the
// privilege.

// resolve fills st with the user's access to the target and, for a path
// through a mount, rewrites the target to the owner's path.
func (h *Handler) resolve(st *reqState) error {
	v, err := h.db.View()
	if err != nil {
		return fmt.Errorf("open view: %w", err)
	}
	defer v.Close()
	return h.resolveIn(v, st)
}

// resolveIn is resolve in view v.
func (h *Handler) resolveIn(v *engine.View, st *reqState) error {
	st.acc, st.share, st.mountFrom, st.mountTo, st.mountRoot = accessNone, nil, "", "", false
	if st.tgt.kind != targetHome {
		return nil
	}
	p := st.tgt.path()
	res, err := v.Access(st.user, p)
	if err != nil {
		return fmt.Errorf("resolve access to %s: %w", p, err)
	}
	if res.Access == engine.AccessNone {
		return errNotFound
	}
	st.acc = accessOf(res.Access)
	st.share = res.Share
	if res.Mount != "" && res.Collection != nil {
		mount := homePath(st.user) + res.Mount + "/"
		// res.Target is an unescaped engine path: split, never unescape.
		rest := strings.TrimPrefix(res.Target, "/dav/")
		t := target{kind: targetHome, segs: strings.Split(strings.TrimSuffix(rest, "/"), "/"),
			slash: st.tgt.slash || strings.HasSuffix(rest, "/")}
		st.mountFrom, st.mountTo = res.Collection.Path, mount
		st.mountRoot = len(t.segs) == len(splitCollPath(res.Collection.Path))
		st.tgt = t
	}
	st.limitToScope()
	if st.acc == accessNone {
		return errNotFound
	}
	return nil
}

// accessOf maps the engine's access level to dav's.
func accessOf(a engine.Access) access {
	switch a {
	case engine.AccessFreeBusy:
		return accessFreeBusy
	case engine.AccessRead:
		return accessRead
	case engine.AccessReadWrite:
		return accessWrite
	case engine.AccessOwner:
		return accessOwner
	}
	return accessNone
}

// urlPath is the request's view of an engine path: the mount's path for
// one under the mounted collection, the path itself otherwise.
func (st *reqState) urlPath(p string) string {
	if st.mountFrom != "" && strings.HasPrefix(p, st.mountFrom) {
		return st.mountTo + p[len(st.mountFrom):]
	}
	return p
}

// enginePath is the inverse of urlPath, for the hrefs a request body
// names (multiget) and its Destination.
func (st *reqState) enginePath(p string) string {
	if st.mountTo != "" && strings.HasPrefix(p, st.mountTo) {
		return st.mountFrom + p[len(st.mountTo):]
	}
	return p
}

// methodPrivilege is the privilege a method needs on its target (RFC 3744
// Appendix B): bind for a new member, unbind to remove one, write-content
// for PUT (bind when the object is new: the same level here), read for
// reading. REPORT needs read-free-busy at least; report() asks for read
// for every report but free-busy-query. POST and ACL check for
// themselves.
func methodPrivilege(method string) (xml.Name, bool) {
	switch method {
	case http.MethodGet, http.MethodHead, "PROPFIND", "COPY":
		return privRead, true
	case "REPORT":
		return privReadFreeBusy, true
	case http.MethodPut:
		return privWriteContent, true
	case http.MethodDelete, "MOVE":
		return privUnbind, true
	case "MKCOL", "MKCALENDAR":
		return privBind, true
	case "PROPPATCH":
		return privWriteProps, true
	}
	return xml.Name{}, false
}

// authorize refuses a request whose user lacks the method's privilege on
// the target. A sharee's DELETE, MOVE or PROPPATCH of a mount itself acts
// on their own home (leaving, renaming, their own properties): those are
// theirs to do whatever the share's access.
func (st *reqState) authorize(method string) error {
	if st.tgt.kind != targetHome {
		return nil
	}
	if err := st.authorizeRoot(method); err != nil {
		return err
	}
	priv, ok := methodPrivilege(method)
	if !ok || st.acc.has(priv) {
		return nil
	}
	if st.mountRoot && (method == http.MethodDelete || method == "MOVE" || method == "PROPPATCH") {
		return nil
	}
	return st.need(priv)
}

// authorizeRoot refuses a sharee's DELETE or MOVE of the shared collection
// itself at the owner's URL: that unbinds it from the owner's home.
func (st *reqState) authorizeRoot(method string) error {
	if st.share == nil || st.mountRoot || st.share.Collection == nil || st.tgt.collPath() != st.share.Collection.Path {
		return nil
	}
	if method != http.MethodDelete && method != "MOVE" {
		return nil
	}
	parent, _ := st.tgt.parent()
	return errNeedPrivileges(parent, privUnbind)
}

// need returns the error for a user who lacks priv on the target: 404
// without any access, 403 DAV:need-privileges otherwise.
func (st *reqState) need(priv xml.Name) error {
	if st.acc == accessNone {
		return errNotFound
	}
	return errNeedPrivileges(st.urlPath(st.tgt.path()), priv)
}

// path returns the target's engine path: a collection path ending in "/"
// when the request's did, else an object path.
func (t target) path() string {
	if t.slash || len(t.segs) == 0 {
		return t.collPath()
	}
	return "/dav/" + strings.Join(t.segs, "/")
}

// serveAudit hands a ?history, ?restore or ?webhooks request to
// Options.Audit: the history needs DAV:read (the method's check passed), a
// restore and webhooks the owner's DAV:all. A request through a mount
// reaches the audit handler with the owner's path.
func (h *Handler) serveAudit(w http.ResponseWriter, r *http.Request, st *reqState) error {
	if q := r.URL.Query(); (q.Has("restore") || q.Has("webhooks")) && st.acc < accessOwner {
		return st.need(privAll)
	}
	if st.mountFrom != "" {
		r = r.Clone(r.Context())
		r.URL.Path, r.URL.RawPath = st.tgt.path(), ""
	}
	h.audit.ServeHTTP(w, r)
	return nil
}
