package engine

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/almanac/almanac/engine/internal/keys"
	eventv1 "github.com/almanac/almanac/proto/almanac/event/v1"
)

// Group is a named set of users. Groups share the principal namespace
// with users: no group has a user's name. Groups do not nest.
type Group struct {
	Name        string
	DisplayName string
	// Members are user names, sorted, without duplicates.
	Members []string
	// SetBy is the actor of the event that last set the group (read only:
	// PutGroup ignores it; empty for groups set before it was recorded).
	// --htgroup finds the groups its file defined by it.
	SetBy string
}

// PutGroup creates or replaces a group with exactly g's members (names of
// users, who need not exist yet). Members that join get the group's shares
// (mounted at once when the grant was made with AutoAccept); members that
// leave lose them.
//
// Errors: ErrInvalidName (a bad group or member name, or a member that is
// a group); ErrExists (a user has the name); *SharingLimitError.
func (db *DB) PutGroup(ctx context.Context, m Meta, g Group) error {
	return db.submit(ctx, &groupCmd{m: m, name: g.Name, display: &g.DisplayName, set: g.Members, replace: true})
}

// AddGroupMembers adds users to group name, creating it when it does not
// exist.
//
// Errors: those of PutGroup.
func (db *DB) AddGroupMembers(ctx context.Context, m Meta, name string, users ...string) error {
	return db.submit(ctx, &groupCmd{m: m, name: name, set: users})
}

// RemoveGroupMembers removes users from group name; names that are not
// members are ignored.
//
// Errors: ErrNotFound (no group name).
func (db *DB) RemoveGroupMembers(ctx context.Context, m Meta, name string, users ...string) error {
	return db.submit(ctx, &groupCmd{m: m, name: name, remove: users})
}

// DeleteGroup deletes group name. The grants made to it go with it, so a
// group created later under the same name inherits none of them.
//
// Errors: ErrNotFound.
func (db *DB) DeleteGroup(ctx context.Context, m Meta, name string) error {
	return db.submit(ctx, &groupCmd{m: m, name: name, delete: true})
}

type groupCmd struct {
	m       Meta
	name    string
	display *string  // nil: keep
	set     []string // members to add (all members with replace)
	remove  []string
	replace bool
	delete  bool
}

func (c *groupCmd) run(tx *txn) error {
	old := &eventv1.Group{}
	err := getProto(tx.rw, keys.GroupKey(c.name), old)
	exists := err == nil
	if err != nil && err != ErrNotFound {
		return err
	}
	if c.delete || len(c.remove) > 0 && !c.replace {
		if !exists {
			return fmt.Errorf("%w: group %q", ErrNotFound, c.name)
		}
	}
	if c.delete {
		if err := revokeVanishing(tx, c.m, c.name, "group"); err != nil {
			return err
		}
		return tx.append(c.m, &eventv1.Event{Op: eventv1.Op_OP_GROUP_DELETED, Group: &eventv1.Group{Name: c.name}})
	}
	if !validName(c.name) {
		return fmt.Errorf("%w: group %q", ErrInvalidName, c.name)
	}
	if err := checkName(tx.db.opts.Limits, c.name); err != nil {
		return err
	}
	if _, err := getBytes(tx.rw, keys.UserKey(c.name)); err == nil {
		return fmt.Errorf("%w: a user is named %q", ErrExists, c.name)
	} else if err != ErrNotFound {
		return err
	}
	g := &eventv1.Group{Name: c.name, DisplayName: old.DisplayName, SetBy: strings.ToValidUTF8(c.m.Actor, "\uFFFD")}
	if c.display != nil {
		g.DisplayName = *c.display
	}
	if !c.replace {
		g.Members = append(g.Members, old.Members...)
	}
	for _, u := range c.set {
		if !validName(u) {
			return fmt.Errorf("%w: member %q", ErrInvalidName, u)
		}
		if _, err := getBytes(tx.rw, keys.GroupKey(u)); err == nil {
			return fmt.Errorf("%w: member %q is a group (groups do not nest)", ErrInvalidName, u)
		} else if err != ErrNotFound {
			return err
		}
		g.Members = append(g.Members, u)
	}
	g.Members = slices.DeleteFunc(g.Members, func(u string) bool { return slices.Contains(c.remove, u) })
	slices.Sort(g.Members)
	g.Members = slices.Compact(g.Members)
	if len(g.Members) > MaxGroupMembers {
		return &SharingLimitError{What: "members of " + c.name, Limit: MaxGroupMembers}
	}
	for _, u := range g.Members {
		if slices.Contains(old.Members, u) {
			continue
		}
		of, err := getNames(tx.rw, keys.MemberOfKey(u))
		if err != nil {
			return err
		}
		if len(of.Names) >= MaxGroupsPerUser {
			return &SharingLimitError{What: "groups of " + u, Limit: MaxGroupsPerUser}
		}
	}
	return tx.append(c.m, &eventv1.Event{Op: eventv1.Op_OP_GROUP_SET, Group: g})
}

// Group returns the group name.
//
// Errors: ErrNotFound.
func (v *View) Group(name string) (*Group, error) {
	g := &eventv1.Group{}
	if err := getProto(v.v.snap, keys.GroupKey(name), g); err != nil {
		return nil, err
	}
	return groupFromProto(g), nil
}

// Groups returns every group in name order.
func (v *View) Groups() ([]*Group, error) {
	lo := []byte{keys.Group}
	var out []*Group
	err := v.scanKeys(lo, keys.PrefixEnd(lo), func(k []byte) error {
		g, err := v.Group(string(k[1:]))
		out = append(out, g)
		return err
	})
	return out, err
}

// GroupsOf returns the names of the groups user is a member of, sorted.
func (v *View) GroupsOf(user string) ([]string, error) {
	n, err := getNames(v.v.snap, keys.MemberOfKey(user))
	if err != nil {
		return nil, err
	}
	return n.Names, nil
}

func groupFromProto(g *eventv1.Group) *Group {
	return &Group{Name: g.Name, DisplayName: g.DisplayName, Members: append([]string(nil), g.Members...), SetBy: g.SetBy}
}
