package web

import (
	"net/http"
	"slices"
	"strings"

	"github.com/almanac/almanac/dav/audit"
	"github.com/almanac/almanac/engine"
)

// sourceActors are the actors of groups another source owns (dav/auth's
// HtgroupActor, serve's LDAP group sync): that source rewrites them at its
// next sync, so the page shows them read-only.
var sourceActors = []string{"htgroup", "ldap"}

// groupView is a group on the groups page.
type groupView struct {
	engine.Group
	// Source is "htgroup" or "ldap" for a group another source owns.
	Source string
}

// manageGroups lists the groups.
func (h *Handler) manageGroups(w http.ResponseWriter, q *request) error {
	v, err := h.opts.DB.View()
	if err != nil {
		return err
	}
	gs, err := v.Groups()
	v.Close()
	if err != nil {
		return err
	}
	var d []groupView
	for _, g := range gs {
		gv := groupView{Group: *g}
		if slices.Contains(sourceActors, g.SetBy) {
			gv.Source = g.SetBy
		}
		d = append(d, gv)
	}
	return h.show(w, q, "groups", "Groups", "manage", d)
}

// manageGroup creates a group, adds or removes members, or deletes one,
// through the admin API's sharing operations; a group another source owns
// is refused (409).
func (h *Handler) manageGroup(w http.ResponseWriter, q *request) error {
	name := strings.TrimSpace(q.FormValue("name"))
	req := audit.ShareRequest{Name: name, Members: strings.Fields(q.FormValue("members"))}
	switch q.FormValue("do") {
	case "create":
		req.Op, req.DisplayName = audit.OpGroupAdd, strings.TrimSpace(q.FormValue("displayname"))
	case "add":
		req.Op = audit.OpGroupMemberAdd
	case "remove":
		req.Op = audit.OpGroupMemberRemove
	case "delete":
		req.Op = audit.OpGroupDelete
	default:
		return httpError(http.StatusBadRequest, "unknown group action %q", q.FormValue("do"))
	}
	if req.Op != audit.OpGroupAdd {
		v, err := h.opts.DB.View()
		if err != nil {
			return err
		}
		g, err := v.Group(name)
		v.Close()
		if err != nil {
			return err
		}
		if slices.Contains(sourceActors, g.SetBy) {
			return httpError(http.StatusConflict, "group %s comes from %s: change it there", name, g.SetBy)
		}
	}
	l := h.local(q)
	if _, err := l.Share(q.Context(), req); err != nil {
		return err
	}
	if req.Op == audit.OpGroupAdd && len(req.Members) > 0 {
		req.Op = audit.OpGroupMemberAdd
		if _, err := l.Share(q.Context(), req); err != nil {
			return err
		}
	}
	return h.redirect(w, q, "/manage/groups", "Changed group "+name+".")
}
