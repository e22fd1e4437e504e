package dav

import (
	"encoding/xml"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/almanac/almanac/dav/internal/davxml"
	"github.com/almanac/almanac/engine"
)

// CalendarServer notifications (caldav-sharing §5.3): each user's
// principal names a notification collection, /dav/notifications/U/
// (CS:notification-URL), which holds one CS:invite-notification resource
// per share waiting for U's answer (with --share-auto-accept=false). U
// answers with CS:invite-reply POSTed to their home (post.go); DELETE of
// a notification still waiting declines the share. Only U reaches the
// collection; it is derived from the shares, never stored.

var (
	propNotificationURL  = xml.Name{Space: davxml.NSCS, Local: "notification-URL"}
	propNotificationType = xml.Name{Space: davxml.NSCS, Local: "notificationtype"}
)

// notificationsPath is the path of user's notification collection.
func notificationsPath(user string) string { return "/dav/notifications/" + user + "/" }

// notificationName is the member name of the invitation to c.
func notificationName(c *engine.Collection) string { return inviteUID(c) + ".xml" }

// pendingShares returns the shares waiting for user's answer.
func pendingShares(v *engine.View, user string) ([]*engine.Share, error) {
	all, err := v.Shares(user)
	if err != nil {
		return nil, fmt.Errorf("list the shares of %s: %w", user, err)
	}
	var out []*engine.Share
	for _, sh := range all {
		if sh.Reply == engine.ReplyPending && sh.Collection != nil && sh.Access > engine.AccessNone {
			out = append(out, sh)
		}
	}
	return out, nil
}

// notificationResource resolves a target under /dav/notifications/.
func (h *Handler) notificationResource(v *engine.View, st *reqState) (*resource, error) {
	t := st.tgt
	if len(t.segs) < 2 || t.segs[1] != st.user {
		return nil, errNotFound
	}
	if len(t.segs) == 2 {
		return &resource{kind: resNotifications, path: notificationsPath(st.user), user: st.user, acc: accessOwner}, nil
	}
	pending, err := pendingShares(v, st.user)
	if err != nil {
		return nil, err
	}
	for _, sh := range pending {
		if notificationName(sh.Collection) == t.segs[2] && !t.slash {
			return &resource{kind: resNotification, path: notificationsPath(st.user) + t.segs[2], user: st.user, share: sh, acc: accessOwner}, nil
		}
	}
	return nil, errNotFound
}

// notificationNames are the live properties of a notification, for
// PROPFIND propname.
var notificationNames = []xml.Name{davxml.PropGetETag, davxml.PropGetContentType, propNotificationType}

// notificationProp computes a property of the notification collection or
// of a notification.
func notificationProp(r *resource, n xml.Name) (davxml.PropValue, bool) {
	if r.kind == resNotifications {
		return davxml.PropValue{}, false
	}
	switch n {
	case davxml.PropGetETag:
		return textProp(n, notificationETag(r.share)), true
	case davxml.PropGetContentType:
		return textProp(n, "text/xml; charset=utf-8"), true
	case propNotificationType:
		return prop(n, `<CS:invite-notification shared-type="`+sharedType(r.share.Collection)+`"/>`), true
	}
	return davxml.PropValue{}, false
}

// notificationETag changes whenever the share does.
func notificationETag(sh *engine.Share) string {
	return `"n` + strconv.FormatUint(uint64(sh.Seq), 10) + `"`
}

// sharedType is CalendarServer's shared-type of a collection.
func sharedType(c *engine.Collection) string {
	if c.Kind == engine.KindAddressBook {
		return "addressbook"
	}
	return "calendar"
}

// notificationBody is the CS:notification document of the invitation sh
// to user.
func notificationBody(user string, sh *engine.Share) string {
	c := sh.Collection
	acc := "read"
	if sh.Access >= engine.AccessReadWrite {
		acc = "read-write"
	}
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="utf-8"?>` + "\n")
	b.WriteString(`<CS:notification xmlns:D="DAV:" xmlns:CS="` + davxml.NSCS + `">`)
	b.WriteString("<CS:dtstamp>" + c.Modified.UTC().Format("20060102T150405Z") + "</CS:dtstamp>")
	b.WriteString(`<CS:invite-notification shared-type="` + sharedType(c) + `">`)
	b.WriteString("<CS:uid>" + inviteUID(c) + "</CS:uid>")
	b.WriteString("<D:href>urn:uuid:" + principalUUID(user) + "</D:href>")
	b.WriteString("<CS:invite-noresponse/>")
	b.WriteString("<CS:access><CS:" + acc + "/></CS:access>")
	b.WriteString("<CS:hosturl>" + hrefValue(c.Path) + "</CS:hosturl>")
	b.WriteString("<CS:organizer>" + hrefValue(principalPath(c.Owner)) + "<CS:common-name>" + davxml.EscapeString(c.Owner) + "</CS:common-name></CS:organizer>")
	if c.Props.DisplayName != "" {
		b.WriteString("<CS:summary>" + davxml.EscapeString(c.Props.DisplayName) + "</CS:summary>")
	}
	b.WriteString("</CS:invite-notification></CS:notification>\n")
	return b.String()
}

// getNotification answers GET of a notification.
func (h *Handler) getNotification(w http.ResponseWriter, r *http.Request, res *resource) error {
	body := notificationBody(res.user, res.share)
	hdr := w.Header()
	hdr.Set("ETag", notificationETag(res.share))
	hdr.Set("Content-Type", "text/xml; charset=utf-8")
	hdr.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		if _, err := w.Write([]byte(body)); err != nil {
			return fmt.Errorf("write body: %w", err)
		}
	}
	return nil
}

// deleteNotification answers DELETE of a notification: the share it
// announces is declined.
func (h *Handler) deleteNotification(w http.ResponseWriter, r *http.Request) error {
	st := state(r)
	res, err := h.lookupNow(st)
	if err != nil {
		return err
	}
	if res.kind != resNotification {
		return httpErrorf(http.StatusForbidden, "the notification collection cannot be deleted")
	}
	if err := h.db.ReplyShare(r.Context(), st.meta, st.user, res.share.Collection.Path, false, ""); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// propfindNotifications writes the responses of the notifications in
// user's notification collection.
func (h *Handler) propfindNotifications(v *engine.View, res *resource, pr propRequest, ms *davxml.Multistatus) error {
	pending, err := pendingShares(v, res.user)
	if err != nil {
		return err
	}
	for _, sh := range pending {
		m := &resource{kind: resNotification, path: res.path + notificationName(sh.Collection), user: res.user, share: sh, acc: accessOwner}
		if err := ms.Response(m.href(), h.valuesFor(m, pr)); err != nil {
			return err
		}
	}
	return nil
}
