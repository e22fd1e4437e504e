package dav

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/almanac/almanac/engine"
)

// copyMove answers COPY and MOVE (RFC 4918 §9.8, §9.9) of objects between
// the user's collections, as one engine event. Collections cannot be
// copied or moved yet (403).
func (h *Handler) copyMove(w http.ResponseWriter, r *http.Request) error {
	st := state(r)
	if st.tgt.kind != targetHome {
		return httpErrorf(http.StatusForbidden, "this resource cannot be copied or moved")
	}
	v, err := h.db.View()
	if err != nil {
		return fmt.Errorf("open view: %w", err)
	}
	src, err := h.lookup(v, st)
	v.Close()
	if err != nil {
		return err
	}
	if src.kind != resObject {
		return httpErrorf(http.StatusForbidden, "%s of collections is not supported", r.Method)
	}
	dst, err := destination(r, st.user)
	if err != nil {
		return err
	}
	overwrite := true
	switch strings.ToUpper(strings.TrimSpace(r.Header.Get("Overwrite"))) {
	case "F":
		overwrite = false
	case "", "T":
	default:
		return httpErrorf(http.StatusBadRequest, "malformed Overwrite header")
	}
	dstParent, dstName := dst.parent()
	dstColl, err := h.db.Collection(dstParent)
	if errors.Is(err, engine.ErrNotFound) {
		return httpErrorf(http.StatusConflict, "destination collection %s does not exist", dstParent)
	}
	if err != nil {
		return fmt.Errorf("look up %s: %w", dstParent, err)
	}
	if _, err := h.db.Collection(dst.collPath()); err == nil {
		return httpErrorf(http.StatusConflict, "the destination is a collection")
	}
	_, err = h.db.Object(dstParent, dstName, false)
	existed := err == nil
	if existed && !overwrite {
		return httpErrorf(http.StatusPreconditionFailed, "the destination exists and Overwrite is F")
	}
	tag, err := ifMatch(r.Header.Get("If-Match"), src.obj)
	if err != nil {
		return err
	}
	res, err := h.db.MoveObject(r.Context(), st.meta, engine.MoveRequest{
		FromPath: src.coll.Path, FromName: src.obj.Name,
		ToPath: dstParent, ToName: dstName,
		Overwrite: overwrite, IfMatch: tag, Copy: r.Method == "COPY",
	})
	if err != nil {
		return fromEngine(err, dstColl.Kind)
	}
	w.Header().Set("ETag", res.ETag)
	if existed {
		w.WriteHeader(http.StatusNoContent)
	} else {
		w.WriteHeader(http.StatusCreated)
	}
	return nil
}

// destination parses the Destination header (RFC 4918 §10.3) into a
// target for an object inside the user's space.
func destination(r *http.Request, user string) (target, error) {
	d := r.Header.Get("Destination")
	if d == "" {
		return target{}, httpErrorf(http.StatusBadRequest, "Destination header missing")
	}
	p, err := hrefPath(d)
	if err != nil {
		return target{}, err
	}
	t, err := parseTarget(p, user)
	if errors.Is(err, errNotFound) || (err == nil && (t.kind != targetHome || t.isHome())) {
		return target{}, httpErrorf(http.StatusForbidden, "the destination must be inside your home")
	}
	if err != nil {
		return target{}, err
	}
	if t.slash {
		return target{}, httpErrorf(http.StatusConflict, "the destination of an object cannot be a collection path")
	}
	return t, nil
}
