package engine

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/almanac/almanac/engine/internal/keys"
	eventv1 "github.com/almanac/almanac/proto/almanac/event/v1"
	statev1 "github.com/almanac/almanac/proto/almanac/state/v1"
	"google.golang.org/protobuf/proto"
)

// The sharing projections (engine/doc.go, "Sharing") are derived by point
// lookups only, so a replay keeps them in memory (keptFamily):
//
//	d<group>          the group record (eventv1.Group)
//	j<user>           the user's groups (statev1.Names)
//	r<id>             the grants on collection id (statev1.Grants)
//	s<principal>      the collections granted to a user or group (statev1.IDs)
//	e<user>0<id>      what user holds of collection id (statev1.Share)
//	n<user>0<name>    user's mount name -> collection id
//	f<user>           user's home collection id
//
// Every event that can change a user's effective access to a collection
// recomputes that (user, collection) pair from the grants and the groups
// (reshare).

func applySharing(rw readWriter, ev *eventv1.Event) error {
	switch ev.Op {
	case eventv1.Op_OP_GROUP_SET:
		return applyGroupSet(rw, ev, ev.Group)
	case eventv1.Op_OP_GROUP_DELETED:
		return applyGroupDeleted(rw, ev)
	case eventv1.Op_OP_SHARE_GRANTED:
		return applyGrant(rw, ev, false)
	case eventv1.Op_OP_SHARE_REVOKED:
		return applyGrant(rw, ev, true)
	case eventv1.Op_OP_SHARE_REPLIED:
		return applyReply(rw, ev)
	case eventv1.Op_OP_SHARE_MOUNT_CHANGED:
		return applyMountChanged(rw, ev)
	case eventv1.Op_OP_PROXY_SET:
		return applyProxy(rw, ev)
	case eventv1.Op_OP_LINK_CREATED, eventv1.Op_OP_LINK_REVOKED:
		return applyLink(rw, ev, ev.Op == eventv1.Op_OP_LINK_CREATED)
	}
	return fmt.Errorf("engine: apply: unknown op %v at seq %d", ev.Op, ev.Seq)
}

func getGrants(r getter, id uint64) (*statev1.Grants, error) {
	g := &statev1.Grants{}
	if err := getProto(r, keys.GrantsKey(id), g); err != nil && err != ErrNotFound {
		return nil, err
	}
	return g, nil
}

func getIDs(r getter, key []byte) (*statev1.IDs, error) {
	ids := &statev1.IDs{}
	if err := getProto(r, key, ids); err != nil && err != ErrNotFound {
		return nil, err
	}
	return ids, nil
}

func getNames(r getter, key []byte) (*statev1.Names, error) {
	n := &statev1.Names{}
	if err := getProto(r, key, n); err != nil && err != ErrNotFound {
		return nil, err
	}
	return n, nil
}

func getShare(r getter, user string, id uint64) (*statev1.Share, error) {
	s := &statev1.Share{}
	if err := getProto(r, keys.ShareKey(user, id), s); err != nil {
		return nil, err
	}
	return s, nil
}

// setOrDelete writes m at key, or deletes key when empty is set.
func setOrDelete(rw readWriter, key []byte, m proto.Message, empty bool) error {
	if empty {
		return rw.Delete(key, nil)
	}
	return setProto(rw, key, m)
}

// editSorted adds (or removes) v in the sorted list and reports whether
// the list changed.
func editSorted[T cmp.Ordered](list *[]T, v T, add bool) bool {
	i, found := slices.BinarySearch(*list, v)
	switch {
	case add && !found:
		*list = slices.Insert(*list, i, v)
	case !add && found:
		*list = slices.Delete(*list, i, i+1)
	default:
		return false
	}
	return true
}

// editIDs adds (or removes) id in the sorted list at key.
func editIDs(rw readWriter, key []byte, id uint64, add bool) error {
	ids, err := getIDs(rw, key)
	if err != nil || !editSorted(&ids.Ids, id, add) {
		return err
	}
	return setOrDelete(rw, key, ids, len(ids.Ids) == 0)
}

// editNames adds (or removes) name in the sorted list at key.
func editNames(rw readWriter, key []byte, name string, add bool) error {
	n, err := getNames(rw, key)
	if err != nil || !editSorted(&n.Names, name, add) {
		return err
	}
	return setOrDelete(rw, key, n, len(n.Names) == 0)
}

// usersOf returns the users a grant to principal reaches: the members of
// the group principal, or principal itself.
func usersOf(r getter, principal string) ([]string, error) {
	g := &eventv1.Group{}
	switch err := getProto(r, keys.GroupKey(principal), g); {
	case err == nil:
		return g.Members, nil
	case err != ErrNotFound:
		return nil, err
	}
	return []string{principal}, nil
}

func applyGrant(rw readWriter, ev *eventv1.Event, revoke bool) error {
	id, grantee := ev.CollectionId, ev.Share.GetGrantee()
	grants, err := getGrants(rw, id)
	if err != nil {
		return err
	}
	grants.Grants = slices.DeleteFunc(grants.Grants, func(g *statev1.Grant) bool { return g.Grantee == grantee })
	if !revoke {
		grants.Grants = append(grants.Grants, &statev1.Grant{
			Grantee: grantee, Access: ev.Share.Access, AutoAccept: ev.Share.AutoAccept, Seq: ev.Seq,
		})
		slices.SortFunc(grants.Grants, func(a, b *statev1.Grant) int { return strings.Compare(a.Grantee, b.Grantee) })
	}
	if err := setOrDelete(rw, keys.GrantsKey(id), grants, len(grants.Grants) == 0); err != nil {
		return err
	}
	if err := editIDs(rw, keys.GrantedToKey(grantee), id, !revoke); err != nil {
		return err
	}
	if err := rw.Set(keys.CollHistKey(id, ev.Seq), nil, nil); err != nil {
		return err
	}
	users, err := usersOf(rw, grantee)
	if err != nil {
		return err
	}
	for _, u := range users {
		if err := reshare(rw, ev, u, id, !revoke); err != nil {
			return err
		}
	}
	return nil
}

func applyGroupSet(rw readWriter, ev *eventv1.Event, g *eventv1.Group) error {
	old := &eventv1.Group{}
	if err := getProto(rw, keys.GroupKey(g.Name), old); err != nil && err != ErrNotFound {
		return err
	}
	if err := setProto(rw, keys.GroupKey(g.Name), g); err != nil {
		return err
	}
	return regroup(rw, ev, g.Name, old.Members, g.Members)
}

// regroup moves the members that left or joined group name (both lists
// sorted) in or out of the group's shares.
func regroup(rw readWriter, ev *eventv1.Event, name string, was, now []string) error {
	var changed []string
	for _, u := range was {
		if _, in := slices.BinarySearch(now, u); !in {
			changed = append(changed, u)
			if err := editNames(rw, keys.MemberOfKey(u), name, false); err != nil {
				return err
			}
		}
	}
	for _, u := range now {
		if _, in := slices.BinarySearch(was, u); !in {
			changed = append(changed, u)
			if err := editNames(rw, keys.MemberOfKey(u), name, true); err != nil {
				return err
			}
		}
	}
	ids, err := getIDs(rw, keys.GrantedToKey(name))
	if err != nil {
		return err
	}
	for _, u := range changed {
		for _, id := range ids.Ids {
			if err := reshare(rw, ev, u, id, false); err != nil {
				return err
			}
		}
	}
	return nil
}

func applyGroupDeleted(rw readWriter, ev *eventv1.Event) error {
	name := ev.Group.GetName()
	old := &eventv1.Group{}
	if err := getProto(rw, keys.GroupKey(name), old); err != nil {
		return fmt.Errorf("engine: apply seq %d: group %q: %w", ev.Seq, name, err)
	}
	if err := rw.Delete(keys.GroupKey(name), nil); err != nil {
		return err
	}
	ids, err := dropPrincipal(rw, ev, name)
	if err != nil {
		return err
	}
	for _, u := range old.Members {
		if err := editNames(rw, keys.MemberOfKey(u), name, false); err != nil {
			return err
		}
		for _, id := range ids {
			if err := reshare(rw, ev, u, id, false); err != nil {
				return err
			}
		}
	}
	return nil
}

// dropPrincipal withdraws the grants and delegations made to principal (a
// deleted user or group) and returns the ids of the collections it was
// granted; the caller recomputes the shares of the users it reached.
func dropPrincipal(rw readWriter, ev *eventv1.Event, principal string) ([]uint64, error) {
	ids, err := getIDs(rw, keys.GrantedToKey(principal))
	if err != nil {
		return nil, err
	}
	for _, id := range ids.Ids {
		grants, err := getGrants(rw, id)
		if err != nil {
			return nil, err
		}
		grants.Grants = slices.DeleteFunc(grants.Grants, func(g *statev1.Grant) bool { return g.Grantee == principal })
		if err := setOrDelete(rw, keys.GrantsKey(id), grants, len(grants.Grants) == 0); err != nil {
			return nil, err
		}
	}
	if err := rw.Delete(keys.GrantedToKey(principal), nil); err != nil {
		return nil, err
	}
	return ids.Ids, dropDelegations(rw, ev, principal)
}

// applyUserDeleted withdraws the grants and delegations made to a deleted
// user, so an account created again under the name inherits none of them
// (those through groups stay: membership is by name).
func applyUserDeleted(rw readWriter, ev *eventv1.Event) error {
	name := ev.User.GetName()
	ids, err := dropPrincipal(rw, ev, name)
	if err != nil {
		return err
	}
	for _, id := range ids {
		if err := reshare(rw, ev, name, id, false); err != nil {
			return err
		}
	}
	return nil
}

// dropGrants removes every grant on collection id (deleted): its sharees
// lose their shares and mounts.
func dropGrants(rw readWriter, ev *eventv1.Event, id uint64) error {
	grants, err := getGrants(rw, id)
	if err != nil || len(grants.Grants) == 0 {
		return err
	}
	if err := rw.Delete(keys.GrantsKey(id), nil); err != nil {
		return err
	}
	for _, g := range grants.Grants {
		if err := editIDs(rw, keys.GrantedToKey(g.Grantee), id, false); err != nil {
			return err
		}
		users, err := usersOf(rw, g.Grantee)
		if err != nil {
			return err
		}
		for _, u := range users {
			if err := reshare(rw, ev, u, id, false); err != nil {
				return err
			}
		}
	}
	return nil
}

// reshare recomputes what user holds of collection id after ev: the
// highest access of the grants to the user and the user's groups. A share
// that appears is accepted at once when one of those grants auto-accepts,
// else it waits for the user's reply. A grant (invite set) invites again:
// with auto-accept it accepts, without it a declined share is pending
// again. A share that disappears takes its mount with it.
func reshare(rw readWriter, ev *eventv1.Event, user string, id uint64, invite bool) error {
	grants, err := getGrants(rw, id)
	if err != nil {
		return err
	}
	groups, err := getNames(rw, keys.MemberOfKey(user))
	if err != nil {
		return err
	}
	var access eventv1.ShareAccess
	auto := false
	for _, g := range grants.Grants {
		if g.Grantee != user {
			if _, in := slices.BinarySearch(groups.Names, g.Grantee); !in {
				continue
			}
		}
		if accessFromProto(g.Access) > accessFromProto(access) {
			access = g.Access
		}
		auto = auto || g.AutoAccept
	}
	coll, err := getCollection(rw, id)
	if err != nil {
		return fmt.Errorf("engine: apply seq %d: shared collection %d: %w", ev.Seq, id, err)
	}
	if coll.Owner == user || coll.Deleted {
		access = eventv1.ShareAccess_SHARE_ACCESS_UNSPECIFIED
	}
	old, err := getShare(rw, user, id)
	if err != nil && err != ErrNotFound {
		return err
	}
	if access == eventv1.ShareAccess_SHARE_ACCESS_UNSPECIFIED {
		if old == nil {
			return nil
		}
		if err := rw.Delete(keys.ShareKey(user, id), nil); err != nil {
			return err
		}
		return unmount(rw, ev, user, old)
	}
	sh := old
	reply := eventv1.ShareReply_SHARE_REPLY_UNSPECIFIED
	switch {
	case old == nil:
		sh = &statev1.Share{CollectionId: id}
		if auto {
			reply = eventv1.ShareReply_SHARE_REPLY_ACCEPTED
		}
	case invite && ev.Share.GetAutoAccept():
		reply = eventv1.ShareReply_SHARE_REPLY_ACCEPTED
	case invite && old.Reply == eventv1.ShareReply_SHARE_REPLY_DECLINED:
	default:
		reply = old.Reply
	}
	if old != nil && old.Access == access && old.Reply == reply {
		return nil
	}
	sh.Access, sh.Reply, sh.Seq = access, reply, ev.Seq
	if reply == eventv1.ShareReply_SHARE_REPLY_ACCEPTED && sh.MountName == "" {
		if err := mount(rw, ev, user, sh, coll, ""); err != nil {
			return err
		}
	}
	return setProto(rw, keys.ShareKey(user, id), sh)
}

// mount gives share sh of user a mount name in the user's home: want when
// it is free, else "<owner>-<collection>" made unique with "-2", "-3"...
func mount(rw readWriter, ev *eventv1.Event, user string, sh *statev1.Share, coll *statev1.Collection, want string) error {
	name := ""
	if want != "" {
		free, err := mountNameFree(rw, user, want)
		if err != nil {
			return err
		}
		if free {
			name = want
		}
	}
	if name == "" {
		base := coll.Owner + "-" + baseName(coll.Path)
		if len(base) > 200 {
			base = strings.ToValidUTF8(base[:200], "")
		}
		for i := 1; name == ""; i++ {
			cand := base
			if i > 1 {
				cand += "-" + strconv.Itoa(i)
			}
			free, err := mountNameFree(rw, user, cand)
			if err != nil {
				return err
			}
			if free {
				name = cand
			}
		}
	}
	sh.MountName = name
	if err := rw.Set(keys.MountKey(user, name), keys.U64(sh.CollectionId), nil); err != nil {
		return err
	}
	return mountChanged(rw, ev, user, name, false)
}

// unmount removes the mount of share sh of user, if it has one.
func unmount(rw readWriter, ev *eventv1.Event, user string, sh *statev1.Share) error {
	if sh.MountName == "" {
		return nil
	}
	if err := rw.Delete(keys.MountKey(user, sh.MountName), nil); err != nil {
		return err
	}
	name := sh.MountName
	sh.MountName = ""
	return mountChanged(rw, ev, user, name, true)
}

// mountChanged records that the mount name arrived in user's home (or left
// it): the home's change index lists "name/" as a member, or as deleted,
// so a sync-collection of the home reports it like an object created or
// deleted; and the home's CTag and sync token move on. The home's
// tombstone of "name/" keeps the seq of its latest change entry, which the
// next one replaces (each name is once in the index).
func mountChanged(rw readWriter, ev *eventv1.Event, user, name string, gone bool) error {
	home, err := homeOf(rw, user)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	member := name + "/"
	if err := dropTombstone(rw, home.Id, member); err != nil {
		return err
	}
	if err := setProto(rw, keys.ChangeKey(home.Id, ev.Seq, member), &statev1.Change{Name: member, Deleted: gone}); err != nil {
		return err
	}
	if err := rw.Set(keys.TombKey(home.Id, member), keys.U64(ev.Seq), nil); err != nil {
		return err
	}
	return touchHome(rw, ev, user)
}

// touchHome records that ev changed what user's home lists: its CTag and
// sync token move on.
func touchHome(rw readWriter, ev *eventv1.Event, user string) error {
	home, err := homeOf(rw, user)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	return updateCollection(rw, ev, home.Id, func(*statev1.Collection) {})
}

func applyReply(rw readWriter, ev *eventv1.Event) error {
	user, id := ev.Share.GetGrantee(), ev.CollectionId
	sh, err := getShare(rw, user, id)
	if err != nil {
		return fmt.Errorf("engine: apply seq %d: share of %d to %q: %w", ev.Seq, id, user, err)
	}
	sh.Reply, sh.Seq = ev.Share.Reply, ev.Seq
	if sh.Reply == eventv1.ShareReply_SHARE_REPLY_ACCEPTED {
		if sh.MountName == "" {
			coll, err := getCollection(rw, id)
			if err != nil {
				return err
			}
			if err := mount(rw, ev, user, sh, coll, ev.Share.MountName); err != nil {
				return err
			}
		}
	} else if err := unmount(rw, ev, user, sh); err != nil {
		return err
	}
	if err := rw.Set(keys.CollHistKey(id, ev.Seq), nil, nil); err != nil {
		return err
	}
	return setProto(rw, keys.ShareKey(user, id), sh)
}

func applyMountChanged(rw readWriter, ev *eventv1.Event) error {
	user, id := ev.Share.GetGrantee(), ev.CollectionId
	sh, err := getShare(rw, user, id)
	if err != nil {
		return fmt.Errorf("engine: apply seq %d: share of %d to %q: %w", ev.Seq, id, user, err)
	}
	if name := ev.Share.MountName; name != sh.MountName && sh.MountName != "" {
		if err := rw.Delete(keys.MountKey(user, sh.MountName), nil); err != nil {
			return err
		}
		if err := rw.Set(keys.MountKey(user, name), keys.U64(id), nil); err != nil {
			return err
		}
		if err := mountChanged(rw, ev, user, sh.MountName, true); err != nil {
			return err
		}
		sh.MountName = name
	}
	sh.Props, sh.Seq = ev.Share.Props, ev.Seq
	if err := setProto(rw, keys.ShareKey(user, id), sh); err != nil {
		return err
	}
	if sh.MountName != "" {
		return mountChanged(rw, ev, user, sh.MountName, false)
	}
	return touchHome(rw, ev, user)
}

// applyHome keeps the home index: a user's home is the first live home
// collection they own.
func applyHome(rw readWriter, ev *eventv1.Event) error {
	if ev.Owner == "" {
		return nil
	}
	switch ev.Op {
	case eventv1.Op_OP_COLLECTION_CREATED:
		if ev.CollectionKind != eventv1.CollectionKind_COLLECTION_KIND_HOME {
			return nil
		}
		if _, err := homeOf(rw, ev.Owner); err == nil {
			return nil
		} else if err != ErrNotFound {
			return err
		}
		return rw.Set(keys.HomeKey(ev.Owner), keys.U64(ev.CollectionId), nil)
	case eventv1.Op_OP_COLLECTION_DELETED:
		v, err := getBytes(rw, keys.HomeKey(ev.Owner))
		if err == ErrNotFound {
			return nil
		}
		if err != nil {
			return err
		}
		if id, err := keys.ParseU64(v); err != nil || id != ev.CollectionId {
			return err
		}
		return rw.Delete(keys.HomeKey(ev.Owner), nil)
	}
	return nil
}

// dropDelegations withdraws every delegation made to principal (a deleted
// group).
func dropDelegations(rw readWriter, ev *eventv1.Event, principal string) error {
	of, err := getNames(rw, keys.ProxyOfKey(principal))
	if err != nil {
		return err
	}
	for _, d := range of.Names {
		withdraw := &eventv1.Event{Seq: ev.Seq, Proxy: &eventv1.Proxy{Delegator: d, Delegate: principal}}
		if err := applyProxy(rw, withdraw); err != nil {
			return err
		}
	}
	return nil
}
