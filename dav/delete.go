package dav

import (
	"net/http"

	"github.com/almanac/almanac/engine"
)

// delete answers DELETE (RFC 4918 §9.6) of an object (with If-Match) or of
// a collection with everything in it. The home itself cannot be deleted.
func (h *Handler) delete(w http.ResponseWriter, r *http.Request) error {
	st := state(r)
	if st.tgt.kind == targetNotifications {
		return h.deleteNotification(w, r)
	}
	if st.tgt.kind != targetHome {
		return httpErrorf(http.StatusMethodNotAllowed, "this resource cannot be deleted")
	}
	if st.tgt.isHome() {
		return httpErrorf(http.StatusForbidden, "a home cannot be deleted")
	}
	res, err := h.lookupNow(st)
	if err != nil {
		return err
	}
	if st.mountRoot && st.share != nil {
		// A sharee leaves the share: the mount goes, the grant stays.
		if err := h.db.ReplyShare(r.Context(), st.meta, st.user, st.share.Collection.Path, false, ""); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	if res.kind == resCollection {
		if err := h.db.DeleteCollection(r.Context(), st.meta, res.coll.Path); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	tag, err := ifMatch(r.Header.Get("If-Match"), res.obj)
	if err != nil {
		return err
	}
	if res.coll.Kind == engine.KindCalendar {
		opts := engine.PutOptions{IfMatch: tag, IfScheduleTagMatch: ifScheduleTagMatch(r)}
		if done, err := h.scheduleWrite(w, r, res.coll.Path, res.obj.Name, nil, opts); done || err != nil {
			return err
		}
	}
	if t := ifScheduleTagMatch(r); t != "" && t != res.obj.ScheduleTag {
		// No scheduling write: the object is no scheduling object (or it
		// changed since), and the plain delete has no schedule tag to check.
		return errScheduleTagMismatch()
	}
	if err := h.db.DeleteObject(r.Context(), st.meta, res.coll.Path, res.obj.Name, tag); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
