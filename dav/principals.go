package dav

import (
	"encoding/xml"
	"errors"
	"fmt"
	"slices"

	"github.com/almanac/almanac/dav/internal/davxml"
	"github.com/almanac/almanac/engine"
)

// maxPrincipals bounds the principals one request lists or searches
// (PROPFIND Depth 1 on /dav/principals/ and the principal REPORTs); a
// listing that would hold more ends with a 507 response for the
// collection (RFC 5323 §5.17's DAV:number-of-matches-within-limits).
const maxPrincipals = 10000

// The principals are the users: those with an account in the log and
// those with a home (an htpasswd user has a home from their first
// request). Every authenticated user may read every principal (RFC 3744
// §4: the principal collection is how clients find whom to share with);
// what principals own stays behind the privilege checks.

// principalExists reports whether name is a principal.
func principalExists(v *engine.View, name string) (bool, error) {
	if _, err := v.User(name); err == nil {
		return true, nil
	} else if !errors.Is(err, engine.ErrNotFound) {
		return false, fmt.Errorf("look up user %s: %w", name, err)
	}
	if _, err := v.Collection(homePath(name)); err == nil {
		return true, nil
	} else if !errors.Is(err, engine.ErrNotFound) {
		return false, fmt.Errorf("look up home of %s: %w", name, err)
	}
	return false, nil
}

// principalNames returns every principal's name in order, at most
// maxPrincipals of them; more is set when there are more.
func principalNames(v *engine.View) (names []string, more bool, err error) {
	users, err := v.Users()
	if err != nil {
		return nil, false, fmt.Errorf("list users: %w", err)
	}
	for _, u := range users {
		names = append(names, u.Name)
	}
	homes, err := v.Children("/dav/home/")
	if err != nil {
		return nil, false, fmt.Errorf("list homes: %w", err)
	}
	for _, c := range homes {
		if owner := ownerOfPath(c.Path); owner != "" {
			names = append(names, owner)
		}
	}
	slices.Sort(names)
	names = slices.Compact(names)
	if len(names) > maxPrincipals {
		return names[:maxPrincipals], true, nil
	}
	return names, false, nil
}

// principalResource returns the resource of principal name as user sees
// it, or errNotFound.
func (h *Handler) principalResource(v *engine.View, user, name string) (*resource, error) {
	ok, err := principalExists(v, name)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, errNotFound
	}
	return newPrincipalResource(user, name), nil
}

func newPrincipalResource(user, name string) *resource {
	return &resource{kind: resPrincipal, path: principalPath(name), user: user, name: name, acc: accessRead}
}

// principalNamesList are the live properties of a principal, for PROPFIND
// propname.
var principalNamesList = []xml.Name{davxml.PropDisplayName, davxml.PropPrincipalURL, propAlternateURISet,
	davxml.PropCalendarHomeSet, davxml.PropAddressbookHomeSet, davxml.PropCalendarUserAddresses,
	propCalendarUserType, propEmailAddressSet, propGroupMembership}

// principalProp computes a property of a principal resource.
func principalProp(sc *scratch, r *resource, n xml.Name) (davxml.PropValue, bool) {
	switch n {
	case davxml.PropDisplayName:
		return textProp(n, r.name), true
	case davxml.PropPrincipalURL:
		return prop(n, sc.principal(r.name)), true
	case propAlternateURISet:
		return prop(n, ""), true
	case davxml.PropCalendarHomeSet, davxml.PropAddressbookHomeSet:
		return prop(n, hrefValue(homePath(r.name))), true
	case davxml.PropCalendarUserAddresses:
		return prop(n, "<D:href>"+davxml.EscapeString(mailtoOf(r.name))+"</D:href>"+hrefValue(principalPath(r.name))), true
	case propCalendarUserType:
		return textProp(n, "INDIVIDUAL"), true
	case propEmailAddressSet:
		return prop(n, "<CS:email-address>"+davxml.EscapeString(emailOf(r.name))+"</CS:email-address>"), true
	case propGroupMembership:
		return prop(n, ""), true
	}
	return davxml.PropValue{}, false
}

// emailOf is the address of a user's calendar-user-address-set.
func emailOf(user string) string { return user + "@localhost" }

// mailtoOf is emailOf as a mailto: URI.
func mailtoOf(user string) string { return "mailto:" + emailOf(user) }
