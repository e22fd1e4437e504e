package share

import "github.com/almanac/almanac/dav/internal/davxml"

// Status is where an invitation stands.
type Status int

// Invitation states (CS:invite-noresponse, -accepted, -declined and the
// draft's DAV: equivalents).
const (
	StatusNoResponse Status = iota
	StatusAccepted
	StatusDeclined
)

func (s Status) local() string {
	switch s {
	case StatusAccepted:
		return "invite-accepted"
	case StatusDeclined:
		return "invite-declined"
	}
	return "invite-noresponse"
}

// Invitee is a sharee as the invite properties report them.
type Invitee struct {
	// Href is the sharee's principal URL (escaped, as DAV:href holds it).
	Href       string
	CommonName string
	Access     Access
	Status     Status
}

// DAVInvite returns the value of DAV:invite
// (draft-pot-webdav-resource-sharing §4.4.2) with the D prefix for DAV:.
func DAVInvite(sharees []Invitee) string {
	s := ""
	for _, in := range sharees {
		s += "<D:sharee><D:href>" + davxml.EscapeString(in.Href) + "</D:href>"
		if in.CommonName != "" {
			s += "<D:prop><D:displayname>" + davxml.EscapeString(in.CommonName) + "</D:displayname></D:prop>"
		}
		s += "<D:share-access><D:" + in.Access.String() + "/></D:share-access><D:" + in.Status.local() + "/></D:sharee>"
	}
	return s
}

// CSInvite returns the value of CS:invite (caldav-sharing §5.2.2) with the
// D prefix for DAV: and CS for CalendarServer's namespace: the organizer
// (the owner) and each sharee.
func CSInvite(owner Invitee, sharees []Invitee) string {
	s := "<CS:organizer><D:href>" + davxml.EscapeString(owner.Href) + "</D:href>"
	if owner.CommonName != "" {
		s += "<CS:common-name>" + davxml.EscapeString(owner.CommonName) + "</CS:common-name>"
	}
	s += "</CS:organizer>"
	for _, in := range sharees {
		s += "<CS:user><D:href>" + davxml.EscapeString(in.Href) + "</D:href>"
		if in.CommonName != "" {
			s += "<CS:common-name>" + davxml.EscapeString(in.CommonName) + "</CS:common-name>"
		}
		acc := "read"
		if in.Access == AccessReadWrite {
			acc = "read-write"
		}
		s += "<CS:" + in.Status.local() + "/><CS:access><CS:" + acc + "/></CS:access></CS:user>"
	}
	return s
}
