package engine

import (
	"fmt"
	"iter"
	"slices"
	"strings"

	"github.com/almanac/almanac/engine/internal/keys"
	eventv1 "github.com/almanac/almanac/proto/almanac/event/v1"
	statev1 "github.com/almanac/almanac/proto/almanac/state/v1"
	"github.com/cockroachdb/pebble/v2"
	"google.golang.org/protobuf/proto"
)

// Resolution is what View.Access found for a principal and a path.
type Resolution struct {
	// Access is what the principal may do. AccessNone means nothing: the
	// other fields are then empty, and dav answers 404 as for a path that
	// does not exist.
	Access Access
	// Target is the path to read or write: the path itself, or for a path
	// through a mount the owner's collection path + the rest of the path
	// ("/dav/home/bob/alice-cal/x.ics" -> "/dav/home/alice/cal/x.ics").
	Target string
	// Collection is the live collection that decided: the deepest
	// collection holding the path when the principal owns it, the shared
	// collection for a share. Nil when the path has no live collection
	// above it.
	Collection *Collection
	// Share is set when the access comes from a share (through a mount
	// or the owner's URL): the sharee's view of it.
	Share *Share
	// Mount is the mount name when the path went through a mount of the
	// principal's home.
	Mount string
}

// Access resolves what user may do at path (a collection path ending in
// "/" or an object path) and which path it addresses:
//
//   - under a collection user owns: AccessOwner, Target = path;
//   - under a mount in user's home (/dav/home/<user>/<mount>/...): the
//     share's access, Target = the owner's collection + the rest;
//   - under another user's collection shared with user directly or through
//     a group, or anywhere in the home of a user who made user (or one of
//     user's groups) a delegate: the higher of the two, Target = path;
//   - otherwise AccessNone.
//
// It reads a few records whatever the number of the user's groups (the
// shares are kept per user, see engine/doc.go), and it caches only the
// decoded group lists, checked against their records on every read
// (groupCache): a revocation takes effect on the next View.
func (v *View) Access(user, path string) (Resolution, error) {
	r := v.v.snap
	coll, err := deepestCollection(v.v, path)
	if err != nil || coll == nil {
		return Resolution{}, err
	}
	if coll.Owner == user && user != "" {
		if Kind(coll.Kind) == KindHome {
			if seg, rest, ok := nextSegment(coll.Path, path); ok {
				switch id, err := mountTarget(r, user, seg); {
				case err == nil:
					return v.viaMount(user, coll.Path, seg, id, rest)
				case err != ErrNotFound:
					return Resolution{}, err
				}
			}
		}
		return Resolution{Access: AccessOwner, Target: path, Collection: v.db.collectionFromProto(coll)}, nil
	}
	if user == "" {
		return Resolution{}, nil
	}
	proxy, err := proxyAccess(r, &v.db.groups, coll.Owner, user)
	if err != nil {
		return Resolution{}, err
	}
	res := Resolution{Access: proxy}
	if Kind(coll.Kind) != KindHome {
		if res, err = v.sharedAccess(user, path, coll); err != nil {
			return Resolution{}, err
		}
	}
	if proxy > res.Access {
		res.Access = proxy
	}
	if res.Access == AccessNone {
		return Resolution{}, nil
	}
	res.Target = path
	if res.Collection == nil {
		res.Collection = v.db.collectionFromProto(coll)
	}
	return res, nil
}

// sharedAccess resolves path, below coll (not a home) of another owner,
// through what of it is shared with user: a share of coll itself, or of
// its ancestor directly in the owner's home.
func (v *View) sharedAccess(user, path string, coll *statev1.Collection) (Resolution, error) {
	r := v.v.snap
	sh, err := getShare(r, user, coll.Id)
	if err == ErrNotFound {
		home, err := homeOf(r, coll.Owner)
		if err == ErrNotFound {
			return Resolution{}, nil
		}
		if err != nil {
			return Resolution{}, err
		}
		seg, _, ok := nextSegment(home.Path, path)
		if !ok || home.Path+seg+"/" == coll.Path {
			return Resolution{}, nil
		}
		top, err := collectionByPath(r, home.Path+seg+"/")
		if err == ErrNotFound {
			return Resolution{}, nil
		}
		if err != nil {
			return Resolution{}, err
		}
		sh, err = getShare(r, user, top.Id)
		if err == ErrNotFound {
			return Resolution{}, nil
		}
	}
	if err != nil {
		return Resolution{}, err
	}
	s, err := v.shareFromProto(user, sh, "")
	if err != nil {
		return Resolution{}, err
	}
	return Resolution{Access: s.Access, Collection: s.Collection, Share: s}, nil
}

// viaMount resolves the rest of a path below user's mount name (in the
// home at homePath) of collection id.
func (v *View) viaMount(user, homePath, name string, id uint64, rest string) (Resolution, error) {
	sh, err := getShare(v.v.snap, user, id)
	if err == ErrNotFound {
		return Resolution{}, nil
	}
	if err != nil {
		return Resolution{}, err
	}
	s, err := v.shareFromProto(user, sh, homePath)
	if err != nil || s.Collection == nil {
		return Resolution{}, err
	}
	return Resolution{Access: s.Access, Target: s.Collection.Path + rest, Collection: s.Collection, Share: s, Mount: name}, nil
}

// nextSegment splits path below the collection dir into its first
// segment and the rest after "seg/" ("" for the collection itself, an
// object name, or deeper paths). ok is false when path is dir itself.
func nextSegment(dir, path string) (seg, rest string, ok bool) {
	below, found := strings.CutPrefix(path, dir)
	if !found || below == "" {
		return "", "", false
	}
	seg, rest, _ = strings.Cut(below, "/")
	return seg, rest, seg != ""
}

// deepestCollection returns the deepest live collection at or above path
// (an object's collection, a missing path's nearest ancestor), or nil.
func deepestCollection(v *view, path string) (*statev1.Collection, error) {
	p := path
	if !strings.HasSuffix(p, "/") {
		p = parentPath(p)
	}
	for strings.HasPrefix(p, "/") {
		c, err := v.collectionByPath(p)
		if err == nil {
			return c, nil
		}
		if err != ErrNotFound {
			return nil, err
		}
		if p == "/" {
			break
		}
		p = parentPath(p)
	}
	return nil, nil
}

// shareFromProto returns user's share sh; homePath is the user's home
// path when the caller knows it ("": look it up).
func (v *View) shareFromProto(user string, sh *statev1.Share, homePath string) (*Share, error) {
	c, err := getCollection(v.v.snap, sh.CollectionId)
	if err != nil {
		return nil, err
	}
	s := &Share{
		Collection: v.db.collectionFromProto(c),
		User:       user,
		Access:     accessFromProto(sh.Access),
		Reply:      replyFromProto(sh.Reply),
		Mount:      sh.MountName,
		Props:      propsFromProto(sh.Props),
		Seq:        Seq(sh.Seq),
	}
	if s.Mount != "" && homePath == "" {
		if home, err := homeOf(v.v.snap, user); err == nil {
			homePath = home.Path
		} else if err != ErrNotFound {
			return nil, err
		}
	}
	if s.Mount != "" && homePath != "" {
		s.MountPath = homePath + s.Mount + "/"
	}
	return s, nil
}

func replyFromProto(r eventv1.ShareReply) Reply {
	switch r {
	case eventv1.ShareReply_SHARE_REPLY_ACCEPTED:
		return ReplyAccepted
	case eventv1.ShareReply_SHARE_REPLY_DECLINED:
		return ReplyDeclined
	}
	return ReplyPending
}

// Shares returns everything shared with user (pending and declined
// shares included), by collection id.
func (v *View) Shares(user string) ([]*Share, error) {
	lo := keys.SharePrefix(user)
	var out []*Share
	err := v.scanKeys(lo, keys.PrefixEnd(lo), func(k []byte) error {
		id, err := keys.TrailingSeq(k)
		if err != nil {
			return err
		}
		sh, err := getShare(v.v.snap, user, id)
		if err != nil {
			return err
		}
		s, err := v.shareFromProto(user, sh, "")
		out = append(out, s)
		return err
	})
	return out, err
}

// Mounts returns the shares mounted in user's home (the accepted ones), in
// mount name order: what a listing of the home shows beside the user's
// own collections.
func (v *View) Mounts(user string) ([]*Share, error) {
	lo := keys.MountPrefix(user)
	var out []*Share
	err := v.scanKeys(lo, keys.PrefixEnd(lo), func(k []byte) error {
		name, err := keys.MountName(k, user)
		if err != nil {
			return err
		}
		s, err := v.Mount(user, name)
		out = append(out, s)
		return err
	})
	return out, err
}

// Mount returns user's mount name.
//
// Errors: ErrNotFound.
func (v *View) Mount(user, name string) (*Share, error) {
	id, err := mountTarget(v.v.snap, user, name)
	if err != nil {
		return nil, err
	}
	sh, err := getShare(v.v.snap, user, id)
	if err != nil {
		return nil, err
	}
	return v.shareFromProto(user, sh, "")
}

// ShareOf returns what user holds of the collection at path (the owner's
// path).
//
// Errors: ErrNotFound (no collection, or nothing of it shared with user).
func (v *View) ShareOf(user, path string) (*Share, error) {
	c, err := collectionByPath(v.v.snap, path)
	if err != nil {
		return nil, err
	}
	sh, err := getShare(v.v.snap, user, c.Id)
	if err != nil {
		return nil, err
	}
	return v.shareFromProto(user, sh, "")
}

// Grants returns the grants on the collection at path, by grantee (for
// DAV:invite, CS:invite and DAV:acl).
//
// Errors: ErrNotFound (no collection).
func (v *View) Grants(path string) ([]*Grant, error) {
	c, err := collectionByPath(v.v.snap, path)
	if err != nil {
		return nil, err
	}
	gs, err := getGrants(v.v.snap, c.Id)
	if err != nil {
		return nil, err
	}
	out := make([]*Grant, 0, len(gs.Grants))
	for _, g := range gs.Grants {
		out = append(out, &Grant{
			CollectionID: c.Id, Path: c.Path, Owner: c.Owner, Grantee: g.Grantee,
			Access: accessFromProto(g.Access), AutoAccept: g.AutoAccept, Seq: Seq(g.Seq),
		})
	}
	return out, nil
}

// GrantsTo returns the grants made to principal (a user or a group
// itself, not through groups), by collection id.
func (v *View) GrantsTo(principal string) ([]*Grant, error) {
	ids, err := getIDs(v.v.snap, keys.GrantedToKey(principal))
	if err != nil {
		return nil, err
	}
	var out []*Grant
	for _, id := range ids.Ids {
		c, err := getCollection(v.v.snap, id)
		if err != nil {
			return nil, err
		}
		gs, err := getGrants(v.v.snap, id)
		if err != nil {
			return nil, err
		}
		i := slices.IndexFunc(gs.Grants, func(g *statev1.Grant) bool { return g.Grantee == principal })
		if i < 0 {
			continue
		}
		g := gs.Grants[i]
		out = append(out, &Grant{
			CollectionID: id, Path: c.Path, Owner: c.Owner, Grantee: principal,
			Access: accessFromProto(g.Access), AutoAccept: g.AutoAccept, Seq: Seq(g.Seq),
		})
	}
	return out, nil
}

// ReadableLog streams, from from on to the view's head, the events of
// every collection user may read: their own (OwnerLog), the collections
// shared with them at AccessRead or more, and the homes of the users who
// made them (or one of their groups) a delegate. Each event comes once, in
// log order. What is readable is decided by this view: a share revoked
// before it is not followed.
func (v *View) ReadableLog(user string, from Seq) iter.Seq2[*Event, error] {
	return func(yield func(*Event, error) bool) {
		from = max(from, 1)
		if from > v.v.head {
			return
		}
		srcs, err := v.readableSources(user, from)
		defer func() {
			for _, s := range srcs {
				s.it.Close()
			}
		}()
		if err != nil {
			yield(nil, err)
			return
		}
		last := Seq(0)
		for {
			var low *logSource
			for _, s := range srcs {
				if s.ok && (low == nil || s.seq < low.seq) {
					low = s
				}
			}
			if low == nil {
				break
			}
			if seq := low.seq; seq != last {
				last = seq
				ev, err := v.Event(seq)
				if err != nil {
					yield(nil, err)
					return
				}
				if !yield(ev, nil) {
					return
				}
			}
			if err := low.next(); err != nil {
				yield(nil, err)
				return
			}
		}
	}
}

// logSource is one index of sequence numbers that ReadableLog merges.
type logSource struct {
	it    *pebble.Iterator
	seqOf func([]byte) (uint64, error)
	ok    bool
	seq   Seq
}

func (s *logSource) next() error {
	s.ok = s.it.Next()
	return s.load()
}

func (s *logSource) load() error {
	if !s.ok {
		return s.it.Error()
	}
	seq, err := s.seqOf(s.it.Key())
	s.seq = Seq(seq)
	return err
}

// readableSources opens the indexes ReadableLog merges, each positioned
// at its first event from from on.
func (v *View) readableSources(user string, from Seq) ([]*logSource, error) {
	type rng struct {
		lo, hi []byte
		seqOf  func([]byte) (uint64, error)
	}
	owner := func(o string) rng {
		return rng{keys.OwnerLogKey(o, uint64(from)), keys.OwnerLogKey(o, uint64(v.v.head)+1), keys.TrailingSeq}
	}
	ranges := []rng{owner(user)}
	delegators, err := v.delegatorsOf(user)
	if err != nil {
		return nil, err
	}
	for _, d := range delegators {
		ranges = append(ranges, owner(d))
	}
	shares, err := getSharesOf(v.v.snap, user)
	if err != nil {
		return nil, err
	}
	for _, id := range shares {
		ranges = append(ranges, rng{keys.CollHistKey(id, uint64(from)), keys.CollHistKey(id, uint64(v.v.head)+1), keys.IDSeq})
	}
	var srcs []*logSource
	for _, r := range ranges {
		it, err := v.v.snap.NewIter(&pebble.IterOptions{LowerBound: r.lo, UpperBound: r.hi})
		if err != nil {
			return srcs, fmt.Errorf("engine: log index iterator: %w", err)
		}
		s := &logSource{it: it, seqOf: r.seqOf, ok: it.First()}
		srcs = append(srcs, s)
		if err := s.load(); err != nil {
			return srcs, err
		}
	}
	return srcs, nil
}

// delegatorsOf returns the users who made user, or one of user's groups,
// a delegate (read or write).
func (v *View) delegatorsOf(user string) ([]string, error) {
	groups, err := getNames(v.v.snap, keys.MemberOfKey(user))
	if err != nil {
		return nil, err
	}
	var out []string
	for _, p := range append([]string{user}, groups.Names...) {
		of, err := getNames(v.v.snap, keys.ProxyOfKey(p))
		if err != nil {
			return nil, err
		}
		out = append(out, of.Names...)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// getSharesOf returns the ids of the collections shared with user at
// AccessRead or more.
func getSharesOf(r interface {
	NewIter(*pebble.IterOptions) (*pebble.Iterator, error)
}, user string) ([]uint64, error) {
	lo := keys.SharePrefix(user)
	it, err := r.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: keys.PrefixEnd(lo)})
	if err != nil {
		return nil, fmt.Errorf("engine: share iterator: %w", err)
	}
	defer it.Close()
	var ids []uint64
	for it.First(); it.Valid(); it.Next() {
		sh := &statev1.Share{}
		val, err := it.ValueAndErr()
		if err != nil {
			return nil, fmt.Errorf("engine: read share: %w", err)
		}
		if err := proto.Unmarshal(val, sh); err != nil {
			return nil, fmt.Errorf("engine: decode share: %w", err)
		}
		if accessFromProto(sh.Access) >= AccessRead {
			ids = append(ids, sh.CollectionId)
		}
	}
	return ids, it.Error()
}
