package web

import (
	"bytes"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/almanac/almanac/dav/audit"
	"github.com/almanac/almanac/engine"
)

// maxTimeline bounds the events a timeline shows (the newest).
const maxTimeline = 200

// entry is one event on a timeline.
type entry struct {
	Seq       engine.Seq
	Time      time.Time
	Actor     string
	UserAgent string
	Op        string
	Object    string
	// Diff is the property-level change of a put ("- " and "+ " lines)
	// from the object's version before (for a put after a deletion: the
	// version deleted). Created is set for an object's first version,
	// Again for a put after a deletion.
	Diff           []diffLine
	Created, Again bool
	// CanRestore: a version other than the current one (restore it);
	// CanUndelete: a deletion of an object that is gone now.
	CanRestore, CanUndelete bool
	Erased                  bool

	body []byte // the version's, to compare with the live one
}

type diffLine struct {
	Del  bool
	Text string
}

type historyData struct {
	// U is the owner when an admin looks at another user's collection
	// (the "u" value), else "".
	U           string
	Coll        string // the collection's name
	DisplayName string
	Object      string // "" for the collection's timeline
	Entries     []entry
	Omitted     int
	Now         string // for the restore form, in datetime-local format (UTC)
}

// history shows the timeline of a collection (?c=) or of one object of it
// (?c=&o=), newest first.
func (h *Handler) history(w http.ResponseWriter, q *request) error {
	v, c, err := h.viewHistoryCollection(q)
	if err != nil {
		return err
	}
	defer v.Close()
	obj := q.FormValue("o")
	if strings.ContainsAny(obj, "/\x00") || len(obj) > 1024 {
		return errNotFound
	}
	var evs []*engine.Event
	if obj != "" {
		evs, err = v.History(c.Path, obj)
	} else {
		evs, err = v.CollectionHistory(c.Path, time.Time{}, time.Time{})
	}
	if err != nil {
		return fmt.Errorf("history of %s%s: %w", c.Path, obj, err)
	}
	d := historyData{U: q.otherOwner(c), Coll: collName(c.Path), DisplayName: c.Props.DisplayName, Object: obj,
		Now: h.opts.Clock().UTC().Format("2006-01-02T15:04")}
	// Walk oldest first, keeping each object's last body to diff against
	// (a deleted one's too) and the body of its live version.
	last := map[string][]byte{}
	current := map[string][]byte{} // name -> body of its live version
	all := make([]entry, 0, len(evs))
	for _, e := range evs {
		en := entry{Seq: e.Seq, Time: e.Time, Actor: e.Actor, UserAgent: e.UserAgent, Op: e.Op.String(),
			Object: e.Object, Erased: e.BodyErased}
		switch e.Op {
		case engine.OpObjectPut:
			prev, ok := last[e.Object]
			_, live := current[e.Object]
			en.Created, en.Again = !ok, ok && !live
			if ok && !e.BodyErased && prev != nil {
				lines, err := audit.Diff(prev, e.Body)
				if err == nil {
					for _, l := range lines {
						en.Diff = append(en.Diff, diffLine{Del: strings.HasPrefix(l, "- "), Text: l})
					}
				}
			}
			var body []byte
			if !e.BodyErased {
				body = e.Body
			}
			last[e.Object], current[e.Object] = body, body
		case engine.OpObjectDeleted:
			delete(current, e.Object)
		case engine.OpObjectMoved:
			delete(current, e.Object)
			if e.CollectionPath != c.Path || e.ToCollectionPath == c.Path {
				current[e.ToObject], last[e.ToObject] = e.Body, e.Body
			}
		}
		en.body = e.Body
		all = append(all, en)
	}
	// Newest first. A put whose content differs from the object's live
	// version (or of an object gone now) can be restored; the newest
	// deletion of an object gone now can be undone.
	slices.Reverse(all)
	seen := map[string]bool{}
	for i := range all {
		en := &all[i]
		switch en.Op {
		case engine.OpObjectPut.String():
			cur, live := current[en.Object]
			en.CanRestore = !en.Erased && (!live || !bytes.Equal(cur, en.body))
		case engine.OpObjectDeleted.String():
			_, live := current[en.Object]
			en.CanUndelete = !live && !seen[en.Object]
			seen[en.Object] = true
		}
	}
	if len(all) > maxTimeline {
		d.Omitted = len(all) - maxTimeline
		all = all[:maxTimeline]
	}
	d.Entries = all
	title := "History of " + d.Coll
	if obj != "" {
		title = "History of " + obj
	}
	return h.show(w, q, "history", title, "calendars", d)
}

// historyURL is the timeline's address.
func historyURL(owner, coll, obj string) string {
	u := "/history?c=" + url.QueryEscape(coll)
	if obj != "" {
		u += "&o=" + url.QueryEscape(obj)
	}
	if owner != "" {
		u += "&u=" + url.QueryEscape(owner)
	}
	return u
}

// objectName returns the form's object name "o" (one segment).
func (q *request) objectName() (string, error) {
	o := q.FormValue("o")
	if o == "" || strings.ContainsAny(o, "/\x00") || o == "." || o == ".." || len(o) > 1024 {
		return "", errNotFound
	}
	return o, nil
}

// restoreVersion puts back the version of an object that event seq
// wrote: a restore of the object as of seq.
func (h *Handler) restoreVersion(w http.ResponseWriter, q *request) error {
	obj, err := q.objectName()
	if err != nil {
		return err
	}
	seq, err := strconv.ParseUint(q.FormValue("seq"), 10, 64)
	if err != nil || seq == 0 {
		return httpError(http.StatusBadRequest, "no version named")
	}
	return h.withHistoryCollection(q, func(c *engine.Collection) error {
		m := q.meta()
		m.Reason = fmt.Sprintf("web: restore version %d", seq)
		_, err := h.opts.DB.Restore(q.Context(), m, engine.RestoreRequest{Path: c.Path, Name: obj, At: engine.AsOf{Seq: engine.Seq(seq)}})
		if err != nil {
			return err
		}
		return h.redirect(w, q, historyURL(q.otherOwner(c), collName(c.Path), obj), fmt.Sprintf("Restored %s as of version %d.", obj, seq))
	})
}

// undeleteObject brings back an object's last deleted version.
func (h *Handler) undeleteObject(w http.ResponseWriter, q *request) error {
	obj, err := q.objectName()
	if err != nil {
		return err
	}
	return h.withHistoryCollection(q, func(c *engine.Collection) error {
		if _, err := h.opts.DB.Undelete(q.Context(), q.meta(), c.Path, obj); err != nil {
			return err
		}
		return h.redirect(w, q, historyURL(q.otherOwner(c), collName(c.Path), obj), "Restored "+obj+".")
	})
}

// previewData is the dry run of a collection restore.
type previewData struct {
	U       string // as historyData.U
	Coll    string
	At      string // the moment asked for, as typed
	Seq     engine.Seq
	Actions []string
}

// parseAt reads the restore form's moment: a datetime-local value (UTC),
// an RFC 3339 time or a sequence number.
func parseAt(s string) (engine.AsOf, error) {
	s = strings.TrimSpace(s)
	if t, err := time.Parse("2006-01-02T15:04", s); err == nil {
		return engine.AsOf{Time: t}, nil
	}
	if t, err := time.Parse("2006-01-02T15:04:05", s); err == nil {
		return engine.AsOf{Time: t}, nil
	}
	at, err := engine.ParseAsOf(s)
	if err != nil {
		return at, httpError(http.StatusBadRequest, "%q is no time (YYYY-MM-DDTHH:MM, UTC) and no sequence number", s)
	}
	return at, nil
}

// previewRestore shows what restoring the collection as of a moment would
// do (a dry run), with the button that does it.
func (h *Handler) previewRestore(w http.ResponseWriter, q *request) error {
	at, err := parseAt(q.FormValue("at"))
	if err != nil {
		return err
	}
	return h.withHistoryCollection(q, func(c *engine.Collection) error {
		res, err := h.opts.DB.Restore(q.Context(), q.meta(), engine.RestoreRequest{Path: c.Path, At: at, DryRun: true})
		if err != nil {
			return err
		}
		d := previewData{U: q.otherOwner(c), Coll: collName(c.Path), At: q.FormValue("at"), Seq: res.At}
		for _, a := range res.Actions {
			d.Actions = append(d.Actions, a.String())
		}
		return h.show(w, q, "preview", "Restore "+d.Coll+": preview", "calendars", d)
	})
}

// restoreCollection restores the collection as of the sequence number the
// preview resolved.
func (h *Handler) restoreCollection(w http.ResponseWriter, q *request) error {
	seq, err := strconv.ParseUint(q.FormValue("seq"), 10, 64)
	if err != nil {
		return httpError(http.StatusBadRequest, "no moment named")
	}
	return h.withHistoryCollection(q, func(c *engine.Collection) error {
		m := q.meta()
		m.Reason = fmt.Sprintf("web: restore as of %d", seq)
		res, err := h.opts.DB.Restore(q.Context(), m, engine.RestoreRequest{Path: c.Path, At: engine.AsOf{Seq: engine.Seq(seq)}})
		if err != nil {
			return err
		}
		return h.redirect(w, q, historyURL(q.otherOwner(c), collName(c.Path), ""), fmt.Sprintf("Restored %s as of event %d: %d changes.", collName(c.Path), seq, len(res.Actions)))
	})
}

// owner is whose collection a history request addresses: the form or
// query value "u" when an administrator gives it (the same history and
// restore for any user), else the signed-in user. Anyone else naming
// another owner gets errNotFound, as for a missing page.
func (q *request) owner() (string, error) {
	u := q.FormValue("u")
	if u == "" || u == q.s.user {
		return q.s.user, nil
	}
	if q.account == nil || q.account.Role != engine.RoleAdmin || strings.ContainsAny(u, "/\x00") || len(u) > 255 {
		return "", errNotFound
	}
	return u, nil
}

// otherOwner is c's owner when it is not the signed-in user ("" else):
// the "u" value the history pages carry on.
func (q *request) otherOwner(c *engine.Collection) string {
	if c.Owner == q.s.user {
		return ""
	}
	return c.Owner
}

// viewHistoryCollection is viewCollection of the owner the request names
// (owner).
func (h *Handler) viewHistoryCollection(q *request) (*engine.View, *engine.Collection, error) {
	owner, err := q.owner()
	if err != nil {
		return nil, nil, err
	}
	return h.viewCollectionOf(q, owner)
}

// withHistoryCollection runs fn with the collection of the owner the
// request names.
func (h *Handler) withHistoryCollection(q *request, fn func(c *engine.Collection) error) error {
	v, c, err := h.viewHistoryCollection(q)
	if err != nil {
		return err
	}
	v.Close()
	return fn(c)
}
