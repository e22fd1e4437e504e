package web

import (
	"context"
	"fmt"
	"html"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/almanac/almanac/dav/audit"
	"github.com/almanac/almanac/engine"
)

// TestPushSubscriptions: the devices page lists the user's own push
// registrations (collection, push service host, expiry, the sender's
// last delivery), escaped, and removes one; another user's id is 404 and
// stays.
func TestPushSubscriptions(t *testing.T) {
	last := time.Date(2026, 3, 2, 8, 30, 0, 0, time.UTC)
	var delivered string // the registration the sender delivered to
	a := mustApp(t, Options{PushLastDelivery: func(id string) time.Time {
		if id == delivered {
			return last
		}
		return time.Time{}
	}})
	b := a.browser(t)
	b.signIn("alice")
	if _, body := b.get("/devices"); !strings.Contains(body, "No push subscriptions.") {
		t.Errorf("empty: no empty state:\n%s", body)
	}
	reg := func(user, resource string) string {
		t.Helper()
		r, _, err := a.db.RegisterPush(context.Background(), engine.Meta{Actor: user}, "/dav/home/"+user+"/calendar/",
			engine.PushRegistration{PushResource: resource, PublicKey: make([]byte, 65), AuthSecret: make([]byte, 16), ContentUpdate: true}, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		return r.ID
	}
	mine := reg("alice", "https://push.example:8443/<script>alert(1)</script>")
	delivered = mine
	reg("alice", "https://other.example/x")
	theirs := reg("bob", "https://bobs-push.example/y")
	_, body := b.get("/devices")
	for _, want := range []string{"<code>calendar</code>", "push.example:8443", "other.example", "content", last.Format("2006-01-02 15:04"), "none since the server started"} {
		if !strings.Contains(body, want) {
			t.Errorf("devices page lacks %q", want)
		}
	}
	if strings.Contains(body, "bobs-push") || strings.Contains(body, "<script>") || strings.Contains(body, theirs) {
		t.Error("the page shows bob's registration, or a push URL's path unescaped")
	}
	if code, _, _ := b.post("/devices/push/remove", url.Values{"id": {theirs}}); code != 404 {
		t.Errorf("removing bob's registration: %d, want 404", code)
	}
	if code, _, _ := b.post("/devices/push/remove", url.Values{"id": {mine}}); code != 303 {
		t.Errorf("removing her own: %d, want 303", code)
	}
	v, _ := a.db.View()
	defer v.Close()
	regs, _ := v.AllPushRegistrations()
	if len(regs) != 2 {
		t.Errorf("%d registrations after the removal, want 2 (alice's other, bob's)", len(regs))
	}
	for _, r := range regs {
		if r.ID == mine {
			t.Error("the removed registration is still there")
		}
	}
}

var webhookIDRE = regexp.MustCompile(`name="id" value="([0-9a-f]{16})"`)

// TestWebhooksPage: empty, one, many; create (secret shown once),
// pause, resume (state and the deliverer's last error, escaped), delete;
// another user's id is 404; a bad URL and one webhook over the bound are
// 4xx naming why; a POST without the CSRF token changes nothing.
func TestWebhooksPage(t *testing.T) {
	a := mustApp(t, Options{WebhookStatus: func(string) audit.WebhookStatus {
		return audit.WebhookStatus{Running: true, LastError: "<script>boom</script>", FailingSince: now}
	}})
	b := a.browser(t)
	b.signIn("alice")
	if _, body := b.get("/webhooks"); !strings.Contains(body, "No webhooks.") {
		t.Fatalf("empty: no empty state:\n%s", body)
	}
	code, body, _ := b.post("/webhooks/create", url.Values{"url": {"https://hooks.example/in?<x>"}, "c": {"calendar"}, "kind": {"calendar"}, "body": {"1"}})
	if code != 200 || !regexp.MustCompile(`whsec_[A-Za-z0-9+/=]{20,}`).MatchString(html.UnescapeString(body)) {
		t.Fatalf("create: %d, no secret shown:\n%s", code, body)
	}
	_, body = b.get("/webhooks")
	if strings.Contains(body, "whsec_") {
		t.Error("the list shows the secret again")
	}
	for _, want := range []string{"https://hooks.example/in?&lt;x&gt;", "/dav/home/alice/calendar/", "calendar", "with bodies", "&lt;script&gt;boom", "active"} {
		if !strings.Contains(body, want) {
			t.Errorf("webhooks page lacks %q", want)
		}
	}
	if strings.Contains(body, "<script>") {
		t.Error("the deliverer's error is not escaped")
	}
	m := webhookIDRE.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no webhook id on the page:\n%s", body)
	}
	id := m[1]
	bob := a.browser(t)
	bob.signIn("bob")
	bob.get("/webhooks")
	for _, do := range []string{"pause", "delete"} {
		if code, _, _ := bob.post("/webhooks/change", url.Values{"id": {id}, "do": {do}}); code != 404 {
			t.Errorf("bob's %s of alice's webhook: %d, want 404", do, code)
		}
	}
	if code, _, _ := b.post("/webhooks/change", url.Values{"id": {id}, "do": {"pause"}, "csrf": {"stale"}}); code != 403 {
		t.Errorf("pause without the CSRF token: %d, want 403", code)
	}
	if code, _, _ := b.post("/webhooks/change", url.Values{"id": {id}, "do": {"pause"}}); code != 303 {
		t.Fatalf("pause: %d", code)
	}
	if _, body = b.get("/webhooks"); !strings.Contains(body, "paused") || !strings.Contains(body, ">Resume<") {
		t.Error("a paused webhook is not shown paused with a Resume button")
	}
	if code, _, _ := b.post("/webhooks/change", url.Values{"id": {id}, "do": {"resume"}}); code != 303 {
		t.Fatalf("resume: %d", code)
	}
	if code, body, _ := b.post("/webhooks/create", url.Values{"url": {"ftp://hooks.example/"}}); code/100 != 4 || !strings.Contains(body, "http or https") {
		t.Errorf("an ftp URL: %d\n%s", code, body)
	}
	for i := 1; i < engine.MaxWebhooksPerOwner; i++ {
		if code, _, _ := b.post("/webhooks/create", url.Values{"url": {fmt.Sprintf("https://hooks.example/%d", i)}}); code != 200 {
			t.Fatalf("webhook %d: %d", i+1, code)
		}
	}
	if _, body = b.get("/webhooks"); len(webhookIDRE.FindAllString(body, -1)) != engine.MaxWebhooksPerOwner {
		t.Errorf("many: %d webhooks listed, want %d", len(webhookIDRE.FindAllString(body, -1)), engine.MaxWebhooksPerOwner)
	}
	if code, body, _ := b.post("/webhooks/create", url.Values{"url": {"https://hooks.example/over"}}); code/100 != 4 || !strings.Contains(body, fmt.Sprint(engine.MaxWebhooksPerOwner)) {
		t.Errorf("one over the bound: %d, want a 4xx naming %d\n%s", code, engine.MaxWebhooksPerOwner, body)
	}
	if code, _, _ := b.post("/webhooks/change", url.Values{"id": {id}, "do": {"delete"}}); code != 303 {
		t.Fatalf("delete: %d", code)
	}
	if _, body = b.get("/webhooks"); strings.Contains(body, id) {
		t.Error("the deleted webhook is still listed")
	}
}
