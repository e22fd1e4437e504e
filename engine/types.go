package engine

import (
	"time"
)

// Seq is a position in the log. The first event has Seq 1.
type Seq uint64

// Kind is the type of a collection.
type Kind int

// Collection kinds.
const (
	KindHome        Kind = 1 // a user's home: parent of calendars and address books
	KindPlain       Kind = 2 // a plain WebDAV collection
	KindCalendar    Kind = 3 // a CalDAV calendar collection (RFC 4791)
	KindAddressBook Kind = 4 // a CardDAV address book collection (RFC 6352)
	KindInbox       Kind = 5 // a scheduling inbox (RFC 6638 §2.2)
	KindOutbox      Kind = 6 // a scheduling outbox (RFC 6638 §2.1)
)

// String returns the kind's name.
func (k Kind) String() string {
	switch k {
	case KindHome:
		return "home"
	case KindPlain:
		return "plain"
	case KindCalendar:
		return "calendar"
	case KindAddressBook:
		return "addressbook"
	case KindInbox:
		return "schedule-inbox"
	case KindOutbox:
		return "schedule-outbox"
	}
	return "unknown"
}

// Meta says who causes a change. It is recorded with every event.
type Meta struct {
	Actor     string // authenticated principal
	UserAgent string // the client's User-Agent
	RequestID string // the server's id for the request
	Reason    string // optional explanation (restore, import, purge)
	// DontNotify lists the writer's push registrations (ids, or "*" for
	// all) that a write is not pushed to (Push-Dont-Notify).
	DontNotify []string
}

// Props are a collection's properties.
type Props struct {
	DisplayName string
	Description string
	Color       string // Apple calendar-color
	Order       string // Apple calendar-order
	Timezone    string // CALDAV:calendar-timezone (a VCALENDAR with one VTIMEZONE)
	// Components is the CALDAV:supported-calendar-component-set. Empty on a
	// calendar means the default set, DefaultComponents.
	Components []string
	// Dead holds dead properties: "{namespace}local" -> the element as XML.
	Dead map[string]string
}

// DefaultComponents is the component set of a calendar whose record names
// none: calendars created before MKCALENDAR gave new calendars
// AllComponents. Changing it would change what those calendars accept.
var DefaultComponents = []string{"VEVENT", "VTODO"}

// AllComponents is the set a calendar created without
// CALDAV:supported-calendar-component-set gets (RFC 4791 §5.2.3).
// CompAvailability is stored only in calendars that list it.
var AllComponents = []string{"VEVENT", "VTODO", "VJOURNAL", "VFREEBUSY"}

// Clone returns a deep copy of p.
func (p Props) Clone() Props {
	c := p
	c.Components = append([]string(nil), p.Components...)
	if p.Dead != nil {
		c.Dead = make(map[string]string, len(p.Dead))
		for k, v := range p.Dead {
			c.Dead[k] = v
		}
	}
	return c
}

// Collection is the state of a collection.
type Collection struct {
	ID       uint64
	Path     string // URL path, ends with "/"
	Kind     Kind
	Owner    string
	Props    Props
	LastSeq  Seq // sequence number of the collection's last change
	Horizon  Seq // sync tokens older than this have expired
	Created  time.Time
	Modified time.Time
	Count    int64 // live objects
	CTag     string
	// SyncToken is the collection's current RFC 6578 sync token.
	SyncToken string
}

// Supports reports whether a calendar collection accepts component comp.
func (c *Collection) Supports(comp string) bool {
	set := c.Props.Components
	if len(set) == 0 {
		set = DefaultComponents
	}
	for _, s := range set {
		if s == comp {
			return true
		}
	}
	return false
}

// Object is the state of an object. Body is nil when it was not asked for.
type Object struct {
	Name        string
	ETag        string // strong ETag, quoted
	UID         string
	ContentType string
	Component   string // VEVENT, VTODO, VJOURNAL, VFREEBUSY, VAVAILABILITY, VCARD, or "" for other content
	Size        int64
	Seq         Seq // sequence number of the event that wrote this version
	Created     time.Time
	Modified    time.Time
	Envelope    Envelope
	// Dead holds dead properties: "{namespace}local" -> the element as
	// XML. They survive puts of a new body and travel with moves and copies.
	Dead map[string]string
	Body []byte
	// ScheduleTag is the schedule tag of a scheduling object resource
	// (RFC 6638 §3.2.10: a calendar object with an ORGANIZER), "" for any
	// other object. It changes with the ETag except when the server
	// merges an attendee's REPLY into the organizer's copy.
	ScheduleTag string

	bodySeq Seq // the log record that holds the body
}

// Envelope is a half-open time interval [Start, End) that holds every
// instance of a calendar object. A zero Start or End means unbounded on that
// side; objects that are not calendar data have an unbounded envelope.
type Envelope struct {
	Start time.Time
	End   time.Time
}

// Overlaps reports whether the envelope may overlap [start, end). A zero
// start or end means unbounded.
func (e Envelope) Overlaps(start, end time.Time) bool {
	if !end.IsZero() && !e.Start.IsZero() && !e.Start.Before(end) {
		return false
	}
	if !start.IsZero() && !e.End.IsZero() && !e.End.After(start) {
		return false
	}
	return true
}

// Change is one entry of a sync-collection answer.
type Change struct {
	Name    string
	Deleted bool
	ETag    string // "" for deletions
	Seq     Seq
}

// ChangeSet is the answer to DB.Changes.
type ChangeSet struct {
	Changes []Change
	// Token is the sync token to present next time.
	Token string
	// Truncated is set when the limit cut the answer short; Token then
	// continues from the last change returned.
	Truncated bool
}

// Op is what an event did.
type Op int

// Event operations.
const (
	OpCollectionCreated  Op = 1
	OpCollectionDeleted  Op = 2
	OpPropsChanged       Op = 3
	OpObjectPut          Op = 4
	OpObjectDeleted      Op = 5
	OpObjectMoved        Op = 6
	OpUserSet            Op = 7
	OpUserDeleted        Op = 8
	OpContentPurged      Op = 9
	OpLogCompacted       Op = 10
	OpCollectionMoved    Op = 11
	OpObjectPropsChanged Op = 12
	OpGroupSet           Op = 13
	OpGroupDeleted       Op = 14
	OpShareGranted       Op = 15
	OpShareRevoked       Op = 16
	OpShareReplied       Op = 17
	OpShareMountChanged  Op = 18
	OpProxySet           Op = 19
	OpLinkCreated        Op = 20
	OpLinkRevoked        Op = 21
	// Webhooks (package webhook delivers them).
	OpWebhookCreated      Op = 25
	OpWebhookDeleted      Op = 26
	OpWebhookStateChanged Op = 27
	// The change feed's ops of the delivery of an iTIP message into a
	// schedule inbox (an OpObjectPut with a Schedule), by method; never
	// in the log (package change maps them, webhooks filter by them).
	OpScheduleRequest Op = 30
	OpScheduleReply   Op = 31
	OpScheduleCancel  Op = 32
	OpScheduleAdd     Op = 33
	// App passwords (app_passwords.go).
	OpAppPasswordCreated Op = 40
	OpAppPasswordRevoked Op = 41
	OpAppPasswordUsed    Op = 42
	// Email invitations (imip.go).
	OpIMIPQueued Op = 38
	OpIMIPFailed Op = 39
)

// String returns the operation's name as used in the feed and history.
func (o Op) String() string {
	switch o {
	case OpCollectionCreated:
		return "collection-created"
	case OpCollectionDeleted:
		return "collection-deleted"
	case OpPropsChanged:
		return "props-changed"
	case OpObjectPut:
		return "put"
	case OpObjectDeleted:
		return "delete"
	case OpObjectMoved:
		return "move"
	case OpUserSet:
		return "user-set"
	case OpUserDeleted:
		return "user-deleted"
	case OpContentPurged:
		return "purge"
	case OpCollectionMoved:
		return "collection-moved"
	case OpObjectPropsChanged:
		return "object-props-changed"
	case OpLogCompacted:
		return "compact"
	case OpGroupSet:
		return "group-set"
	case OpGroupDeleted:
		return "group-deleted"
	case OpShareGranted:
		return "share-granted"
	case OpShareRevoked:
		return "share-revoked"
	case OpShareReplied:
		return "share-replied"
	case OpShareMountChanged:
		return "share-mount-changed"
	case OpProxySet:
		return "proxy-set"
	case OpLinkCreated:
		return "link-created"
	case OpLinkRevoked:
		return "link-revoked"
	case OpWebhookCreated:
		return "webhook-created"
	case OpWebhookDeleted:
		return "webhook-deleted"
	case OpWebhookStateChanged:
		return "webhook-state-changed"
	case OpScheduleRequest:
		return "schedule-request"
	case OpScheduleReply:
		return "schedule-reply"
	case OpScheduleCancel:
		return "schedule-cancel"
	case OpScheduleAdd:
		return "schedule-add"
	case OpAppPasswordCreated:
		return "app-password-created"
	case OpAppPasswordRevoked:
		return "app-password-revoked"
	case OpAppPasswordUsed:
		return "app-password-used"
	case OpPushRegistered:
		return "push-registered"
	case OpPushUnregistered:
		return "push-unregistered"
	case OpPushKeyRotated:
		return "push-key-rotated"
	case OpIMIPQueued:
		return "imip-queued"
	case OpIMIPFailed:
		return "imip-failed"
	}
	return "unknown"
}

// Event is one record of the log, as the engine's API exposes it.
type Event struct {
	Seq            Seq
	Time           time.Time
	Actor          string
	UserAgent      string
	RequestID      string
	Op             Op
	CollectionID   uint64
	CollectionPath string
	Object         string
	ETag           string
	PreviousETag   string
	Body           []byte
	ContentType    string
	UID            string
	// ToCollectionID, ToCollectionPath and ToObject are the destination
	// of a move (ToCollectionPath alone for a collection move).
	ToCollectionID   uint64
	ToCollectionPath string
	ToObject         string
	// ObjectProps are the object's dead properties after the event.
	ObjectProps map[string]string
	// Kind, Owner and Props describe the collection (collection events).
	Kind  Kind
	Owner string
	Props Props
	// User is the account after an OpUserSet, or its name after OpUserDeleted.
	User *User
	// PurgedSeqs lists the events whose content an OpContentPurged erased.
	PurgedSeqs []Seq
	Reason     string
	// BodyErased is set when compaction or a purge erased Body afterwards.
	BodyErased bool
	// HorizonSeq is the horizon of an OpLogCompacted.
	HorizonSeq Seq
	// Group is the group after an OpGroupSet, or its name after an
	// OpGroupDeleted.
	Group *Group
	// Share is the sharing part of the OpShare* events (CollectionID,
	// CollectionPath and Owner name the shared collection).
	Share *EventShare
	// Proxy is the delegation an OpProxySet set (AccessNone: withdrawn).
	Proxy *Proxy
	// LinkID names the public link of an OpLinkCreated or OpLinkRevoked
	// (Link.ID, never the token); LinkFreeBusyOnly is set on a free-busy
	// link.
	LinkID           string
	LinkFreeBusyOnly bool
	// Push is the push part of OpPush* events and of writes that named
	// registrations in Push-Dont-Notify.
	Push *EventPush
	// Webhook is the webhook after an OpWebhookCreated or
	// OpWebhookStateChanged, or its ID (and Owner) after an
	// OpWebhookDeleted.
	Webhook *Webhook
	// EnvelopeStart and EnvelopeEnd are a put's time envelope in Unix
	// seconds (math.MinInt64 and math.MaxInt64 when unbounded; both 0
	// for content without times).
	EnvelopeStart, EnvelopeEnd int64
	// Schedule is set on a put or delete the server wrote for implicit
	// scheduling: the iTIP message it delivered.
	Schedule *Schedule
	// IMIP is the email of OpIMIPQueued and OpIMIPFailed.
	IMIP *IMIP
}

// EventShare is what an OpShare* event says about a share.
type EventShare struct {
	// Grantee is the user or group of a grant or revocation, the user of
	// a reply or a mount change.
	Grantee    string
	Access     Access // OpShareGranted
	AutoAccept bool   // OpShareGranted
	Reply      Reply  // OpShareReplied
	// MountName is the name asked for (OpShareReplied) or the new name
	// (OpShareMountChanged).
	MountName string
	Props     Props // OpShareMountChanged: the sharee's own properties
	Summary   string
}

// User is a principal that may authenticate.
type User struct {
	Name         string
	PasswordHash string // bcrypt or argon2id, standard encoding
	Role         string // RoleUser or RoleAdmin
	Tokens       []APIToken
	Disabled     bool // cannot sign in; data and tokens stay
	// AppPasswords are the account's per-device passwords
	// (app_passwords.go). PutUser and UpdateUser leave them as they are:
	// only CreateAppPassword and RevokeAppPassword change them.
	AppPasswords []AppPassword
	// Emails are the user's email addresses (NormalizeEmail'd), their
	// mailto: calendar user addresses; one address is one user's only.
	Emails []string
	// Resource is set on a room or a resource (resources.go): it never
	// signs in (Disabled, no password hash, no token).
	Resource *Resource
}

// User roles.
const (
	RoleUser  = "user"
	RoleAdmin = "admin"
)

// APIToken is a per-user bearer token. Only a hash of its secret is stored.
type APIToken struct {
	ID           string
	SecretSHA256 string // hex
	Label        string
	Created      time.Time
}
