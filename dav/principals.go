package dav

import (
	"crypto/sha1"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/almanac/almanac/dav/internal/davxml"
	"github.com/almanac/almanac/engine"
)

// maxPrincipals bounds the principals one request lists or searches
// (PROPFIND Depth 1 on /dav/principals/ and the principal REPORTs); a
// listing that would hold more ends with a 507 response for the
// collection (RFC 5323 §5.17's DAV:number-of-matches-within-limits).
const maxPrincipals = 10000

// The principals are the users (those with an account in the log, those
// with a home: an htpasswd user has a home from their first request, and
// the users the Authenticator knows: userKnower) and the groups. Every authenticated user may read every
// principal (RFC 3744 §4: the principal collection is how clients find
// whom to share with); what principals own stays behind the privilege
// checks.

// principal is one principal: a user, or a group with its record.
type principal struct {
	name  string
	group *engine.Group
	// emails are a user's email addresses (engine.User.Emails, or a
	// directory user's: directoryEmails).
	emails []string
	// room is set on a room or resource (engine.User.Resource).
	room *engine.Resource
	// display is a directory user's display name ("": the name).
	display string
}

// findPrincipal returns principal name, or nil when there is none.
func findPrincipal(v *engine.View, name string) (*principal, error) {
	if u, err := v.User(name); err == nil {
		p := &principal{name: name, emails: u.Emails, room: u.Resource}
		if d, err := v.DirectoryUser(name); err == nil {
			p.display = d.DisplayName // an account holding a directory user's addresses
		} else if !errors.Is(err, engine.ErrNotFound) {
			return nil, fmt.Errorf("look up directory user %s: %w", name, err)
		}
		return p, nil
	} else if !errors.Is(err, engine.ErrNotFound) {
		return nil, fmt.Errorf("look up user %s: %w", name, err)
	}
	if g, err := v.Group(name); err == nil {
		return &principal{name: name, group: g}, nil
	} else if !errors.Is(err, engine.ErrNotFound) {
		return nil, fmt.Errorf("look up group %s: %w", name, err)
	}
	if d, err := v.DirectoryUser(name); err == nil {
		return directoryPrincipal(v, d)
	} else if !errors.Is(err, engine.ErrNotFound) {
		return nil, fmt.Errorf("look up directory user %s: %w", name, err)
	}
	if _, err := v.Collection(homePath(name)); err == nil {
		return &principal{name: name}, nil
	} else if !errors.Is(err, engine.ErrNotFound) {
		return nil, fmt.Errorf("look up home of %s: %w", name, err)
	}
	return nil, nil
}

// directoryPrincipal is the principal of a user an outside directory
// authenticated (engine.DirectoryUser), with the directory's display name
// and those of its addresses no account holds: a directory never claims a
// local user's address.
func directoryPrincipal(v *engine.View, d *engine.DirectoryUser) (*principal, error) {
	p := &principal{name: d.Name, display: d.DisplayName}
	for _, a := range d.Emails {
		switch _, err := v.UserByEmail(a); {
		case errors.Is(err, engine.ErrNotFound):
			p.emails = append(p.emails, a)
		case err != nil:
			return nil, fmt.Errorf("look up address %s: %w", a, err)
		}
	}
	return p, nil
}

// userKnower is an Authenticator that knows users the log has no account
// of (auth.Verifier: the users of --htpasswd). Each is a principal, and a
// grantee or delegate once given a home (sharePrincipals).
type userKnower interface {
	// Knows reports whether user can sign in without a log account.
	Knows(user string) bool
}

// knownUser reports whether the Authenticator knows user (userKnower).
func (h *Handler) knownUser(user string) bool {
	k, ok := h.auth.(userKnower)
	return ok && user != "" && k.Knows(user)
}

// principalExists reports whether name is a principal.
func principalExists(v *engine.View, name string) (bool, error) {
	p, err := findPrincipal(v, name)
	return p != nil, err
}

// listPrincipals returns every principal in name order, at most
// maxPrincipals of them; more is set when there are more.
func listPrincipals(v *engine.View) (out []principal, more bool, err error) {
	users, err := v.Users()
	if err != nil {
		return nil, false, fmt.Errorf("list users: %w", err)
	}
	dirs, err := v.DirectoryUsers()
	if err != nil {
		return nil, false, fmt.Errorf("list directory users: %w", err)
	}
	display := make(map[string]string, len(dirs))
	for _, d := range dirs {
		display[d.Name] = d.DisplayName
	}
	for _, u := range users {
		// An account holding a directory user's addresses keeps the
		// directory's display name.
		out = append(out, principal{name: u.Name, emails: u.Emails, room: u.Resource, display: display[u.Name]})
	}
	for _, d := range dirs {
		p, err := directoryPrincipal(v, d)
		if err != nil {
			return nil, false, err
		}
		out = append(out, *p)
	}
	homes, err := v.Children("/dav/home/")
	if err != nil {
		return nil, false, fmt.Errorf("list homes: %w", err)
	}
	for _, c := range homes {
		if owner := ownerOfPath(c.Path); owner != "" {
			out = append(out, principal{name: owner})
		}
	}
	groups, err := v.Groups()
	if err != nil {
		return nil, false, fmt.Errorf("list groups: %w", err)
	}
	for _, g := range groups {
		out = append(out, principal{name: g.Name, group: g})
	}
	slices.SortStableFunc(out, func(a, b principal) int { return strings.Compare(a.name, b.name) })
	out = slices.CompactFunc(out, func(a, b principal) bool { return a.name == b.name })
	if len(out) > maxPrincipals {
		return out[:maxPrincipals], true, nil
	}
	return out, false, nil
}

// principalResource returns the resource of principal name as user sees
// it, or errNotFound.
func (h *Handler) principalResource(v *engine.View, user, name string) (*resource, error) {
	p, err := findPrincipal(v, name)
	if err != nil {
		return nil, err
	}
	if p == nil && h.knownUser(name) {
		p = &principal{name: name}
	}
	if p == nil {
		return nil, errNotFound
	}
	return newPrincipalResource(user, *p), nil
}

func newPrincipalResource(user string, p principal) *resource {
	return &resource{kind: resPrincipal, path: principalPath(p.name), user: user, name: p.name, group: p.group, emails: p.emails, room: p.room, display: p.display, acc: accessRead}
}

// principalNamesList are the live properties of a principal, for PROPFIND
// propname.
var principalNamesList = []xml.Name{davxml.PropDisplayName, davxml.PropPrincipalURL, propAlternateURISet,
	davxml.PropCalendarHomeSet, davxml.PropAddressbookHomeSet, davxml.PropCalendarUserAddresses,
	propCalendarUserType, propEmailAddressSet, propGroupMembership, propGroupMemberSet, propProxyReadFor, propProxyWriteFor, propNotificationURL,
	propScheduleInboxURL, propScheduleOutboxURL}

// principalProp computes a property of a principal resource. A group has
// no home and no email address; its calendar-user-type is GROUP and its
// group-member-set lists its members (RFC 3744 §4.3); a user's
// group-membership lists its groups (§4.4).
func (h *Handler) principalProp(sc *scratch, r *resource, n xml.Name) (davxml.PropValue, bool) {
	g := r.group
	switch n {
	case davxml.PropDisplayName:
		return textProp(n, r.principal().displayName()), true
	case davxml.PropPrincipalURL:
		return prop(n, sc.principal(r.name)), true
	case propAlternateURISet:
		return prop(n, ""), true
	case propCalendarUserType:
		return textProp(n, r.principal().cuType()), true
	case propGroupMemberSet:
		if g == nil {
			return davxml.PropValue{}, false
		}
		s := ""
		for _, m := range g.Members {
			s += hrefValue(principalPath(m))
		}
		return prop(n, s), true
	case propGroupMembership:
		if g != nil {
			return prop(n, ""), true
		}
		var groups []string
		h.withView(sc, func(v *engine.View) { groups, _ = v.GroupsOf(r.name) })
		s := ""
		for _, name := range groups {
			s += hrefValue(principalPath(name))
		}
		return prop(n, s+proxyMembershipValue(h.proxyFor(sc, r))), true
	case propProxyReadFor:
		return prop(n, proxyForValue(h.proxyFor(sc, r), proxyRead)), true
	case propProxyWriteFor:
		return prop(n, proxyForValue(h.proxyFor(sc, r), proxyWrite)), true
	case davxml.PropCalendarUserAddresses:
		s := ""
		for _, a := range calendarUserAddresses(r.principal()) {
			if strings.HasPrefix(a, "/") {
				s += hrefValue(a)
			} else {
				s += "<D:href>" + davxml.EscapeString(a) + "</D:href>"
			}
		}
		return prop(n, s), true
	case propEmailAddressSet:
		s := ""
		for _, a := range r.emails {
			s += "<CS:email-address>" + davxml.EscapeString(a) + "</CS:email-address>"
		}
		return prop(n, s), true
	}
	if g != nil {
		return davxml.PropValue{}, false
	}
	if v, ok := principalScheduleProp(r.name, n); ok {
		return v, true
	}
	switch n {
	case davxml.PropCalendarHomeSet, davxml.PropAddressbookHomeSet:
		return prop(n, hrefValue(homePath(r.name))), true
	case propNotificationURL:
		if r.name != r.user {
			return davxml.PropValue{}, false
		}
		return prop(n, hrefValue(notificationsPath(r.name))), true
	}
	return davxml.PropValue{}, false
}

// principal is the principal a resPrincipal resource is.
func (r *resource) principal() principal {
	return principal{name: r.name, group: r.group, emails: r.emails, room: r.room, display: r.display}
}

// displayName is a principal's display name: a group's or a room's own,
// a directory user's from the directory, or its name.
func (p principal) displayName() string {
	switch {
	case p.display != "":
		return p.display
	case p.group != nil && p.group.DisplayName != "":
		return p.group.DisplayName
	case p.room != nil && p.room.DisplayName != "":
		return p.room.DisplayName
	}
	return p.name
}

// cuType is CALDAV:calendar-user-type (RFC 6638 §2.4.2): GROUP, ROOM,
// RESOURCE or INDIVIDUAL.
func (p principal) cuType() string {
	switch {
	case p.group != nil:
		return "GROUP"
	case p.room != nil:
		return string(p.room.Type)
	}
	return "INDIVIDUAL"
}

// calendarUserAddresses is the CALDAV:calendar-user-address-set of p
// (RFC 6638 §2.4.1): a mailto: URI per email address (the first is the
// one clients put in ORGANIZER), then urn:uuid:<principalUUID>, then the
// principal URL (a path).
func calendarUserAddresses(p principal) []string {
	out := make([]string, 0, len(p.emails)+2)
	for _, e := range p.emails {
		out = append(out, "mailto:"+e)
	}
	return append(out, "urn:uuid:"+principalUUID(p.name), principalPath(p.name))
}

// principalUUID is the stable id of principal name in its urn:uuid:
// calendar user address: a name-based UUID (RFC 9562 §5.5, version 5)
// of the name, the same on every server and after every rebuild (and for
// a later principal of the same name).
func principalUUID(name string) string {
	h := sha1.Sum([]byte("almanac principal\x00" + name))
	h[6] = h[6]&0x0f | 0x50
	h[8] = h[8]&0x3f | 0x80
	x := hex.EncodeToString(h[:16])
	return x[0:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:32]
}

// principalOfUUID returns the principal whose principalUUID is id (any
// case), "" when none is; it tests the listed principals (at most
// maxPrincipals).
func principalOfUUID(v *engine.View, id string) (string, error) {
	id = strings.ToLower(id)
	ps, _, err := listPrincipals(v)
	if err != nil {
		return "", err
	}
	for _, p := range ps {
		if principalUUID(p.name) == id {
			return p.name, nil
		}
	}
	return "", nil
}
