package audit

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/almanac/almanac/engine"
)

// TestAdminWebhooks drives POST /admin/webhooks with the Client: add
// answers the secret once (list never shows it) and the running
// deliverer's status; each refusal gets its status (400 an unknown
// operation, URL, kind or op, 404 an unknown webhook or owner, 403 the
// per-owner limit, 413 a body over 64 KiB).
func TestAdminWebhooks(t *testing.T) {
	db := mustOpen(t)
	status := func(id string) WebhookStatus {
		return WebhookStatus{Running: true, Cursor: 99, LastError: "webhook: receiver answered 503"}
	}
	srv := httptest.NewServer(&Admin{DB: db, Auth: fakeAuth{"admin": engine.RoleAdmin}, WebhookStatus: status})
	defer srv.Close()
	c := &Client{Server: srv.URL, User: "admin", Password: "secret"}
	res, err := c.Webhook(ctx, WebhookRequest{Op: OpWebhookAdd, URL: "https://hooks.example/", Kinds: []string{"contacts"}, Ops: []string{"put"}})
	if err != nil {
		t.Fatal(err)
	}
	w := res.Webhook
	if w == nil || !strings.HasPrefix(w.Secret, "whsec_") || w.Actor != "admin" || len(w.Kinds) != 1 || w.Kinds[0] != "contacts" {
		t.Fatalf("add: %+v", w)
	}
	res, err = c.Webhook(ctx, WebhookRequest{Op: OpWebhookList})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Webhooks) != 1 || res.Webhooks[0].Secret != "" || res.Webhooks[0].Cursor != 99 || !res.Webhooks[0].Running ||
		res.Webhooks[0].LastError == "" {
		t.Fatalf("list: %+v", res.Webhooks)
	}
	for i := 1; i < engine.MaxWebhooksPerOwner; i++ {
		if _, err := c.Webhook(ctx, WebhookRequest{Op: OpWebhookAdd, URL: "https://hooks.example/"}); err != nil {
			t.Fatal(err)
		}
	}
	for _, c2 := range []struct {
		q    WebhookRequest
		want string
	}{
		{WebhookRequest{Op: "webhook-everything"}, "400"},
		{WebhookRequest{Op: OpWebhookAdd, URL: "file:///etc/passwd"}, "400"},
		{WebhookRequest{Op: OpWebhookAdd, URL: "https://h/", Kinds: []string{"todo"}}, "400"},
		{WebhookRequest{Op: OpWebhookAdd, URL: "https://h/", Ops: []string{"user-set"}}, "400"},
		{WebhookRequest{Op: OpWebhookAdd, URL: "https://h/", Owner: "nobody"}, "404"},
		{WebhookRequest{Op: OpWebhookDelete, ID: "0123456789abcdef"}, "404"},
		{WebhookRequest{Op: OpWebhookResume, ID: w.ID, Owner: "alice"}, "404"},
		{WebhookRequest{Op: OpWebhookAdd, URL: "https://h/"}, "403"},
	} {
		_, err := c.Webhook(ctx, c2.q)
		if err == nil || !strings.Contains(err.Error(), c2.want) {
			t.Errorf("%+v: %v, want %s", c2.q, err, c2.want)
		}
	}
	if _, err := c.Webhook(ctx, WebhookRequest{Op: OpWebhookDelete, ID: "0123456789abcdef"}); !errors.Is(err, engine.ErrNotFound) {
		t.Errorf("an unknown id: %v, want engine.ErrNotFound", err)
	}
	if got := postAsAdmin(t, srv.URL+"/admin/webhooks", `{"op":"webhook-add","url":"https://h/`+strings.Repeat("x", 70<<10)+`"}`); got != http.StatusRequestEntityTooLarge {
		t.Errorf("70 KiB webhook body: %d, want 413", got)
	}
}
