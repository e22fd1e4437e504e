package audit

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/almanac/almanac/dav"
	"github.com/almanac/almanac/engine"
)

// Resources manages rooms and resources (`almanac resource`): Local on a
// data directory or inside the server, Client through the admin API of a
// running server.
type Resources interface {
	// Resource runs one resource operation (see ResourceRequest). Errors:
	// engine.ErrNotFound (no such resource, or no such managers group),
	// engine.ErrConflict (a user or group has the name; a user, not a
	// resource, for set and remove), engine.ErrAddressTaken, a bad
	// request (a type or policy unknown, a malformed address).
	Resource(ctx context.Context, req ResourceRequest) (*ResourceResult, error)
}

// Resource operations (ResourceRequest.Op).
const (
	OpResourceAdd    = "resource-add"    // Name, Type (required), Emails, Policy, Managers, DisplayName
	OpResourceSet    = "resource-set"    // Name and the fields to change; NoManagers withdraws the group
	OpResourceList   = "resource-list"   // nothing
	OpResourceRemove = "resource-remove" // Name
)

// ResourceRequest is one resource operation, the body of POST
// /admin/resources. Empty fields of set are left as they are.
type ResourceRequest struct {
	Op   string `json:"op"`
	Name string `json:"name,omitempty"`
	// Type is "room" or "resource".
	Type   string   `json:"type,omitempty"`
	Emails []string `json:"emails,omitempty"`
	// Policy is how invitations are answered: accept, accept-if-free
	// (add's default) or manual.
	Policy      string `json:"policy,omitempty"`
	Managers    string `json:"managers,omitempty"`
	NoManagers  bool   `json:"no_managers,omitempty"`
	DisplayName string `json:"display_name,omitempty"`
}

// ResourceResult is the answer of a resource operation: the list, or the
// resource added or changed.
type ResourceResult struct {
	Resources []ResourceInfo `json:"resources,omitempty"`
	Resource  *ResourceInfo  `json:"resource,omitempty"`
}

// ResourceInfo describes a room or resource.
type ResourceInfo struct {
	Name        string   `json:"name"`
	Type        string   `json:"type"`
	Policy      string   `json:"policy"`
	Managers    string   `json:"managers,omitempty"`
	Emails      []string `json:"emails,omitempty"`
	DisplayName string   `json:"display_name,omitempty"`
}

var (
	_ Resources = (*Local)(nil)
	_ Resources = (*Client)(nil)
)

// Resource runs one resource operation on l.DB as l.Meta's actor.
func (l *Local) Resource(ctx context.Context, q ResourceRequest) (*ResourceResult, error) {
	switch q.Op {
	case OpResourceList:
		res := &ResourceResult{}
		return res, l.view(func(v *engine.View) error {
			users, err := v.Users()
			if err != nil {
				return fmt.Errorf("list resources: %w", err)
			}
			for _, u := range users {
				if u.Resource != nil {
					res.Resources = append(res.Resources, resourceInfo(u))
				}
			}
			return nil
		})
	case OpResourceRemove:
		return &ResourceResult{}, l.removeResource(ctx, q.Name)
	case OpResourceAdd, OpResourceSet:
		return l.putResource(ctx, q.Op == OpResourceAdd, q)
	}
	return nil, badRequest(fmt.Errorf("unknown resource operation %q", q.Op))
}

// resourceInfo describes u, a resource.
func resourceInfo(u *engine.User) ResourceInfo {
	r := u.Resource
	return ResourceInfo{Name: u.Name, Type: strings.ToLower(string(r.Type)), Policy: string(r.AutoSchedule),
		Managers: r.Managers, Emails: u.Emails, DisplayName: r.DisplayName}
}

// resourceType reads a ResourceRequest's type ("" when not given).
func resourceType(s string) (engine.ResourceType, error) {
	switch strings.ToLower(s) {
	case "":
		return "", nil
	case "room":
		return engine.ResourceRoom, nil
	case "resource":
		return engine.ResourceThing, nil
	}
	return "", badRequest(fmt.Errorf("resource type %q: room or resource", s))
}

// resourcePolicy reads a ResourceRequest's policy ("" when not given).
func resourcePolicy(s string) (engine.AutoSchedule, error) {
	for _, p := range []engine.AutoSchedule{engine.AutoAccept, engine.AutoAcceptIfFree, engine.AutoManual} {
		if s == string(p) {
			return p, nil
		}
	}
	if s == "" {
		return "", nil
	}
	return "", badRequest(fmt.Errorf("resource policy %q: %s, %s or %s", s, engine.AutoAccept, engine.AutoAcceptIfFree, engine.AutoManual))
}

// putResource adds (add) or changes (set) a resource, then makes its home
// and hands its managers group the delegation.
func (l *Local) putResource(ctx context.Context, add bool, q ResourceRequest) (*ResourceResult, error) {
	typ, err := resourceType(q.Type)
	if err != nil {
		return nil, err
	}
	policy, err := resourcePolicy(q.Policy)
	if err != nil {
		return nil, err
	}
	if add && typ == "" {
		return nil, badRequest(errors.New("a resource needs a type: room or resource"))
	}
	if q.Managers != "" {
		if err := l.view(func(v *engine.View) error { _, err := v.Group(q.Managers); return err }); err != nil {
			return nil, fmt.Errorf("managers group %q: %w", q.Managers, err)
		}
	}
	oldManagers := ""
	change := func(u *engine.User) {
		r := u.Resource
		if typ != "" {
			r.Type = typ
		}
		if policy != "" {
			r.AutoSchedule = policy
		}
		oldManagers = r.Managers
		if q.Managers != "" || q.NoManagers {
			r.Managers = q.Managers
		}
		if q.DisplayName != "" {
			r.DisplayName = q.DisplayName
		}
		if len(q.Emails) > 0 {
			u.Emails = q.Emails
		}
	}
	if add {
		if policy == "" {
			policy = engine.AutoAcceptIfFree
		}
		u := engine.User{Name: q.Name, Disabled: true, Resource: &engine.Resource{}}
		change(&u)
		err = l.DB.AddUser(ctx, l.Meta, u)
		if errors.Is(err, engine.ErrExists) {
			err = fmt.Errorf("%w: a user, group or resource %q exists (change a resource with set)", engine.ErrConflict, q.Name)
		}
	} else {
		err = l.DB.UpdateUser(ctx, l.Meta, q.Name, func(u *engine.User) error {
			if u.Resource == nil {
				return fmt.Errorf("%w: %q is a user, not a resource", engine.ErrConflict, q.Name)
			}
			change(u)
			return nil
		})
	}
	if err != nil {
		return nil, fmt.Errorf("resource %q: %w", q.Name, err)
	}
	if err := dav.EnsureHome(ctx, l.DB, q.Name, l.Meta); err != nil {
		return nil, err
	}
	if q.Managers != oldManagers && (q.Managers != "" || q.NoManagers) {
		if oldManagers != "" {
			if err := l.DB.SetProxy(ctx, l.Meta, q.Name, oldManagers, engine.AccessNone); err != nil && !errors.Is(err, engine.ErrNotFound) {
				return nil, fmt.Errorf("withdraw the managers %q of %q: %w", oldManagers, q.Name, err)
			}
		}
		if q.Managers != "" {
			if err := l.DB.SetProxy(ctx, l.Meta, q.Name, q.Managers, engine.AccessReadWrite); err != nil {
				return nil, fmt.Errorf("make %q the managers of %q: %w", q.Managers, q.Name, err)
			}
		}
	}
	u, err := l.DB.User(q.Name)
	if err != nil {
		return nil, err
	}
	info := resourceInfo(u)
	return &ResourceResult{Resource: &info}, nil
}

// removeResource deletes the resource's account (its home and calendar
// stay, as a user's do) after withdrawing the delegations of its home:
// deleting an account revokes what was granted to it, not what it
// granted, and a resource's managers would keep writing its calendar.
func (l *Local) removeResource(ctx context.Context, name string) error {
	u, err := l.DB.User(name)
	if err != nil {
		return fmt.Errorf("resource %q: %w", name, err)
	}
	if u.Resource == nil {
		return fmt.Errorf("%w: %q is a user, not a resource", engine.ErrConflict, name)
	}
	var ps []*engine.Proxy
	if err := l.view(func(v *engine.View) (err error) { ps, err = v.Proxies(name); return err }); err != nil {
		return fmt.Errorf("remove %q: its delegates: %w", name, err)
	}
	dm := l.Meta
	dm.Reason = "resource " + name + " removed"
	for _, p := range ps {
		if err := l.DB.SetProxy(ctx, dm, name, p.Delegate, engine.AccessNone); err != nil && !errors.Is(err, engine.ErrNotFound) {
			return fmt.Errorf("remove %q: withdraw the delegation to %q: %w", name, p.Delegate, err)
		}
	}
	if err := l.DB.DeleteUser(ctx, l.Meta, name); err != nil {
		return fmt.Errorf("remove %q: %w", name, err)
	}
	return nil
}

// resourceRoute answers POST /admin/resources; ok is false for another
// path.
func resourceRoute(r *http.Request, l *Local) (out any, ok bool, err error) {
	if r.Method != http.MethodPost || r.URL.Path != "/admin/resources" {
		return nil, false, nil
	}
	var q ResourceRequest
	if err := decode(r, &q); err != nil {
		return nil, true, err
	}
	out, err = l.Resource(r.Context(), q)
	return out, true, err
}

// Resource runs one resource operation on the server.
func (c *Client) Resource(ctx context.Context, req ResourceRequest) (*ResourceResult, error) {
	var out ResourceResult
	if err := c.do(ctx, http.MethodPost, "/admin/resources", nil, req, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
