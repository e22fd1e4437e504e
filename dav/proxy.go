package dav

import (
	"encoding/xml"
	"fmt"
	"net/http"
	"slices"

	"github.com/almanac/almanac/dav/internal/davxml"
	"github.com/almanac/almanac/engine"
)

// Delegation, as Apple's CalendarServer has it (caldav-proxy): each user
// U has two group principals, /dav/principals/U/calendar-proxy-read/ and
// /dav/principals/U/calendar-proxy-write/, whose DAV:group-member-set are
// U's read and read-write delegates. U sets them with PROPPATCH (what
// macOS Calendar's delegation pane does); each change is a proxy event in
// the log (engine.DB.SetProxy). A delegate's principal names the
// delegators in CS:calendar-proxy-read-for and -write-for, and its
// group-membership the proxy groups; the delegate then reaches U's whole
// home at U's own URLs with read or read-write access.

// Names of the proxy sub-principals, and the access each gives.
const (
	proxyRead  = "calendar-proxy-read"
	proxyWrite = "calendar-proxy-write"
)

var (
	propProxyReadFor  = xml.Name{Space: davxml.NSCS, Local: "calendar-proxy-read-for"}
	propProxyWriteFor = xml.Name{Space: davxml.NSCS, Local: "calendar-proxy-write-for"}
)

// proxyAccessOf is the access the proxy sub-principal named kind gives.
func proxyAccessOf(kind string) engine.Access {
	if kind == proxyWrite {
		return engine.AccessReadWrite
	}
	return engine.AccessRead
}

// proxyKindOf is the proxy sub-principal of an access.
func proxyKindOf(a engine.Access) string {
	if a >= engine.AccessReadWrite {
		return proxyWrite
	}
	return proxyRead
}

// proxyPrincipalPath is the path of user's proxy sub-principal kind.
func proxyPrincipalPath(user, kind string) string { return principalPath(user) + kind + "/" }

// proxyResource returns user's view of the proxy sub-principal kind of
// the user delegator, or errNotFound.
func (h *Handler) proxyResource(v *engine.View, user, delegator, kind string) (*resource, error) {
	if kind != proxyRead && kind != proxyWrite {
		return nil, errNotFound
	}
	p, err := findPrincipal(v, delegator)
	if err != nil {
		return nil, err
	}
	if p == nil || p.group != nil {
		return nil, errNotFound
	}
	return newProxyResource(user, delegator, kind), nil
}

func newProxyResource(user, delegator, kind string) *resource {
	acc := accessRead
	if user == delegator {
		acc = accessWrite // the delegator sets its members
	}
	return &resource{kind: resPrincipal, path: proxyPrincipalPath(delegator, kind), user: user, name: delegator, proxy: kind, acc: acc}
}

// proxyNamesList are the properties of a proxy sub-principal, for
// PROPFIND propname.
var proxyNamesList = []xml.Name{davxml.PropDisplayName, davxml.PropPrincipalURL, propAlternateURISet, propGroupMemberSet, propGroupMembership}

// proxyProp computes a property of a proxy sub-principal.
func (h *Handler) proxyProp(sc *scratch, r *resource, n xml.Name) (davxml.PropValue, bool) {
	switch n {
	case davxml.PropDisplayName:
		return textProp(n, r.name+" ("+r.proxy+")"), true
	case davxml.PropPrincipalURL:
		return prop(n, hrefValue(r.path)), true
	case propAlternateURISet, propGroupMembership:
		return prop(n, ""), true
	case propGroupMemberSet:
		var ps []*engine.Proxy
		h.withView(sc, func(v *engine.View) { ps, _ = v.Proxies(r.name) })
		s := ""
		for _, p := range ps {
			if proxyKindOf(p.Access) == r.proxy {
				s += hrefValue(principalPath(p.Delegate))
			}
		}
		return prop(n, s), true
	}
	return davxml.PropValue{}, false
}

// proxyForProp computes CS:calendar-proxy-read-for and -write-for of the
// principal r, and the proxy groups its group-membership adds.
func (h *Handler) proxyFor(sc *scratch, r *resource) []*engine.Proxy {
	var ps []*engine.Proxy
	h.withView(sc, func(v *engine.View) { ps, _ = v.ProxyFor(r.name) })
	return ps
}

// proxyForValue is the value of calendar-proxy-read-for (kind proxyRead)
// or -write-for of the delegations ps.
func proxyForValue(ps []*engine.Proxy, kind string) string {
	s := ""
	for _, p := range ps {
		if proxyKindOf(p.Access) == kind {
			s += hrefValue(principalPath(p.Delegator))
		}
	}
	return s
}

// proxyMembershipValue is what delegations ps add to group-membership:
// the proxy sub-principals the principal is a member of.
func proxyMembershipValue(ps []*engine.Proxy) string {
	s := ""
	for _, p := range ps {
		s += hrefValue(proxyPrincipalPath(p.Delegator, proxyKindOf(p.Access)))
	}
	return s
}

// proppatchProxy applies a delegator's PROPPATCH of DAV:group-member-set
// on their proxy sub-principal: the listed principals become the
// delegates of its kind, the ones no longer listed stop being. Any other
// property is protected.
func (h *Handler) proppatchProxy(r *http.Request, res *resource, pu davxml.PropertyUpdate) ([]davxml.PropValue, error) {
	st := state(r)
	if st.user != res.name {
		return nil, errNeedPrivileges(res.path, privWriteProps)
	}
	var members []string
	set := false
	var out []davxml.PropValue
	failed := false
	for _, op := range pu.Ops {
		for _, e := range op.Prop.Props {
			if e.XMLName != propGroupMemberSet {
				out = append(out, davxml.PropValue{Name: e.XMLName, Status: http.StatusForbidden, Error: davxml.Empty(davxml.D("cannot-modify-protected-property"))})
				failed = true
				continue
			}
			set = true
			members = nil
			if op.XMLName == davxml.D("set") {
				for _, c := range e.Children {
					if c.XMLName == davxml.D("href") {
						members = append(members, c.Text)
					}
				}
			}
			out = append(out, davxml.PropValue{Name: e.XMLName})
		}
	}
	if failed || !set {
		for i := range out {
			if out[i].Status == 0 {
				out[i].Status = http.StatusFailedDependency
			}
		}
		return out, nil
	}
	if len(members) > engine.MaxProxies {
		return nil, httpErrorf(http.StatusForbidden, "%d delegates exceed the limit of %d", len(members), engine.MaxProxies)
	}
	v, err := h.db.View()
	if err != nil {
		return nil, fmt.Errorf("open view: %w", err)
	}
	want := make([]string, 0, len(members))
	for _, href := range members {
		name, err := h.principalOfHref(v, href)
		if err != nil {
			v.Close()
			return nil, err
		}
		if name == "" {
			v.Close()
			e := precondition(http.StatusForbidden, davxml.D("recognized-principal"), "%s names no user or group of this server", href)
			e.Href = href
			return nil, e
		}
		want = append(want, name)
	}
	current, err := v.Proxies(res.name)
	v.Close()
	if err != nil {
		return nil, err
	}
	acc := proxyAccessOf(res.proxy)
	for _, p := range current {
		if proxyKindOf(p.Access) == res.proxy && !slices.Contains(want, p.Delegate) {
			if err := h.db.SetProxy(r.Context(), st.meta, res.name, p.Delegate, engine.AccessNone); err != nil {
				return nil, err
			}
		}
	}
	for _, d := range want {
		i := slices.IndexFunc(current, func(p *engine.Proxy) bool { return p.Delegate == d })
		if i >= 0 && current[i].Access == acc {
			continue
		}
		if err := h.db.SetProxy(r.Context(), st.meta, res.name, d, acc); err != nil {
			return nil, err
		}
	}
	return out, nil
}
