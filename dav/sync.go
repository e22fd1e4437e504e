package dav

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/almanac/almanac/dav/internal/davxml"
	"github.com/almanac/almanac/engine"
)

// syncCollection answers DAV:sync-collection (RFC 6578 §3.2): the members
// changed since the token, deleted ones as 404 responses, read from the
// engine's change index in O(changes). With DAV:limit the answer may be
// truncated: a 507 response for the Request-URI tells the client to ask
// again with the returned token (§3.6).
func (h *Handler) syncCollection(w http.ResponseWriter, r *http.Request, rq *reportRequest) error {
	var sc davxml.SyncCollection
	if err := decodeXML(rq.Body, &sc); err != nil {
		return err
	}
	if rq.Res.kind != resCollection {
		return httpErrorf(http.StatusForbidden, "sync-collection applies to collections")
	}
	switch strings.TrimSpace(sc.SyncLevel) {
	case "1", "":
	case "infinite":
		return precondition(http.StatusForbidden, davxml.D("sync-traversal-supported"), "sync-level infinite is not supported")
	default:
		return httpErrorf(http.StatusBadRequest, "malformed sync-level %q", sc.SyncLevel)
	}
	limit, err := syncLimit(sc.Limit)
	if err != nil {
		return err
	}
	token := strings.TrimSpace(sc.SyncToken)
	if token != "" && !strings.HasPrefix(token, engine.SyncTokenPrefix) {
		return errValidSyncToken("the sync token was not issued by this server")
	}
	pr := propRequestOf(nil, nil, sc.Prop)
	withBody := pr.wantsData(rq.Coll.Kind)
	if token == "" && limit == 0 {
		return h.syncAll(w, r, rq, pr, withBody)
	}
	if waited, err := h.db.AwaitToken(r.Context(), token); err != nil {
		return err
	} else if waited {
		// A cluster node behind the token's node has caught up since
		// the request's view was taken: answer from a new one.
		v, err := h.db.View()
		if err != nil {
			return err
		}
		defer v.Close()
		fresh := *rq
		fresh.View, rq = v, &fresh
	}
	cs, err := rq.View.Changes(rq.Coll.Path, token, limit)
	if err != nil {
		return err
	}
	only := etagOnly(pr)
	var objs []*engine.Object // the changed objects, in the order of cs.Changes
	if !only {
		if objs, err = changedObjects(rq, cs.Changes, withBody); err != nil {
			return err
		}
	}
	ms, end := startMultistatus(w, r)
	for i, ch := range cs.Changes {
		if strings.HasSuffix(ch.Name, "/") { // a mount of the home's owner
			if err := h.syncMount(ms, rq, pr, ch); err != nil {
				return err
			}
			continue
		}
		if ch.Deleted {
			if err := ms.StatusResponsePath(rq.Coll.Path, ch.Name, http.StatusNotFound); err != nil {
				return err
			}
			continue
		}
		o := &pr.sc.obj
		if only {
			*o = engine.Object{Name: ch.Name, ETag: ch.ETag}
		} else if o = objs[i]; o == nil {
			return fmt.Errorf("read changed object %s: %w", ch.Name, engine.ErrNotFound)
		}
		if err := h.objectResponse(ms, rq.User, rq.Coll, o, pr, nil); err != nil {
			return err
		}
	}
	if cs.Truncated {
		ms.StatusResponse(rq.Res.href(), http.StatusInsufficientStorage)
	}
	ms.SyncToken(cs.Token)
	return end()
}

// changedObjects reads the objects of changes that are neither deletions
// nor mounts in one bulk read (View.ObjectsIn) rather than one point read
// each: the result is aligned with changes, nil for the others.
func changedObjects(rq *reportRequest, changes []engine.Change, withBody bool) ([]*engine.Object, error) {
	names := make([]string, len(changes))
	for i, ch := range changes {
		if !ch.Deleted && !strings.HasSuffix(ch.Name, "/") {
			names[i] = ch.Name
		}
	}
	objs, err := rq.View.ObjectsIn(rq.Coll, names, withBody, nil)
	if err != nil {
		return nil, fmt.Errorf("read changed objects: %w", err)
	}
	return objs, nil
}

// syncAll answers an initial sync-collection without a limit: every
// member, from one scan of the collection's objects rather than the change
// index (which would read each object again for its ETag), and the
// collection's current sync token as read in the same view, which is the
// token View.Changes gives for an empty one.
func (h *Handler) syncAll(w http.ResponseWriter, r *http.Request, rq *reportRequest, pr propRequest, withBody bool) error {
	ms, end := startMultistatus(w, r)
	for o, err := range rq.View.ObjectsReused(rq.Coll.Path, withBody) {
		if err != nil {
			return fmt.Errorf("list %s: %w", rq.Coll.Path, err)
		}
		if err := h.objectResponse(ms, rq.User, rq.Coll, o, pr, nil); err != nil {
			return err
		}
	}
	if ownHome(rq) {
		if err := h.propfindMounts(rq.View, rq.Res, pr, ms); err != nil {
			return err
		}
	}
	ms.SyncToken(rq.Coll.SyncToken)
	return end()
}

// ownHome reports whether the sync is of the user's own home, the only
// one that lists the user's mounts (a delegate sees the owner's home
// without them).
func ownHome(rq *reportRequest) bool {
	return rq.Coll.Kind == engine.KindHome && rq.Coll.Owner == rq.User
}

// syncMount writes the response for a change of a mount in the home
// (engine.Change "name/"): the mount as PROPFIND Depth 1 shows it, or a
// 404 once it left, like a member collection created or deleted.
func (h *Handler) syncMount(ms *davxml.Multistatus, rq *reportRequest, pr propRequest, ch engine.Change) error {
	if !ownHome(rq) {
		return nil
	}
	if !ch.Deleted {
		sh, err := rq.View.Mount(rq.User, strings.TrimSuffix(ch.Name, "/"))
		if err != nil && !errors.Is(err, engine.ErrNotFound) {
			return fmt.Errorf("read changed mount %s: %w", ch.Name, err)
		}
		if err == nil && sh.Collection != nil && sh.MountPath != "" && sh.Access != engine.AccessNone {
			m := mountResource(rq.User, sh)
			return ms.Response(m.href(), h.valuesFor(m, pr))
		}
	}
	return ms.StatusResponse(davxml.Href(rq.Coll.Path+ch.Name), http.StatusNotFound)
}

// syncLimit parses DAV:limit/DAV:nresults (RFC 6578 §6.1); 0 means none.
func syncLimit(l *davxml.Limit) (int, error) {
	if l == nil {
		return 0, nil
	}
	n, err := strconv.Atoi(strings.TrimSpace(l.NResults))
	if err != nil || n < 1 {
		return 0, precondition(http.StatusForbidden, davxml.D("number-of-matches-within-limits"), "malformed nresults %q", l.NResults)
	}
	return n, nil
}

// etagOnly reports whether pr asks for nothing but DAV:getetag, which the
// change index already carries: the objects need not be read.
func etagOnly(pr propRequest) bool {
	return len(pr.names) == 1 && pr.names[0] == davxml.PropGetETag
}
