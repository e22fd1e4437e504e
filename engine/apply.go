package engine

import (
	"errors"
	"fmt"
	"io"

	"github.com/almanac/almanac/engine/internal/keys"
	eventv1 "github.com/almanac/almanac/proto/almanac/event/v1"
	statev1 "github.com/almanac/almanac/proto/almanac/state/v1"
	"github.com/cockroachdb/pebble/v2"
	"google.golang.org/protobuf/proto"
)

// readWriter is apply's access to the projections, and the commands':
// the writer's transaction buffer (txBuffer) and the rebuild's loader
// (replay.Loader) implement it. Reads see the writes made through it.
type readWriter interface {
	getter
	Set(key, value []byte, opts *pebble.WriteOptions) error
	// SetOwned is Set of a value the readWriter may keep as it is: the
	// caller gives it up.
	SetOwned(key, value []byte) error
	Delete(key []byte, opts *pebble.WriteOptions) error
	DeleteRange(start, end []byte, opts *pebble.WriteOptions) error
	NewIter(o *pebble.IterOptions) (*pebble.Iterator, error)
	// Collection returns the record of collection id (pebble.ErrNotFound
	// or ErrNotFound when there is none), which the caller may change and
	// hand back with PutCollection. A loader keeps it decoded between
	// events and returns the same record to every caller.
	Collection(id uint64) (*statev1.Collection, error)
	// PutCollection writes collection c's record.
	PutCollection(c *statev1.Collection) error
}

// apply derives the projections from one event. It is the only code that
// writes projections, for the live writer and for Rebuild alike, so a
// rebuild yields the same projections byte for byte. It reads only the
// projections and the event: never the clock, never a body's parse, and
// of the body only its length (a replay passes zeros of that length).
func apply(rw readWriter, ev *eventv1.Event) error {
	if err := applyOp(rw, ev); err != nil {
		return err
	}
	if err := applyHome(rw, ev); err != nil {
		return err
	}
	return indexOwners(rw, ev)
}

// indexOwners records ev in the owner index of the owners of the
// collections it touched (OwnerLogKey): the collection's, and for a move
// the destination's too. Account and log events touch no collection. A
// collection without an owner is in no one's index. An email (iMIP) is
// in the index of the user it is sent for (imip.go).
func indexOwners(rw readWriter, ev *eventv1.Event) error {
	switch ev.Op {
	case eventv1.Op_OP_USER_SET, eventv1.Op_OP_USER_DELETED, eventv1.Op_OP_LOG_COMPACTED,
		eventv1.Op_OP_APP_PASSWORD_CREATED, eventv1.Op_OP_APP_PASSWORD_REVOKED, eventv1.Op_OP_APP_PASSWORD_USED,
		eventv1.Op_OP_GROUP_SET, eventv1.Op_OP_GROUP_DELETED, eventv1.Op_OP_PROXY_SET,
		eventv1.Op_OP_WEBHOOK_CREATED, eventv1.Op_OP_WEBHOOK_DELETED, eventv1.Op_OP_WEBHOOK_STATE_CHANGED,
		eventv1.Op_OP_DIRECTORY_USER_SET, eventv1.Op_OP_RESCHEDULE:
		return nil
	case eventv1.Op_OP_IMIP_QUEUED, eventv1.Op_OP_IMIP_FAILED:
		return indexIMIPUser(rw, ev)
	}
	var last string
	for _, id := range [2]uint64{ev.CollectionId, ev.ToCollectionId} {
		if id == 0 {
			continue
		}
		c, err := getCollection(rw, id)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		if c.Owner == "" || c.Owner == last {
			continue
		}
		last = c.Owner
		if err := rw.Set(keys.OwnerLogKey(c.Owner, ev.Seq), nil, nil); err != nil {
			return err
		}
	}
	return nil
}

func applyOp(rw readWriter, ev *eventv1.Event) error {
	switch ev.Op {
	case eventv1.Op_OP_COLLECTION_CREATED:
		return applyCollectionCreated(rw, ev)
	case eventv1.Op_OP_COLLECTION_DELETED:
		return applyCollectionDeleted(rw, ev)
	case eventv1.Op_OP_COLLECTION_PROPS_CHANGED:
		return updateCollection(rw, ev, ev.CollectionId, func(c *statev1.Collection) { c.Props = ev.Props })
	case eventv1.Op_OP_OBJECT_PUT:
		return applyPut(rw, ev, ev.CollectionId, ev.Object)
	case eventv1.Op_OP_OBJECT_DELETED:
		return applyDelete(rw, ev, ev.CollectionId, ev.Object)
	case eventv1.Op_OP_OBJECT_MOVED:
		if err := applyDelete(rw, ev, ev.CollectionId, ev.Object); err != nil {
			return err
		}
		return applyPut(rw, ev, ev.ToCollectionId, ev.ToObject)
	case eventv1.Op_OP_COLLECTION_MOVED:
		return applyCollectionMoved(rw, ev)
	case eventv1.Op_OP_OBJECT_PROPS_CHANGED:
		return applyObjectProps(rw, ev)
	case eventv1.Op_OP_USER_SET:
		return applyUser(rw, ev.User, true)
	case eventv1.Op_OP_USER_DELETED:
		if err := applyUser(rw, ev.User, false); err != nil {
			return err
		}
		return applyUserDeleted(rw, ev)
	case eventv1.Op_OP_CONTENT_PURGED:
		return applyContentPurged(rw, ev)
	case eventv1.Op_OP_LOG_COMPACTED:
		return applyLogCompacted(rw, ev)
	case eventv1.Op_OP_GROUP_SET, eventv1.Op_OP_GROUP_DELETED, eventv1.Op_OP_SHARE_GRANTED,
		eventv1.Op_OP_SHARE_REVOKED, eventv1.Op_OP_SHARE_REPLIED, eventv1.Op_OP_SHARE_MOUNT_CHANGED,
		eventv1.Op_OP_PROXY_SET, eventv1.Op_OP_LINK_CREATED, eventv1.Op_OP_LINK_REVOKED:
		return applySharing(rw, ev)
	case eventv1.Op_OP_APP_PASSWORD_CREATED, eventv1.Op_OP_APP_PASSWORD_REVOKED, eventv1.Op_OP_APP_PASSWORD_USED:
		return applyAppPassword(rw, ev)
	case eventv1.Op_OP_PUSH_REGISTERED, eventv1.Op_OP_PUSH_UNREGISTERED, eventv1.Op_OP_PUSH_KEY_ROTATED:
		return applyPush(rw, ev)
	case eventv1.Op_OP_WEBHOOK_CREATED, eventv1.Op_OP_WEBHOOK_DELETED, eventv1.Op_OP_WEBHOOK_STATE_CHANGED:
		return applyWebhook(rw, ev)
	case eventv1.Op_OP_DIRECTORY_USER_SET:
		return applyDirectoryUser(rw, ev)
	case eventv1.Op_OP_IMIP_QUEUED, eventv1.Op_OP_IMIP_FAILED:
		return nil // the log is the outbox (imip.go)
	case eventv1.Op_OP_RESCHEDULE:
		return applyReschedule(rw, ev)
	}
	return fmt.Errorf("engine: apply: unknown op %v at seq %d", ev.Op, ev.Seq)
}

func applyCollectionCreated(rw readWriter, ev *eventv1.Event) error {
	c := &statev1.Collection{
		Id:               ev.CollectionId,
		Path:             ev.CollectionPath,
		Kind:             ev.CollectionKind,
		Owner:            ev.Owner,
		Props:            ev.Props,
		LastSeq:          ev.Seq,
		Horizon:          ev.Seq,
		CreatedUnixNano:  ev.TimeUnixNano,
		ModifiedUnixNano: ev.TimeUnixNano,
	}
	if err := putCollection(rw, c); err != nil {
		return err
	}
	if err := rw.Set(keys.PathKey(c.Path), keys.U64(c.Id), nil); err != nil {
		return err
	}
	if err := rw.Set(keys.PathHistKey(c.Path, c.Id), nil, nil); err != nil {
		return err
	}
	return rw.Set(keys.CollHistKey(c.Id, ev.Seq), nil, nil)
}

func applyCollectionDeleted(rw readWriter, ev *eventv1.Event) error {
	id := ev.CollectionId
	err := updateCollection(rw, ev, id, func(c *statev1.Collection) {
		c.Deleted = true
		c.Count = 0
	})
	if err != nil {
		return err
	}
	if err := rw.Delete(keys.PathKey(ev.CollectionPath), nil); err != nil {
		return err
	}
	for _, fam := range []byte{keys.Obj, keys.Change, keys.Tomb, keys.UID, keys.TimeIdx} {
		p := keys.IDPrefix(fam, id)
		if err := rw.DeleteRange(p, keys.PrefixEnd(p), nil); err != nil {
			return err
		}
	}
	if err := dropLinks(rw, id); err != nil {
		return err
	}
	if err := dropPush(rw, id); err != nil {
		return err
	}
	return dropGrants(rw, ev, id)
}

// applyUser sets (or deletes) a user account and keeps the token and
// email indexes in step: the old record's tokens and addresses leave them,
// the new record's enter them.
func applyUser(rw readWriter, u *eventv1.User, set bool) error {
	key := keys.UserKey(u.GetName())
	old := &eventv1.User{}
	switch err := getProto(rw, key, old); {
	case errors.Is(err, ErrNotFound):
	case err != nil:
		return err
	default:
		for _, t := range old.Tokens {
			if err := rw.Delete(keys.TokenKey(t.Id), nil); err != nil {
				return err
			}
		}
		if err := indexEmails(rw, old, false); err != nil {
			return err
		}
	}
	if !set {
		return rw.Delete(key, nil)
	}
	if len(u.AppPasswords) == 0 && len(old.AppPasswords) > 0 {
		// An OP_USER_SET never carries app passwords: they stay.
		u = proto.CloneOf(u)
		u.AppPasswords = old.AppPasswords
	}
	for _, t := range u.Tokens {
		if err := rw.Set(keys.TokenKey(t.Id), []byte(u.Name), nil); err != nil {
			return err
		}
	}
	if err := indexEmails(rw, u, true); err != nil {
		return err
	}
	return setProto(rw, key, u)
}

// applyPut writes the object (coll, name) from a put or the destination of
// a move.
func applyPut(rw readWriter, ev *eventv1.Event, coll uint64, name string) error {
	old, err := getObject(rw, coll, name)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return err
	}
	created := ev.TimeUnixNano
	delta := int64(0)
	if old != nil {
		created = old.CreatedUnixNano
		if err := rw.Delete(keys.ChangeKey(coll, old.Seq, name), nil); err != nil {
			return err
		}
		if old.Uid != "" && old.Uid != ev.Uid {
			if err := rw.Delete(keys.UIDKey(coll, old.Uid), nil); err != nil {
				return err
			}
		}
	} else {
		delta = 1
		if err := dropTombstone(rw, coll, name); err != nil {
			return err
		}
	}
	o := &statev1.Object{
		Etag:             ev.Etag,
		Seq:              ev.Seq,
		Uid:              ev.Uid,
		ContentType:      ev.ContentType,
		Size:             int64(len(ev.Body)),
		ModifiedUnixNano: ev.TimeUnixNano,
		CreatedUnixNano:  created,
		EnvelopeStart:    ev.EnvelopeStart,
		EnvelopeEnd:      ev.EnvelopeEnd,
		Component:        ev.Component,
		Dead:             ev.ObjectProps,
		BodySeq:          ev.Seq,
		ScheduleTag:      scheduleTag(ev, old),
	}
	if err := setProto(rw, keys.ObjKey(coll, name), o); err != nil {
		return err
	}
	if err := indexTime(rw, coll, name, old, o); err != nil {
		return err
	}
	if ev.Uid != "" {
		if err := rw.Set(keys.UIDKey(coll, ev.Uid), []byte(name), nil); err != nil {
			return err
		}
	}
	if err := setProto(rw, keys.ChangeKey(coll, ev.Seq, name), &statev1.Change{Name: name, Etag: ev.Etag}); err != nil {
		return err
	}
	if err := recordHistory(rw, ev, coll, name); err != nil {
		return err
	}
	return updateCollection(rw, ev, coll, func(c *statev1.Collection) { c.Count += delta })
}

// applyCollectionMoved gives a collection its new path. Its id stays, so
// its objects, change index and sync tokens stay valid.
func applyCollectionMoved(rw readWriter, ev *eventv1.Event) error {
	id := ev.CollectionId
	if err := updateCollection(rw, ev, id, func(c *statev1.Collection) { c.Path = ev.ToCollectionPath }); err != nil {
		return err
	}
	if err := rw.Delete(keys.PathKey(ev.CollectionPath), nil); err != nil {
		return err
	}
	if err := rw.Set(keys.PathKey(ev.ToCollectionPath), keys.U64(id), nil); err != nil {
		return err
	}
	return rw.Set(keys.PathHistKey(ev.ToCollectionPath, id), nil, nil)
}

// applyObjectProps replaces an object's dead properties. The ETag stays;
// the change index moves the name to this event so that sync-collection
// reports the property change (RFC 6578 §3.5).
func applyObjectProps(rw readWriter, ev *eventv1.Event) error {
	coll, name := ev.CollectionId, ev.Object
	o, err := getObject(rw, coll, name)
	if err != nil {
		return fmt.Errorf("engine: apply seq %d: %w", ev.Seq, err)
	}
	if err := rw.Delete(keys.ChangeKey(coll, o.Seq, name), nil); err != nil {
		return err
	}
	o.Dead = ev.ObjectProps
	o.Seq = ev.Seq
	o.ModifiedUnixNano = ev.TimeUnixNano
	if err := setProto(rw, keys.ObjKey(coll, name), o); err != nil {
		return err
	}
	if err := setProto(rw, keys.ChangeKey(coll, ev.Seq, name), &statev1.Change{Name: name, Etag: o.Etag}); err != nil {
		return err
	}
	if err := recordHistory(rw, ev, coll, name); err != nil {
		return err
	}
	return updateCollection(rw, ev, coll, func(*statev1.Collection) {})
}

// applyDelete removes the object (coll, name) for a delete or the source of
// a move, leaving a tombstone in the change index.
func applyDelete(rw readWriter, ev *eventv1.Event, coll uint64, name string) error {
	old, err := getObject(rw, coll, name)
	if err != nil {
		return fmt.Errorf("engine: apply seq %d: %w", ev.Seq, err)
	}
	for _, k := range [][]byte{keys.ObjKey(coll, name), keys.ChangeKey(coll, old.Seq, name)} {
		if err := rw.Delete(k, nil); err != nil {
			return err
		}
	}
	if old.Uid != "" {
		if err := rw.Delete(keys.UIDKey(coll, old.Uid), nil); err != nil {
			return err
		}
	}
	if err := unindexTime(rw, coll, name, old); err != nil {
		return err
	}
	if err := setProto(rw, keys.ChangeKey(coll, ev.Seq, name), &statev1.Change{Name: name, Deleted: true}); err != nil {
		return err
	}
	if err := rw.Set(keys.TombKey(coll, name), keys.U64(ev.Seq), nil); err != nil {
		return err
	}
	if err := recordHistory(rw, ev, coll, name); err != nil {
		return err
	}
	return updateCollection(rw, ev, coll, func(c *statev1.Collection) { c.Count-- })
}

// dropTombstone removes the deletion entry of a name that comes back.
func dropTombstone(rw readWriter, coll uint64, name string) error {
	v, err := getBytes(rw, keys.TombKey(coll, name))
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	seq, err := keys.ParseU64(v)
	if err != nil {
		return err
	}
	if err := rw.Delete(keys.ChangeKey(coll, seq, name), nil); err != nil {
		return err
	}
	return rw.Delete(keys.TombKey(coll, name), nil)
}

func recordHistory(rw readWriter, ev *eventv1.Event, coll uint64, name string) error {
	if err := rw.Set(keys.CollHistKey(coll, ev.Seq), nil, nil); err != nil {
		return err
	}
	return rw.Set(keys.ObjHistKey(coll, name, ev.Seq), nil, nil)
}

// updateCollection records that event ev changed collection id.
func updateCollection(rw readWriter, ev *eventv1.Event, id uint64, fn func(*statev1.Collection)) error {
	c, err := getCollection(rw, id)
	if err != nil {
		return fmt.Errorf("engine: apply seq %d: collection %d: %w", ev.Seq, id, err)
	}
	fn(c)
	c.LastSeq = ev.Seq
	c.ModifiedUnixNano = ev.TimeUnixNano
	if err := putCollection(rw, c); err != nil {
		return err
	}
	switch ev.Op {
	case eventv1.Op_OP_OBJECT_PUT, eventv1.Op_OP_OBJECT_DELETED, eventv1.Op_OP_OBJECT_MOVED, eventv1.Op_OP_OBJECT_PROPS_CHANGED:
		return nil // recordHistory wrote the collection-history entry
	}
	return rw.Set(keys.CollHistKey(id, ev.Seq), nil, nil)
}

// putCollection writes a collection record. A replay rewrites the record of
// the collection every event touches, so its loader keeps it decoded and
// encodes it once per flush.
func putCollection(rw readWriter, c *statev1.Collection) error {
	return rw.PutCollection(c)
}

var marshal = proto.MarshalOptions{Deterministic: true}

func setProto(rw readWriter, key []byte, m proto.Message) error {
	data, err := marshal.Marshal(m)
	if err != nil {
		return fmt.Errorf("engine: encode %T: %w", m, err)
	}
	return rw.SetOwned(key, data) // data is ours to give: no copy
}

// getter is what records are read from: a view's snapshot or a batch.
type getter interface {
	Get(key []byte) ([]byte, io.Closer, error)
}

// getBytes returns a copy of the value at key, or ErrNotFound.
func getBytes(r getter, key []byte) ([]byte, error) {
	v, closer, err := r.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("engine: get: %w", err)
	}
	out := append([]byte(nil), v...)
	closer.Close()
	return out, nil
}

func getProto(r getter, key []byte, m proto.Message) error {
	v, closer, err := r.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("engine: get: %w", err)
	}
	defer closer.Close()
	if err := proto.Unmarshal(v, m); err != nil {
		return fmt.Errorf("engine: decode %T: %w", m, err)
	}
	return nil
}

func getObject(r getter, coll uint64, name string) (*statev1.Object, error) {
	o := &statev1.Object{}
	if err := getProto(r, keys.ObjKey(coll, name), o); err != nil {
		return nil, err
	}
	return o, nil
}

// getCollection returns the record of collection id, or ErrNotFound.
// Through a readWriter it is the readWriter's (a replay's loader keeps it
// decoded: apply changes it in place and hands it back with
// putCollection); elsewhere a fresh copy.
func getCollection(r getter, id uint64) (*statev1.Collection, error) {
	if rw, ok := r.(readWriter); ok {
		c, err := rw.Collection(id)
		if errors.Is(err, pebble.ErrNotFound) {
			return nil, ErrNotFound
		}
		return c, err
	}
	return readCollection(r, id)
}

// readCollection decodes a fresh copy of the record of collection id, or
// returns ErrNotFound.
func readCollection(r getter, id uint64) (*statev1.Collection, error) {
	c := &statev1.Collection{}
	if err := getProto(r, keys.CollKey(id), c); err != nil {
		return nil, err
	}
	return c, nil
}

// collectionByPath returns the live collection at path, or ErrNotFound.
func collectionByPath(r getter, path string) (*statev1.Collection, error) {
	v, err := getBytes(r, keys.PathKey(path))
	if err != nil {
		return nil, err
	}
	id, err := keys.ParseU64(v)
	if err != nil {
		return nil, fmt.Errorf("engine: path %q: %w", path, err)
	}
	return getCollection(r, id)
}

// pathID is a collection path and the id of the collection at it.
type pathID struct {
	path string
	id   uint64
}

// collectionByPath is collectionByPath in v's snapshot, reading the path
// index once for a run of lookups of one path: a request's access check
// and then its handler each look its collection up, in two Views that
// share v while nothing was written in between, and so do concurrent
// requests on one collection. What a snapshot holds never changes, so the
// id remembered stays right; the record is read and decoded each time,
// so callers own what they get, as before.
func (v *view) collectionByPath(path string) (*statev1.Collection, error) {
	if p := v.path.Load(); p != nil && p.path == path {
		return getCollection(v.snap, p.id)
	}
	c, err := collectionByPath(v.snap, path)
	if err == nil {
		v.path.Store(&pathID{path, c.Id})
	}
	return c, err
}
