package audit

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/almanac/almanac/engine"
)

// Webhooks manages webhooks: Local on a data directory or inside the
// server, Client through the admin API of a running server (`almanac
// webhook`).
type Webhooks interface {
	// Webhook runs one webhook operation (see WebhookRequest). Errors:
	// those of the engine call it makes (engine.ErrNotFound,
	// ErrInvalidName, *engine.SharingLimitError), and a bad request.
	Webhook(ctx context.Context, req WebhookRequest) (*WebhookResult, error)
}

// Webhook operations (WebhookRequest.Op) and the fields each reads.
const (
	OpWebhookAdd    = "webhook-add"    // URL, Owner, Principal, Collection, Kinds, Ops, IncludeBody
	OpWebhookList   = "webhook-list"   // Owner (empty: all)
	OpWebhookDelete = "webhook-delete" // ID
	OpWebhookResume = "webhook-resume" // ID
	OpWebhookPause  = "webhook-pause"  // ID
)

// WebhookRequest is one webhook operation, the body of POST /admin/webhooks.
type WebhookRequest struct {
	Op  string `json:"op"`
	ID  string `json:"id,omitempty"`
	URL string `json:"url,omitempty"`
	// Owner bounds what the webhook sends to what that user may read;
	// empty: the whole log (an administrator's webhook).
	Owner       string   `json:"owner,omitempty"`
	Principal   string   `json:"principal,omitempty"`
	Collection  string   `json:"collection,omitempty"`
	Kinds       []string `json:"kinds,omitempty"` // calendar, contacts
	Ops         []string `json:"ops,omitempty"`   // engine.Op names: put, delete, move, ...
	IncludeBody bool     `json:"include_body,omitempty"`
}

// WebhookResult is the answer of a webhook operation: the list, or the
// webhook just made (with its secret, shown once).
type WebhookResult struct {
	Webhooks []WebhookInfo `json:"webhooks,omitempty"`
	Webhook  *WebhookInfo  `json:"webhook,omitempty"`
}

// WebhookInfo describes a webhook: its record, its cursor and, from a
// running server, what its delivery loop knows.
type WebhookInfo struct {
	ID          string    `json:"id"`
	URL         string    `json:"url"`
	Owner       string    `json:"owner,omitempty"`
	Principal   string    `json:"principal,omitempty"`
	Collection  string    `json:"collection,omitempty"`
	Kinds       []string  `json:"kinds,omitempty"`
	Ops         []string  `json:"ops,omitempty"`
	IncludeBody bool      `json:"include_body,omitempty"`
	Paused      bool      `json:"paused,omitempty"`
	Reason      string    `json:"reason,omitempty"`
	Created     time.Time `json:"created"`
	Actor       string    `json:"actor,omitempty"`
	// Cursor is the last seq delivered (all before it too); Lag the
	// events appended since.
	Cursor uint64 `json:"cursor"`
	Lag    uint64 `json:"lag"`
	WebhookStatus
	// Secret is set only in the answer that made the webhook: the
	// Standard Webhooks key, "whsec_" + base64.
	Secret string `json:"secret,omitempty"`
}

// WebhookStatus is what a running server's delivery loop knows of a
// webhook (Options of Local and Admin: WebhookStatus).
type WebhookStatus struct {
	Running      bool      `json:"running,omitempty"`
	Cursor       uint64    `json:"-"`
	LastError    string    `json:"last_error,omitempty"`
	FailingSince time.Time `json:"failing_since,omitzero"`
}

var _ Webhooks = (*Local)(nil)

// maxWebhookBody bounds the body of POST /admin/webhooks and of a user's
// POST ?webhooks.
const maxWebhookBody = 64 << 10

// Webhook runs one webhook operation on l.DB as l.Meta's actor.
func (l *Local) Webhook(ctx context.Context, q WebhookRequest) (*WebhookResult, error) {
	res := &WebhookResult{}
	switch q.Op {
	case OpWebhookAdd:
		w := engine.Webhook{URL: q.URL, Owner: q.Owner, Principal: q.Principal, CollectionPrefix: q.Collection, IncludeBody: q.IncludeBody}
		for _, k := range q.Kinds {
			kind, err := parseKind(k)
			if err != nil {
				return nil, badRequest(err)
			}
			w.Kinds = append(w.Kinds, kind)
		}
		for _, o := range q.Ops {
			op, err := engine.ParseOp(o)
			if err != nil {
				return nil, badRequest(err)
			}
			w.Ops = append(w.Ops, op)
		}
		if q.Owner != "" {
			if _, err := l.DB.User(q.Owner); err != nil {
				return nil, fmt.Errorf("webhook owner %q: %w", q.Owner, err)
			}
		}
		made, key, err := l.DB.CreateWebhook(ctx, l.Meta, w)
		if err != nil {
			return nil, err
		}
		info := l.webhookInfo(made, 0)
		// The Standard Webhooks form of the key (webhook.FormatSecret).
		info.Secret = "whsec_" + base64.StdEncoding.EncodeToString(key)
		res.Webhook = &info
		return res, nil
	case OpWebhookList:
		return res, l.view(func(v *engine.View) error {
			ws, err := v.Webhooks()
			for _, w := range ws {
				if q.Owner == "" || w.Owner == q.Owner {
					res.Webhooks = append(res.Webhooks, l.webhookInfo(w, v.Head()))
				}
			}
			return err
		})
	case OpWebhookDelete, OpWebhookResume, OpWebhookPause:
		if err := l.ownWebhook(q.ID, q.Owner); err != nil {
			return nil, err
		}
		if q.Op == OpWebhookDelete {
			return res, l.DB.DeleteWebhook(ctx, l.Meta, q.ID)
		}
		reason := ""
		if q.Op == OpWebhookPause {
			reason = "paused by " + l.Meta.Actor
		}
		return res, l.DB.SetWebhookPaused(ctx, l.Meta, q.ID, q.Op == OpWebhookPause, reason)
	}
	return nil, badRequest(fmt.Errorf("unknown webhook operation %q", q.Op))
}

// ownWebhook checks that webhook id exists and, when owner is set,
// belongs to owner (another user's webhook is not found).
func (l *Local) ownWebhook(id, owner string) error {
	return l.view(func(v *engine.View) error {
		w, err := v.Webhook(id)
		if err == nil && owner != "" && w.Owner != owner {
			err = engine.ErrNotFound
		}
		if err != nil {
			return fmt.Errorf("webhook %q: %w", id, err)
		}
		return nil
	})
}

// webhookInfo describes w; head (0: unknown) gives the lag.
func (l *Local) webhookInfo(w *engine.Webhook, head engine.Seq) WebhookInfo {
	info := WebhookInfo{ID: w.ID, URL: w.URL, Owner: w.Owner, Principal: w.Principal, Collection: w.CollectionPrefix,
		IncludeBody: w.IncludeBody, Paused: w.Paused, Reason: w.Reason, Created: w.Created, Actor: w.Actor}
	for _, k := range w.Kinds {
		info.Kinds = append(info.Kinds, kindName(k))
	}
	for _, o := range w.Ops {
		info.Ops = append(info.Ops, o.String())
	}
	cur, err := l.DB.Cursor(engine.WebhookCursor(w.ID))
	if err == nil {
		info.Cursor = uint64(max(cur, w.Seq))
	}
	if l.WebhookStatus != nil {
		info.WebhookStatus = l.WebhookStatus(w.ID)
		if info.Running {
			info.Cursor = max(info.Cursor, info.WebhookStatus.Cursor)
		}
	}
	if uint64(head) > info.Cursor {
		info.Lag = uint64(head) - info.Cursor
	}
	return info
}

// parseKind reads a webhook's kind filter: calendar, contacts.
func parseKind(s string) (engine.Kind, error) {
	switch s {
	case "calendar", "calendars":
		return engine.KindCalendar, nil
	case "contacts", "addressbook", "address-book":
		return engine.KindAddressBook, nil
	}
	return 0, fmt.Errorf("%w: collection kind %q (want calendar or contacts)", engine.ErrInvalidName, s)
}

func kindName(k engine.Kind) string {
	if k == engine.KindAddressBook {
		return "contacts"
	}
	return k.String()
}

// webhookRoute answers POST /admin/webhooks; ok is false for another path.
func webhookRoute(r *http.Request, l *Local) (out any, ok bool, err error) {
	if r.Method != http.MethodPost || r.URL.Path != "/admin/webhooks" {
		return nil, false, nil
	}
	var q WebhookRequest
	if err := decode(r, &q); err != nil {
		return nil, true, err
	}
	out, err = l.Webhook(r.Context(), q)
	return out, true, err
}

var _ Webhooks = (*Client)(nil)

// Webhook runs one webhook operation on the server.
func (c *Client) Webhook(ctx context.Context, req WebhookRequest) (*WebhookResult, error) {
	var out WebhookResult
	if err := c.do(ctx, http.MethodPost, "/admin/webhooks", nil, req, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// userWebhook answers a user's ?webhooks request on a URL of their own
// (see User): list, add on the URL's collection, delete, resume.
func (l *Local) userWebhook(r *http.Request) (any, error) {
	user := l.Meta.Actor
	q := r.URL.Query()
	id := q.Get("webhooks")
	switch {
	case r.Method == http.MethodGet || r.Method == http.MethodHead:
		return l.Webhook(r.Context(), WebhookRequest{Op: OpWebhookList, Owner: user})
	case r.Method == http.MethodPost && id == "":
		var in WebhookRequest
		if err := decode(r, &in); err != nil {
			return nil, err
		}
		coll, _ := SplitPath(r.URL.Path)
		return l.Webhook(r.Context(), WebhookRequest{Op: OpWebhookAdd, URL: in.URL, Owner: user, Collection: coll,
			Kinds: in.Kinds, Ops: in.Ops, IncludeBody: in.IncludeBody})
	case r.Method == http.MethodPost && (q.Has("delete") || q.Has("resume") || q.Has("pause")):
		op := OpWebhookDelete
		if q.Has("resume") {
			op = OpWebhookResume
		} else if q.Has("pause") {
			op = OpWebhookPause
		}
		return l.Webhook(r.Context(), WebhookRequest{Op: op, ID: id, Owner: user})
	}
	return nil, badRequest(errors.New("use GET ?webhooks, POST ?webhooks with {url, kinds, ops, include_body}, or POST ?webhooks=ID&delete|resume|pause"))
}
