package engine

import (
	"context"
	"errors"
	"fmt"

	"github.com/almanac/almanac/engine/contentline"
	"github.com/almanac/almanac/engine/internal/keys"
	eventv1 "github.com/almanac/almanac/proto/almanac/event/v1"
	statev1 "github.com/almanac/almanac/proto/almanac/state/v1"
)

// PutOptions are the preconditions and metadata of a PutObject.
type PutOptions struct {
	// IfMatch, when set, is the ETag the current version must have
	// ("*": the object must exist).
	IfMatch string
	// IfNoneMatch demands that the object does not exist (If-None-Match: *).
	IfNoneMatch bool
	// IfScheduleTagMatch, when set, is the schedule tag the current
	// version must have (If-Schedule-Tag-Match, RFC 6638 §8.3): an object
	// that does not exist or is no scheduling object fails it.
	IfScheduleTagMatch string
	// ContentType is recorded for objects in plain collections; calendar
	// and address book objects always get text/calendar or text/vcard.
	ContentType string
}

// PutResult says what a write did.
type PutResult struct {
	ETag    string
	Created bool // the name did not exist before
	Seq     Seq
	// ScheduleTag is the new version's schedule tag, "" when it is no
	// scheduling object (Object.ScheduleTag).
	ScheduleTag string
}

// Content types of calendar and address objects.
const (
	ContentTypeCalendar = "text/calendar; charset=utf-8"
	ContentTypeVCard    = "text/vcard; charset=utf-8"
)

// PutObject creates or replaces the object name in the collection at path
// with body, stored byte for byte. Calendar and address data are validated
// first, outside the writer.
//
// Errors: ErrNotFound (no such collection), ErrInvalidName, ErrConflict (a
// collection of that name exists, or the target is a home),
// *ETagMismatchError, *UIDConflictError, *InvalidDataError.
func (db *DB) PutObject(ctx context.Context, m Meta, path, name string, body []byte, opts PutOptions) (*PutResult, error) {
	if err := db.checkPut(path, name, body); err != nil {
		return nil, err
	}
	for attempt := 0; ; attempt++ {
		coll, cached, err := db.putCollection(path)
		if err != nil {
			return nil, err
		}
		cmd, err := db.newPutCmd(coll, m, path, name, body, opts)
		if err != nil {
			if cached && attempt < 3 { // maybe judged by a stale component set
				db.putColls.Delete(path)
				continue
			}
			return nil, err
		}
		err = db.submit(ctx, cmd)
		if errors.Is(err, errCollectionChanged) || (cached && errors.Is(err, ErrNotFound)) {
			// Validated against a collection that was replaced or is gone.
			db.putColls.Delete(path)
			if attempt < 3 {
				continue
			}
		}
		if err != nil {
			return nil, err
		}
		return &cmd.res, nil
	}
}

// checkPut checks what a put of body under name into the collection at
// path may be without looking at the store: the name, the limits on
// names, the size.
func (db *DB) checkPut(path, name string, body []byte) error {
	if !validName(name) {
		return fmt.Errorf("%w: %q", ErrInvalidName, name)
	}
	if err := db.opts.Limits.checkNames(path, name); err != nil {
		return err
	}
	if int64(len(body)) > db.opts.MaxObjectSize {
		return invalid(CondMaxResourceSize, "%d bytes exceed the limit of %d", len(body), db.opts.MaxObjectSize)
	}
	return nil
}

// newPutCmd validates body for coll (the collection at path), outside the
// writer, and returns the writer's command that puts it under name.
func (db *DB) newPutCmd(coll *Collection, m Meta, path, name string, body []byte, opts PutOptions) (*putCmd, error) {
	if coll.Kind == KindCalendar || coll.Kind == KindAddressBook {
		body = contentline.StripBOM(body) // accepted, and stored without it
	}
	info, err := validate(coll, body, opts.ContentType, db.contentLimits())
	if err != nil {
		return nil, err
	}
	return &putCmd{m: m, path: path, name: name, body: body, opts: opts, info: info, collID: coll.ID}, nil
}

// putCollection returns what validation needs of the collection at path
// (id, kind, component set): the cached copy when there is one (cached is
// then true), else the live one, which it caches. Reading it costs a view
// and two lookups per put.
func (db *DB) putCollection(path string) (coll *Collection, cached bool, err error) {
	if c, ok := db.putColls.Load(path); ok {
		return c.(*Collection), true, nil
	}
	c, err := db.Collection(path)
	if err != nil {
		return nil, false, err
	}
	slim := &Collection{ID: c.ID, Path: c.Path, Kind: c.Kind, Props: Props{Components: c.Props.Components}}
	db.putColls.Store(path, slim)
	return slim, false, nil
}

// CollectionSummary returns what a write needs of the live collection at
// path: its ID, Path, Kind and Props.Components, nothing else. It comes
// from the cache PutObject keeps, so it costs a map lookup instead of
// decoding the collection's record with all its properties; it may lag
// behind a deletion or a replacement of the collection, which PutObject
// checks again against the live record.
//
// Errors: ErrNotFound, ErrClosed.
func (db *DB) CollectionSummary(path string) (*Collection, error) {
	c, _, err := db.putCollection(path)
	return c, err
}

// errCollectionChanged: the collection was replaced between validation and
// the writer; validate again.
var errCollectionChanged = errors.New("engine: collection changed during write")

type putCmd struct {
	m      Meta
	path   string
	name   string
	body   []byte
	opts   PutOptions
	info   objectInfo
	collID uint64
	res    PutResult
}

func (c *putCmd) run(tx *txn) error {
	ev, old, err := c.prepare(tx)
	if err != nil {
		return err
	}
	if err := tx.append(c.m, ev); err != nil {
		return err
	}
	c.res = PutResult{ETag: ev.Etag, Created: old == nil, Seq: Seq(ev.Seq), ScheduleTag: scheduleTag(ev, old)}
	return nil
}

// prepare checks the put against tx and returns its event, and the
// object it replaces (nil for a new one).
func (c *putCmd) prepare(tx *txn) (*eventv1.Event, *statev1.Object, error) {
	coll, err := collectionByPath(tx.rw, c.path)
	if err != nil {
		return nil, nil, err
	}
	if coll.Id != c.collID {
		return nil, nil, errCollectionChanged
	}
	if Kind(coll.Kind) == KindCalendar && !collSupports(coll, c.info.component) {
		return nil, nil, invalid(CondSupportedCalendarComponent, "this calendar does not accept %s", c.info.component)
	}
	if err := checkNoChild(tx, coll, c.name); err != nil {
		return nil, nil, err
	}
	old, err := getObject(tx.rw, coll.Id, c.name)
	if err != nil && err != ErrNotFound {
		return nil, nil, err
	}
	if err := checkETag(old, c.opts.IfMatch, c.opts.IfNoneMatch); err != nil {
		return nil, nil, err
	}
	if err := checkScheduleTag(old, c.opts.IfScheduleTagMatch); err != nil {
		return nil, nil, err
	}
	if err := checkUID(tx, coll, c.info.uid, c.name); err != nil {
		return nil, nil, err
	}
	ev := &eventv1.Event{
		Op:               eventv1.Op_OP_OBJECT_PUT,
		CollectionId:     coll.Id,
		CollectionPath:   coll.Path,
		Object:           c.name,
		Body:             c.body,
		ContentType:      c.info.contentType,
		Uid:              c.info.uid,
		Component:        c.info.component,
		EnvelopeStart:    c.info.envStart,
		EnvelopeEnd:      c.info.envEnd,
		SchedulingObject: c.info.scheduling,
	}
	if old != nil {
		ev.PreviousEtag = old.Etag
		ev.ObjectProps = old.Dead // dead properties survive a new body
	}
	return ev, old, nil
}

// checkETag applies If-Match and If-None-Match: * to the current version
// (nil when the object does not exist).
func checkETag(cur *statev1.Object, ifMatch string, ifNoneMatch bool) error {
	got := ""
	if cur != nil {
		got = cur.Etag
	}
	if ifNoneMatch && cur != nil {
		return &ETagMismatchError{Want: "none", Got: got}
	}
	if ifMatch != "" && (cur == nil || (ifMatch != "*" && ifMatch != got)) {
		return &ETagMismatchError{Want: ifMatch, Got: got}
	}
	return nil
}

// checkUID reports a UIDConflictError when uid is used by an object of coll
// other than name.
func checkUID(tx *txn, coll *statev1.Collection, uid, name string) error {
	if uid == "" {
		return nil
	}
	holder, err := getBytes(tx.rw, keys.UIDKey(coll.Id, uid))
	if err == ErrNotFound || (err == nil && string(holder) == name) {
		return nil
	}
	if err != nil {
		return err
	}
	return &UIDConflictError{UID: uid, Href: coll.Path + string(holder)}
}

// checkNoChild reports ErrConflict when coll holds a collection called name.
// Only homes and plain collections can hold collections.
func checkNoChild(tx *txn, coll *statev1.Collection, name string) error {
	if !isPlainish(coll.Kind) {
		return nil
	}
	if _, err := collectionByPath(tx.rw, coll.Path+name+"/"); err == nil {
		return fmt.Errorf("%w: a collection named %s exists", ErrConflict, name)
	}
	return nil
}

func collSupports(coll *statev1.Collection, comp string) bool {
	return (&Collection{Props: Props{Components: coll.Props.GetComponents()}}).Supports(comp)
}

// DeleteObject deletes the object name from the collection at path.
// ifMatch, when set, is the ETag the object must have.
//
// Errors: ErrNotFound, *ETagMismatchError.
func (db *DB) DeleteObject(ctx context.Context, m Meta, path, name, ifMatch string) error {
	return db.submit(ctx, &deleteCmd{m: m, path: path, name: name, ifMatch: ifMatch})
}

type deleteCmd struct {
	m                   Meta
	path, name, ifMatch string
	ifScheduleTag       string // If-Schedule-Tag-Match
}

func (c *deleteCmd) run(tx *txn) error {
	ev, err := c.prepare(tx)
	if err != nil {
		return err
	}
	return tx.append(c.m, ev)
}

// prepare checks the delete against tx and returns its event.
func (c *deleteCmd) prepare(tx *txn) (*eventv1.Event, error) {
	coll, err := collectionByPath(tx.rw, c.path)
	if err != nil {
		return nil, err
	}
	old, err := getObject(tx.rw, coll.Id, c.name)
	if err != nil {
		return nil, err
	}
	if err := checkETag(old, c.ifMatch, false); err != nil {
		return nil, err
	}
	if err := checkScheduleTag(old, c.ifScheduleTag); err != nil {
		return nil, err
	}
	return &eventv1.Event{
		Op:             eventv1.Op_OP_OBJECT_DELETED,
		CollectionId:   coll.Id,
		CollectionPath: coll.Path,
		Object:         c.name,
		PreviousEtag:   old.Etag,
		Uid:            old.Uid,
		ContentType:    old.ContentType,
		Component:      old.Component,
	}, nil
}

// MoveRequest describes a MOVE or COPY of one object.
type MoveRequest struct {
	FromPath, FromName string
	ToPath, ToName     string
	// Overwrite allows replacing an existing destination (Overwrite: T).
	Overwrite bool
	// IfMatch, when set, is the ETag the source must have.
	IfMatch string
	// Copy keeps the source: the destination is written as a put.
	Copy bool
}

// MoveObject moves or copies an object between collections of the same
// kind, as one event. The destination gets a new ETag.
//
// Errors: ErrNotFound (no source), ErrInvalidName, ErrConflict (missing
// destination collection, different kinds, source equals destination),
// ErrExists (destination exists and Overwrite is false),
// *ETagMismatchError, *UIDConflictError, *InvalidDataError
// (supported-calendar-component).
func (db *DB) MoveObject(ctx context.Context, m Meta, req MoveRequest) (*PutResult, error) {
	if !validName(req.ToName) {
		return nil, fmt.Errorf("%w: %q", ErrInvalidName, req.ToName)
	}
	if err := db.opts.Limits.checkNames(req.ToPath, req.ToName); err != nil {
		return nil, err
	}
	cmd := &moveCmd{m: m, req: req}
	if err := db.submit(ctx, cmd); err != nil {
		return nil, err
	}
	return &cmd.res, nil
}

type moveCmd struct {
	m   Meta
	req MoveRequest
	res PutResult
}

func (c *moveCmd) run(tx *txn) error {
	r := c.req
	src, err := collectionByPath(tx.rw, r.FromPath)
	if err != nil {
		return err
	}
	obj, err := getObject(tx.rw, src.Id, r.FromName)
	if err != nil {
		return err
	}
	if err := checkETag(obj, r.IfMatch, false); err != nil {
		return err
	}
	dst, err := collectionByPath(tx.rw, r.ToPath)
	if err == ErrNotFound {
		return fmt.Errorf("%w: destination collection %s does not exist", ErrConflict, r.ToPath)
	}
	if err != nil {
		return err
	}
	if src.Id == dst.Id && r.FromName == r.ToName {
		return fmt.Errorf("%w: source and destination are the same", ErrConflict)
	}
	if src.Kind != dst.Kind && !(isPlainish(src.Kind) && isPlainish(dst.Kind)) {
		return fmt.Errorf("%w: cannot move between a %s and a %s collection", ErrConflict, Kind(src.Kind), Kind(dst.Kind))
	}
	if Kind(dst.Kind) == KindCalendar && !collSupports(dst, obj.Component) {
		return invalid(CondSupportedCalendarComponent, "the destination calendar does not accept %s", obj.Component)
	}
	if err := checkNoChild(tx, dst, r.ToName); err != nil {
		return err
	}
	old, err := getObject(tx.rw, dst.Id, r.ToName)
	if err != nil && err != ErrNotFound {
		return err
	}
	if old != nil && !r.Overwrite {
		return fmt.Errorf("%w: %s%s", ErrExists, dst.Path, r.ToName)
	}
	if src.Id != dst.Id || r.Copy {
		if err := checkUID(tx, dst, obj.Uid, r.ToName); err != nil {
			return err
		}
	}
	body, err := bodyAt(tx.rw, Seq(obj.BodySeq))
	if err != nil {
		return err
	}
	ev := &eventv1.Event{
		Op:               eventv1.Op_OP_OBJECT_MOVED,
		CollectionId:     src.Id,
		CollectionPath:   src.Path,
		Object:           r.FromName,
		PreviousEtag:     obj.Etag,
		Body:             body,
		ContentType:      obj.ContentType,
		Uid:              obj.Uid,
		Component:        obj.Component,
		EnvelopeStart:    obj.EnvelopeStart,
		EnvelopeEnd:      obj.EnvelopeEnd,
		ObjectProps:      obj.Dead,
		SchedulingObject: obj.ScheduleTag != "",
	}
	if r.Copy {
		ev.Op = eventv1.Op_OP_OBJECT_PUT
		ev.CollectionId, ev.CollectionPath, ev.Object = dst.Id, dst.Path, r.ToName
		ev.PreviousEtag = ""
		if old != nil {
			ev.PreviousEtag = old.Etag
		}
	} else {
		ev.ToCollectionId, ev.ToCollectionPath, ev.ToObject = dst.Id, dst.Path, r.ToName
	}
	if err := tx.append(c.m, ev); err != nil {
		return err
	}
	c.res = PutResult{ETag: ev.Etag, Created: old == nil, Seq: Seq(ev.Seq), ScheduleTag: scheduleTag(ev, old)}
	return nil
}

func isPlainish(k eventv1.CollectionKind) bool {
	return Kind(k) == KindPlain || Kind(k) == KindHome
}

// UpdateObjectProps changes an object's dead properties atomically: fn gets
// a copy of the current set and edits it; an error from fn rejects the
// change. The object's ETag stays; its collection's CTag and sync token move.
// A result over Limits is refused unless it is no larger than what was
// there (so properties stored under larger limits can still be removed).
//
// Errors: ErrNotFound, *PropsLimitError, or fn's error.
func (db *DB) UpdateObjectProps(ctx context.Context, m Meta, path, name string, fn func(dead map[string]string) error) error {
	return db.submit(ctx, &objectPropsCmd{m: m, path: path, name: name, fn: fn})
}

type objectPropsCmd struct {
	m          Meta
	path, name string
	fn         func(map[string]string) error
}

func (c *objectPropsCmd) run(tx *txn) error {
	coll, err := collectionByPath(tx.rw, c.path)
	if err != nil {
		return err
	}
	o, err := getObject(tx.rw, coll.Id, c.name)
	if err != nil {
		return err
	}
	dead := make(map[string]string, len(o.Dead))
	for k, v := range o.Dead {
		dead[k] = v
	}
	if err := c.fn(dead); err != nil {
		return err
	}
	if err := tx.db.opts.Limits.CheckDeadPropsChange(o.Dead, dead); err != nil {
		return err
	}
	return tx.append(c.m, &eventv1.Event{
		Op:             eventv1.Op_OP_OBJECT_PROPS_CHANGED,
		CollectionId:   coll.Id,
		CollectionPath: coll.Path,
		Object:         c.name,
		Etag:           o.Etag,
		PreviousEtag:   o.Etag,
		Uid:            o.Uid,
		ContentType:    o.ContentType,
		Component:      o.Component,
		ObjectProps:    dead,
	})
}
