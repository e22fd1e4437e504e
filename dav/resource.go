package dav

import (
	"errors"
	"fmt"

	"github.com/almanac/almanac/dav/internal/davxml"
	"github.com/almanac/almanac/engine"
)

// resKind is the type of a resource.
type resKind int

const (
	resRoot          resKind = iota // /dav/
	resPrincipals                   // /dav/principals/
	resPrincipal                    // /dav/principals/U/
	resCollection                   // an engine collection (home, plain, calendar, address book)
	resObject                       // an engine object
	resNotifications                // /dav/notifications/U/ (notifications.go)
	resNotification                 // an invitation in it
)

// resource is something a request addresses, as one View sees it.
type resource struct {
	kind resKind
	// path is the unescaped URL path; collections end with "/".
	path string
	// user is the authenticated user.
	user string
	// name is the principal a resPrincipal is (a user or a group);
	// group is set for a group.
	name  string
	group *engine.Group
	// emails are a user principal's email addresses.
	emails []string
	// room is set on a room or resource principal.
	room *engine.Resource
	// display is a directory user principal's display name.
	display string
	// proxy is set on name's proxy sub-principal: proxyRead or proxyWrite.
	proxy string
	// acc is what user may do with the resource (privileges.go).
	acc access
	// share is set on a collection shared with user, seen through their
	// mount.
	share *engine.Share
	// coll is the collection itself, or for an object its parent.
	coll *engine.Collection
	obj  *engine.Object
}

// href returns the escaped path for DAV:href.
func (r *resource) href() string { return davxml.Href(r.path) }

// collectionResource returns the resource of collection c.
func collectionResource(user string, c *engine.Collection) *resource {
	return &resource{kind: resCollection, path: c.Path, user: user, coll: c, acc: accessOwner}
}

// objectResource returns the resource of object o in collection c.
func objectResource(user string, c *engine.Collection, o *engine.Object) *resource {
	return &resource{kind: resObject, path: c.Path + o.Name, user: user, coll: c, obj: o, acc: accessOwner}
}

// lookup resolves the request's target in v. A target under a home that
// names neither a collection nor an object gives ErrNotFound; a target
// with a trailing slash is never an object.
func (h *Handler) lookup(v *engine.View, st *reqState) (*resource, error) {
	t := st.tgt
	switch t.kind {
	case targetRoot:
		return &resource{kind: resRoot, path: "/dav/", user: st.user, acc: accessRead}, nil
	case targetPrincipals:
		return &resource{kind: resPrincipals, path: "/dav/principals/", user: st.user, acc: accessRead}, nil
	case targetNotifications:
		return h.notificationResource(v, st)
	case targetPrincipal:
		if len(t.segs) == 3 {
			return h.proxyResource(v, st.user, t.segs[1], t.segs[2])
		}
		return h.principalResource(v, st.user, t.segs[1])
	}
	c, err := v.Collection(t.collPath())
	if err == nil {
		res := collectionResource(st.user, c)
		res.acc = st.acc
		if st.mountRoot && st.share != nil {
			res.coll, res.share = mountView(st.share), st.share
		}
		return res, nil
	}
	if !errors.Is(err, engine.ErrNotFound) || t.isHome() || t.slash {
		return nil, err
	}
	parent, name := t.parent()
	pc, err := v.Collection(parent)
	if err != nil {
		return nil, err
	}
	o, err := v.Object(parent, name, false)
	if err != nil {
		return nil, err
	}
	res := objectResource(st.user, pc, o)
	res.acc = st.acc
	return res, nil
}

// lookupNow resolves the request's target in a view of its own, for the
// methods that write: the engine checks again as it writes.
func (h *Handler) lookupNow(st *reqState) (*resource, error) {
	v, err := h.db.View()
	if err != nil {
		return nil, fmt.Errorf("open view: %w", err)
	}
	defer v.Close()
	return h.lookup(v, st)
}

// lookupHref resolves an href of a request body (multiget, expand-property)
// for user, through the privilege resolution (within the scope of app, the
// request's app password, when set): errNotFound for anything the user
// cannot read.
func (h *Handler) lookupHref(v *engine.View, user string, app *engine.AppPassword, href string) (*resource, error) {
	p, err := hrefPath(href)
	if err != nil {
		return nil, err
	}
	t, err := parseTarget(p, user)
	if err != nil {
		return nil, err
	}
	st := &reqState{user: user, tgt: t, app: app}
	if err := h.resolveIn(v, st); err != nil {
		return nil, err
	}
	if t.kind == targetHome && !st.acc.has(privRead) {
		return nil, errNotFound
	}
	res, err := h.lookup(v, st)
	if err == nil && st.mountTo != "" {
		res.path = st.urlPath(res.path)
	}
	return res, err
}

// mountView returns the collection a sharee sees at their mount: the
// owner's, with the sharee's own display name, color, order and dead
// properties (default alarms) where they set them.
func mountView(sh *engine.Share) *engine.Collection {
	c := *sh.Collection
	c.Props = c.Props.Clone()
	if sh.Props.DisplayName != "" {
		c.Props.DisplayName = sh.Props.DisplayName
	}
	if sh.Props.Color != "" {
		c.Props.Color = sh.Props.Color
	}
	if sh.Props.Order != "" {
		c.Props.Order = sh.Props.Order
	}
	for k, v := range sh.Props.Dead {
		if c.Props.Dead == nil {
			c.Props.Dead = map[string]string{}
		}
		c.Props.Dead[k] = v
	}
	return &c
}
