package engine

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/almanac/almanac/engine/internal/keys"
	eventv1 "github.com/almanac/almanac/proto/almanac/event/v1"
	"github.com/cockroachdb/pebble/v2"
	"google.golang.org/protobuf/proto"
)

// Webhook bounds.
const (
	// MaxWebhooksPerOwner is the most webhooks one user (or the operator,
	// for the webhooks an administrator makes) may have.
	MaxWebhooksPerOwner = 16
	// MaxWebhookURL bounds a webhook's URL, in bytes.
	MaxWebhookURL = 2048
)

// Webhook is a receiver of changes (package webhook delivers them): the
// changes Owner may read, narrowed by the filters, are POSTed to URL in
// log order from the webhook's cursor (WebhookCursor).
type Webhook struct {
	// ID is 16 random hex digits.
	ID string
	// URL is the http or https address changes are POSTed to.
	URL string
	// Owner is the user whose read access bounds what is sent; empty for
	// a webhook an administrator made, which reads the whole log.
	Owner string
	// Principal, CollectionPrefix, Kinds and Ops narrow what is sent
	// (empty: no narrowing): changes of Principal's collections, of
	// collections whose path starts with CollectionPrefix, of these kinds,
	// of these operations.
	Principal        string
	CollectionPrefix string
	Kinds            []Kind
	Ops              []Op
	// IncludeBody sends object bodies.
	IncludeBody bool
	// Paused webhooks send nothing until resumed; Reason says why.
	Paused bool
	Reason string
	// Seq and Created are those of its creation; Actor made it.
	Seq     Seq
	Created time.Time
	Actor   string

	salt string
}

// WebhookOps are the operations a webhook's Ops filter may name (by
// Op.String): the ones the change feed carries.
var WebhookOps = []Op{OpCollectionCreated, OpCollectionDeleted, OpPropsChanged, OpCollectionMoved, OpObjectPut,
	OpObjectDeleted, OpObjectMoved, OpObjectPropsChanged, OpContentPurged, OpShareGranted, OpShareRevoked,
	OpShareReplied, OpLinkCreated, OpLinkRevoked, OpScheduleRequest, OpScheduleReply, OpScheduleCancel, OpScheduleAdd,
	OpIMIPQueued, OpIMIPFailed}

// ParseOp returns the operation named s (Op.String) among WebhookOps.
//
// Errors: ErrInvalidName.
func ParseOp(s string) (Op, error) {
	for _, o := range WebhookOps {
		if o.String() == s {
			return o, nil
		}
	}
	return 0, fmt.Errorf("%w: unknown operation %q", ErrInvalidName, s)
}

// CheckWebhookURL reports whether u is a URL a webhook may have: absolute
// http or https with a host, no user info, at most MaxWebhookURL bytes.
// Whether its address may be dialled is the deliverer's concern (it is
// checked at every connection).
//
// Errors: ErrInvalidName.
func CheckWebhookURL(u string) error {
	if len(u) > MaxWebhookURL {
		return fmt.Errorf("%w: webhook URL over %d bytes", ErrInvalidName, MaxWebhookURL)
	}
	p, err := url.Parse(u)
	if err != nil {
		return fmt.Errorf("%w: webhook URL: %v", ErrInvalidName, err)
	}
	if p.Scheme != "http" && p.Scheme != "https" || p.Host == "" || p.Hostname() == "" {
		return fmt.Errorf("%w: webhook URL %q is not an absolute http or https URL", ErrInvalidName, u)
	}
	if p.User != nil {
		return fmt.Errorf("%w: webhook URL with user info", ErrInvalidName)
	}
	return nil
}

// CreateWebhook records a new webhook (ID, Seq, Created and Actor are
// set here, Paused and Reason ignored) and returns it with its signing
// secret, which is derived from the store secret, never stored: the
// caller shows it once, WebhookSecret gives it to the deliverer. The
// caller checks that m.Actor may (w.Owner themselves, or an
// administrator).
//
// Errors: ErrInvalidName (a bad URL, filter or owner name);
// *SharingLimitError (MaxWebhooksPerOwner).
func (db *DB) CreateWebhook(ctx context.Context, m Meta, w Webhook) (*Webhook, []byte, error) {
	if err := CheckWebhookURL(w.URL); err != nil {
		return nil, nil, err
	}
	for _, s := range []string{w.Owner, w.Principal, w.CollectionPrefix} {
		if len(s) > MaxWebhookURL || !utf8Clean(s) {
			return nil, nil, fmt.Errorf("%w: webhook filter %.40q", ErrInvalidName, s)
		}
	}
	p := &eventv1.Webhook{Id: randomHex(8), Url: w.URL, Owner: w.Owner, Principal: w.Principal,
		CollectionPrefix: w.CollectionPrefix, IncludeBody: w.IncludeBody, SecretSalt: randomHex(16)}
	for _, k := range w.Kinds {
		if k < KindHome || k > KindAddressBook {
			return nil, nil, fmt.Errorf("%w: collection kind %d", ErrInvalidName, k)
		}
		p.Kinds = append(p.Kinds, eventv1.CollectionKind(k))
	}
	for _, o := range w.Ops {
		if !slices.Contains(WebhookOps, o) {
			return nil, nil, fmt.Errorf("%w: operation %d", ErrInvalidName, o)
		}
		p.Ops = append(p.Ops, eventv1.Op(o))
	}
	if err := db.submit(ctx, &webhookCmd{m: m, op: eventv1.Op_OP_WEBHOOK_CREATED, w: p}); err != nil {
		return nil, nil, err
	}
	v, err := db.View()
	if err != nil {
		return nil, nil, err
	}
	defer v.Close()
	made, err := v.Webhook(p.Id)
	if err != nil {
		return nil, nil, err
	}
	return made, db.WebhookSecret(made), nil
}

// DeleteWebhook deletes webhook id.
//
// Errors: ErrNotFound.
func (db *DB) DeleteWebhook(ctx context.Context, m Meta, id string) error {
	return db.submit(ctx, &webhookCmd{m: m, op: eventv1.Op_OP_WEBHOOK_DELETED, w: &eventv1.Webhook{Id: id}})
}

// SetWebhookPaused pauses webhook id (reason says why) or resumes it; its
// cursor stays where it is, so a resumed webhook sends what it missed.
// Setting the state it already has records nothing.
//
// Errors: ErrNotFound.
func (db *DB) SetWebhookPaused(ctx context.Context, m Meta, id string, paused bool, reason string) error {
	return db.submit(ctx, &webhookCmd{m: m, op: eventv1.Op_OP_WEBHOOK_STATE_CHANGED,
		w: &eventv1.Webhook{Id: id, Paused: paused, Reason: strings.ToValidUTF8(reason, "\uFFFD")}})
}

// WebhookSecret returns w's signing key (32 bytes): an HMAC of its id and
// salt under a key derived from the store secret, the same across
// restarts and rebuilds (a backup keeps it; a store made anew by import
// gives webhooks new secrets).
func (db *DB) WebhookSecret(w *Webhook) []byte {
	mac := hmac.New(sha256.New, db.Secret("webhook"))
	mac.Write([]byte(w.ID + "\x00" + w.salt))
	return mac.Sum(nil)
}

// WebhookCursor names w's engine cursor (DB.Cursor): the last seq it has
// delivered, all before it too. A webhook whose cursor was never set
// starts after its creation.
func WebhookCursor(id string) string { return "webhook:" + id }

// Webhook returns webhook id.
//
// Errors: ErrNotFound.
func (v *View) Webhook(id string) (*Webhook, error) {
	p := &eventv1.Webhook{}
	if err := getProto(v.v.snap, keys.WebhookKey(id), p); err != nil {
		return nil, err
	}
	return webhookFromProto(p), nil
}

// Webhooks returns every webhook in id order.
func (v *View) Webhooks() ([]*Webhook, error) {
	lo := []byte{keys.Webhook}
	var out []*Webhook
	err := v.scanKeys(lo, keys.PrefixEnd(lo), func(k []byte) error {
		w, err := v.Webhook(string(k[1:]))
		out = append(out, w)
		return err
	})
	return out, err
}

func webhookFromProto(p *eventv1.Webhook) *Webhook {
	w := &Webhook{ID: p.Id, URL: p.Url, Owner: p.Owner, Principal: p.Principal, CollectionPrefix: p.CollectionPrefix,
		IncludeBody: p.IncludeBody, Paused: p.Paused, Reason: p.Reason, Seq: Seq(p.CreatedSeq),
		Created: unixNano(p.CreatedUnixNano), Actor: p.CreatedBy, salt: p.SecretSalt}
	for _, k := range p.Kinds {
		w.Kinds = append(w.Kinds, Kind(k))
	}
	for _, o := range p.Ops {
		w.Ops = append(w.Ops, Op(o))
	}
	return w
}

type webhookCmd struct {
	m  Meta
	op eventv1.Op
	w  *eventv1.Webhook
}

func (c *webhookCmd) run(tx *txn) error {
	ev := &eventv1.Event{Op: c.op}
	switch c.op {
	case eventv1.Op_OP_WEBHOOK_CREATED:
		ids, err := webhooksOf(tx.rw, c.w.Owner)
		if err != nil {
			return err
		}
		if len(ids) >= MaxWebhooksPerOwner {
			what := "webhooks of " + c.w.Owner
			if c.w.Owner == "" {
				what = "webhooks made by administrators"
			}
			return &SharingLimitError{What: what, Limit: MaxWebhooksPerOwner}
		}
		ev.Webhook = c.w
		return tx.append(c.m, ev)
	}
	cur := &eventv1.Webhook{}
	if err := getProto(tx.rw, keys.WebhookKey(c.w.Id), cur); err != nil {
		return fmt.Errorf("webhook %q: %w", c.w.Id, err)
	}
	if c.op == eventv1.Op_OP_WEBHOOK_DELETED {
		ev.Webhook = &eventv1.Webhook{Id: c.w.Id, Owner: cur.Owner}
		return tx.append(c.m, ev)
	}
	if cur.Paused == c.w.Paused {
		return nil
	}
	cur.Paused, cur.Reason = c.w.Paused, c.w.Reason
	ev.Webhook = cur
	return tx.append(c.m, ev)
}

// applyWebhook keeps W<id>, the webhook as it is after the event. The
// events carry the whole record, so apply reads nothing.
func applyWebhook(rw readWriter, ev *eventv1.Event) error {
	w := ev.GetWebhook()
	if w == nil || w.Id == "" {
		return fmt.Errorf("engine: apply: webhook event without a webhook at seq %d", ev.Seq)
	}
	switch ev.Op {
	case eventv1.Op_OP_WEBHOOK_DELETED:
		return rw.Delete(keys.WebhookKey(w.Id), nil)
	case eventv1.Op_OP_WEBHOOK_CREATED:
		w = &eventv1.Webhook{Id: w.Id, Url: w.Url, Owner: w.Owner, Principal: w.Principal, CollectionPrefix: w.CollectionPrefix,
			Kinds: w.Kinds, Ops: w.Ops, IncludeBody: w.IncludeBody, SecretSalt: w.SecretSalt,
			CreatedSeq: ev.Seq, CreatedUnixNano: ev.TimeUnixNano, CreatedBy: ev.Actor}
	}
	return setProto(rw, keys.WebhookKey(w.Id), w)
}

// dropWebhooks deletes user's webhooks (their account is being deleted:
// a new account of the name must not inherit them).
func dropWebhooks(tx *txn, m Meta, user string) error {
	ids, err := webhooksOf(tx.rw, user)
	for _, id := range ids {
		if err := tx.append(m, &eventv1.Event{Op: eventv1.Op_OP_WEBHOOK_DELETED, Webhook: &eventv1.Webhook{Id: id, Owner: user}}); err != nil {
			return err
		}
	}
	return err
}

// webhooksOf returns the ids of owner's webhooks (a scan of every
// webhook: MaxWebhooksPerOwner per user).
func webhooksOf(rw readWriter, owner string) ([]string, error) {
	lo := []byte{keys.Webhook}
	it, err := rw.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: keys.PrefixEnd(lo)})
	if err != nil {
		return nil, fmt.Errorf("engine: iterator: %w", err)
	}
	defer it.Close()
	var ids []string
	for it.First(); it.Valid(); it.Next() {
		v, err := it.ValueAndErr()
		if err != nil {
			return nil, fmt.Errorf("engine: webhooks: %w", err)
		}
		p := &eventv1.Webhook{}
		if err := proto.Unmarshal(v, p); err != nil {
			return nil, fmt.Errorf("engine: webhook %q: %w", it.Key()[1:], err)
		}
		if p.Owner == owner {
			ids = append(ids, p.Id)
		}
	}
	return ids, it.Error()
}

// randomHex returns n random bytes in hex.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24)
	return hex.EncodeToString(b)
}

// utf8Clean reports whether s is valid UTF-8 without control characters.
func utf8Clean(s string) bool {
	return strings.ToValidUTF8(s, "\uFFFD") == s && !strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f })
}
