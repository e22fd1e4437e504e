package engine

import (
	"context"
	"fmt"
	"slices"

	"github.com/almanac/almanac/engine/internal/keys"
	eventv1 "github.com/almanac/almanac/proto/almanac/event/v1"
	statev1 "github.com/almanac/almanac/proto/almanac/state/v1"
)

// Access is what a principal may do at a path. The levels are ordered:
// each includes the ones below it.
type Access int

// Access levels.
const (
	// AccessNone: nothing. dav answers 404 exactly as for a missing path.
	AccessNone Access = iota
	// AccessFreeBusy: CALDAV:read-free-busy only.
	AccessFreeBusy
	// AccessRead: read (DAV:read, read-current-user-privilege-set,
	// read-free-busy).
	AccessRead
	// AccessReadWrite: read, and write objects and properties (DAV:write:
	// write-content, write-properties, bind, unbind).
	AccessReadWrite
	// AccessOwner: DAV:all, sharing included.
	AccessOwner
)

// String returns the access level's name: "none", "freebusy", "read",
// "read-write" or "owner" (the names of the CLI's --access).
func (a Access) String() string {
	switch a {
	case AccessNone:
		return "none"
	case AccessFreeBusy:
		return "freebusy"
	case AccessRead:
		return "read"
	case AccessReadWrite:
		return "read-write"
	case AccessOwner:
		return "owner"
	}
	return "unknown"
}

// ParseAccess reads a grant's access level from its name: "read",
// "read-write" or "freebusy".
//
// Errors: ErrInvalidName.
func ParseAccess(s string) (Access, error) {
	for _, a := range []Access{AccessFreeBusy, AccessRead, AccessReadWrite} {
		if s == a.String() {
			return a, nil
		}
	}
	return AccessNone, fmt.Errorf("%w: access %q (want read, read-write or freebusy)", ErrInvalidName, s)
}

func accessToProto(a Access) eventv1.ShareAccess {
	switch a {
	case AccessFreeBusy:
		return eventv1.ShareAccess_SHARE_ACCESS_FREEBUSY
	case AccessRead:
		return eventv1.ShareAccess_SHARE_ACCESS_READ
	case AccessReadWrite:
		return eventv1.ShareAccess_SHARE_ACCESS_READ_WRITE
	}
	return eventv1.ShareAccess_SHARE_ACCESS_UNSPECIFIED
}

func accessFromProto(a eventv1.ShareAccess) Access {
	switch a {
	case eventv1.ShareAccess_SHARE_ACCESS_FREEBUSY:
		return AccessFreeBusy
	case eventv1.ShareAccess_SHARE_ACCESS_READ:
		return AccessRead
	case eventv1.ShareAccess_SHARE_ACCESS_READ_WRITE:
		return AccessReadWrite
	}
	return AccessNone
}

// Reply is a sharee's answer to a share.
type Reply int

// Replies.
const (
	ReplyPending  Reply = iota // not answered: not mounted
	ReplyAccepted              // mounted in the sharee's home
	ReplyDeclined              // not mounted; the grant stays
)

// String returns "pending", "accepted" or "declined".
func (r Reply) String() string {
	switch r {
	case ReplyAccepted:
		return "accepted"
	case ReplyDeclined:
		return "declined"
	}
	return "pending"
}

// Grant is one grant of a collection to a user or a group.
type Grant struct {
	// CollectionID and Path name the owner's collection (Path as it is now).
	CollectionID uint64
	Path         string
	Owner        string
	// Grantee is a user or a group name.
	Grantee    string
	Access     Access
	AutoAccept bool
	// Seq is the event that made the grant.
	Seq Seq
}

// Share is what one user holds of one collection shared with them: the
// effective access through every grant to them and their groups, their
// reply and, once accepted, the mount in their home.
type Share struct {
	// Collection is the owner's collection as it is now: its path, props,
	// CTag and sync token are the ones every URL of it shows.
	Collection *Collection
	// User is the sharee.
	User   string
	Access Access
	Reply  Reply
	// Mount is the name of the share in the user's home ("" unless
	// accepted); MountPath its path (the home's path + Mount + "/"; "" when
	// the user has no home yet).
	Mount     string
	MountPath string
	// Props are the sharee's own properties of the share (displayname,
	// calendar-color, calendar-order, dead properties such as default
	// alarms): they never change the owner's.
	Props Props
	// Seq is the event that last changed the share.
	Seq Seq
}

// GrantOptions shape a grant.
type GrantOptions struct {
	// AutoAccept mounts the share in each sharee's home at once (and in the
	// homes of later members of a group grantee): --share-auto-accept.
	AutoAccept bool
	// Summary is a message of the sharer (CalendarServer's summary).
	Summary string
}

// Sharing limits: every list a grant, a group or a membership change
// rewrites is bounded, so one event's work is bounded.
const (
	// MaxGrantsPerCollection is the most grantees one collection may have.
	MaxGrantsPerCollection = 256
	// MaxGrantsPerPrincipal is the most collections that may be granted to
	// one user or group.
	MaxGrantsPerPrincipal = 1000
	// MaxGroupMembers is the most members a group may have.
	MaxGroupMembers = 1000
	// MaxGroupsPerUser is the most groups a user may be a member of.
	MaxGroupsPerUser = 100
)

// SharingLimitError is returned when a grant, a group or a membership
// would exceed one of the sharing limits.
type SharingLimitError struct {
	What  string // "grants on /dav/home/a/c/", "members of family", ...
	Limit int
}

func (e *SharingLimitError) Error() string {
	return fmt.Sprintf("engine: too many %s (limit %d)", e.What, e.Limit)
}

// Grant shares the collection at path (a calendar, address book or plain
// collection directly in its owner's home) with grantee, a user or a
// group, at access (AccessFreeBusy, AccessRead or AccessReadWrite). A grant
// to the same grantee replaces the old one. The caller checks that m.Actor
// may share the collection (its owner, or an administrator).
//
// Errors: ErrNotFound (no collection at path, or no user or group named
// grantee); ErrConflict (a home, a collection not directly in a home, or
// the owner as grantee); ErrInvalidName (access out of range);
// *SharingLimitError.
func (db *DB) Grant(ctx context.Context, m Meta, path, grantee string, access Access, opts GrantOptions) error {
	if access < AccessFreeBusy || access > AccessReadWrite {
		return fmt.Errorf("%w: access %d", ErrInvalidName, access)
	}
	return db.submit(ctx, &grantCmd{m: m, path: path, grantee: grantee, access: access, opts: opts})
}

// Revoke withdraws the grant of the collection at path to grantee. Each
// sharee who no longer holds any grant of it loses its mount at once.
//
// Errors: ErrNotFound (no collection, or no such grant).
func (db *DB) Revoke(ctx context.Context, m Meta, path, grantee string) error {
	return db.submit(ctx, &grantCmd{m: m, path: path, grantee: grantee, revoke: true})
}

type grantCmd struct {
	m       Meta
	path    string
	grantee string
	access  Access
	opts    GrantOptions
	revoke  bool
}

func (c *grantCmd) run(tx *txn) error {
	coll, err := collectionByPath(tx.rw, c.path)
	if err != nil {
		return fmt.Errorf("share %s: %w", c.path, err)
	}
	grants, err := getGrants(tx.rw, coll.Id)
	if err != nil {
		return err
	}
	i := slices.IndexFunc(grants.Grants, func(g *statev1.Grant) bool { return g.Grantee == c.grantee })
	share := &eventv1.Share{Grantee: c.grantee}
	op := eventv1.Op_OP_SHARE_REVOKED
	if c.revoke {
		if i < 0 {
			return fmt.Errorf("%w: no grant of %s to %q", ErrNotFound, c.path, c.grantee)
		}
	} else {
		if err := checkShareable(tx.rw, coll); err != nil {
			return err
		}
		if c.grantee == coll.Owner {
			return fmt.Errorf("%w: %q owns %s", ErrConflict, c.grantee, c.path)
		}
		if ok, err := principalExists(tx.rw, c.grantee); err != nil {
			return err
		} else if !ok {
			return fmt.Errorf("%w: no user or group %q", ErrNotFound, c.grantee)
		}
		if i < 0 {
			if err := checkGrantLimits(tx.rw, coll, grants, c.grantee); err != nil {
				return err
			}
		}
		op = eventv1.Op_OP_SHARE_GRANTED
		share.Access, share.AutoAccept, share.Summary = accessToProto(c.access), c.opts.AutoAccept, c.opts.Summary
	}
	return tx.append(c.m, &eventv1.Event{
		Op: op, CollectionId: coll.Id, CollectionPath: coll.Path, Owner: coll.Owner,
		CollectionKind: coll.Kind, Share: share,
	})
}

// checkGrantLimits refuses a new grantee of coll (which holds grants) over
// MaxGrantsPerCollection or MaxGrantsPerPrincipal.
func checkGrantLimits(r getter, coll *statev1.Collection, grants *statev1.Grants, grantee string) error {
	if len(grants.Grants) >= MaxGrantsPerCollection {
		return &SharingLimitError{What: "grants on " + coll.Path, Limit: MaxGrantsPerCollection}
	}
	to, err := getIDs(r, keys.GrantedToKey(grantee))
	if err != nil {
		return err
	}
	if len(to.Ids) >= MaxGrantsPerPrincipal {
		return &SharingLimitError{What: "collections shared with " + grantee, Limit: MaxGrantsPerPrincipal}
	}
	return nil
}

// checkShareable refuses homes and collections not directly in a home.
func checkShareable(r getter, coll *statev1.Collection) error {
	if Kind(coll.Kind) == KindHome {
		return fmt.Errorf("%w: a home cannot be shared (delegate it instead)", ErrConflict)
	}
	parent, err := collectionByPath(r, parentPath(coll.Path))
	if err != nil && err != ErrNotFound {
		return err
	}
	if err == ErrNotFound || Kind(parent.Kind) != KindHome {
		return fmt.Errorf("%w: only a collection directly in a home can be shared: %s", ErrConflict, coll.Path)
	}
	return nil
}

// principalExists reports whether name is a user (an account, or a
// home: a user of --htpasswd has no account) or a group.
func principalExists(r getter, name string) (bool, error) {
	for _, k := range [][]byte{keys.UserKey(name), keys.GroupKey(name), keys.HomeKey(name)} {
		switch _, err := getBytes(r, k); {
		case err == nil:
			return true, nil
		case err != ErrNotFound:
			return false, err
		}
	}
	return false, nil
}

// ReplyShare records user's answer to the share of the collection at path
// (the owner's path): accepting mounts it in the user's home (under
// mountName when it is free, else under a name the engine chooses);
// declining (or leaving) removes the mount. The grant stays.
//
// Errors: ErrNotFound (no collection, or nothing of it shared with user);
// ErrInvalidName (a mountName that is not a valid segment).
func (db *DB) ReplyShare(ctx context.Context, m Meta, user, path string, accept bool, mountName string) error {
	if mountName != "" && !validName(mountName) {
		return fmt.Errorf("%w: mount name %q", ErrInvalidName, mountName)
	}
	if err := checkName(db.opts.Limits, mountName); err != nil {
		return err
	}
	return db.submit(ctx, &replyCmd{m: m, user: user, path: path, accept: accept, mount: mountName})
}

type replyCmd struct {
	m      Meta
	user   string
	path   string
	accept bool
	mount  string
}

func (c *replyCmd) run(tx *txn) error {
	coll, err := collectionByPath(tx.rw, c.path)
	if err != nil {
		return fmt.Errorf("reply to share %s: %w", c.path, err)
	}
	if _, err := getShare(tx.rw, c.user, coll.Id); err != nil {
		return fmt.Errorf("reply to share %s: %w", c.path, err)
	}
	reply := eventv1.ShareReply_SHARE_REPLY_DECLINED
	if c.accept {
		reply = eventv1.ShareReply_SHARE_REPLY_ACCEPTED
	}
	return tx.append(c.m, &eventv1.Event{
		Op: eventv1.Op_OP_SHARE_REPLIED, CollectionId: coll.Id, CollectionPath: coll.Path, Owner: coll.Owner,
		CollectionKind: coll.Kind, Share: &eventv1.Share{Grantee: c.user, Reply: reply, MountName: c.mount},
	})
}

// RenameMount renames user's mount from to to. The share's identity (its
// ETags, sync tokens, grant) stays.
//
// Errors: ErrNotFound (no mount from); ErrExists (to is taken by a mount
// or a collection in the home); ErrInvalidName.
func (db *DB) RenameMount(ctx context.Context, m Meta, user, from, to string) error {
	if !validName(to) {
		return fmt.Errorf("%w: mount name %q", ErrInvalidName, to)
	}
	if err := checkName(db.opts.Limits, to); err != nil {
		return err
	}
	return db.submit(ctx, &mountCmd{m: m, user: user, name: from, rename: to})
}

// SetMountProps replaces user's own properties of the mount name
// (displayname, calendar-color, calendar-order, dead properties): the
// owner's collection keeps its own.
//
// Errors: ErrNotFound (no mount name); *PropsLimitError.
func (db *DB) SetMountProps(ctx context.Context, m Meta, user, name string, props Props) error {
	if err := db.opts.Limits.CheckProps(props); err != nil {
		return err
	}
	return db.submit(ctx, &mountCmd{m: m, user: user, name: name, props: &props})
}

type mountCmd struct {
	m      Meta
	user   string
	name   string
	rename string
	props  *Props
}

func (c *mountCmd) run(tx *txn) error {
	id, err := mountTarget(tx.rw, c.user, c.name)
	if err != nil {
		return fmt.Errorf("mount %q of %s: %w", c.name, c.user, err)
	}
	sh, err := getShare(tx.rw, c.user, id)
	if err != nil {
		return fmt.Errorf("mount %q of %s: %w", c.name, c.user, err)
	}
	coll, err := getCollection(tx.rw, id)
	if err != nil {
		return err
	}
	ev := &eventv1.Share{Grantee: c.user, MountName: c.name, Props: sh.Props}
	if c.rename != "" && c.rename != c.name {
		if free, err := mountNameFree(tx.rw, c.user, c.rename); err != nil {
			return err
		} else if !free {
			return fmt.Errorf("%w: %q in the home of %s", ErrExists, c.rename, c.user)
		}
		ev.MountName = c.rename
	}
	if c.props != nil {
		ev.Props = propsToProto(*c.props)
	}
	return tx.append(c.m, &eventv1.Event{
		Op: eventv1.Op_OP_SHARE_MOUNT_CHANGED, CollectionId: id, CollectionPath: coll.Path, Owner: coll.Owner,
		CollectionKind: coll.Kind, Share: ev,
	})
}

// mountTarget returns the collection id user's mount name points at.
func mountTarget(r getter, user, name string) (uint64, error) {
	v, err := getBytes(r, keys.MountKey(user, name))
	if err != nil {
		return 0, err
	}
	return keys.ParseU64(v)
}

// mountNameFree reports whether name is free in user's home: no mount and
// no collection or object of the home has it.
func mountNameFree(r getter, user, name string) (bool, error) {
	switch _, err := getBytes(r, keys.MountKey(user, name)); {
	case err == nil:
		return false, nil
	case err != ErrNotFound:
		return false, err
	}
	home, err := homeOf(r, user)
	if err == ErrNotFound {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	switch _, err := collectionByPath(r, home.Path+name+"/"); {
	case err == nil:
		return false, nil
	case err != ErrNotFound:
		return false, err
	}
	switch _, err := getObject(r, home.Id, name); {
	case err == nil:
		return false, nil
	case err != ErrNotFound:
		return false, err
	}
	return true, nil
}

// homeOf returns user's live home collection.
func homeOf(r getter, user string) (*statev1.Collection, error) {
	v, err := getBytes(r, keys.HomeKey(user))
	if err != nil {
		return nil, err
	}
	id, err := keys.ParseU64(v)
	if err != nil {
		return nil, err
	}
	c, err := getCollection(r, id)
	if err != nil {
		return nil, err
	}
	if c.Deleted {
		return nil, ErrNotFound
	}
	return c, nil
}

// mountInHome reports whether name is a mount of the owner of the home
// collection parent: a collection or object of that name may not be
// created there.
func mountInHome(r getter, parent *statev1.Collection, name string) (bool, error) {
	if Kind(parent.Kind) != KindHome || parent.Owner == "" {
		return false, nil
	}
	switch _, err := getBytes(r, keys.MountKey(parent.Owner, name)); {
	case err == nil:
		return true, nil
	case err != ErrNotFound:
		return false, err
	}
	return false, nil
}

// checkName refuses a single name over the name limit.
func checkName(l Limits, name string) error {
	if len(name) > l.MaxNameLength {
		return nameTooLong(name, l.MaxNameLength, false)
	}
	return nil
}
