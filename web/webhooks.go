package web

import (
	"net/http"
	"strings"

	"github.com/almanac/almanac/dav/audit"
	"github.com/almanac/almanac/engine"
)

// webhooksData is the webhooks page: the user's webhooks with what the
// deliverer knows of each, the collections a new one may watch, and the
// secret of one just made (shown once).
type webhooksData struct {
	Webhooks    []audit.WebhookInfo
	Collections []string
	Max         int
	New         *audit.WebhookInfo
}

// webhookLocal is the audit.Local whose webhook operations the page uses:
// the same as the user API's (?webhooks), as the signed-in user.
func (h *Handler) webhookLocal(q *request) *audit.Local {
	return &audit.Local{DB: h.opts.DB, Meta: q.meta(), WebhookStatus: h.opts.WebhookStatus}
}

// webhooks lists the user's webhooks.
func (h *Handler) webhooks(w http.ResponseWriter, q *request) error {
	d, err := h.webhooksData(q)
	if err != nil {
		return err
	}
	return h.show(w, q, "webhooks", "Webhooks", "webhooks", d)
}

func (h *Handler) webhooksData(q *request) (*webhooksData, error) {
	res, err := h.webhookLocal(q).Webhook(q.Context(), audit.WebhookRequest{Op: audit.OpWebhookList, Owner: q.s.user})
	if err != nil {
		return nil, err
	}
	v, children, err := h.homeChildren(q)
	if err != nil {
		return nil, err
	}
	defer v.Close()
	d := &webhooksData{Webhooks: res.Webhooks, Max: engine.MaxWebhooksPerOwner}
	for _, c := range children {
		if c.Kind == engine.KindCalendar || c.Kind == engine.KindAddressBook {
			d.Collections = append(d.Collections, collName(c.Path))
		}
	}
	return d, nil
}

// createWebhook makes a webhook of the user's: every change of theirs, or
// of one collection, of the kinds checked; its secret is shown on the
// answer to the POST itself, this once.
func (h *Handler) createWebhook(w http.ResponseWriter, q *request) error {
	req := audit.WebhookRequest{Op: audit.OpWebhookAdd, URL: strings.TrimSpace(q.FormValue("url")), Owner: q.s.user,
		Collection: q.home(), Kinds: q.PostForm["kind"], IncludeBody: q.FormValue("body") != ""}
	if err := engine.CheckWebhookURL(req.URL); err != nil {
		return httpError(http.StatusBadRequest, "%v", err) // the engine's reason, not just "invalid name"
	}
	if c := q.FormValue("c"); c != "" {
		if strings.ContainsAny(c, "/\x00") {
			return httpError(http.StatusBadRequest, "bad collection %q", c)
		}
		req.Collection = q.home() + c + "/"
	}
	res, err := h.webhookLocal(q).Webhook(q.Context(), req)
	if err != nil {
		return err
	}
	d, err := h.webhooksData(q)
	if err != nil {
		return err
	}
	d.New = res.Webhook
	return h.show(w, q, "webhooks", "Webhooks", "webhooks", d)
}

// changeWebhook deletes, pauses or resumes one of the user's webhooks
// (another user's is not found).
func (h *Handler) changeWebhook(w http.ResponseWriter, q *request) error {
	ops := map[string]struct{ op, done string }{
		"delete": {audit.OpWebhookDelete, "Deleted the webhook."},
		"pause":  {audit.OpWebhookPause, "Paused the webhook."},
		"resume": {audit.OpWebhookResume, "Resumed the webhook: it sends what it missed."},
	}
	o, ok := ops[q.FormValue("do")]
	if !ok {
		return httpError(http.StatusBadRequest, "unknown webhook action %q", q.FormValue("do"))
	}
	if _, err := h.webhookLocal(q).Webhook(q.Context(), audit.WebhookRequest{Op: o.op, ID: q.FormValue("id"), Owner: q.s.user}); err != nil {
		return err
	}
	return h.redirect(w, q, "/webhooks", o.done)
}
