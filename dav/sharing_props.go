package dav

import (
	"encoding/xml"
	"net/http"

	"github.com/almanac/almanac/dav/internal/davxml"
	"github.com/almanac/almanac/dav/share"
	"github.com/almanac/almanac/engine"
)

// Properties of the sharing protocols: draft-pot-webdav-resource-sharing
// §4 (DAV:share-access, DAV:invite) and CalendarServer's caldav-sharing
// (CS:invite, CS:shared-url).
var (
	propShareAccess = davxml.D("share-access")
	propInvite      = davxml.D("invite")
	propCSInvite    = xml.Name{Space: davxml.NSCS, Local: "invite"}
	propCSSharedURL = xml.Name{Space: davxml.NSCS, Local: "shared-url"}
	propCSAllowed   = xml.Name{Space: davxml.NSCS, Local: "allowed-sharing-modes"}
	// propCSPublishURL is the URL of a published calendar (CalendarServer's
	// publishing, see postPublish); absolute in a PROPFIND's answer.
	propCSPublishURL = xml.Name{Space: davxml.NSCS, Local: "publish-url"}
)

// sharingNames are the sharing properties a shareable collection reports
// for PROPFIND propname.
var sharingNames = []xml.Name{propShareAccess, propInvite, propCSInvite, propCSAllowed}

// withView calls fn with sc's view, or a view of its own when sc has none;
// ok is false when no view could be opened.
func (h *Handler) withView(sc *scratch, fn func(v *engine.View)) bool {
	v := sc.view
	if v == nil {
		var err error
		if v, err = h.db.View(); err != nil {
			return false
		}
		defer v.Close()
	}
	fn(v)
	return true
}

// grantsOf returns the grants of the owner's collection c, nil when there
// are none or they cannot be read.
func (h *Handler) grantsOf(sc *scratch, c *engine.Collection) []*engine.Grant {
	var gs []*engine.Grant
	h.withView(sc, func(v *engine.View) { gs, _ = v.Grants(c.Path) })
	return gs
}

// shareable reports whether r is a collection that can be shared: one
// directly in its owner's home, not the home.
func shareable(r *resource) bool {
	if r.kind != resCollection || r.coll.Kind == engine.KindHome || r.coll.Kind == engine.KindInbox || r.coll.Kind == engine.KindOutbox {
		return false
	}
	segs := splitCollPath(r.coll.Path)
	return len(segs) == 3 && segs[0] == "home"
}

// sharingMarker returns what the resourcetype of r adds for sharing: the
// sharee's DAV:shared and CS:shared, or the owner's DAV:shared-owner and
// CS:shared-owner once the collection has a grant.
func (h *Handler) sharingMarker(sc *scratch, r *resource) string {
	switch {
	case r.share != nil && r.kind == resCollection:
		return "<D:shared/><CS:shared/>"
	case shareable(r) && r.acc == accessOwner && len(h.grantsOf(sc, r.coll)) > 0:
		return "<D:shared-owner/><CS:shared-owner/>"
	}
	return ""
}

// sharingProp computes a sharing property of a collection; ok is false
// for other names or resources.
func (h *Handler) sharingProp(sc *scratch, r *resource, n xml.Name) (davxml.PropValue, bool) {
	if r.kind != resCollection || (!shareable(r) && r.share == nil) {
		return davxml.PropValue{}, false
	}
	switch n {
	case propShareAccess:
		return prop(n, davxml.Empty(shareAccessOf(h, sc, r))), true
	case propCSAllowed:
		if r.share == nil && r.acc >= accessOwner && r.coll.Kind == engine.KindCalendar {
			return prop(n, "<CS:can-be-shared/><CS:can-be-published/>"), true
		}
		return prop(n, "<CS:can-be-shared/>"), true
	case propCSPublishURL:
		return h.publishURL(sc, r)
	case propCSSharedURL:
		if r.share == nil {
			return davxml.PropValue{}, false
		}
		return prop(n, hrefValue(r.share.Collection.Path)), true
	case propInvite, propCSInvite:
		if r.share == nil && r.acc < accessOwner {
			return davxml.PropValue{Name: n, Status: http.StatusForbidden}, true
		}
		c := r.coll
		if r.share != nil {
			c = r.share.Collection
		}
		var invitees []share.Invitee
		h.withView(sc, func(v *engine.View) { invitees = inviteesOf(v, c) })
		if n == propInvite {
			return prop(n, share.DAVInvite(invitees)), true
		}
		return prop(n, share.CSInvite(share.Invitee{Href: davxml.Href(principalPath(c.Owner)), CommonName: c.Owner}, invitees)), true
	}
	return davxml.PropValue{}, false
}

// shareAccessOf is DAV:share-access (draft-pot §4.4.1) of r.
func shareAccessOf(h *Handler, sc *scratch, r *resource) xml.Name {
	switch {
	case r.share != nil && r.acc >= accessWrite:
		return davxml.D("read-write")
	case r.share != nil:
		return davxml.D("read")
	case len(h.grantsOf(sc, r.coll)) > 0:
		return davxml.D("shared-owner")
	}
	return davxml.D("not-shared")
}

// inviteesOf lists the grantees of collection c as invitations: a user
// grantee's reply is theirs; a group's counts as accepted when its grant
// mounts at once, as no response otherwise.
func inviteesOf(v *engine.View, c *engine.Collection) []share.Invitee {
	gs, err := v.Grants(c.Path)
	if err != nil {
		return nil
	}
	out := make([]share.Invitee, 0, len(gs))
	for _, g := range gs {
		in := share.Invitee{Href: davxml.Href(principalPath(g.Grantee)), CommonName: g.Grantee, Access: share.AccessRead}
		if g.Access >= engine.AccessReadWrite {
			in.Access = share.AccessReadWrite
		}
		if g.AutoAccept {
			in.Status = share.StatusAccepted
		}
		if sh, err := v.ShareOf(g.Grantee, c.Path); err == nil {
			switch sh.Reply {
			case engine.ReplyAccepted:
				in.Status = share.StatusAccepted
			case engine.ReplyDeclined:
				in.Status = share.StatusDeclined
			default:
				in.Status = share.StatusNoResponse
			}
		}
		out = append(out, in)
	}
	return out
}

// grantACEs returns the ACEs of the grants on r's collection (on an object
// inherited from it), for DAV:acl.
func (h *Handler) grantACEs(sc *scratch, r *resource) string {
	c := r.coll
	if r.share != nil {
		c = r.share.Collection
	}
	inherited := ""
	if r.kind == resObject {
		inherited = c.Path
	}
	s := ""
	for _, g := range h.grantsOf(sc, c) {
		var privs string
		switch {
		case g.Access >= engine.AccessReadWrite:
			privs = privilegeSet(privRead, privWrite)
		case g.Access == engine.AccessFreeBusy:
			privs = freeBusyPrivileges
		default:
			privs = privilegeSet(privRead)
		}
		s += ace(principalPath(g.Grantee), privs, false, inherited)
	}
	return s
}

// publishURL is CS:publish-url of r: the URL of its published link, to its
// owner only; ok is false when r has none (or the user is not the owner).
func (h *Handler) publishURL(sc *scratch, r *resource) (davxml.PropValue, bool) {
	if r.share != nil || r.acc < accessOwner {
		return davxml.PropValue{}, false
	}
	var l *engine.Link
	h.withView(sc, func(v *engine.View) { l, _ = v.Published(r.coll.Path) })
	if l == nil {
		return davxml.PropValue{}, false
	}
	return prop(propCSPublishURL, "<D:href>"+davxml.EscapeString(sc.origin+davxml.Href(linkPath(r.coll, l.Token)))+"</D:href>"), true
}
