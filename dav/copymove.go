package dav

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/almanac/almanac/engine"
)

// copyMove answers COPY and MOVE (RFC 4918 §9.8, §9.9) inside the user's
// home: of an object, as one engine event; of a collection with
// everything below it (calendars and address books included), as one
// atomic engine command. Both answer 201 when the destination was
// created and 204 when Overwrite: T replaced something there.
func (h *Handler) copyMove(w http.ResponseWriter, r *http.Request) error {
	st := state(r)
	if st.tgt.kind != targetHome {
		return httpErrorf(http.StatusForbidden, "this resource cannot be copied or moved")
	}
	src, err := h.lookupNow(st)
	if err != nil {
		return err
	}
	overwrite, err := overwriteHeader(r)
	if err != nil {
		return err
	}
	dst, err := h.destination(r, st)
	if err != nil {
		return err
	}
	if st.mountRoot && r.Method == "MOVE" {
		return h.renameMount(w, r, dst)
	}
	if src.kind == resCollection {
		return h.copyMoveCollection(w, r, src, dst, overwrite)
	}
	return h.copyMoveObject(w, r, src, dst, overwrite)
}

// overwriteHeader parses the Overwrite header (RFC 4918 §10.6); absent
// means T.
func overwriteHeader(r *http.Request) (bool, error) {
	switch strings.ToUpper(strings.TrimSpace(r.Header.Get("Overwrite"))) {
	case "F":
		return false, nil
	case "", "T":
		return true, nil
	}
	return false, httpErrorf(http.StatusBadRequest, "malformed Overwrite header")
}

// copyMoveObject copies or moves object src to dst. A collection at the
// destination (named with or without the trailing slash) is deleted first
// when Overwrite is T, and the object takes its name (RFC 4918 §9.8.4,
// §9.9.3); that deletion and the copy are two engine commits.
func (h *Handler) copyMoveObject(w http.ResponseWriter, r *http.Request, src *resource, dst target, overwrite bool) error {
	st := state(r)
	_, collErr := h.db.Collection(dst.collPath())
	if dst.slash && collErr != nil {
		return httpErrorf(http.StatusConflict, "the destination of an object cannot be a collection path")
	}
	dstParent, dstName := dst.parent()
	dstColl, err := h.db.Collection(dstParent)
	if errors.Is(err, engine.ErrNotFound) {
		return httpErrorf(http.StatusConflict, "destination collection %s does not exist", dstParent)
	}
	if err != nil {
		return fmt.Errorf("look up %s: %w", dstParent, err)
	}
	tag, err := ifMatch(r.Header.Get("If-Match"), src.obj)
	if err != nil {
		return err
	}
	if src.coll.Kind == engine.KindCalendar && dstColl.Kind == engine.KindCalendar {
		if err := h.checkScheduleCopyMove(r, src, dstColl, dstName); err != nil {
			return err
		}
	}
	existed := false
	if collErr == nil {
		if !overwrite {
			return httpErrorf(http.StatusPreconditionFailed, "the destination exists and Overwrite is F")
		}
		if strings.HasPrefix(src.coll.Path, dst.collPath()) {
			return httpErrorf(http.StatusConflict, "the destination collection contains the source")
		}
		// A collection can only sit in a home or a plain collection, and
		// the engine moves objects between those only from the same
		// kinds: check it before the collection is gone.
		if !plainish(src.coll.Kind) || !plainish(dstColl.Kind) {
			return httpErrorf(http.StatusConflict, "cannot move between a %s and a %s collection", src.coll.Kind, dstColl.Kind)
		}
		if err := h.db.DeleteCollection(r.Context(), st.meta, dst.collPath()); err != nil && !errors.Is(err, engine.ErrNotFound) {
			return fmt.Errorf("delete %s: %w", dst.collPath(), err)
		}
		existed = true
	} else if _, err := h.db.Object(dstParent, dstName, false); err == nil {
		if !overwrite {
			return httpErrorf(http.StatusPreconditionFailed, "the destination exists and Overwrite is F")
		}
		existed = true
	}
	res, err := h.db.MoveObject(r.Context(), st.meta, engine.MoveRequest{
		FromPath: src.coll.Path, FromName: src.obj.Name,
		ToPath: dstParent, ToName: dstName,
		Overwrite: overwrite, IfMatch: tag, Copy: r.Method == "COPY",
	})
	if err != nil {
		return mapKind(err, dstColl.Kind)
	}
	w.Header().Set("ETag", res.ETag)
	setScheduleTag(w, res.ScheduleTag)
	writeCreated(w, !existed)
	return nil
}

// copyMoveCollection copies or moves the collection src to dst. MOVE and
// COPY with Depth: infinity (the default) take the whole tree; COPY with
// Depth: 0 creates a collection of the same kind with the same properties
// and no members (RFC 4918 §9.8.3).
func (h *Handler) copyMoveCollection(w http.ResponseWriter, r *http.Request, src *resource, dst target, overwrite bool) error {
	st := state(r)
	if st.tgt.isHome() {
		return httpErrorf(http.StatusForbidden, "a home cannot be copied or moved")
	}
	to := dst.collPath()
	if to == src.coll.Path {
		return httpErrorf(http.StatusForbidden, "the source and the destination are the same")
	}
	d, err := depth(r, -1)
	if err != nil {
		return err
	}
	switch {
	case r.Method == "MOVE" && d != -1:
		return httpErrorf(http.StatusBadRequest, "MOVE of a collection takes Depth: infinity only (RFC 4918 §9.9.2)")
	case r.Method == "COPY" && d == 1:
		return httpErrorf(http.StatusBadRequest, "COPY of a collection takes Depth: 0 or infinity (RFC 4918 §9.8.3)")
	}
	var created bool
	switch {
	case r.Method == "MOVE":
		created, err = h.db.MoveCollection(r.Context(), st.meta, src.coll.Path, to, overwrite)
	case d == 0:
		created, err = h.shallowCopy(r, src.coll, to, overwrite)
	default:
		created, err = h.db.CopyCollection(r.Context(), st.meta, src.coll.Path, to, overwrite)
	}
	var tooLong *engine.NameTooLongError
	if errors.As(err, &tooLong) { // a member's path at the destination
		return httpErrorf(http.StatusForbidden, "destination: %s", strings.TrimPrefix(tooLong.Error(), "engine: "))
	}
	if err != nil {
		return err
	}
	writeCreated(w, created)
	return nil
}

// shallowCopy creates at to a collection of from's kind with its
// properties, after deleting what is there when overwrite allows it. The
// engine has no shallow copy, so deleting and creating are two commits;
// the destination's parent is checked first, so that a creation doomed to
// fail never costs the destination.
func (h *Handler) shallowCopy(r *http.Request, from *engine.Collection, to string, overwrite bool) (bool, error) {
	st := state(r)
	segs := splitCollPath(to)
	parentPath, name := collPathOf(segs[:len(segs)-1]), segs[len(segs)-1]
	parent, err := h.db.Collection(parentPath)
	if errors.Is(err, engine.ErrNotFound) {
		return false, httpErrorf(http.StatusConflict, "destination collection %s does not exist", parentPath)
	}
	if err != nil {
		return false, fmt.Errorf("look up %s: %w", parentPath, err)
	}
	if !plainish(parent.Kind) {
		return false, httpErrorf(http.StatusConflict, "a %s collection cannot contain collections", parent.Kind)
	}
	_, collErr := h.db.Collection(to)
	_, objErr := h.db.Object(parentPath, name, false)
	created := collErr != nil && objErr != nil
	if !created && !overwrite {
		return false, httpErrorf(http.StatusPreconditionFailed, "the destination exists and Overwrite is F")
	}
	if collErr == nil {
		if err := h.db.DeleteCollection(r.Context(), st.meta, to); err != nil && !errors.Is(err, engine.ErrNotFound) {
			return false, fmt.Errorf("delete %s: %w", to, err)
		}
	}
	if objErr == nil {
		if err := h.db.DeleteObject(r.Context(), st.meta, parentPath, name, ""); err != nil && !errors.Is(err, engine.ErrNotFound) {
			return false, fmt.Errorf("delete %s%s: %w", parentPath, name, err)
		}
	}
	spec := engine.CollectionSpec{Path: to, Kind: from.Kind, Owner: st.user, Props: from.Props.Clone()}
	if _, err := h.db.CreateCollection(r.Context(), st.meta, spec); err != nil {
		return false, err
	}
	return created, nil
}

// plainish reports whether collections of kind k hold any content type
// and may contain collections: homes and plain collections.
func plainish(k engine.Kind) bool { return k == engine.KindHome || k == engine.KindPlain }

// writeCreated answers a COPY or MOVE: 201 when the destination was new,
// 204 when it replaced a resource.
func writeCreated(w http.ResponseWriter, created bool) {
	if created {
		w.WriteHeader(http.StatusCreated)
	} else {
		w.WriteHeader(http.StatusNoContent)
	}
}

// destination parses the Destination header (RFC 4918 §10.3) into a
// target inside the user's home, the home itself excluded: everything
// else gets 403, so other users' spaces stay out of reach. A Destination
// on another server gets 502, one over the name limits 403.
func (h *Handler) destination(r *http.Request, st *reqState) (target, error) {
	d := r.Header.Get("Destination")
	if d == "" {
		return target{}, httpErrorf(http.StatusBadRequest, "Destination header missing")
	}
	p, err := hrefPath(d)
	if err != nil {
		return target{}, err
	}
	if err := checkDestinationHost(r, d); err != nil {
		return target{}, err
	}
	t, err := parseTarget(p, st.user)
	if errors.Is(err, errNotFound) || (err == nil && (t.kind != targetHome || t.isHome())) {
		return target{}, errDestinationOutside
	}
	if err != nil {
		return target{}, err
	}
	if err := h.lengthError(t); err != nil {
		return target{}, httpErrorf(http.StatusForbidden, "destination: %s", err)
	}
	if st.mountRoot && r.Method == "MOVE" {
		return t, nil // a rename of the mount: renameMount checks
	}
	dst := &reqState{user: st.user, tgt: t, app: st.app}
	if err := h.resolve(dst); errors.Is(err, errNotFound) {
		return target{}, errDestinationOutside
	} else if err != nil {
		return target{}, err
	}
	if !dst.acc.has(privBind) {
		return target{}, errNeedPrivileges(p, privBind)
	}
	return dst.tgt, nil
}

// errDestinationOutside refuses a Destination where the user has no
// access, in words that do not tell whether it exists.
var errDestinationOutside = httpErrorf(http.StatusForbidden, "the destination must be inside your home or a collection shared with you")

// renameMount answers a sharee's MOVE of their mount to another name in
// their home: the share keeps its identity.
func (h *Handler) renameMount(w http.ResponseWriter, r *http.Request, dst target) error {
	st := state(r)
	home := homePath(st.user)
	to := dst.collPath()
	if !strings.HasPrefix(to, home) || strings.Count(to[len(home):], "/") != 1 {
		return httpErrorf(http.StatusForbidden, "a shared collection can only be renamed within your home")
	}
	from := strings.TrimSuffix(strings.TrimPrefix(st.mountTo, home), "/")
	if err := h.db.RenameMount(r.Context(), st.meta, st.user, from, strings.TrimSuffix(to[len(home):], "/")); err != nil {
		return err
	}
	writeCreated(w, true)
	return nil
}

// checkDestinationHost answers 502 Bad Gateway for a Destination on
// another server (RFC 4918 §9.8.5, §9.9.4): Almanac copies and moves only
// within itself. A Destination names this server when it is an absolute
// path, or when its host is the request's Host or X-Forwarded-Host (a
// reverse proxy may rewrite Host): same host name, in any case, and the
// same port when both give one.
func checkDestinationHost(r *http.Request, dest string) error {
	u, err := url.Parse(strings.TrimSpace(dest))
	if err != nil || u.Host == "" {
		return nil // an absolute path, or malformed (hrefPath said so)
	}
	for _, h := range []string{r.Host, r.Header.Get("X-Forwarded-Host")} {
		if h != "" && sameHost(u, strings.TrimSpace(strings.Split(h, ",")[0])) {
			return nil
		}
	}
	return httpErrorf(http.StatusBadGateway, "the destination %s is on another server", u.Host)
}

// sameHost compares the host of u with a Host header value.
func sameHost(u *url.URL, host string) bool {
	h, err := url.Parse("//" + host)
	if err != nil {
		return false
	}
	if !strings.EqualFold(u.Hostname(), h.Hostname()) {
		return false
	}
	return u.Port() == "" || h.Port() == "" || u.Port() == h.Port()
}
