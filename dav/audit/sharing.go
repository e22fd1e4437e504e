package audit

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/almanac/almanac/engine"
)

// Sharing manages groups, grants, delegates and public links: Local on a
// data directory or inside the server, Client through the admin API of a
// running server (`almanac group|share|proxy`).
type Sharing interface {
	// Share runs one sharing operation (see ShareRequest). Errors: those
	// of the engine call it makes (engine.ErrNotFound, ErrConflict,
	// ErrInvalidName, *engine.SharingLimitError), and a bad request.
	Share(ctx context.Context, req ShareRequest) (*ShareResult, error)
}

// Share operations (ShareRequest.Op) and the fields each reads.
const (
	OpGroupAdd          = "group-add"           // Name, DisplayName
	OpGroupDelete       = "group-delete"        // Name
	OpGroupList         = "group-list"          // -
	OpGroupMemberAdd    = "group-member-add"    // Name, Members
	OpGroupMemberRemove = "group-member-remove" // Name, Members
	OpShareGrant        = "share-grant"         // Path, To, Access, AutoAccept
	OpShareRevoke       = "share-revoke"        // Path, To
	OpShareList         = "share-list"          // Path
	OpProxySet          = "proxy-set"           // Name (the delegator), To, Access (none, read, read-write)
	OpProxyList         = "proxy-list"          // Name
	OpLinkCreate        = "share-link-create"   // Path, FreeBusy
	OpLinkRevoke        = "share-link-revoke"   // Path, ID
	OpLinkList          = "share-link-list"     // Path
)

// ShareRequest is one sharing operation, the body of POST /admin/sharing.
type ShareRequest struct {
	Op          string   `json:"op"`
	Name        string   `json:"name,omitempty"`
	DisplayName string   `json:"display_name,omitempty"`
	Members     []string `json:"members,omitempty"`
	Path        string   `json:"path,omitempty"`
	To          string   `json:"to,omitempty"`
	Access      string   `json:"access,omitempty"`
	AutoAccept  bool     `json:"auto_accept,omitempty"`
	FreeBusy    bool     `json:"freebusy,omitempty"`
	ID          string   `json:"id,omitempty"`
}

// ShareResult is the answer of a sharing operation: the list a list
// operation asked for, or the link just made (its token shown once).
type ShareResult struct {
	Groups  []GroupInfo `json:"groups,omitempty"`
	Grants  []GrantInfo `json:"grants,omitempty"`
	Proxies []GrantInfo `json:"proxies,omitempty"`
	Links   []LinkInfo  `json:"links,omitempty"`
	Link    *LinkInfo   `json:"link,omitempty"`
}

// GroupInfo is a group.
type GroupInfo struct {
	Name        string   `json:"name"`
	DisplayName string   `json:"display_name,omitempty"`
	Members     []string `json:"members,omitempty"`
}

// GrantInfo is a grant of a collection, or a delegation, to a user or a
// group: Grantee and an access (engine.Access's name).
type GrantInfo struct {
	Grantee string `json:"grantee"`
	Access  string `json:"access"`
}

// LinkInfo is a public link; Token is set in the answer that made it, and
// in lists for a published calendar's link (engine.DB.Publish).
type LinkInfo struct {
	ID       string    `json:"id"`
	FreeBusy bool      `json:"freebusy,omitempty"`
	Created  time.Time `json:"created"`
	Actor    string    `json:"actor,omitempty"`
	Token    string    `json:"token,omitempty"`
}

var _ Sharing = (*Local)(nil)

// maxShareBody bounds the body of POST /admin/sharing: a group's members
// at most (engine.MaxGroupMembers names).
const maxShareBody = 256 << 10

// Share runs one sharing operation on l.DB as l.Meta's actor.
func (l *Local) Share(ctx context.Context, q ShareRequest) (*ShareResult, error) {
	if len(q.Members) > engine.MaxGroupMembers {
		return nil, &engine.SharingLimitError{What: "members of " + q.Name, Limit: engine.MaxGroupMembers}
	}
	m, res := l.Meta, &ShareResult{}
	switch q.Op {
	case OpGroupAdd:
		err := l.view(func(v *engine.View) error {
			_, err := v.Group(q.Name)
			if err == nil {
				return fmt.Errorf("%w: group %q exists", engine.ErrConflict, q.Name)
			}
			if errors.Is(err, engine.ErrNotFound) {
				return nil
			}
			return err
		})
		if err != nil {
			return nil, err
		}
		return res, l.DB.PutGroup(ctx, m, engine.Group{Name: q.Name, DisplayName: q.DisplayName})
	case OpGroupDelete:
		return res, l.DB.DeleteGroup(ctx, m, q.Name)
	case OpGroupMemberAdd:
		return res, l.DB.AddGroupMembers(ctx, m, q.Name, q.Members...)
	case OpGroupMemberRemove:
		return res, l.DB.RemoveGroupMembers(ctx, m, q.Name, q.Members...)
	case OpGroupList:
		return res, l.view(func(v *engine.View) error {
			gs, err := v.Groups()
			for _, g := range gs {
				res.Groups = append(res.Groups, GroupInfo{Name: g.Name, DisplayName: g.DisplayName, Members: g.Members})
			}
			return err
		})
	case OpShareGrant:
		a, err := engine.ParseAccess(q.Access)
		if err != nil {
			return nil, badRequest(err)
		}
		return res, l.DB.Grant(ctx, m, q.Path, q.To, a, engine.GrantOptions{AutoAccept: q.AutoAccept})
	case OpShareRevoke:
		return res, l.DB.Revoke(ctx, m, q.Path, q.To)
	case OpShareList:
		return res, l.view(func(v *engine.View) error {
			gs, err := v.Grants(q.Path)
			for _, g := range gs {
				res.Grants = append(res.Grants, GrantInfo{Grantee: g.Grantee, Access: g.Access.String()})
			}
			return err
		})
	case OpProxySet:
		a := engine.AccessNone
		if q.Access != a.String() {
			var err error
			if a, err = engine.ParseAccess(q.Access); err != nil || a == engine.AccessFreeBusy {
				return nil, badRequest(fmt.Errorf("proxy access %q (want none, read or read-write)", q.Access))
			}
		}
		return res, l.DB.SetProxy(ctx, m, q.Name, q.To, a)
	case OpProxyList:
		return res, l.view(func(v *engine.View) error {
			ps, err := v.Proxies(q.Name)
			for _, p := range ps {
				res.Proxies = append(res.Proxies, GrantInfo{Grantee: p.Delegate, Access: p.Access.String()})
			}
			return err
		})
	case OpLinkCreate:
		token, link, err := l.DB.CreateLink(ctx, m, q.Path, q.FreeBusy)
		if err != nil {
			return nil, err
		}
		res.Link = &LinkInfo{ID: link.ID, FreeBusy: link.FreeBusyOnly, Created: link.Created, Actor: link.Actor, Token: token}
		return res, nil
	case OpLinkRevoke:
		return res, l.DB.RevokeLink(ctx, m, q.Path, q.ID)
	case OpLinkList:
		return res, l.view(func(v *engine.View) error {
			ls, err := v.Links(q.Path)
			for _, k := range ls {
				res.Links = append(res.Links, LinkInfo{ID: k.ID, FreeBusy: k.FreeBusyOnly, Created: k.Created, Actor: k.Actor, Token: k.Token})
			}
			return err
		})
	}
	return nil, badRequest(fmt.Errorf("unknown sharing operation %q", q.Op))
}

// view runs fn on a view of l.DB.
func (l *Local) view(fn func(*engine.View) error) error {
	v, err := l.DB.View()
	if err != nil {
		return err
	}
	defer v.Close()
	return fn(v)
}

// sharingRoute answers POST /admin/sharing; ok is false for another path.
// A change of a group fileGroup reports is refused.
func sharingRoute(r *http.Request, l *Local, fileGroup func(string) bool) (out any, ok bool, err error) {
	if r.Method != http.MethodPost || r.URL.Path != "/admin/sharing" {
		return nil, false, nil
	}
	var q ShareRequest
	if err := decode(r, &q); err != nil {
		return nil, true, err
	}
	switch q.Op {
	case OpGroupAdd, OpGroupDelete, OpGroupMemberAdd, OpGroupMemberRemove:
		if fileGroup != nil && fileGroup(q.Name) {
			return nil, true, fmt.Errorf("%w: group %q is defined by the htgroup file: edit the file", engine.ErrConflict, q.Name)
		}
	}
	out, err = l.Share(r.Context(), q)
	return out, true, err
}

var _ Sharing = (*Client)(nil)

// Share runs one sharing operation on the server.
func (c *Client) Share(ctx context.Context, req ShareRequest) (*ShareResult, error) {
	var out ShareResult
	if err := c.do(ctx, http.MethodPost, "/admin/sharing", nil, req, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
