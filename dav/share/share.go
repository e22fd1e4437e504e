package share

import (
	"encoding/xml"
	"errors"
	"fmt"
	"strings"

	"github.com/almanac/almanac/dav/internal/davxml"
)

// MaxSharees bounds the sharees one sharing request names.
const MaxSharees = 100

// maxText bounds a sharee's href, common name and comment, in bytes.
const maxText = 1024

// Access is what a sharing request gives a sharee.
type Access int

// Access levels: AccessNone removes the sharee (DAV:no-access, CS:remove).
const (
	AccessNone Access = iota
	AccessRead
	AccessReadWrite
)

// String returns the access as the CLI and the log name it.
func (a Access) String() string {
	switch a {
	case AccessRead:
		return "read"
	case AccessReadWrite:
		return "read-write"
	}
	return "no-access"
}

// Sharee is one change a sharing request asks for.
type Sharee struct {
	// Href names the sharee: a principal URL or a mailto: address.
	Href string
	// Access is the access to give, AccessNone to remove the sharee.
	Access Access
	// CommonName and Comment are the display name and message the client
	// sent (CS:common-name, CS:summary, DAV:comment), for the invitation.
	CommonName string
	Comment    string
}

// Names of the request roots this package reads.
var (
	RootShareResource = davxml.D("share-resource")
	RootCSShare       = xml.Name{Space: davxml.NSCS, Local: "share"}
	RootInviteReply   = xml.Name{Space: davxml.NSCS, Local: "invite-reply"}
)

// ErrMalformed is wrapped by every error of a body that parses as XML but
// is not a valid sharing request.
var ErrMalformed = errors.New("share: malformed sharing request")

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}

// shareResource is DAV:share-resource (draft-pot-webdav-resource-sharing
// §5.3.2.1).
type shareResource struct {
	XMLName xml.Name `xml:"DAV: share-resource"`
	Sharees []struct {
		Href    string `xml:"DAV: href"`
		Comment string `xml:"DAV: comment"`
		Prop    struct {
			DisplayName string `xml:"DAV: displayname"`
		} `xml:"DAV: prop"`
		Access *accessEl `xml:"DAV: share-access"`
	} `xml:"DAV: sharee"`
}

// accessEl is DAV:share-access: one of DAV:read, DAV:read-write,
// DAV:no-access.
type accessEl struct {
	Read      *struct{} `xml:"DAV: read"`
	ReadWrite *struct{} `xml:"DAV: read-write"`
	NoAccess  *struct{} `xml:"DAV: no-access"`
}

// csShare is CS:share (caldav-sharing §5.2).
type csShare struct {
	XMLName xml.Name `xml:"http://calendarserver.org/ns/ share"`
	Ops     []struct {
		XMLName    xml.Name
		Href       string    `xml:"DAV: href"`
		CommonName string    `xml:"http://calendarserver.org/ns/ common-name"`
		Summary    string    `xml:"http://calendarserver.org/ns/ summary"`
		Read       *struct{} `xml:"http://calendarserver.org/ns/ read"`
		ReadWrite  *struct{} `xml:"http://calendarserver.org/ns/ read-write"`
	} `xml:",any"`
}

// ParseRequest reads a DAV:share-resource or CS:share body (root, from
// davxml.Root) into the sharees it changes. An href may appear once.
//
// Errors: ErrMalformed (wrapped) for a request that is not valid, a
// davxml error for bad XML.
func ParseRequest(root xml.Name, body []byte) ([]Sharee, error) {
	var out []Sharee
	switch root {
	case RootShareResource:
		var sr shareResource
		if err := davxml.DecodeChecked(body, &sr); err != nil {
			return nil, err
		}
		for _, s := range sr.Sharees {
			if s.Access == nil {
				return nil, malformed("DAV:sharee %q has no DAV:share-access", s.Href)
			}
			a, err := s.Access.access()
			if err != nil {
				return nil, err
			}
			out = append(out, Sharee{Href: s.Href, Access: a, CommonName: s.Prop.DisplayName, Comment: s.Comment})
		}
	case RootCSShare:
		var cs csShare
		if err := davxml.DecodeChecked(body, &cs); err != nil {
			return nil, err
		}
		for _, op := range cs.Ops {
			if op.XMLName.Space != davxml.NSCS {
				continue
			}
			s := Sharee{Href: op.Href, CommonName: op.CommonName, Comment: op.Summary}
			switch {
			case op.XMLName.Local == "remove":
			case op.XMLName.Local != "set":
				continue
			case op.ReadWrite != nil:
				s.Access = AccessReadWrite
			case op.Read != nil:
				s.Access = AccessRead
			default:
				return nil, malformed("CS:set for %q has neither CS:read nor CS:read-write", op.Href)
			}
			out = append(out, s)
		}
	default:
		return nil, malformed("{%s}%s is not a sharing request", root.Space, root.Local)
	}
	return out, check(out)
}

func (a *accessEl) access() (Access, error) {
	n := 0
	var acc Access
	if a.Read != nil {
		n, acc = n+1, AccessRead
	}
	if a.ReadWrite != nil {
		n, acc = n+1, AccessReadWrite
	}
	if a.NoAccess != nil {
		n, acc = n+1, AccessNone
	}
	if n != 1 {
		return 0, malformed("DAV:share-access holds one of DAV:read, DAV:read-write and DAV:no-access")
	}
	return acc, nil
}

// check validates the sharees of a request: at least one, at most
// MaxSharees, each with an href of bounded length named once.
func check(sharees []Sharee) error {
	if len(sharees) == 0 {
		return malformed("the request names no sharee")
	}
	if len(sharees) > MaxSharees {
		return malformed("%d sharees exceed the limit of %d", len(sharees), MaxSharees)
	}
	seen := make(map[string]bool, len(sharees))
	for i := range sharees {
		s := &sharees[i]
		s.Href = strings.TrimSpace(s.Href)
		s.CommonName, s.Comment = strings.TrimSpace(s.CommonName), strings.TrimSpace(s.Comment)
		if s.Href == "" {
			return malformed("a sharee has no DAV:href")
		}
		if len(s.Href) > maxText || len(s.CommonName) > maxText || len(s.Comment) > maxText {
			return malformed("a sharee's href, name or comment exceeds %d bytes", maxText)
		}
		key := strings.ToLower(s.Href)
		if seen[key] {
			return malformed("sharee %q is named twice", s.Href)
		}
		seen[key] = true
	}
	return nil
}

// Reply is a sharee's answer to an invitation (CS:invite-reply).
type Reply struct {
	// Accept is set for CS:invite-accepted, clear for CS:invite-declined.
	Accept bool
	// HostURL is the shared collection's path as the invitation named it.
	HostURL string
	// InReplyTo is the invitation's CS:uid.
	InReplyTo string
	// Summary is the name the sharee gives the share, if any.
	Summary string
}

type inviteReply struct {
	XMLName  xml.Name  `xml:"http://calendarserver.org/ns/ invite-reply"`
	Accepted *struct{} `xml:"http://calendarserver.org/ns/ invite-accepted"`
	Declined *struct{} `xml:"http://calendarserver.org/ns/ invite-declined"`
	HostURL  struct {
		Href string `xml:"DAV: href"`
	} `xml:"http://calendarserver.org/ns/ hosturl"`
	InReplyTo string `xml:"http://calendarserver.org/ns/ in-reply-to"`
	Summary   string `xml:"http://calendarserver.org/ns/ summary"`
}

// ParseReply reads a CS:invite-reply body.
//
// Errors: ErrMalformed (wrapped), or a davxml error for bad XML.
func ParseReply(body []byte) (*Reply, error) {
	var ir inviteReply
	if err := davxml.DecodeChecked(body, &ir); err != nil {
		return nil, err
	}
	if (ir.Accepted == nil) == (ir.Declined == nil) {
		return nil, malformed("CS:invite-reply holds one of CS:invite-accepted and CS:invite-declined")
	}
	r := &Reply{Accept: ir.Accepted != nil, HostURL: strings.TrimSpace(ir.HostURL.Href),
		InReplyTo: strings.TrimSpace(ir.InReplyTo), Summary: strings.TrimSpace(ir.Summary)}
	if r.HostURL == "" && r.InReplyTo == "" {
		return nil, malformed("CS:invite-reply names neither CS:hosturl nor CS:in-reply-to")
	}
	if len(r.HostURL) > maxText || len(r.InReplyTo) > maxText || len(r.Summary) > maxText {
		return nil, malformed("a CS:invite-reply field exceeds %d bytes", maxText)
	}
	return r, nil
}
