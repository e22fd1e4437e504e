package dav

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/almanac/almanac/dav/internal/davxml"
	davpush "github.com/almanac/almanac/dav/push"
	"github.com/almanac/almanac/dav/share"
	"github.com/almanac/almanac/engine"
)

// post answers POST, which carries the sharing requests: DAV:share-resource
// (draft-pot-webdav-resource-sharing §5.3.2) and CS:share (caldav-sharing)
// to a collection the user owns, CS:invite-reply to the user's own home.
func (h *Handler) post(w http.ResponseWriter, r *http.Request) error {
	st := state(r)
	if st.tgt.kind != targetHome {
		return httpErrorf(http.StatusMethodNotAllowed, "POST is answered on collections only")
	}
	if r.URL.Query().Has("share-link") {
		return h.postShareLink(w, r)
	}
	if coll, err := h.db.CollectionSummary(st.tgt.collPath()); err == nil && coll.Kind == engine.KindOutbox {
		v, err := h.db.View()
		if err != nil {
			return fmt.Errorf("open view: %w", err)
		}
		res, err := h.lookup(v, st)
		v.Close()
		if err != nil {
			return err
		}
		return h.postOutbox(w, r, res)
	}
	root, body, err := h.readXML(w, r)
	if err != nil {
		return err
	}
	switch root {
	case share.RootShareResource, share.RootCSShare:
		return h.postShare(w, r, root, body)
	case share.RootInviteReply:
		return h.postInviteReply(w, r, body)
	case rootPublish, rootUnpublish:
		return h.postPublish(w, r, root == rootPublish)
	case davpush.RootRegister:
		return h.postPushRegister(w, r, body)
	}
	if body == nil {
		return httpErrorf(http.StatusBadRequest, "POST needs a sharing request body")
	}
	return httpErrorf(http.StatusBadRequest, "POST of {%s}%s is not supported", root.Space, root.Local)
}

// postShare grants and revokes the sharees of a sharing request on the
// target collection. Only its owner may; every sharee must name a
// principal (403 DAV:recognized-principal, RFC 3744 §8.1.1, before
// anything changes). Each grant and revocation is one event in the log.
func (h *Handler) postShare(w http.ResponseWriter, r *http.Request, root xml.Name, body []byte) error {
	st := state(r)
	sharees, err := share.ParseRequest(root, body)
	if errors.Is(err, share.ErrMalformed) {
		return httpErrorf(http.StatusBadRequest, "%s", strings.TrimPrefix(err.Error(), "share: "))
	}
	if err != nil {
		return errMalformedXML(err)
	}
	v, err := h.db.View()
	if err != nil {
		return fmt.Errorf("open view: %w", err)
	}
	res, err := h.lookup(v, st)
	if err != nil {
		v.Close()
		return err
	}
	if res.acc < accessOwner {
		v.Close()
		return st.need(privWriteACL)
	}
	if !shareable(res) {
		v.Close()
		return httpErrorf(http.StatusForbidden, "only a calendar, address book or collection directly in your home can be shared")
	}
	names := make([]string, len(sharees))
	for i, s := range sharees {
		names[i], err = h.principalOfHref(v, s.Href)
		if err != nil {
			v.Close()
			return err
		}
		if names[i] == "" {
			v.Close()
			e := precondition(http.StatusForbidden, davxml.D("recognized-principal"), "%s names no user or group of this server", s.Href)
			e.Href = s.Href
			return e
		}
	}
	v.Close()
	if err := h.sharePrincipals(r.Context(), st.meta, names); err != nil {
		return err
	}
	for i, s := range sharees {
		if s.Access == share.AccessNone {
			err := h.db.Revoke(r.Context(), st.meta, res.coll.Path, names[i])
			if err != nil && !errors.Is(err, engine.ErrNotFound) {
				return err
			}
			continue
		}
		acc := engine.AccessRead
		if s.Access == share.AccessReadWrite {
			acc = engine.AccessReadWrite
		}
		opts := engine.GrantOptions{AutoAccept: !h.invitations, Summary: s.Comment}
		if err := h.db.Grant(r.Context(), st.meta, res.coll.Path, names[i], acc, opts); err != nil {
			return err
		}
	}
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusOK)
	return nil
}

// principalOfHref returns the principal an href of a sharing request
// names: a principal URL (/dav/principals/U/, also as an absolute URL), a
// user's mailto: address (also U@localhost, the address Almanac gave
// every user before users had email addresses), urn:uuid:<principal's
// id>, or a bare principal name; "" when it names none. A user the
// Authenticator knows without a log account (an --htpasswd user) is one
// too: the caller gives them a home (sharePrincipals) before granting.
func (h *Handler) principalOfHref(v *engine.View, href string) (string, error) {
	href = strings.TrimSpace(href)
	var name string
	switch {
	case strings.HasPrefix(strings.ToLower(href), "mailto:"):
		switch user, err := v.UserByEmail(href); {
		case err == nil:
			return user, nil
		case !errors.Is(err, engine.ErrNotFound):
			return "", fmt.Errorf("look up %s: %w", href, err)
		}
		user, host, ok := strings.Cut(href[len("mailto:"):], "@")
		if !ok || !strings.EqualFold(host, "localhost") {
			return "", nil
		}
		name = user
	case strings.HasPrefix(strings.ToLower(href), "urn:uuid:"):
		return principalOfUUID(v, href[len("urn:uuid:"):])
	case strings.Contains(href, "/"):
		u, err := url.Parse(href)
		if err != nil {
			return "", nil
		}
		segs, _, err := splitPath(u.EscapedPath())
		if err != nil || len(segs) != 3 || segs[0] != "dav" || segs[1] != "principals" {
			return "", nil
		}
		name = segs[2]
	default:
		name = href
	}
	ok, err := principalExists(v, name)
	if err != nil || !ok && !h.knownUser(name) {
		return "", err
	}
	return name, nil
}

// sharePrincipals makes the users among names that the Authenticator
// knows without a home (an --htpasswd user who never signed in) homes, as
// their first request would, so that the engine knows them as principals:
// a grant or a delegation needs one. The homes are events of m's actor.
func (h *Handler) sharePrincipals(ctx context.Context, m engine.Meta, names []string) error {
	for _, n := range names {
		if !h.knownUser(n) {
			continue
		}
		m := m
		m.Reason = "home of " + n + ", for a share"
		if err := h.ensureHome(ctx, n, m); err != nil {
			return fmt.Errorf("home of %s: %w", n, err)
		}
	}
	return nil
}

// postInviteReply answers a sharee's CS:invite-reply, POSTed to their
// home: accepting mounts the share there (the answer's CS:shared-as names
// the mount), declining removes it. The invitation is found by
// CS:hosturl (the owner's collection) or CS:in-reply-to (the uid of its
// notification).
func (h *Handler) postInviteReply(w http.ResponseWriter, r *http.Request, body []byte) error {
	st := state(r)
	if !st.tgt.isHome() || st.acc < accessOwner {
		return httpErrorf(http.StatusForbidden, "CS:invite-reply is POSTed to your own home")
	}
	reply, err := share.ParseReply(body)
	if errors.Is(err, share.ErrMalformed) {
		return httpErrorf(http.StatusBadRequest, "%s", strings.TrimPrefix(err.Error(), "share: "))
	}
	if err != nil {
		return errMalformedXML(err)
	}
	sh, err := h.findInvitation(st.user, reply)
	if err != nil {
		return err
	}
	if err := h.db.ReplyShare(r.Context(), st.meta, st.user, sh.Collection.Path, reply.Accept, ""); err != nil {
		return err
	}
	if !reply.Accept {
		w.Header().Set("Content-Length", "0")
		w.WriteHeader(http.StatusOK)
		return nil
	}
	v, err := h.db.View()
	if err != nil {
		return fmt.Errorf("open view: %w", err)
	}
	defer v.Close()
	now, err := v.ShareOf(st.user, sh.Collection.Path)
	if err != nil {
		return err
	}
	out, closeBody := responseBody(w, r, http.StatusOK, "application/xml; charset=utf-8")
	fmt.Fprintf(out, `<?xml version="1.0" encoding="utf-8"?>`+"\n"+`<CS:shared-as xmlns:D="DAV:" xmlns:CS="%s">%s</CS:shared-as>`+"\n",
		davxml.NSCS, hrefValue(now.MountPath))
	return closeBody()
}

// findInvitation returns what is shared with user that reply answers.
func (h *Handler) findInvitation(user string, reply *share.Reply) (*engine.Share, error) {
	v, err := h.db.View()
	if err != nil {
		return nil, fmt.Errorf("open view: %w", err)
	}
	defer v.Close()
	shares, err := v.Shares(user)
	if err != nil {
		return nil, fmt.Errorf("list the shares of %s: %w", user, err)
	}
	host := ""
	if reply.HostURL != "" {
		if p, err := hrefPath(reply.HostURL); err == nil {
			if segs, _, err := splitPath(p); err == nil {
				host = collPathOf(segs)
			}
		}
	}
	for _, sh := range shares {
		if sh.Collection == nil {
			continue
		}
		if (host != "" && sh.Collection.Path == host) || (reply.InReplyTo != "" && reply.InReplyTo == inviteUID(sh.Collection)) {
			return sh, nil
		}
	}
	return nil, httpErrorf(http.StatusForbidden, "no invitation matches this reply")
}

// inviteUID is the CS:uid of the invitation to collection c, the same for
// every sharee.
func inviteUID(c *engine.Collection) string { return fmt.Sprintf("share-%d", c.ID) }
