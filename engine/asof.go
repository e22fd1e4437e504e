package engine

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/almanac/almanac/engine/internal/keys"
	eventv1 "github.com/almanac/almanac/proto/almanac/event/v1"
	"google.golang.org/protobuf/proto"
)

// AsOf names a moment of the log: a sequence number, or a time (the state
// after the last event committed at or before it). A zero AsOf is the
// view's head.
type AsOf struct {
	Seq  Seq
	Time time.Time
}

// ErrCompacted is returned when a state of the past needs a body that
// compaction or purge erased.
var ErrCompacted = errors.New("engine: content erased by compaction or purge")

// ParseAsOf reads a decimal sequence number or an RFC 3339 time.
func ParseAsOf(s string) (AsOf, error) {
	s = strings.TrimSpace(s)
	if n, err := strconv.ParseUint(s, 10, 64); err == nil {
		return AsOf{Seq: Seq(n)}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return AsOf{}, fmt.Errorf("engine: as-of %q is neither a sequence number nor an RFC 3339 time", s)
	}
	return AsOf{Time: t}, nil
}

// String returns the moment as ParseAsOf reads it.
func (a AsOf) String() string {
	if !a.Time.IsZero() {
		return a.Time.UTC().Format(time.RFC3339Nano)
	}
	return strconv.FormatUint(uint64(a.Seq), 10)
}

// ResolveAsOf returns the sequence number of the last event at or before
// at (0 when the log had no event then).
//
// Errors: ErrNotFound when at.Seq lies beyond the view's head.
func (v *View) ResolveAsOf(at AsOf) (Seq, error) {
	head := v.v.head
	if at.Time.IsZero() {
		if at.Seq == 0 {
			return head, nil
		}
		if at.Seq > head {
			return 0, fmt.Errorf("%w: seq %d is beyond the log's head %d", ErrNotFound, at.Seq, head)
		}
		return at.Seq, nil
	}
	// Commit times never go backwards within a run of the writer; search
	// for the first event after at.Time.
	var searchErr error
	i := sort.Search(int(head), func(i int) bool {
		e, err := v.eventProto(Seq(i + 1))
		if err != nil {
			searchErr = err
			return true
		}
		return unixNano(e.TimeUnixNano).After(at.Time)
	})
	return Seq(i), searchErr
}

// eventProto reads the raw log record seq.
func (v *View) eventProto(seq Seq) (*eventv1.Event, error) {
	p := &eventv1.Event{}
	if err := getProto(v.v.snap, keys.LogKey(uint64(seq)), p); err != nil {
		return nil, fmt.Errorf("engine: event %d: %w", seq, err)
	}
	return p, nil
}

// CollectionState is a collection as it was at some moment.
type CollectionState struct {
	// Collection holds the id, path, kind, owner and properties it had;
	// LastSeq is its last change up to the moment.
	Collection Collection
	// Objects are its objects then, in name order, with their bodies.
	Objects []*Object
	// Grants are the grants of the collection then, in grantee order
	// (Path and Owner as they were then).
	Grants []*Grant

	versions map[string]*eventv1.Event
	grants   map[string]*Grant
}

// State is the collections at and below a path at some moment.
type State struct {
	// Seq is the moment: the state after event Seq.
	Seq Seq
	// Collections lists the collection at the path (if it existed) and
	// every collection below it that existed then, in path order.
	Collections []*CollectionState

	// sharee and shareeUser: for a restore of a home, what its owner held
	// then of the collections shared with them now (share_restore.go).
	sharee     []*shareAsOf
	shareeUser string
}

// StateAsOf returns what the collection at path (a calendar, an address
// book or a whole home) and everything below it held at the moment at,
// including objects and collections deleted since.
//
// Errors: ErrNotFound for an at beyond the head; ErrCompacted (wrapped)
// when a body of that moment was erased.
func (v *View) StateAsOf(path string, at AsOf) (*State, error) {
	seq, err := v.ResolveAsOf(at)
	if err != nil {
		return nil, err
	}
	paths, err := v.pathsUnder(path)
	if err != nil {
		return nil, err
	}
	st := &State{Seq: seq}
	for _, p := range paths {
		cs, err := v.collectionAsOf(p, seq)
		if err != nil {
			return nil, err
		}
		if cs != nil {
			st.Collections = append(st.Collections, cs)
		}
	}
	return st, nil
}

// pathsUnder returns every path at or below path that a collection ever
// had, in path order.
func (v *View) pathsUnder(path string) ([]string, error) {
	lo := append([]byte{keys.PathHist}, path...)
	var out []string
	err := v.scanKeys(lo, keys.PrefixEnd(lo), func(k []byte) error {
		if len(k) < 10 {
			return keys.ErrMalformed
		}
		p := string(k[1 : len(k)-9])
		if len(out) == 0 || out[len(out)-1] != p {
			out = append(out, p)
		}
		return nil
	})
	return out, err
}

// collectionAsOf replays the history of the collection that had path at
// seq, or returns nil when none had it then.
func (v *View) collectionAsOf(path string, seq Seq) (*CollectionState, error) {
	ids, err := v.CollectionIDs(path)
	if err != nil {
		return nil, err
	}
	// Ids are the sequence numbers of the creations: the last one created
	// at or before seq is the only candidate.
	var id uint64
	for _, i := range ids {
		if Seq(i) <= seq {
			id = i
		}
	}
	if id == 0 {
		return nil, nil
	}
	rec, err := getCollection(v.v.snap, id)
	if err != nil {
		return nil, fmt.Errorf("engine: collection %d: %w", id, err)
	}
	if rec.Deleted && Seq(rec.LastSeq) <= seq {
		return nil, nil
	}
	cs := &CollectionState{versions: map[string]*eventv1.Event{}, grants: map[string]*Grant{}}
	if err := v.eachHistory(id, seq, func(ev *eventv1.Event) { cs.replay(id, ev) }); err != nil {
		return nil, err
	}
	return cs, cs.finish(v.db)
}

// replay applies one event of collection id to the state.
func (cs *CollectionState) replay(id uint64, ev *eventv1.Event) {
	c := &cs.Collection
	switch ev.Op {
	case eventv1.Op_OP_COLLECTION_CREATED:
		c.ID, c.Path, c.Kind, c.Owner = ev.CollectionId, ev.CollectionPath, Kind(ev.CollectionKind), ev.Owner
		c.Props = propsFromProto(ev.Props)
		c.Created = unixNano(ev.TimeUnixNano)
	case eventv1.Op_OP_COLLECTION_PROPS_CHANGED:
		c.Props = propsFromProto(ev.Props)
	case eventv1.Op_OP_OBJECT_PUT:
		cs.versions[ev.Object] = ev
	case eventv1.Op_OP_OBJECT_DELETED:
		delete(cs.versions, ev.Object)
	case eventv1.Op_OP_OBJECT_MOVED:
		if ev.CollectionId == id {
			delete(cs.versions, ev.Object)
		}
		if ev.ToCollectionId == id {
			cs.versions[ev.ToObject] = ev
		}
	case eventv1.Op_OP_CONTENT_PURGED, eventv1.Op_OP_LOG_COMPACTED:
		return // no change to the collection's state
	case eventv1.Op_OP_SHARE_GRANTED, eventv1.Op_OP_SHARE_REVOKED, eventv1.Op_OP_SHARE_REPLIED,
		eventv1.Op_OP_LINK_CREATED, eventv1.Op_OP_LINK_REVOKED:
		if ev.CollectionId == id {
			cs.replayGrant(ev)
			return // in the shared collection's history; its objects stay
		}
		// else a sharee's home, whose mounts changed: its CTag moves on
	}
	c.LastSeq = Seq(ev.Seq)
	c.Modified = unixNano(ev.TimeUnixNano)
}

// replayGrant applies a grant or a revocation of the collection itself.
func (cs *CollectionState) replayGrant(ev *eventv1.Event) {
	g := ev.Share.GetGrantee()
	switch ev.Op {
	case eventv1.Op_OP_SHARE_GRANTED:
		cs.grants[g] = &Grant{
			CollectionID: ev.CollectionId, Path: cs.Collection.Path, Owner: cs.Collection.Owner, Grantee: g,
			Access: accessFromProto(ev.Share.GetAccess()), AutoAccept: ev.Share.GetAutoAccept(), Seq: Seq(ev.Seq),
		}
	case eventv1.Op_OP_SHARE_REVOKED:
		delete(cs.grants, g)
	}
}

// finish turns the replayed versions into Objects and the replayed grants
// into Grants.
func (cs *CollectionState) finish(db *DB) error {
	for _, g := range cs.grants {
		cs.Grants = append(cs.Grants, g)
	}
	slices.SortFunc(cs.Grants, func(a, b *Grant) int { return strings.Compare(a.Grantee, b.Grantee) })
	names := make([]string, 0, len(cs.versions))
	for n := range cs.versions {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		ev := cs.versions[n]
		if ev.BodyErased {
			return fmt.Errorf("%w: %s%s version %d", ErrCompacted, cs.Collection.Path, n, ev.Seq)
		}
		cs.Objects = append(cs.Objects, objectFromEvent(n, ev))
	}
	cs.Collection.Count = int64(len(names))
	cs.Collection.CTag = db.syncToken(cs.Collection.ID, cs.Collection.LastSeq)
	cs.Collection.SyncToken = cs.Collection.CTag
	return nil
}

// objectFromEvent is the version of object name that a put or move wrote.
func objectFromEvent(name string, ev *eventv1.Event) *Object {
	return &Object{
		Name:        name,
		ETag:        ev.Etag,
		UID:         ev.Uid,
		ContentType: ev.ContentType,
		Component:   ev.Component,
		Size:        int64(len(ev.Body)),
		Seq:         Seq(ev.Seq),
		Modified:    unixNano(ev.TimeUnixNano),
		Envelope:    envelopeFromProto(ev.EnvelopeStart, ev.EnvelopeEnd),
		Body:        ev.Body,
		ScheduleTag: asOfScheduleTag(ev),
	}
}

// ObjectAsOf returns the version of object name of the collection at path
// that was current at the moment at.
//
// Errors: ErrNotFound when it did not exist then; ErrCompacted (wrapped)
// when its body was erased.
func (v *View) ObjectAsOf(path, name string, at AsOf) (*Object, error) {
	seq, err := v.ResolveAsOf(at)
	if err != nil {
		return nil, err
	}
	cs, err := v.collectionAsOf(path, seq)
	if err != nil && !errors.Is(err, ErrCompacted) {
		return nil, err
	}
	if cs == nil {
		return nil, fmt.Errorf("%w: no collection at %s as of %s", ErrNotFound, path, at)
	}
	ev, ok := cs.versions[name]
	if !ok {
		return nil, fmt.Errorf("%w: no object %s%s as of %s", ErrNotFound, path, name, at)
	}
	if ev.BodyErased {
		return nil, fmt.Errorf("%w: %s%s version %d", ErrCompacted, path, name, ev.Seq)
	}
	return objectFromEvent(name, ev), nil
}

// Version returns the object version that event seq wrote (a put, or the
// destination of a move), with its body.
//
// Errors: ErrNotFound when seq wrote no object; ErrCompacted (wrapped)
// when the body was erased.
func (v *View) Version(seq Seq) (*Object, error) {
	if seq == 0 || seq > v.v.head {
		return nil, fmt.Errorf("%w: seq %d", ErrNotFound, seq)
	}
	ev, err := v.eventProto(seq)
	if err != nil {
		return nil, err
	}
	name := ev.Object
	switch ev.Op {
	case eventv1.Op_OP_OBJECT_PUT:
	case eventv1.Op_OP_OBJECT_MOVED:
		name = ev.ToObject
	default:
		return nil, fmt.Errorf("%w: event %d (%s) wrote no object version", ErrNotFound, seq, Op(ev.Op))
	}
	if ev.BodyErased {
		return nil, fmt.Errorf("%w: version %d", ErrCompacted, seq)
	}
	return objectFromEvent(name, ev), nil
}

// HistoryUnder returns the events of every collection that ever had path
// or a path below it (a user's home and everything in it) with since <=
// time < until (zero bounds are open), oldest first.
func (v *View) HistoryUnder(path string, since, until time.Time) ([]*Event, error) {
	paths, err := v.pathsUnder(path)
	if err != nil {
		return nil, err
	}
	seen := map[uint64]bool{}
	var seqs []Seq
	for _, p := range paths {
		ids, err := v.CollectionIDs(p)
		if err != nil {
			return nil, err
		}
		for _, id := range ids {
			if seen[id] {
				continue
			}
			seen[id] = true
			lo := keys.IDPrefix(keys.CollHist, id)
			err := v.scanKeys(lo, keys.PrefixEnd(lo), func(k []byte) error {
				s, err := keys.IDSeq(k)
				seqs = append(seqs, Seq(s))
				return err
			})
			if err != nil {
				return nil, err
			}
		}
	}
	return v.eventsBetween(seqs, since, until)
}

// eventsBetween loads seqs (each once, ascending) whose time lies in
// [since, until).
func (v *View) eventsBetween(seqs []Seq, since, until time.Time) ([]*Event, error) {
	sort.Slice(seqs, func(i, j int) bool { return seqs[i] < seqs[j] })
	out := make([]*Event, 0, len(seqs))
	var p eventv1.Event
	for i, s := range seqs {
		if i > 0 && seqs[i-1] == s {
			continue
		}
		raw, err := getBytes(v.v.snap, keys.LogKey(uint64(s)))
		if err != nil {
			return nil, fmt.Errorf("engine: history event %d: %w", s, err)
		}
		p.Reset()
		if err := proto.Unmarshal(raw, &p); err != nil {
			return nil, fmt.Errorf("engine: decode event %d: %w", s, err)
		}
		t := unixNano(p.TimeUnixNano)
		if (!since.IsZero() && t.Before(since)) || (!until.IsZero() && !t.Before(until)) {
			continue
		}
		out = append(out, eventFromProto(&p))
	}
	return out, nil
}
