package change

import (
	"fmt"
	"strings"
	"sync"

	"github.com/almanac/almanac/engine"
	feedv1 "github.com/almanac/almanac/proto/almanac/feed/v1"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// HomePrefix is where user homes live: the owner of a collection without a
// known owner is the path segment after it.
const HomePrefix = "/dav/home/"

// Lookup finds a collection by id; *engine.View implements it.
type Lookup interface {
	CollectionByID(id uint64) (*engine.Collection, bool, error)
}

// Info is what a Change needs of a collection. Both fields are fixed when
// the collection is created, so they can be cached by id forever.
type Info struct {
	Owner string
	Kind  engine.Kind
}

// Converter turns log events into Changes. It caches the owner and kind of
// every collection it has seen: object events do not carry them. It is
// safe for concurrent use.
type Converter struct {
	db *engine.DB

	mu    sync.Mutex
	colls map[uint64]Info
}

// NewConverter returns a Converter of db's events.
func NewConverter(db *engine.DB) *Converter {
	return &Converter{db: db, colls: make(map[uint64]Info)}
}

// Collection returns the owner and kind of collection id, path being the
// path it had at the event.
func (c *Converter) Collection(lk Lookup, id uint64, path string) (Info, error) {
	if id == 0 {
		return Info{Owner: OwnerFromPath(path)}, nil
	}
	c.mu.Lock()
	ci, ok := c.colls[id]
	c.mu.Unlock()
	if ok {
		return ci, nil
	}
	coll, _, err := lk.CollectionByID(id)
	if err != nil {
		return Info{}, fmt.Errorf("change: collection %d (%s): %w", id, path, err)
	}
	ci = Info{Owner: coll.Owner, Kind: coll.Kind}
	if ci.Owner == "" {
		ci.Owner = OwnerFromPath(coll.Path)
	}
	c.remember(id, ci)
	return ci, nil
}

func (c *Converter) remember(id uint64, ci Info) {
	c.mu.Lock()
	c.colls[id] = ci
	c.mu.Unlock()
}

// OwnerFromPath returns U for a path under /dav/home/U/, else "".
func OwnerFromPath(path string) string {
	rest, ok := strings.CutPrefix(path, HomePrefix)
	if !ok {
		return ""
	}
	owner, _, _ := strings.Cut(rest, "/")
	return owner
}

// Exposed reports whether an event belongs in the feed (and webhooks). Account events
// carry password hashes and token hashes: they are never published. Ops
// the feed does not know (added to the log later) are skipped too.
func Exposed(op engine.Op) bool {
	switch op {
	case engine.OpCollectionCreated, engine.OpCollectionDeleted, engine.OpPropsChanged, engine.OpCollectionMoved,
		engine.OpObjectPut, engine.OpObjectDeleted, engine.OpObjectMoved, engine.OpObjectPropsChanged, engine.OpContentPurged,
		engine.OpIMIPQueued, engine.OpIMIPFailed:
		return true
	}
	return SharingOp(op)
}

// SharingOp reports whether op is a sharing event of a collection: its
// owner sees it, a sharee only the ones naming them (Filter.Match).
func SharingOp[O engine.Op | feedv1.Op](op O) bool {
	switch engine.Op(op) {
	case engine.OpShareGranted, engine.OpShareRevoked, engine.OpShareReplied, engine.OpLinkCreated, engine.OpLinkRevoked:
		return true
	}
	return false
}

// Change converts ev, lk being a view at or after it. It returns nil for events that are not exposed. A
// body is included when withBody is set and it is at most maxBody bytes
// (0: no limit); a larger one sets BodyOmitted.
func (c *Converter) Change(lk Lookup, ev *engine.Event, withBody bool, maxBody int) (*feedv1.Change, error) {
	if !Exposed(ev.Op) {
		return nil, nil
	}
	var ci Info
	switch ev.Op {
	case engine.OpIMIPQueued, engine.OpIMIPFailed:
		if ev.IMIP == nil {
			return nil, nil
		}
		ci.Owner = ev.IMIP.User // no collection: the user it is sent for
	case engine.OpCollectionCreated, engine.OpCollectionDeleted, engine.OpPropsChanged, engine.OpCollectionMoved:
		ci = Info{Owner: ev.Owner, Kind: ev.Kind}
		if ci.Owner == "" {
			ci.Owner = OwnerFromPath(ev.CollectionPath)
		}
		if ev.CollectionID != 0 {
			c.remember(ev.CollectionID, ci)
		}
	default:
		var err error
		if ci, err = c.Collection(lk, ev.CollectionID, ev.CollectionPath); err != nil {
			return nil, err
		}
	}
	ch := &feedv1.Change{
		Seq:          uint64(ev.Seq),
		Time:         timestamppb.New(ev.Time),
		Actor:        ev.Actor,
		UserAgent:    ev.UserAgent,
		RequestId:    ev.RequestID,
		Op:           feedv1.Op(ev.Op),
		Principal:    ci.Owner,
		Kind:         KindToProto(ci.Kind),
		Collection:   ev.CollectionPath,
		Object:       ev.Object,
		Uid:          ev.UID,
		Etag:         ev.ETag,
		PreviousEtag: ev.PreviousETag,
		ContentType:  ev.ContentType,
		Reason:       ev.Reason,
	}
	if ev.CollectionID != 0 && ev.Op != engine.OpCollectionDeleted && !SharingOp(ev.Op) {
		ch.SyncToken = c.syncToken(ev.CollectionID, ev.Seq)
	}
	if sh := ev.Share; sh != nil {
		ch.Grantee, ch.Access = sh.Grantee, sh.Access.String()
		if ev.Op == engine.OpShareReplied {
			ch.Access = sh.Reply.String()
		}
		if ev.Op == engine.OpShareRevoked {
			ch.Access = ""
		}
	}
	if ev.LinkID != "" {
		ch.LinkId, ch.Access = ev.LinkID, "read"
		if ev.LinkFreeBusyOnly {
			ch.Access = "freebusy"
		}
		if ev.Op == engine.OpLinkRevoked {
			ch.Access = ""
		}
	}
	if ev.Op == engine.OpCollectionMoved {
		ch.ToPrincipal = OwnerFromPath(ev.ToCollectionPath)
		ch.ToCollection = ev.ToCollectionPath
		ch.ToSyncToken = ch.SyncToken
	}
	if ev.Op == engine.OpObjectMoved {
		to, err := c.Collection(lk, ev.ToCollectionID, ev.ToCollectionPath)
		if err != nil {
			return nil, err
		}
		ch.ToPrincipal = to.Owner
		ch.ToCollection = ev.ToCollectionPath
		ch.ToObject = ev.ToObject
		ch.ToSyncToken = c.syncToken(ev.ToCollectionID, ev.Seq)
	}
	if s := ev.Schedule; s != nil {
		ch.Schedule = &feedv1.Schedule{Method: s.Method, Originator: s.Originator, Recipient: s.Recipient,
			RecipientUser: s.RecipientUser, Status: s.Status}
		if op, ok := scheduleOp(s.Method); ok && ev.Op == engine.OpObjectPut && ci.Kind == engine.KindInbox {
			ch.Op = feedv1.Op(op)
		}
	}
	body := ev.Body
	if m := ev.IMIP; m != nil {
		body = m.Calendar
		ch.Uid = m.UID
		ch.Schedule = &feedv1.Schedule{Method: m.Method, Originator: m.Originator, Recipient: m.Recipient, Status: "1.1"}
		if ev.Op == engine.OpIMIPFailed {
			ch.Schedule.Status = "5.1" // could not be delivered (RFC 6638 §3.2.9)
			ch.Reason = strings.TrimSpace(ev.Reason + ": " + m.Status)
		}
	}
	if withBody && len(body) > 0 {
		if maxBody > 0 && len(body) > maxBody {
			ch.BodyOmitted = true
		} else {
			ch.Body = body
		}
	}
	return ch, nil
}

// scheduleOp is the feed's op of the delivery of an iTIP message of
// method into a schedule inbox.
func scheduleOp(method string) (engine.Op, bool) {
	switch method {
	case "REQUEST":
		return engine.OpScheduleRequest, true
	case "REPLY":
		return engine.OpScheduleReply, true
	case "CANCEL":
		return engine.OpScheduleCancel, true
	case "ADD":
		return engine.OpScheduleAdd, true
	}
	return 0, false
}

// syncToken is the RFC 6578 token of collection id right after seq.
func (c *Converter) syncToken(id uint64, seq engine.Seq) string { return c.db.SyncToken(id, seq) }

// KindToProto returns the feed's name of a collection kind.
func KindToProto(k engine.Kind) feedv1.Kind {
	switch k {
	case engine.KindCalendar:
		return feedv1.Kind_KIND_CALENDAR
	case engine.KindAddressBook:
		return feedv1.Kind_KIND_CONTACTS
	case engine.KindHome:
		return feedv1.Kind_KIND_HOME
	case engine.KindPlain:
		return feedv1.Kind_KIND_PLAIN
	}
	return feedv1.Kind_KIND_UNSPECIFIED
}
