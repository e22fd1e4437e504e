package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/almanac/almanac/engine/internal/keys"
	eventv1 "github.com/almanac/almanac/proto/almanac/event/v1"
	statev1 "github.com/almanac/almanac/proto/almanac/state/v1"
	"github.com/cockroachdb/pebble/v2"
	"google.golang.org/protobuf/proto"
)

// RestoreRequest asks to bring a collection tree or one object back to
// its state at a moment.
type RestoreRequest struct {
	// Path is a collection path: a calendar, an address book or a home.
	Path string
	// Name, when set, restores only that object of the collection.
	Name string
	// At is the moment to go back to.
	At AsOf
	// DryRun computes the actions without writing anything.
	DryRun bool
	// Reschedule records the restore's reschedule job in its commit
	// (reschedule.go): the objects it puts back or deletes, at most
	// MaxRescheduled.
	Reschedule bool
}

// RestoreAction is one change a restore makes.
type RestoreAction struct {
	// Op is OpCollectionCreated, OpCollectionDeleted, OpPropsChanged,
	// OpObjectPut, OpObjectDeleted, OpShareGranted, OpShareRevoked,
	// OpShareReplied or OpShareMountChanged.
	Op   Op
	Path string // the collection
	Name string // the object ("" for collection and share actions)
	// Grantee and Access name the grant that a share action makes again
	// (with the AutoAccept it had) or withdraws.
	Grantee    string
	Access     Access
	AutoAccept bool
	// Reply, Mount and Props are what a restore of a sharee's home (the
	// Grantee's) brings back: OpShareReplied answers the share of Path
	// again (asking for the mount name Mount); OpShareMountChanged renames
	// the mount to Mount (when set and free) and sets the sharee's Props.
	Reply Reply
	Mount string
	Props Props
	// FromSeq is the historical event whose version or properties are
	// brought back (puts, creations and property changes).
	FromSeq Seq
	// Seq and ETag are the new event and the object's new ETag (not set
	// by a dry run).
	Seq  Seq
	ETag string
}

// RestoreResult says what a restore did (or would do, for a dry run).
type RestoreResult struct {
	At      Seq // the moment restored, resolved to a sequence number
	Actions []RestoreAction
	// Job is the seq of the restore's reschedule job (RestoreRequest.Reschedule;
	// 0 when there is none or it has no item): PendingReschedules(Job).
	Job Seq
}

// Restore brings the collection at req.Path and everything below it (or
// only the object req.Name) back to its state at req.At by appending new
// events in one atomic commit: collections are recreated with their
// properties, objects are put back (with new ETags, so clients fetch them
// on their next sync), what did not exist then is deleted, and the grants
// of the collections are made again or revoked to be the ones they had
// (a grant to a user or group that no longer exists is left out). The
// sharees' shares and mounts follow the grants as for any grant: a grant
// made again with auto-accept mounts again. m should
// carry the operator as Actor and a Reason; Restore fills in a Reason when
// m has none.
//
// Errors: ErrNotFound (req.At beyond the head; an object restore into a
// collection that does not exist now), ErrCompacted (wrapped), ErrConflict
// (a collection to recreate whose parent is missing), *UIDConflictError.
func (db *DB) Restore(ctx context.Context, m Meta, req RestoreRequest) (*RestoreResult, error) {
	if !validCollectionPath(req.Path) || (req.Name != "" && !validName(req.Name)) {
		return nil, fmt.Errorf("%w: restore %q %q", ErrInvalidName, req.Path, req.Name)
	}
	target, err := db.restoreTarget(req)
	if err != nil {
		return nil, err
	}
	if m.Reason == "" {
		m.Reason = fmt.Sprintf("restore as of %s", req.At)
	}
	cmd := &restoreCmd{m: m, req: req, target: target}
	if req.DryRun {
		v, err := db.View()
		if err != nil {
			return nil, err
		}
		defer v.Close()
		cmd.res.Actions, err = cmd.plan(v.v.snap)
		cmd.res.At = target.Seq
		return &cmd.res, err
	}
	if err := db.submit(ctx, cmd); err != nil {
		return nil, err
	}
	return &cmd.res, nil
}

// restoreTarget computes the state to go back to.
func (db *DB) restoreTarget(req RestoreRequest) (*State, error) {
	v, err := db.View()
	if err != nil {
		return nil, err
	}
	defer v.Close()
	if req.Name == "" {
		st, err := v.StateAsOf(req.Path, req.At)
		if err != nil {
			return nil, err
		}
		if home, err := collectionByPath(v.v.snap, req.Path); err == nil && Kind(home.Kind) == KindHome {
			st.shareeUser = home.Owner
			st.sharee, err = v.shareeAsOf(home.Owner, home.Id, st.Seq)
			if err != nil {
				return nil, err
			}
		}
		return st, nil
	}
	seq, err := v.ResolveAsOf(req.At)
	if err != nil {
		return nil, err
	}
	st := &State{Seq: seq}
	o, err := v.ObjectAsOf(req.Path, req.Name, AsOf{Seq: seq})
	switch {
	case errors.Is(err, ErrNotFound):
		st.Collections = []*CollectionState{{Collection: Collection{Path: req.Path}}}
	case err != nil:
		return nil, err
	default:
		st.Collections = []*CollectionState{{Collection: Collection{Path: req.Path}, Objects: []*Object{o}}}
	}
	return st, nil
}

// Undelete restores the last deletion of the object name of the collection
// at path, or with name "" of the collection at path itself: a restore as
// of the moment before that deletion.
//
// Errors: ErrNotFound when no deletion is recorded; see Restore.
func (db *DB) Undelete(ctx context.Context, m Meta, path, name string) (*RestoreResult, error) {
	seq, err := db.lastDeletion(path, name)
	if err != nil {
		return nil, err
	}
	if m.Reason == "" {
		m.Reason = fmt.Sprintf("undelete %s%s (deleted at seq %d)", path, name, seq)
	}
	return db.Restore(ctx, m, RestoreRequest{Path: path, Name: name, At: AsOf{Seq: seq - 1}})
}

// lastDeletion finds the sequence number of the last deletion of an
// object (a delete or a move away) or of a collection.
func (db *DB) lastDeletion(path, name string) (Seq, error) {
	v, err := db.View()
	if err != nil {
		return 0, err
	}
	defer v.Close()
	var evs []*Event
	if name != "" {
		evs, err = v.History(path, name)
	} else {
		evs, err = v.CollectionHistory(path, time.Time{}, time.Time{})
	}
	if err != nil {
		return 0, err
	}
	for i := len(evs) - 1; i >= 0; i-- {
		e := evs[i]
		switch {
		case name == "" && e.Op == OpCollectionDeleted && e.CollectionPath == path:
			return v.firstOfTreeDeletion(path, e.Seq), nil
		case name != "" && e.Op == OpObjectDeleted && e.Object == name:
			return e.Seq, nil
		case name != "" && e.Op == OpObjectMoved && e.Object == name && e.CollectionPath == path:
			return e.Seq, nil
		}
	}
	return 0, fmt.Errorf("%w: no deletion of %s%s is recorded", ErrNotFound, path, name)
}

// firstOfTreeDeletion steps back from the deletion seq of the collection
// at path over the deletions of collections below it that the same
// command made just before (DeleteCollection deletes deepest first).
func (v *View) firstOfTreeDeletion(path string, seq Seq) Seq {
	for seq > 1 {
		e, err := v.eventProto(seq - 1)
		if err != nil || e.Op != eventv1.Op_OP_COLLECTION_DELETED || !strings.HasPrefix(e.CollectionPath, path) {
			break
		}
		seq--
	}
	return seq
}

type restoreCmd struct {
	m      Meta
	req    RestoreRequest
	target *State
	res    RestoreResult
}

// reader is what a plan reads the current state from: a view's snapshot
// or the writer's batch.
type reader interface {
	getter
	NewIter(o *pebble.IterOptions) (*pebble.Iterator, error)
}

func (c *restoreCmd) run(tx *txn) error {
	actions, err := c.plan(tx.rw)
	if err != nil {
		return err
	}
	c.res.At = c.target.Seq
	if c.req.Reschedule {
		items, err := rescheduleItems(tx.rw, actions)
		if err != nil {
			return err
		}
		if len(items) > 0 {
			if err := tx.append(c.m, &eventv1.Event{Op: eventv1.Op_OP_RESCHEDULE, Reschedule: &eventv1.Reschedule{Items: items}}); err != nil {
				return err
			}
			c.res.Job = tx.next - 1
		}
	}
	for i := range actions {
		if err := c.execute(tx, &actions[i]); err != nil {
			return err
		}
	}
	c.res.Actions = actions
	return nil
}

// plan compares the current state with the target and lists the events
// to append, in an order that keeps every step consistent: deletions of
// collections (deepest first), creations (parents first), property
// changes, then per collection object deletions before puts, so that no
// put meets a UID still held by an object about to go.
func (c *restoreCmd) plan(r reader) ([]RestoreAction, error) {
	if c.req.Name != "" {
		return c.planObjects(r, c.target.Collections[0], c.req.Name)
	}
	want := map[string]*CollectionState{}
	for _, cs := range c.target.Collections {
		want[cs.Collection.Path] = cs
	}
	current, err := descendants(r, c.req.Path)
	if err != nil {
		return nil, err
	}
	sort.Strings(current) // parents before children
	var acts []RestoreAction
	gone := map[string]bool{}
	for _, p := range current {
		coll, err := collectionByPath(r, p)
		if err != nil {
			return nil, err
		}
		w := want[p]
		if w == nil || Kind(coll.Kind) != w.Collection.Kind || gone[parentPath(p)] {
			gone[p] = true
		}
	}
	var dels []string
	for p := range gone {
		dels = append(dels, p)
	}
	sort.Slice(dels, func(i, j int) bool {
		return len(dels[i]) > len(dels[j]) || (len(dels[i]) == len(dels[j]) && dels[i] < dels[j])
	})
	for _, p := range dels {
		acts = append(acts, RestoreAction{Op: OpCollectionDeleted, Path: p})
	}
	live := map[string]bool{}
	for _, p := range current {
		live[p] = !gone[p]
	}
	var objActs []RestoreAction
	for _, w := range c.target.Collections { // path order: parents first
		p := w.Collection.Path
		if !live[p] {
			if err := c.checkParent(r, w, live); err != nil {
				return nil, err
			}
			acts = append(acts, RestoreAction{Op: OpCollectionCreated, Path: p, FromSeq: Seq(w.Collection.ID)})
			live[p] = true
			for _, o := range w.Objects {
				objActs = append(objActs, RestoreAction{Op: OpObjectPut, Path: p, Name: o.Name, FromSeq: o.Seq})
			}
			continue
		}
		coll, err := collectionByPath(r, p)
		if err != nil {
			return nil, err
		}
		if !proto.Equal(normProps(coll.Props), normProps(propsToProto(w.Collection.Props))) {
			acts = append(acts, RestoreAction{Op: OpPropsChanged, Path: p, FromSeq: w.Collection.LastSeq})
		}
		oa, err := c.planObjects(r, w, "")
		if err != nil {
			return nil, err
		}
		objActs = append(objActs, oa...)
	}
	shareActs, err := c.planGrants(r, live)
	if err != nil {
		return nil, err
	}
	shareeActs, err := c.planSharee(r)
	if err != nil {
		return nil, err
	}
	return slices.Concat(acts, objActs, shareActs, shareeActs), nil
}

// planGrants lists the revocations and grants that turn the grants of the
// target's collections into the ones they had, revocations first so that
// no grant meets a limit that a revocation frees. A recreated collection
// has none yet.
func (c *restoreCmd) planGrants(r reader, existed map[string]bool) ([]RestoreAction, error) {
	var revokes, grants []RestoreAction
	for _, w := range c.target.Collections {
		p := w.Collection.Path
		cur := map[string]*statev1.Grant{}
		if coll, err := collectionByPath(r, p); err == nil && existed[p] {
			gs, err := getGrants(r, coll.Id)
			if err != nil {
				return nil, err
			}
			for _, g := range gs.Grants {
				cur[g.Grantee] = g
			}
		} else if err != nil && !errors.Is(err, ErrNotFound) {
			return nil, err
		}
		for _, g := range w.Grants {
			old, ok := cur[g.Grantee]
			delete(cur, g.Grantee)
			if ok && accessFromProto(old.Access) == g.Access && old.AutoAccept == g.AutoAccept {
				continue
			}
			if ok, err := principalExists(r, g.Grantee); err != nil {
				return nil, err
			} else if !ok {
				continue
			}
			grants = append(grants, RestoreAction{Op: OpShareGranted, Path: p, Grantee: g.Grantee,
				Access: g.Access, AutoAccept: g.AutoAccept, FromSeq: g.Seq})
		}
		names := make([]string, 0, len(cur))
		for n := range cur {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			revokes = append(revokes, RestoreAction{Op: OpShareRevoked, Path: p, Grantee: n})
		}
	}
	return append(revokes, grants...), nil
}

// normProps makes an absent property set equal an empty one.
func normProps(p *eventv1.CollectionProps) *eventv1.CollectionProps {
	if p == nil {
		return &eventv1.CollectionProps{}
	}
	return p
}

// checkParent verifies that a collection to recreate has a parent that
// may hold it.
func (c *restoreCmd) checkParent(r reader, w *CollectionState, live map[string]bool) error {
	if w.Collection.Kind == KindHome || live[parentPath(w.Collection.Path)] {
		return nil
	}
	parent, err := collectionByPath(r, parentPath(w.Collection.Path))
	if errors.Is(err, ErrNotFound) {
		return fmt.Errorf("%w: cannot recreate %s: its parent does not exist (restore the parent)", ErrConflict, w.Collection.Path)
	}
	if err != nil {
		return err
	}
	if _, err := getObject(r, parent.Id, baseName(w.Collection.Path)); err == nil {
		return fmt.Errorf("%w: cannot recreate %s: an object of that name exists", ErrConflict, w.Collection.Path)
	}
	return nil
}

// planObjects lists the deletions and puts that turn the live objects of
// w's path into w's objects. With only set, it touches only that name (an
// object restore) and checks UIDs against the other objects.
func (c *restoreCmd) planObjects(r reader, w *CollectionState, only string) ([]RestoreAction, error) {
	p := w.Collection.Path
	coll, err := collectionByPath(r, p)
	if err != nil {
		return nil, fmt.Errorf("restore %s: %w", p, err)
	}
	cur, err := currentObjects(r, coll.Id, only)
	if err != nil {
		return nil, err
	}
	var dels, puts []RestoreAction
	wanted := map[string]bool{}
	for _, o := range w.Objects {
		wanted[o.Name] = true
		old, ok := cur[o.Name]
		if ok && old.uid == o.UID && bytes.Equal(old.body, o.Body) {
			continue
		}
		if ok && old.uid != o.UID {
			dels = append(dels, RestoreAction{Op: OpObjectDeleted, Path: p, Name: o.Name})
		}
		if only != "" {
			if err := checkUIDFree(r, coll, o.UID, o.Name); err != nil {
				return nil, err
			}
		}
		puts = append(puts, RestoreAction{Op: OpObjectPut, Path: p, Name: o.Name, FromSeq: o.Seq})
	}
	names := make([]string, 0, len(cur))
	for n := range cur {
		if !wanted[n] {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	for _, n := range names {
		dels = append(dels, RestoreAction{Op: OpObjectDeleted, Path: p, Name: n})
	}
	return append(dels, puts...), nil
}

type liveObject struct {
	uid  string
	body []byte
}

// currentObjects reads the live objects of collection id (only the
// object only, when set).
func currentObjects(r reader, id uint64, only string) (map[string]liveObject, error) {
	out := map[string]liveObject{}
	if only != "" {
		return out, addLive(r, id, only, out)
	}
	lo := keys.IDPrefix(keys.Obj, id)
	it, err := r.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: keys.PrefixEnd(lo)})
	if err != nil {
		return nil, fmt.Errorf("engine: object iterator: %w", err)
	}
	defer it.Close()
	for it.First(); it.Valid(); it.Next() {
		name, err := keys.Name(it.Key())
		if err != nil {
			return nil, err
		}
		if err := addLive(r, id, name, out); err != nil {
			return nil, err
		}
	}
	return out, it.Error()
}

func addLive(r reader, id uint64, name string, out map[string]liveObject) error {
	o, err := getObject(r, id, name)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	body, err := bodyAt(r, Seq(o.BodySeq))
	if err != nil {
		return err
	}
	out[name] = liveObject{uid: o.Uid, body: body}
	return nil
}

// checkUIDFree reports a UIDConflictError when another live object of coll
// holds uid.
func checkUIDFree(r reader, coll *statev1.Collection, uid, name string) error {
	if uid == "" {
		return nil
	}
	holder, err := getBytes(r, keys.UIDKey(coll.Id, uid))
	if errors.Is(err, ErrNotFound) || (err == nil && string(holder) == name) {
		return nil
	}
	if err != nil {
		return err
	}
	return &UIDConflictError{UID: uid, Href: coll.Path + string(holder)}
}

// execute appends the event of one planned action.
func (c *restoreCmd) execute(tx *txn, a *RestoreAction) error {
	if a.Op == OpCollectionCreated {
		w := c.wanted(a.Path)
		a.Seq = tx.next
		return tx.append(c.m, &eventv1.Event{
			Op:             eventv1.Op_OP_COLLECTION_CREATED,
			CollectionId:   uint64(tx.next),
			CollectionPath: a.Path,
			CollectionKind: eventv1.CollectionKind(w.Collection.Kind),
			Owner:          w.Collection.Owner,
			Props:          propsToProto(w.Collection.Props),
		})
	}
	coll, err := collectionByPath(tx.rw, a.Path)
	if err != nil {
		return fmt.Errorf("engine: restore %s: %w", a.Path, err)
	}
	ev := &eventv1.Event{CollectionId: coll.Id, CollectionPath: coll.Path}
	switch a.Op {
	case OpCollectionDeleted:
		ev.Op, ev.CollectionKind, ev.Owner = eventv1.Op_OP_COLLECTION_DELETED, coll.Kind, coll.Owner
	case OpPropsChanged:
		ev.Op, ev.CollectionKind, ev.Owner = eventv1.Op_OP_COLLECTION_PROPS_CHANGED, coll.Kind, coll.Owner
		ev.Props = propsToProto(c.wanted(a.Path).Collection.Props)
	case OpObjectDeleted:
		old, err := getObject(tx.rw, coll.Id, a.Name)
		if err != nil {
			return fmt.Errorf("engine: restore %s%s: %w", a.Path, a.Name, err)
		}
		ev.Op, ev.Object, ev.PreviousEtag = eventv1.Op_OP_OBJECT_DELETED, a.Name, old.Etag
		ev.Uid, ev.ContentType, ev.Component = old.Uid, old.ContentType, old.Component
	case OpShareReplied, OpShareMountChanged:
		if err := c.executeSharee(tx, coll, a, ev); err != nil {
			return err
		}
	case OpShareGranted, OpShareRevoked:
		if err := checkRegrant(tx.rw, coll, a); err != nil {
			return err
		}
		ev.Op, ev.CollectionKind, ev.Owner = eventv1.Op_OP_SHARE_REVOKED, coll.Kind, coll.Owner
		ev.Share = &eventv1.Share{Grantee: a.Grantee}
		if a.Op == OpShareGranted {
			ev.Op = eventv1.Op_OP_SHARE_GRANTED
			ev.Share.Access, ev.Share.AutoAccept = accessToProto(a.Access), a.AutoAccept
		}
	case OpObjectPut:
		o := c.wantedObject(a.Path, a.Name)
		ev.Op, ev.Object, ev.Body = eventv1.Op_OP_OBJECT_PUT, a.Name, o.Body
		ev.Uid, ev.ContentType, ev.Component = o.UID, o.ContentType, o.Component
		ev.SchedulingObject = o.ScheduleTag != ""
		ev.EnvelopeStart, ev.EnvelopeEnd = envelopeToProto(o.Envelope)
		if old, err := getObject(tx.rw, coll.Id, a.Name); err == nil {
			ev.PreviousEtag = old.Etag
		}
	}
	a.Seq = tx.next
	if err := tx.append(c.m, ev); err != nil {
		return err
	}
	a.ETag = ev.Etag
	return nil
}

// checkRegrant applies the grant limits to a grant a restore makes to a
// grantee the collection does not hold now.
func checkRegrant(r getter, coll *statev1.Collection, a *RestoreAction) error {
	if a.Op != OpShareGranted {
		return nil
	}
	grants, err := getGrants(r, coll.Id)
	if err != nil {
		return err
	}
	if slices.ContainsFunc(grants.Grants, func(g *statev1.Grant) bool { return g.Grantee == a.Grantee }) {
		return nil
	}
	return checkGrantLimits(r, coll, grants, a.Grantee)
}

func (c *restoreCmd) wanted(path string) *CollectionState {
	for _, cs := range c.target.Collections {
		if cs.Collection.Path == path {
			return cs
		}
	}
	return &CollectionState{}
}

func (c *restoreCmd) wantedObject(path, name string) *Object {
	for _, o := range c.wanted(path).Objects {
		if o.Name == name {
			return o
		}
	}
	return &Object{}
}

// envelopeToProto is the inverse of envelopeFromProto.
func envelopeToProto(e Envelope) (int64, int64) {
	start, end := int64(-1<<63), int64(1<<63-1)
	if !e.Start.IsZero() {
		start = e.Start.Unix()
	}
	if !e.End.IsZero() {
		end = e.End.Unix()
	}
	return start, end
}

// String lists the action for people: "put /dav/home/a/calendar/x.ics".
func (a RestoreAction) String() string {
	var b strings.Builder
	b.WriteString(a.Op.String())
	b.WriteString(" ")
	b.WriteString(a.Path)
	b.WriteString(a.Name)
	switch a.Op {
	case OpShareGranted:
		fmt.Fprintf(&b, " to %s %s", a.Grantee, a.Access)
	case OpShareRevoked:
		fmt.Fprintf(&b, " from %s", a.Grantee)
	case OpShareReplied:
		fmt.Fprintf(&b, " by %s %s", a.Grantee, a.Reply)
		if a.Mount != "" && a.Reply == ReplyAccepted {
			fmt.Fprintf(&b, " as %s", a.Mount)
		}
	case OpShareMountChanged:
		fmt.Fprintf(&b, " of %s", a.Grantee)
		if a.Mount != "" {
			fmt.Fprintf(&b, " as %s", a.Mount)
		}
	}
	if a.FromSeq != 0 {
		fmt.Fprintf(&b, " (from seq %d)", a.FromSeq)
	}
	return b.String()
}
