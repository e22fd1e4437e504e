package web

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/almanac/almanac/engine"
)

type sharingData struct {
	Coll, DisplayName string
	Grants            []*engine.Grant
	Links             []*engine.Link
	// NewLink is the URL of a link just made, shown this once (the log
	// holds only its token's hash).
	NewLink string
}

// sharing shows who a collection is shared with and its public links.
func (h *Handler) sharing(w http.ResponseWriter, q *request) error {
	return h.showSharing(w, q, "")
}

func (h *Handler) showSharing(w http.ResponseWriter, q *request, newLink string) error {
	v, c, err := h.viewCollection(q)
	if err != nil {
		return err
	}
	defer v.Close()
	d := sharingData{Coll: collName(c.Path), DisplayName: c.Props.DisplayName, NewLink: newLink}
	if d.Grants, err = v.Grants(c.Path); err != nil {
		return err
	}
	if d.Links, err = v.Links(c.Path); err != nil {
		return err
	}
	return h.show(w, q, "sharing", "Sharing "+d.Coll, "calendars", d)
}

// sharingURL is the sharing page's address.
func sharingURL(coll string) string { return "/sharing?c=" + url.QueryEscape(coll) }

// grant shares the collection with a user or group at an access level
// (the engine refuses unknown principals: 404).
func (h *Handler) grant(w http.ResponseWriter, q *request) error {
	access, err := engine.ParseAccess(q.FormValue("access"))
	if err != nil || access == engine.AccessNone || access == engine.AccessOwner {
		return httpError(http.StatusBadRequest, "access must be freebusy, read or read-write")
	}
	grantee := strings.TrimSpace(q.FormValue("grantee"))
	if grantee == "" || grantee == q.s.user {
		return httpError(http.StatusBadRequest, "name another user or a group")
	}
	return h.withCollection(q, func(c *engine.Collection) error {
		err := h.opts.DB.Grant(q.Context(), q.meta(), c.Path, grantee, access, engine.GrantOptions{AutoAccept: h.opts.ShareAutoAccept})
		if err != nil {
			return err
		}
		return h.redirect(w, q, sharingURL(collName(c.Path)), "Shared with "+grantee+" ("+access.String()+").")
	})
}

// revokeGrant withdraws a grant.
func (h *Handler) revokeGrant(w http.ResponseWriter, q *request) error {
	grantee := q.FormValue("grantee")
	return h.withCollection(q, func(c *engine.Collection) error {
		if err := h.opts.DB.Revoke(q.Context(), q.meta(), c.Path, grantee); err != nil {
			return err
		}
		return h.redirect(w, q, sharingURL(collName(c.Path)), "No longer shared with "+grantee+".")
	})
}

// createLink makes a public read-only link and shows its URL once.
func (h *Handler) createLink(w http.ResponseWriter, q *request) error {
	return h.withCollection(q, func(c *engine.Collection) error {
		if c.Kind != engine.KindCalendar {
			return httpError(http.StatusBadRequest, "only calendars have public links")
		}
		token, _, err := h.opts.DB.CreateLink(q.Context(), q.meta(), c.Path, q.FormValue("freebusy") != "")
		if err != nil {
			return err
		}
		return h.showSharing(w, q, baseURL(q.Request)+"/pub/"+token+".ics")
	})
}

// revokeLink revokes a public link.
func (h *Handler) revokeLink(w http.ResponseWriter, q *request) error {
	return h.withCollection(q, func(c *engine.Collection) error {
		if err := h.opts.DB.RevokeLink(q.Context(), q.meta(), c.Path, q.FormValue("id")); err != nil {
			return err
		}
		return h.redirect(w, q, sharingURL(collName(c.Path)), "Link revoked.")
	})
}
