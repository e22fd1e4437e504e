package dav

import (
	"encoding/xml"
	"fmt"
	"net/http"
	"strings"

	"github.com/almanac/almanac/dav/internal/davxml"
	"github.com/almanac/almanac/engine"
)

// propRequest is what a DAV:propfind (or the property part of a REPORT)
// asks for: all properties, only names, or a list.
type propRequest struct {
	allProp  bool
	propName bool
	names    []xml.Name
	// elems are the requested property elements with their content (the
	// CALDAV:calendar-data sub-elements of a REPORT).
	elems   []davxml.Elem
	include []xml.Name
	// sc is the request's scratch memory, shared by the copies of the
	// propRequest; nil makes every response allocate its own.
	sc *scratch
}

// withScratch returns pr with scratch memory of its own.
func (pr propRequest) withScratch() propRequest {
	pr.sc = &scratch{}
	return pr
}

// valuesFor returns the properties of r that pr asks for. They are valid
// until the next call with pr.
func (h *Handler) valuesFor(r *resource, pr propRequest) []davxml.PropValue {
	sc := pr.sc
	if sc == nil {
		sc = &scratch{}
	}
	sc.reset()
	switch {
	case pr.propName:
		sc.vals = h.propNames(sc.vals, r)
	case pr.allProp:
		sc.vals = h.allProps(sc.vals, sc, r, pr.include)
	default:
		sc.vals = h.appendProps(sc.vals, sc, r, pr.names)
	}
	return sc.vals
}

// parsePropfind reads the PROPFIND body; an empty body means allprop (RFC
// 4918 §9.1).
func (h *Handler) parsePropfind(w http.ResponseWriter, r *http.Request) (propRequest, error) {
	root, body, err := h.readXML(w, r)
	if err != nil || body == nil {
		return propRequest{allProp: true}.withScratch(), err
	}
	if root != davxml.D("propfind") {
		return propRequest{}, httpErrorf(http.StatusBadRequest, "the body of PROPFIND must be DAV:propfind, not {%s}%s", root.Space, root.Local)
	}
	var pf davxml.Propfind
	if err := decodeXML(body, &pf); err != nil {
		return propRequest{}, err
	}
	asked := 0
	for _, set := range []bool{pf.PropName != nil, pf.Prop != nil, pf.AllProp != nil} {
		if set {
			asked++
		}
	}
	if asked > 1 {
		return propRequest{}, httpErrorf(http.StatusBadRequest, "DAV:propfind takes one of DAV:prop, DAV:allprop and DAV:propname (RFC 4918 §14.20)")
	}
	if pf.Include != nil && pf.AllProp == nil {
		return propRequest{}, httpErrorf(http.StatusBadRequest, "DAV:include goes with DAV:allprop only (RFC 4918 §14.8)")
	}
	switch {
	case pf.PropName != nil:
		return propRequest{propName: true}.withScratch(), nil
	case pf.Prop != nil:
		return propRequest{names: davxml.Names(pf.Prop.Props), elems: pf.Prop.Props}.withScratch(), nil
	case pf.AllProp != nil:
		pr := propRequest{allProp: true}
		if pf.Include != nil {
			pr.include = davxml.Names(pf.Include.Props)
		}
		return pr.withScratch(), nil
	}
	return propRequest{}, httpErrorf(http.StatusBadRequest, "DAV:propfind needs DAV:prop, DAV:allprop or DAV:propname")
}

// depth parses the Depth header (RFC 4918 §10.2); def is its value when
// absent. It returns 0, 1, or -1 for infinity.
func depth(r *http.Request, def int) (int, error) {
	switch strings.ToLower(strings.TrimSpace(r.Header.Get("Depth"))) {
	case "":
		return def, nil
	case "0":
		return 0, nil
	case "1":
		return 1, nil
	case "infinity":
		return -1, nil
	}
	return 0, httpErrorf(http.StatusBadRequest, "malformed Depth header %q", r.Header.Get("Depth"))
}

// propfind answers PROPFIND (RFC 4918 §9.1) at Depth 0 or 1, streaming
// one response per member from the engine's iterators.
//
// Depth: infinity gets 403 DAV:propfind-finite-depth. A request without a
// Depth header means infinity (§10.2), and so gets the same 403 on a
// collection; on an object, which has no members, it is answered as Depth
// 0, because some clients (Evolution and Thunderbird versions among them)
// leave the header out when they ask about a single resource.
func (h *Handler) propfind(w http.ResponseWriter, r *http.Request) error {
	d, err := depth(r, -1)
	if err != nil {
		return err
	}
	absent := strings.TrimSpace(r.Header.Get("Depth")) == ""
	if d < 0 && !absent {
		return errPropfindFiniteDepth()
	}
	pr, err := h.parsePropfind(w, r)
	if err != nil {
		return err
	}
	if pr.sc != nil {
		pr.sc.origin = origin(r)
	}
	v, err := h.db.View()
	if err != nil {
		return fmt.Errorf("open view: %w", err)
	}
	defer v.Close()
	st := state(r)
	res, err := h.lookup(v, st)
	if err != nil {
		return err
	}
	if d < 0 {
		if res.kind != resObject {
			return errPropfindFiniteDepth()
		}
		d = 0
	}
	pr.sc.view, pr.sc.app = v, st.app
	ms, end := startMultistatus(w, r)
	if err := ms.Response(res.href(), h.valuesFor(res, pr)); err != nil {
		return err
	}
	if d == 1 {
		if err := h.propfindMembers(v, res, pr, ms); err != nil {
			return err
		}
	}
	return end()
}

// propfindMembers writes the responses of res's members.
func (h *Handler) propfindMembers(v *engine.View, res *resource, pr propRequest, ms *davxml.Multistatus) error {
	switch res.kind {
	case resObject:
		return nil
	case resRoot:
		for _, m := range []*resource{
			{kind: resPrincipals, path: "/dav/principals/", user: res.user, acc: accessRead},
		} {
			if err := ms.Response(m.href(), h.valuesFor(m, pr)); err != nil {
				return err
			}
		}
		if home, err := v.Collection(homePath(res.user)); err == nil {
			m := collectionResource(res.user, home)
			return ms.Response(m.href(), h.valuesFor(m, pr))
		}
		return nil
	case resPrincipals:
		return h.propfindPrincipals(v, res, pr, ms)
	case resNotifications:
		return h.propfindNotifications(v, res, pr, ms)
	case resNotification:
		return nil
	case resPrincipal:
		if res.proxy != "" || res.group != nil {
			return nil
		}
		for _, kind := range []string{proxyRead, proxyWrite} {
			m := newProxyResource(res.user, res.name, kind)
			if err := ms.Response(m.href(), h.valuesFor(m, pr)); err != nil {
				return err
			}
		}
		return nil
	}
	children, err := v.Children(res.coll.Path)
	if err != nil {
		return fmt.Errorf("list collections in %s: %w", res.coll.Path, err)
	}
	for _, c := range children {
		if pr.sc != nil && !inScope(pr.sc.app, c.Path) {
			continue
		}
		m := collectionResource(res.user, c)
		m.acc = res.acc
		if err := ms.Response(m.href(), h.valuesFor(m, pr)); err != nil {
			return err
		}
	}
	if res.coll.Kind == engine.KindHome && res.coll.Owner == res.user && (pr.sc == nil || inScope(pr.sc.app, "")) {
		if err := h.propfindMounts(v, res, pr, ms); err != nil {
			return err
		}
	}
	if pr.sc == nil {
		pr = pr.withScratch()
	}
	m := &pr.sc.res
	var plan []memberProp
	for o, err := range v.ObjectsTransient(res.coll.Path) {
		if err != nil {
			return fmt.Errorf("list objects in %s: %w", res.coll.Path, err)
		}
		// The member's href is written from the collection path and the
		// name: m.path stays empty, saving a string per member.
		*m = resource{kind: resObject, user: res.user, coll: res.coll, obj: o, acc: res.acc}
		if plan == nil {
			plan = h.memberPlan(m, pr)
		}
		if err := ms.ResponsePath(res.coll.Path, o.Name, h.memberValues(m, pr, plan)); err != nil {
			return err
		}
	}
	return nil
}

// propfindPrincipals writes the responses of every principal, the members
// of /dav/principals/ (res), and a 507 for res when there are more than
// maxPrincipals.
func (h *Handler) propfindPrincipals(v *engine.View, res *resource, pr propRequest, ms *davxml.Multistatus) error {
	all, more, err := listPrincipals(v)
	if err != nil {
		return err
	}
	for _, p := range all {
		m := newPrincipalResource(res.user, p)
		if err := ms.Response(m.href(), h.valuesFor(m, pr)); err != nil {
			return err
		}
	}
	if more {
		return ms.StatusResponse(res.href(), http.StatusInsufficientStorage)
	}
	return nil
}

// mountResource is the collection resource of user's mount sh: the
// owner's collection as the user sees it, at the mount's path.
func mountResource(user string, sh *engine.Share) *resource {
	return &resource{kind: resCollection, path: sh.MountPath, user: user, coll: mountView(sh), acc: accessOf(sh.Access), share: sh}
}

// propfindMounts writes the responses of the shares mounted in res, the
// user's home: each the owner's collection as the user sees it, at the
// mount's path.
func (h *Handler) propfindMounts(v *engine.View, res *resource, pr propRequest, ms *davxml.Multistatus) error {
	mounts, err := v.Mounts(res.user)
	if err != nil {
		return fmt.Errorf("list the shares in %s: %w", res.coll.Path, err)
	}
	for _, sh := range mounts {
		if sh.Collection == nil || sh.MountPath == "" || sh.Access == engine.AccessNone {
			continue
		}
		m := mountResource(res.user, sh)
		if err := ms.Response(m.href(), h.valuesFor(m, pr)); err != nil {
			return err
		}
	}
	return nil
}
