package dav

import (
	"encoding/xml"
	"net/http"
	"strings"

	"github.com/almanac/almanac/dav/internal/davxml"
	"github.com/almanac/almanac/engine"
)

// access is what the authenticated user may do with a resource, from
// least to most: the levels of the engine's privilege resolution, which
// this file maps to the privileges of RFC 3744 §3 and RFC 4791 §6.1.1.
type access int8

const (
	accessNone     access = iota // nothing: the resource answers 404
	accessFreeBusy               // CALDAV:read-free-busy only
	accessRead                   // DAV:read (with read-free-busy and read-current-user-privilege-set)
	accessWrite                  // DAV:read and DAV:write (write-content, write-properties, bind, unbind)
	accessOwner                  // DAV:all
)

// Privilege names of RFC 3744 §3 and RFC 4791 §6.1.1.
var (
	privRead         = davxml.D("read")
	privWrite        = davxml.D("write")
	privWriteProps   = davxml.D("write-properties")
	privWriteContent = davxml.D("write-content")
	privBind         = davxml.D("bind")
	privUnbind       = davxml.D("unbind")
	privReadACL      = davxml.D("read-acl")
	privReadCUPS     = davxml.D("read-current-user-privilege-set")
	privWriteACL     = davxml.D("write-acl")
	privAll          = davxml.D("all")
	privReadFreeBusy = davxml.C("read-free-busy")

	// RFC 6638 §6: delivering into a schedule inbox, sending from a
	// schedule outbox.
	privScheduleDeliver       = davxml.C("schedule-deliver")
	privScheduleDeliverInvite = davxml.C("schedule-deliver-invite")
	privScheduleDeliverReply  = davxml.C("schedule-deliver-reply")
	privScheduleQueryFreeBusy = davxml.C("schedule-query-freebusy")
	privScheduleSend          = davxml.C("schedule-send")
	privScheduleSendInvite    = davxml.C("schedule-send-invite")
	privScheduleSendReply     = davxml.C("schedule-send-reply")
	privScheduleSendFreeBusy  = davxml.C("schedule-send-freebusy")
)

// Properties of RFC 3744 §4 and §5 beyond those in davxml's list, and of
// RFC 6638 §2.4.2 (calendar-user-type).
var (
	propACL                 = davxml.D("acl")
	propACLRestrictions     = davxml.D("acl-restrictions")
	propSupportedPrivileges = davxml.D("supported-privilege-set")
	propInheritedACLSet     = davxml.D("inherited-acl-set")
	propAlternateURISet     = davxml.D("alternate-URI-set")
	propGroupMembership     = davxml.D("group-membership")
	propGroupMemberSet      = davxml.D("group-member-set")
	propCalendarUserType    = davxml.C("calendar-user-type")
	propEmailAddressSet     = xml.Name{Space: davxml.NSCS, Local: "email-address-set"}
)

// has reports whether level a holds privilege p.
func (a access) has(p xml.Name) bool {
	switch p {
	case privReadFreeBusy:
		return a >= accessFreeBusy
	case privRead, privReadCUPS:
		return a >= accessRead
	case privWrite, privWriteProps, privWriteContent, privBind, privUnbind:
		return a >= accessWrite
	case privScheduleDeliver, privScheduleDeliverInvite, privScheduleDeliverReply, privScheduleQueryFreeBusy:
		// Every user may deliver to every user's inbox (sched.Scheduler's
		// MayDeliver decides for deliveries): whoever sees the inbox.
		return a >= accessFreeBusy
	case privScheduleSend, privScheduleSendInvite, privScheduleSendReply, privScheduleSendFreeBusy:
		return a >= accessWrite // the owner and their write delegates
	}
	return a >= accessOwner // all, read-acl, write-acl and anything else
}

// Privilege sets of each access level, written once: the values of
// DAV:current-user-privilege-set (RFC 3744 §5.4). The owner's DAV:all
// aggregates every privilege of the supported-privilege-set. DAV:write-acl
// is not among them: the ACL method is refused (acl.go).
var (
	freeBusyPrivileges = privilegeSet(privReadFreeBusy)
	readPrivileges     = privilegeSet(privRead, privReadCUPS, privReadFreeBusy)
	writePrivileges    = privilegeSet(privRead, privReadCUPS, privReadFreeBusy,
		privWrite, privWriteProps, privWriteContent, privBind, privUnbind)
	ownerPrivileges = privilegeSet(privAll, privRead, privReadCUPS, privReadFreeBusy,
		privWrite, privWriteProps, privWriteContent, privBind, privUnbind, privReadACL)
)

func privilegeSet(privs ...xml.Name) string {
	var b strings.Builder
	for _, p := range privs {
		b.WriteString("<D:privilege>" + davxml.Empty(p) + "</D:privilege>")
	}
	return b.String()
}

// Privileges of the scheduling collections (RFC 6638 §6.1): on the
// inbox, on the outbox.
var (
	deliverPrivileges = privilegeSet(privScheduleDeliver, privScheduleDeliverInvite, privScheduleDeliverReply, privScheduleQueryFreeBusy)
	sendPrivileges    = privilegeSet(privScheduleSend, privScheduleSendInvite, privScheduleSendReply, privScheduleSendFreeBusy)
)

// privileges is DAV:current-user-privilege-set (RFC 3744 §5.4) of r: the
// privileges of its access level, and on a schedule inbox or outbox
// those of RFC 6638 §6.1 the level holds.
func privileges(r *resource) string {
	s := levelPrivileges(r)
	if r.kind == resCollection {
		switch {
		case r.coll.Kind == engine.KindInbox && r.acc.has(privScheduleDeliver):
			s += deliverPrivileges
		case r.coll.Kind == engine.KindOutbox && r.acc.has(privScheduleSend):
			s += sendPrivileges
		}
	}
	return s
}

// levelPrivileges is the privilege set of r's access level.
func levelPrivileges(r *resource) string {
	switch r.acc {
	case accessOwner:
		return ownerPrivileges
	case accessWrite:
		return writePrivileges
	case accessRead:
		return readPrivileges
	case accessFreeBusy:
		return freeBusyPrivileges
	}
	return ""
}

// supportedPrivileges is DAV:supported-privilege-set (RFC 3744 §5.3): the
// privileges Almanac knows, as the tree of their aggregation. DAV:all and
// DAV:write are not abstract: a grant is of read or of read and write.
var supportedPrivileges = supportedPrivilege(privAll, "Any operation", commonSupportedPrivileges...)

// inboxSupportedPrivileges and outboxSupportedPrivileges add the
// privileges of RFC 6638 §6.1 under DAV:all.
var (
	inboxSupportedPrivileges = supportedPrivilege(privAll, "Any operation", append(commonSupportedPrivileges[:len(commonSupportedPrivileges):len(commonSupportedPrivileges)],
		supportedPrivilege(privScheduleDeliver, "Deliver scheduling messages to this inbox",
			supportedPrivilege(privScheduleDeliverInvite, "Deliver invitations"),
			supportedPrivilege(privScheduleDeliverReply, "Deliver replies"),
			supportedPrivilege(privScheduleQueryFreeBusy, "Look up the owner's free-busy time")))...)
	outboxSupportedPrivileges = supportedPrivilege(privAll, "Any operation", append(commonSupportedPrivileges[:len(commonSupportedPrivileges):len(commonSupportedPrivileges)],
		supportedPrivilege(privScheduleSend, "Send scheduling messages as the owner",
			supportedPrivilege(privScheduleSendInvite, "Send invitations"),
			supportedPrivilege(privScheduleSendReply, "Send replies"),
			supportedPrivilege(privScheduleSendFreeBusy, "Look up free-busy time")))...)
)

// supportedPrivilegesOf is DAV:supported-privilege-set of r.
func supportedPrivilegesOf(r *resource) string {
	if r.kind == resCollection {
		switch r.coll.Kind {
		case engine.KindInbox:
			return inboxSupportedPrivileges
		case engine.KindOutbox:
			return outboxSupportedPrivileges
		}
	}
	return supportedPrivileges
}

// commonSupportedPrivileges are the children of DAV:all on every resource.
var commonSupportedPrivileges = []string{
	supportedPrivilege(privRead, "Read any object or property",
		supportedPrivilege(privReadFreeBusy, "Read free-busy time")),
	supportedPrivilege(privWrite, "Write any object or property",
		supportedPrivilege(privWriteProps, "Write properties"),
		supportedPrivilege(privWriteContent, "Write resource content"),
		supportedPrivilege(privBind, "Add a member to a collection"),
		supportedPrivilege(privUnbind, "Remove a member from a collection")),
	supportedPrivilege(privReadACL, "Read the access control list"),
	supportedPrivilege(privReadCUPS, "Read the current user's privileges"),
}

func supportedPrivilege(p xml.Name, desc string, children ...string) string {
	return "<D:supported-privilege><D:privilege>" + davxml.Empty(p) + `</D:privilege><D:description xml:lang="en">` +
		davxml.EscapeString(desc) + "</D:description>" + strings.Join(children, "") + "</D:supported-privilege>"
}

// aclRestrictions is DAV:acl-restrictions (RFC 3744 §5.6): ACEs only
// grant, never name an inverted principal, and the owner's ACE is
// protected.
const aclRestrictions = "<D:grant-only/><D:no-invert/>"

// ace writes one DAV:ace (RFC 3744 §5.5) granting privs to the principal
// href; protected and inherited (an href, or "") as RFC 3744 §5.5.1 and
// §5.5.2 have them.
func ace(principal string, privs string, protected bool, inherited string) string {
	s := "<D:ace><D:principal>" + hrefValue(principal) + "</D:principal><D:grant>" + privs + "</D:grant>"
	if protected {
		s += "<D:protected/>"
	}
	if inherited != "" {
		s += "<D:inherited>" + hrefValue(inherited) + "</D:inherited>"
	}
	return s + "</D:ace>"
}

// resourceOwner returns the owner's name of a collection or object resource, or
// of a principal resource the principal itself.
func resourceOwner(r *resource) string {
	switch r.kind {
	case resCollection, resObject:
		if r.coll.Owner != "" {
			return r.coll.Owner
		}
		return ownerOfPath(r.coll.Path)
	case resPrincipal:
		return r.name
	}
	return ""
}

// ownerOfPath is the user whose home holds path, or "".
func ownerOfPath(path string) string {
	segs := splitCollPath(path)
	if len(segs) >= 2 && segs[0] == "home" {
		return segs[1]
	}
	return ""
}

// aclProp returns the value of DAV:acl (RFC 3744 §5.5) of r: the owner's
// protected ACE granting DAV:all, then one ACE per grant of the
// collection (on an object inherited from it), on a principal an ACE
// letting every authenticated principal read it. Reading it needs
// DAV:read-acl, which only the owner has; others get 403 for the
// property.
func (h *Handler) aclProp(sc *scratch, r *resource) davxml.PropValue {
	if !r.acc.has(privReadACL) {
		return davxml.PropValue{Name: propACL, Status: http.StatusForbidden}
	}
	owner := resourceOwner(r)
	if owner == "" {
		return davxml.PropValue{Name: propACL, Status: http.StatusNotFound}
	}
	all := privilegeSet(privAll)
	s := ace(principalPath(owner), all, true, "")
	switch r.kind {
	case resPrincipal:
		s += ace("/dav/principals/", privilegeSet(privRead), true, "")
	case resCollection, resObject:
		s += h.grantACEs(sc, r)
	}
	return prop(propACL, s)
}

// inheritedACLSet is DAV:inherited-acl-set (RFC 3744 §5.7) of r: an
// object's ACL comes from its collection.
func inheritedACLSet(r *resource) string {
	if r.kind == resObject {
		return hrefValue(r.coll.Path)
	}
	return ""
}

// accessProp computes the RFC 3744 properties every resource has; ok is
// false for other names.
func accessProp(sc *scratch, r *resource, n xml.Name) (davxml.PropValue, bool) {
	switch n {
	case davxml.PropCurrentUserPrivileges:
		return prop(n, privileges(r)), true
	case propSupportedPrivileges:
		return prop(n, supportedPrivilegesOf(r)), true
	case propACLRestrictions:
		return prop(n, aclRestrictions), true
	}
	if r.kind == resRoot || r.kind == resPrincipals {
		return davxml.PropValue{}, false
	}
	switch n {
	case propInheritedACLSet:
		return prop(n, inheritedACLSet(r)), true
	case davxml.PropOwner:
		if owner := resourceOwner(r); owner != "" {
			return prop(n, sc.principal(owner)), true
		}
		return prop(n, ""), true
	}
	return davxml.PropValue{}, false
}

// accessNames are the names accessProp answers on collections, objects
// and principals beyond those of every resource, for PROPFIND propname.
var accessNames = []xml.Name{davxml.PropOwner, propACL, propInheritedACLSet}
