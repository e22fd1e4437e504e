package engine

import (
	"errors"
	"fmt"
	"slices"

	"github.com/almanac/almanac/engine/internal/keys"
	eventv1 "github.com/almanac/almanac/proto/almanac/event/v1"
	statev1 "github.com/almanac/almanac/proto/almanac/state/v1"
	"google.golang.org/protobuf/proto"
)

// A restore of a home rolls back its owner's side of the shares they
// hold too: their replies, their mounts' names and their own properties
// of the shares (Restore). The owner's grants are the owner's: a share
// that arrived after the moment stays, one that has gone is not made
// again.

// shareAsOf is what the owner of a restored home held of one collection
// shared with them at the moment restored.
type shareAsOf struct {
	id    uint64
	reply eventv1.ShareReply
	// mount is the name the mount had ("" when none was recorded: the
	// engine's default name), props the sharee's own properties.
	mount string
	props *eventv1.CollectionProps
}

// shareeAsOf computes the shares that user, whose home is home, held at
// seq of the collections shared with them now. Each share's reply is
// replayed from the history of the shared collection (grants reaching
// the user, their replies), its name and properties from the history of
// the home (the user's mount changes). Group membership is taken as it is
// now.
func (v *View) shareeAsOf(user string, home uint64, seq Seq) ([]*shareAsOf, error) {
	groups, err := getNames(v.v.snap, keys.MemberOfKey(user))
	if err != nil {
		return nil, err
	}
	reaches := func(grantee string) bool {
		_, in := slices.BinarySearch(groups.Names, grantee)
		return grantee == user || in
	}
	now, err := v.Shares(user)
	if err != nil {
		return nil, err
	}
	mounts := map[uint64]*eventv1.Event{} // the last mount change by id
	err = v.eachHistory(home, seq, func(ev *eventv1.Event) {
		if ev.Op == eventv1.Op_OP_SHARE_MOUNT_CHANGED && ev.Share.GetGrantee() == user {
			mounts[ev.CollectionId] = ev
		}
	})
	if err != nil {
		return nil, err
	}
	var out []*shareAsOf
	for _, sh := range now {
		if sh.Collection == nil {
			continue
		}
		id := sh.Collection.ID
		grants := map[string]bool{} // the grantees reaching user
		st := &shareAsOf{id: id}
		exists, named, repliedAt := false, "", uint64(0)
		err := v.eachHistory(id, seq, func(ev *eventv1.Event) {
			g := ev.Share.GetGrantee()
			switch {
			case ev.Op == eventv1.Op_OP_SHARE_GRANTED && reaches(g):
				grants[g] = true
				switch { // as reshare answers a grant (an invitation)
				case ev.Share.GetAutoAccept():
					st.reply = eventv1.ShareReply_SHARE_REPLY_ACCEPTED
				case !exists || st.reply == eventv1.ShareReply_SHARE_REPLY_DECLINED:
					st.reply = eventv1.ShareReply_SHARE_REPLY_UNSPECIFIED
				}
				exists = true
			case ev.Op == eventv1.Op_OP_SHARE_REVOKED && reaches(g):
				delete(grants, g)
				if len(grants) == 0 {
					exists, st.reply = false, eventv1.ShareReply_SHARE_REPLY_UNSPECIFIED
				}
			case ev.Op == eventv1.Op_OP_SHARE_REPLIED && g == user && exists:
				st.reply, named, repliedAt = ev.Share.GetReply(), ev.Share.GetMountName(), ev.Seq
			}
		})
		if err != nil {
			return nil, err
		}
		if !exists {
			continue // shared since: the owner's grant stays as it is
		}
		st.mount = named
		if m := mounts[id]; m != nil {
			st.props = m.Share.GetProps() // kept while not mounted too
			if m.Seq > repliedAt {
				st.mount = m.Share.GetMountName()
			}
		}
		out = append(out, st)
	}
	return out, nil
}

// eachHistory calls fn with every event of collection id's history up to
// seq, oldest first.
func (v *View) eachHistory(id uint64, seq Seq, fn func(*eventv1.Event)) error {
	lo := keys.IDPrefix(keys.CollHist, id)
	return v.scanKeys(lo, keys.CollHistKey(id, uint64(seq)+1), func(k []byte) error {
		s, err := keys.IDSeq(k)
		if err != nil {
			return err
		}
		ev, err := v.eventProto(Seq(s))
		if err != nil {
			return err
		}
		fn(ev)
		return nil
	})
}

// planSharee lists the replies and mount changes that bring the shares of
// the restored home's owner back to the target's: a reply where the
// answer differs (asking for the old mount name), then a mount change
// where an accepted share's name (when free) or the sharee's properties
// differ.
func (c *restoreCmd) planSharee(r reader) ([]RestoreAction, error) {
	var acts []RestoreAction
	for _, w := range c.target.sharee {
		coll, err := getCollection(r, w.id)
		if err != nil {
			return nil, err
		}
		sh, err := getShare(r, c.target.shareeUser, w.id)
		if errors.Is(err, ErrNotFound) {
			continue // revoked since the target was computed
		}
		if err != nil {
			return nil, err
		}
		a := RestoreAction{Path: coll.Path, Grantee: c.target.shareeUser, Reply: replyFromProto(w.reply), Mount: w.mount}
		if sh.Reply != w.reply {
			a.Op = OpShareReplied
			acts = append(acts, a)
		}
		if w.reply != eventv1.ShareReply_SHARE_REPLY_ACCEPTED {
			continue
		}
		rename := false
		if w.mount != "" && w.mount != sh.MountName {
			free, err := mountNameFree(r, c.target.shareeUser, w.mount)
			if err != nil {
				return nil, err
			}
			rename = free
		}
		if !rename {
			a.Mount = ""
		}
		if rename || !proto.Equal(normProps(sh.Props), normProps(w.props)) {
			a.Op, a.Props = OpShareMountChanged, propsFromProto(w.props)
			acts = append(acts, a)
		}
	}
	return acts, nil
}

// executeSharee builds the event of a planned reply or mount change.
func (c *restoreCmd) executeSharee(tx *txn, coll *statev1.Collection, a *RestoreAction, ev *eventv1.Event) error {
	sh, err := getShare(tx.rw, a.Grantee, coll.Id)
	if err != nil {
		return fmt.Errorf("engine: restore the share of %s to %s: %w", coll.Path, a.Grantee, err)
	}
	ev.CollectionKind, ev.Owner = coll.Kind, coll.Owner
	ev.Share = &eventv1.Share{Grantee: a.Grantee}
	if a.Op == OpShareReplied {
		ev.Op = eventv1.Op_OP_SHARE_REPLIED
		ev.Share.Reply, ev.Share.MountName = replyToProto(a.Reply), a.Mount
		return nil
	}
	if sh.MountName == "" {
		return fmt.Errorf("engine: restore the mount of %s by %s: %w", coll.Path, a.Grantee, ErrNotFound)
	}
	ev.Op = eventv1.Op_OP_SHARE_MOUNT_CHANGED
	ev.Share.MountName, ev.Share.Props = sh.MountName, propsToProto(a.Props)
	if a.Mount != "" && a.Mount != sh.MountName {
		if free, err := mountNameFree(tx.rw, a.Grantee, a.Mount); err != nil {
			return err
		} else if free {
			ev.Share.MountName = a.Mount
		}
	}
	return nil
}

func replyToProto(r Reply) eventv1.ShareReply {
	switch r {
	case ReplyAccepted:
		return eventv1.ShareReply_SHARE_REPLY_ACCEPTED
	case ReplyDeclined:
		return eventv1.ShareReply_SHARE_REPLY_DECLINED
	}
	return eventv1.ShareReply_SHARE_REPLY_UNSPECIFIED
}
