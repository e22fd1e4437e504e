package dav

import (
	"encoding/xml"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/almanac/almanac/dav/internal/davxml"
	"github.com/almanac/almanac/engine"
)

// Bounds of a principal search: the DAV:property-search elements or
// search tokens of one request, and the length of each match string.
const (
	maxSearchTerms  = 16
	maxSearchLength = 256
)

// searchable are the properties principal-property-search tests (RFC 3744
// §9.5 lists them in principal-search-property-set), with the description
// that report gives each.
var searchable = []struct {
	name xml.Name
	desc string
}{
	{davxml.PropDisplayName, "Display name"},
	{davxml.PropCalendarUserAddresses, "Calendar user address"},
	{propEmailAddressSet, "Email address"},
	{propCalendarUserType, "Calendar user type"},
}

// searchValues returns the values of principal p that a search on
// property n tests; none for a property that is not searchable.
func searchValues(p principal, n xml.Name) []string {
	switch n {
	case davxml.PropDisplayName:
		if p.display != "" {
			return []string{p.display, p.name}
		}
		return []string{p.displayName()}
	case davxml.PropCalendarUserAddresses:
		return calendarUserAddresses(p)
	case propEmailAddressSet:
		return p.emails
	case propCalendarUserType:
		return []string{p.cuType()}
	}
	return nil
}

// matchValue reports whether one of vals matches m, caselessly: contains
// (RFC 3744 §9.4's substring match), or CalendarServer's starts-with,
// ends-with or equals.
func matchValue(vals []string, m davxml.Match) bool {
	want := strings.ToLower(strings.TrimSpace(m.Value))
	for _, v := range vals {
		v = strings.ToLower(v)
		var ok bool
		switch m.Type {
		case "starts-with":
			ok = strings.HasPrefix(v, want)
		case "ends-with":
			ok = strings.HasSuffix(v, want)
		case "equals":
			ok = v == want
		default:
			ok = strings.Contains(v, want)
		}
		if ok {
			return true
		}
	}
	return false
}

// requireDepth0 refuses a REPORT that RFC 3744 §9 defines only at Depth 0.
func requireDepth0(rq *reportRequest, report string) error {
	if rq.Depth != 0 {
		return httpErrorf(http.StatusBadRequest, "%s needs Depth: 0 (RFC 3744 §9)", report)
	}
	return nil
}

// searchesPrincipals reports whether a search REPORT on res looks at the
// principals: on the principal collection, or anywhere with
// DAV:apply-to-principal-collection-set.
func searchesPrincipals(res *resource, applyToSet bool) bool {
	return applyToSet || res.kind == resPrincipals
}

// principalPropertySearch answers DAV:principal-property-search (RFC 3744
// §9.4).
func (h *Handler) principalPropertySearch(w http.ResponseWriter, r *http.Request, rq *reportRequest) error {
	if err := requireDepth0(rq, "principal-property-search"); err != nil {
		return err
	}
	var q davxml.PrincipalPropertySearch
	if err := decodeXML(rq.Body, &q); err != nil {
		return err
	}
	if len(q.Searches) == 0 {
		return httpErrorf(http.StatusBadRequest, "DAV:principal-property-search needs a DAV:property-search")
	}
	if len(q.Searches) > maxSearchTerms {
		return httpErrorf(http.StatusBadRequest, "%d DAV:property-search elements exceed the limit of %d", len(q.Searches), maxSearchTerms)
	}
	for _, s := range q.Searches {
		if len(s.Match.Value) > maxSearchLength {
			return httpErrorf(http.StatusBadRequest, "a DAV:match of %d bytes exceeds the limit of %d", len(s.Match.Value), maxSearchLength)
		}
	}
	anyOf := q.Test == "anyof"
	match := func(p principal) bool {
		for _, s := range q.Searches {
			ok := false
			for _, n := range davxml.Names(s.Prop.Props) {
				if matchValue(searchValues(p, n), s.Match) {
					ok = true
					break
				}
			}
			if ok == anyOf {
				return anyOf
			}
		}
		return !anyOf
	}
	pr := propRequestOf(nil, nil, q.Prop)
	if !searchesPrincipals(rq.Res, q.ApplyToSet != nil) {
		match = func(principal) bool { return false }
	}
	return h.writePrincipals(w, r, rq, pr, match, maxPrincipals)
}

// writePrincipals writes a multistatus of the principals match accepts,
// at most limit of them, then a 507 for the Request-URI when more match
// (RFC 5323 §5.17 as RFC 6578 §3.6 uses it).
func (h *Handler) writePrincipals(w http.ResponseWriter, r *http.Request, rq *reportRequest, pr propRequest, match func(principal) bool, limit int) error {
	all, more, err := listPrincipals(rq.View)
	if err != nil {
		return err
	}
	ms, end := startMultistatus(w, r)
	n := 0
	for _, p := range all {
		if !match(p) {
			continue
		}
		if n == limit {
			more = true
			break
		}
		n++
		m := newPrincipalResource(rq.User, p)
		if err := ms.Response(m.href(), h.valuesFor(m, pr)); err != nil {
			return err
		}
	}
	if more {
		if err := ms.StatusResponse(rq.Res.href(), http.StatusInsufficientStorage); err != nil {
			return err
		}
	}
	return end()
}

// principalSearchPropertySet answers DAV:principal-search-property-set
// (RFC 3744 §9.5): the properties principal-property-search tests.
func (h *Handler) principalSearchPropertySet(w http.ResponseWriter, r *http.Request, rq *reportRequest) error {
	if err := requireDepth0(rq, "principal-search-property-set"); err != nil {
		return err
	}
	if rq.Res.kind != resPrincipals {
		return httpErrorf(http.StatusForbidden, "principal-search-property-set applies to the principal collection /dav/principals/")
	}
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="utf-8"?>` + "\n" + `<D:principal-search-property-set xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav" xmlns:CS="http://calendarserver.org/ns/">`)
	for _, s := range searchable {
		b.WriteString("<D:principal-search-property><D:prop>" + davxml.Empty(s.name) + `</D:prop><D:description xml:lang="en">` +
			davxml.EscapeString(s.desc) + "</D:description></D:principal-search-property>")
	}
	b.WriteString("</D:principal-search-property-set>\n")
	out, closeBody := responseBody(w, r, http.StatusOK, "application/xml; charset=utf-8")
	if _, err := out.Write([]byte(b.String())); err != nil {
		return err
	}
	return closeBody()
}

// principalMatch answers DAV:principal-match (RFC 3744 §9.3). With
// DAV:self it lists the principals under the Request-URI that are the
// user; with DAV:principal-property the resources under it (the
// Request-URI and its members at any depth, as far as the user can read
// them and at most maxPrincipals) whose property names the user.
func (h *Handler) principalMatch(w http.ResponseWriter, r *http.Request, rq *reportRequest) error {
	if err := requireDepth0(rq, "principal-match"); err != nil {
		return err
	}
	var q davxml.PrincipalMatch
	if err := decodeXML(rq.Body, &q); err != nil {
		return err
	}
	if (q.Self == nil) == (q.PrincipalProperty == nil) {
		return httpErrorf(http.StatusBadRequest, "DAV:principal-match takes one of DAV:self and DAV:principal-property")
	}
	pr := propRequestOf(nil, nil, q.Prop)
	self := principalPath(rq.User)
	if q.Self != nil {
		// The user's principal, and the groups the user is a member of
		// (RFC 3744 §9.3).
		isSelf := func(p principal) bool {
			return p.name == rq.User || (p.group != nil && slices.Contains(p.group.Members, rq.User))
		}
		switch rq.Res.kind {
		case resPrincipals:
			return h.writePrincipals(w, r, rq, pr, isSelf, maxPrincipals)
		case resPrincipal:
			return h.writePrincipals(w, r, rq, pr, func(p principal) bool { return isSelf(p) && p.name == rq.Res.name }, 1)
		}
		_, end := startMultistatus(w, r)
		return end()
	}
	names := davxml.Names(q.PrincipalProperty.Props)
	if len(names) != 1 {
		return httpErrorf(http.StatusBadRequest, "DAV:principal-property names one property")
	}
	pp := names[0]
	namesUser := func(res *resource) bool {
		v := h.props(res, []xml.Name{pp})[0]
		for _, m := range hrefRE.FindAllStringSubmatch(v.Inner, -1) {
			if xmlUnescape(m[1]) == davxml.Href(self) {
				return true
			}
		}
		return false
	}
	ms, end := startMultistatus(w, r)
	n := 0
	err := h.walk(rq.View, rq.Res, func(res *resource) error {
		if !namesUser(res) {
			return nil
		}
		if n == maxPrincipals {
			return errWalkLimit
		}
		n++
		return ms.Response(res.href(), h.valuesFor(res, pr))
	})
	if err == errWalkLimit {
		err = ms.StatusResponse(rq.Res.href(), http.StatusInsufficientStorage)
	}
	if err != nil {
		return err
	}
	return end()
}

// errWalkLimit stops a walk that reached its bound.
var errWalkLimit = httpErrorf(http.StatusInsufficientStorage, "too many resources")

// walk calls fn for res and every resource below it that the user can
// read: the principals under /dav/principals/, the collections and
// objects under a collection.
func (h *Handler) walk(v *engine.View, res *resource, fn func(*resource) error) error {
	if res.acc < accessRead {
		return nil
	}
	if err := fn(res); err != nil {
		return err
	}
	switch res.kind {
	case resPrincipals:
		all, _, err := listPrincipals(v)
		if err != nil {
			return err
		}
		for _, p := range all {
			if err := fn(newPrincipalResource(res.user, p)); err != nil {
				return err
			}
		}
		return nil
	case resCollection:
	default:
		return nil
	}
	for o, err := range v.Objects(res.coll.Path, engine.ListOptions{}) {
		if err != nil {
			return err
		}
		if err := fn(&resource{kind: resObject, path: res.coll.Path + o.Name, user: res.user, coll: res.coll, obj: o, acc: res.acc}); err != nil {
			return err
		}
	}
	children, err := v.Children(res.coll.Path)
	if err != nil {
		return err
	}
	for _, c := range children {
		m := collectionResource(res.user, c)
		m.acc = res.acc
		if err := h.walk(v, m, fn); err != nil {
			return err
		}
	}
	return nil
}

// aclPrincipalPropSet answers DAV:acl-principal-prop-set (RFC 3744 §9.2):
// the properties of the principals the Request-URI's ACL names. It needs
// DAV:read-acl.
func (h *Handler) aclPrincipalPropSet(w http.ResponseWriter, r *http.Request, rq *reportRequest) error {
	if err := requireDepth0(rq, "acl-principal-prop-set"); err != nil {
		return err
	}
	var q davxml.ACLPrincipalPropSet
	if err := decodeXML(rq.Body, &q); err != nil {
		return err
	}
	if !rq.Res.acc.has(privReadACL) {
		return errNeedPrivileges(rq.Res.path, privReadACL)
	}
	pr := propRequestOf(nil, nil, q.Prop)
	names := []string{resourceOwner(rq.Res)}
	if rq.Res.kind == resCollection || rq.Res.kind == resObject {
		gs, err := rq.View.Grants(rq.Res.coll.Path)
		if err != nil {
			return err
		}
		for _, g := range gs {
			names = append(names, g.Grantee)
		}
	}
	ms, end := startMultistatus(w, r)
	for _, name := range names {
		p, err := findPrincipal(rq.View, name)
		if err != nil {
			return err
		}
		if p == nil {
			continue
		}
		m := newPrincipalResource(rq.User, *p)
		if err := ms.Response(m.href(), h.valuesFor(m, pr)); err != nil {
			return err
		}
	}
	return end()
}

// csPrincipalSearch answers CalendarServer's
// calendarserver-principal-property-search, which Apple's clients send to
// look up attendees and sharees: the principals matching every search
// token in their name, display name or addresses; context "user" finds
// people, "group" groups, "location" rooms, "resource" resources,
// "attendee" (or none) all of them. CS:limit/CS:nresults caps the answer.
func (h *Handler) csPrincipalSearch(w http.ResponseWriter, r *http.Request, rq *reportRequest) error {
	var q davxml.CSPrincipalSearch
	if err := decodeXML(rq.Body, &q); err != nil {
		return err
	}
	if len(q.Tokens) > maxSearchTerms {
		return httpErrorf(http.StatusBadRequest, "%d search tokens exceed the limit of %d", len(q.Tokens), maxSearchTerms)
	}
	tokens := make([]davxml.Match, 0, len(q.Tokens))
	for _, t := range q.Tokens {
		if len(t) > maxSearchLength {
			return httpErrorf(http.StatusBadRequest, "a search token of %d bytes exceeds the limit of %d", len(t), maxSearchLength)
		}
		if t = strings.TrimSpace(t); t != "" {
			tokens = append(tokens, davxml.Match{Value: t})
		}
	}
	limit := maxPrincipals
	if q.Limit != nil {
		n, err := strconv.Atoi(strings.TrimSpace(q.Limit.NResults))
		if err != nil || n < 1 {
			return httpErrorf(http.StatusBadRequest, "CS:nresults %q is not a positive number", q.Limit.NResults)
		}
		limit = min(n, maxPrincipals)
	}
	// CalendarServer's contexts by the calendar-user-type they find.
	contexts := map[string]string{"user": "INDIVIDUAL", "group": "GROUP", "location": "ROOM", "resource": "RESOURCE"}
	match := func(p principal) bool {
		if len(tokens) == 0 {
			return false
		}
		if want, ok := contexts[q.Context]; (ok && p.cuType() != want) || (!ok && q.Context != "" && q.Context != "attendee") {
			return false
		}
		vals := []string{p.name}
		for _, s := range searchable {
			vals = append(vals, searchValues(p, s.name)...)
		}
		for _, t := range tokens {
			if !matchValue(vals, t) {
				return false
			}
		}
		return true
	}
	return h.writePrincipals(w, r, rq, propRequestOf(nil, nil, q.Prop), match, limit)
}
