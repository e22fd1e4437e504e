package engine

import (
	"cmp"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"slices"
	"time"

	"github.com/almanac/almanac/engine/internal/keys"
	eventv1 "github.com/almanac/almanac/proto/almanac/event/v1"
	"github.com/cockroachdb/pebble/v2"
	"google.golang.org/protobuf/proto"
)

// WebDAV-Push registrations (draft-bitfire-webdav-push) are events:
// OpPushRegistered holds a registration in full, OpPushUnregistered
// removes one, OpPushKeyRotated records a new VAPID public key. Their
// projection (family 'P'):
//
//	P r <id>            the registration (eventv1.PushRegistration)
//	P c <coll id>       the ids of the collection's registrations (statev1.Names)
//	P u <user>          the ids of the user's registrations (statev1.Names)
//	P k                 the VAPID public key of the last rotation
//
// A registration names its collection by id, so it follows a move; a
// deleted collection takes its registrations with it. Registration events
// carry no collection_id of their own (the registration does): they are
// not changes of the collection, move no CTag and are in no owner's feed.

// Push operations (event.proto Op 22–24).
const (
	OpPushRegistered   Op = 22
	OpPushUnregistered Op = 23
	OpPushKeyRotated   Op = 24
)

// Bounds of push registrations.
const (
	// MaxPushPerUser is the most registrations one user may hold.
	MaxPushPerUser = 1000
	// MaxPushPerCollection is the most registrations one collection may
	// have (all users together).
	MaxPushPerCollection = 100
	// MaxPushResourceLen is the longest push resource URL accepted.
	MaxPushResourceLen = 2048
	// MaxDontNotify is the most registrations a write's Push-Dont-Notify
	// names (more are ignored).
	MaxDontNotify = 16
	// PushLifetime is how long a registration lives when its client asks
	// for no expiry or a longer one; the draft asks for at least 3 days.
	PushLifetime = 7 * 24 * time.Hour
	// PushMinLifetime is the shortest lifetime given, whatever the
	// client asks.
	PushMinLifetime = time.Hour
)

// PushRegistration is a WebDAV-Push registration with the Web Push
// transport: where to send (PushResource), how to encrypt (RFC 8291:
// PublicKey, AuthSecret) and on which changes.
type PushRegistration struct {
	// ID is random (22 characters, base64url): the last segment of the
	// registration URL.
	ID string
	// User made the registration.
	User string
	// CollectionID names the watched collection.
	CollectionID uint64
	// PushResource is the Web Push endpoint (an absolute URL).
	PushResource string
	// PublicKey is the subscription's P-256 key (65 bytes, uncompressed)
	// and AuthSecret its 16-byte authentication secret.
	PublicKey, AuthSecret []byte
	// ContentUpdate asks for a push when the collection's members change
	// (depth 1); PropertyUpdate when its properties change (depth 0).
	ContentUpdate, PropertyUpdate bool
	Expires, Created              time.Time
	// Seq is the event that last made or renewed it.
	Seq Seq
	// VAPIDKey, given to RegisterPush, is the server's VAPID public key
	// the client was shown; the first registration records it as the
	// key in use (see RotatePushKey). Not kept with the registration.
	VAPIDKey string
}

// EventPush is the push part of an event.
type EventPush struct {
	// Registration: OpPushRegistered (in full), OpPushUnregistered (ID,
	// User and CollectionID).
	Registration *PushRegistration
	// VAPIDPublicKey is the new key of an OpPushKeyRotated.
	VAPIDPublicKey string
	// DontNotify, on a write, lists the writer's registrations that are
	// not told of it ("*": all of the writer's).
	DontNotify []string
}

// PushLimitError reports a registration over MaxPushPerUser or
// MaxPushPerCollection.
type PushLimitError struct {
	What  string // "push registrations of alice", ...
	Limit int
}

func (e *PushLimitError) Error() string {
	return fmt.Sprintf("engine: too many %s (limit %d)", e.What, e.Limit)
}

// RegisterPush makes or renews m.Actor's push registration of the
// collection at path. The same push resource of the same user on the same
// collection keeps its id (created is false then). expires is what the
// client asked for (zero: nothing); the registration gets it within
// [now+PushMinLifetime, now+PushLifetime]. The caller checks that m.Actor
// may read the collection.
//
// Errors: ErrNotFound (no collection); *PushLimitError.
func (db *DB) RegisterPush(ctx context.Context, m Meta, path string, r PushRegistration, expires time.Time) (reg *PushRegistration, created bool, err error) {
	if m.Actor == "" {
		return nil, false, fmt.Errorf("engine: a push registration needs a user")
	}
	if len(r.PushResource) > MaxPushResourceLen {
		return nil, false, &PushLimitError{What: "bytes in a push resource", Limit: MaxPushResourceLen}
	}
	var id [16]byte
	if _, err := rand.Read(id[:]); err != nil {
		return nil, false, fmt.Errorf("engine: push registration id: %w", err)
	}
	c := &pushRegCmd{m: m, path: path, reg: r, expires: expires, newID: base64.RawURLEncoding.EncodeToString(id[:])}
	if err := db.submit(ctx, c); err != nil {
		return nil, false, err
	}
	return c.out, c.created, nil
}

type pushRegCmd struct {
	m       Meta
	path    string
	reg     PushRegistration
	expires time.Time
	newID   string
	// results
	out     *PushRegistration
	created bool
}

func (c *pushRegCmd) run(tx *txn) error {
	coll, err := collectionByPath(tx.rw, c.path)
	if err != nil {
		return fmt.Errorf("push registration on %s: %w", c.path, err)
	}
	ids, err := getNames(tx.rw, keys.PushCollKey(coll.Id))
	if err != nil {
		return err
	}
	p := &eventv1.PushRegistration{
		Id: c.newID, User: c.m.Actor, CollectionId: coll.Id, PushResource: c.reg.PushResource,
		PublicKey: c.reg.PublicKey, AuthSecret: c.reg.AuthSecret,
		ContentUpdate: c.reg.ContentUpdate, PropertyUpdate: c.reg.PropertyUpdate,
		CreatedUnixNano: tx.now.UnixNano(),
	}
	c.created = true
	for _, id := range ids.Names {
		old, err := getPushReg(tx.rw, id)
		if err != nil {
			return err
		}
		if old.User == p.User && old.PushResource == p.PushResource {
			p.Id, p.CreatedUnixNano, c.created = old.Id, old.CreatedUnixNano, false
			break
		}
	}
	if c.created {
		if len(ids.Names) >= MaxPushPerCollection {
			return &PushLimitError{What: "push registrations of " + coll.Path, Limit: MaxPushPerCollection}
		}
		mine, err := getNames(tx.rw, keys.PushUserKey(p.User))
		if err != nil {
			return err
		}
		if len(mine.Names) >= MaxPushPerUser {
			return &PushLimitError{What: "push registrations of " + p.User, Limit: MaxPushPerUser}
		}
	}
	exp := c.expires
	if exp.IsZero() || exp.After(tx.now.Add(PushLifetime)) {
		exp = tx.now.Add(PushLifetime)
	}
	if exp.Before(tx.now.Add(PushMinLifetime)) {
		exp = tx.now.Add(PushMinLifetime)
	}
	p.ExpiresUnixNano = exp.UnixNano()
	ev := &eventv1.Event{Op: eventv1.Op_OP_PUSH_REGISTERED, Push: &eventv1.Push{Registration: p, VapidPublicKey: c.reg.VAPIDKey}}
	if err := tx.append(c.m, ev); err != nil {
		return err
	}
	c.out = pushRegFromProto(p, Seq(ev.Seq))
	return nil
}

// UnregisterPush removes the push registration id. user, when set, must
// be its owner (else ErrNotFound: nobody learns of others' ids); the push
// sender removes with user "" and says why in m.Reason.
//
// Errors: ErrNotFound.
func (db *DB) UnregisterPush(ctx context.Context, m Meta, id, user string) error {
	return db.submit(ctx, &pushUnregCmd{m: m, id: id, user: user})
}

type pushUnregCmd struct {
	m        Meta
	id, user string
}

func (c *pushUnregCmd) run(tx *txn) error {
	old, err := getPushReg(tx.rw, c.id)
	if err != nil {
		return fmt.Errorf("push registration %q: %w", c.id, err)
	}
	if c.user != "" && old.User != c.user {
		return fmt.Errorf("push registration %q: %w", c.id, ErrNotFound)
	}
	return tx.append(c.m, &eventv1.Event{Op: eventv1.Op_OP_PUSH_UNREGISTERED, Push: &eventv1.Push{
		Registration: &eventv1.PushRegistration{Id: old.Id, User: old.User, CollectionId: old.CollectionId}}})
}

// RotatePushKey records that the server's VAPID key pair is now the one
// whose public key is publicKey (base64url): the push sender sends every
// registration a property-update. A key equal to the recorded one writes
// nothing, and so does any key before the first registration recorded
// one (there is no one to tell).
func (db *DB) RotatePushKey(ctx context.Context, m Meta, publicKey string) error {
	return db.submit(ctx, &pushKeyCmd{m: m, key: publicKey})
}

type pushKeyCmd struct {
	m   Meta
	key string
}

func (c *pushKeyCmd) run(tx *txn) error {
	cur, err := getBytes(tx.rw, keys.PushVAPIDKey())
	if err != nil && err != ErrNotFound {
		return err
	}
	if len(cur) == 0 || string(cur) == c.key {
		return nil
	}
	return tx.append(c.m, &eventv1.Event{Op: eventv1.Op_OP_PUSH_KEY_ROTATED, Push: &eventv1.Push{VapidPublicKey: c.key}})
}

// applyPush keeps the push projection.
func applyPush(rw readWriter, ev *eventv1.Event) error {
	p := ev.Push
	switch ev.Op {
	case eventv1.Op_OP_PUSH_REGISTERED:
		r := p.GetRegistration()
		if err := setProto(rw, keys.PushRegKey(r.Id), r); err != nil {
			return err
		}
		if k := p.GetVapidPublicKey(); k != "" {
			if _, err := getBytes(rw, keys.PushVAPIDKey()); err == ErrNotFound {
				if err := rw.Set(keys.PushVAPIDKey(), []byte(k), nil); err != nil {
					return err
				}
			} else if err != nil {
				return err
			}
		}
		if err := editNames(rw, keys.PushCollKey(r.CollectionId), r.Id, true); err != nil {
			return err
		}
		return editNames(rw, keys.PushUserKey(r.User), r.Id, true)
	case eventv1.Op_OP_PUSH_UNREGISTERED:
		return dropPushReg(rw, p.GetRegistration().GetId())
	case eventv1.Op_OP_PUSH_KEY_ROTATED:
		return rw.Set(keys.PushVAPIDKey(), []byte(p.GetVapidPublicKey()), nil)
	}
	return fmt.Errorf("engine: apply: unknown op %v at seq %d", ev.Op, ev.Seq)
}

// dropPushReg removes registration id from the projection (nothing when
// it is not there).
func dropPushReg(rw readWriter, id string) error {
	r, err := getPushReg(rw, id)
	if err == ErrNotFound {
		return nil
	}
	if err != nil {
		return err
	}
	if err := editNames(rw, keys.PushCollKey(r.CollectionId), id, false); err != nil {
		return err
	}
	if err := editNames(rw, keys.PushUserKey(r.User), id, false); err != nil {
		return err
	}
	return rw.Delete(keys.PushRegKey(id), nil)
}

// dropPush removes the push registrations of collection id (deleted).
func dropPush(rw readWriter, id uint64) error {
	ids, err := getNames(rw, keys.PushCollKey(id))
	if err != nil || len(ids.Names) == 0 {
		return err
	}
	for _, rid := range slices.Clone(ids.Names) {
		if err := dropPushReg(rw, rid); err != nil {
			return err
		}
	}
	return nil
}

func getPushReg(r getter, id string) (*eventv1.PushRegistration, error) {
	p := &eventv1.PushRegistration{}
	if err := getProto(r, keys.PushRegKey(id), p); err != nil {
		return nil, err
	}
	return p, nil
}

func pushRegFromProto(p *eventv1.PushRegistration, seq Seq) *PushRegistration {
	if p == nil {
		return nil
	}
	return &PushRegistration{
		ID: p.Id, User: p.User, CollectionID: p.CollectionId, PushResource: p.PushResource,
		PublicKey: p.PublicKey, AuthSecret: p.AuthSecret,
		ContentUpdate: p.ContentUpdate, PropertyUpdate: p.PropertyUpdate,
		Expires: unixNano(p.ExpiresUnixNano), Created: unixNano(p.CreatedUnixNano), Seq: seq,
	}
}

// pushFromProto converts an event's push part.
func pushFromProto(p *eventv1.Push, seq Seq) *EventPush {
	if p == nil {
		return nil
	}
	return &EventPush{Registration: pushRegFromProto(p.Registration, seq), VAPIDPublicKey: p.VapidPublicKey, DontNotify: p.DontNotify}
}

// dontNotify returns the Push-Dont-Notify part of a write's event, nil
// when m names none or op is not a write the push sender reports.
func dontNotify(m Meta, op eventv1.Op) *eventv1.Push {
	if len(m.DontNotify) == 0 {
		return nil
	}
	switch op {
	case eventv1.Op_OP_OBJECT_PUT, eventv1.Op_OP_OBJECT_DELETED, eventv1.Op_OP_OBJECT_MOVED,
		eventv1.Op_OP_OBJECT_PROPS_CHANGED, eventv1.Op_OP_COLLECTION_PROPS_CHANGED:
	default:
		return nil
	}
	ids := m.DontNotify[:min(len(m.DontNotify), MaxDontNotify)]
	return &eventv1.Push{DontNotify: slices.Clone(ids)}
}

// PushRegistration returns the live registration id.
//
// Errors: ErrNotFound.
func (v *View) PushRegistration(id string) (*PushRegistration, error) {
	p, err := getPushReg(v.v.snap, id)
	if err != nil {
		return nil, err
	}
	return pushRegFromProto(p, 0), nil
}

// PushRegistrations returns the registrations of collection id, oldest
// first.
func (v *View) PushRegistrations(id uint64) ([]*PushRegistration, error) {
	ids, err := getNames(v.v.snap, keys.PushCollKey(id))
	if err != nil {
		return nil, err
	}
	return v.pushRegs(ids.Names)
}

// UserPushRegistrations returns user's registrations, oldest first.
func (v *View) UserPushRegistrations(user string) ([]*PushRegistration, error) {
	ids, err := getNames(v.v.snap, keys.PushUserKey(user))
	if err != nil {
		return nil, err
	}
	return v.pushRegs(ids.Names)
}

func (v *View) pushRegs(ids []string) ([]*PushRegistration, error) {
	out := make([]*PushRegistration, 0, len(ids))
	for _, id := range ids {
		r, err := v.PushRegistration(id)
		if err != nil {
			return nil, fmt.Errorf("engine: push registration %q: %w", id, err)
		}
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b *PushRegistration) int { return cmp.Compare(a.Created.UnixNano(), b.Created.UnixNano()) })
	return out, nil
}

// AllPushRegistrations returns every registration, in id order.
func (v *View) AllPushRegistrations() ([]*PushRegistration, error) {
	p := keys.PushRegPrefix()
	it, err := v.v.snap.NewIter(&pebble.IterOptions{LowerBound: p, UpperBound: keys.PrefixEnd(p)})
	if err != nil {
		return nil, fmt.Errorf("engine: push iterator: %w", err)
	}
	defer it.Close()
	var out []*PushRegistration
	for it.First(); it.Valid(); it.Next() {
		val, err := it.ValueAndErr()
		if err != nil {
			return nil, fmt.Errorf("engine: read push registration: %w", err)
		}
		r := &eventv1.PushRegistration{}
		if err := proto.Unmarshal(val, r); err != nil {
			return nil, fmt.Errorf("engine: decode push registration: %w", err)
		}
		out = append(out, pushRegFromProto(r, 0))
	}
	if err := it.Error(); err != nil {
		return nil, fmt.Errorf("engine: push iterator: %w", err)
	}
	return out, nil
}

// PushKey returns the VAPID public key the last OpPushKeyRotated
// recorded, "" before the first.
func (v *View) PushKey() (string, error) {
	b, err := getBytes(v.v.snap, keys.PushVAPIDKey())
	if err == ErrNotFound {
		return "", nil
	}
	return string(b), err
}

// PushTopic returns collection id's WebDAV-Push topic: stable (the
// collection keeps it through moves and restarts), unique, and
// unguessable — 128 bits of an HMAC of the id under a key derived from
// the store secret, base64url (22 characters). It says nothing of the
// collection's path.
func (db *DB) PushTopic(id uint64) string {
	mac := hmac.New(sha256.New, db.Secret("webdav-push topic"))
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], id)
	mac.Write(b[:])
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil)[:16])
}
