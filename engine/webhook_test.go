package engine

import (
	"bytes"
	"errors"
	"net/url"
	"slices"
	"testing"

	"github.com/almanac/almanac/engine/internal/keys"
	"github.com/cockroachdb/pebble/v2/vfs"
)

func mustWebhooks(tb testing.TB, db *DB) []*Webhook {
	tb.Helper()
	v, err := db.View()
	if err != nil {
		tb.Fatal(err)
	}
	defer v.Close()
	ws, err := v.Webhooks()
	if err != nil {
		tb.Fatal(err)
	}
	return ws
}

// TestWebhookLifecycle: a webhook is an event; its projection survives a
// rebuild; its secret is derived (the same after a rebuild, in no log
// record) and differs between webhooks; pause, resume and delete are
// events too.
func TestWebhookLifecycle(t *testing.T) {
	t.Parallel()
	fs := vfs.NewMem()
	db, err := Open("db", &Options{FS: fs, Clock: fakeClock()})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { db.Close() }()
	m := Meta{Actor: "alice"}
	w, secret, err := db.CreateWebhook(ctx, m, Webhook{URL: "https://hooks.example/in", Owner: "alice",
		CollectionPrefix: "/dav/home/alice/", Kinds: []Kind{KindCalendar}, Ops: []Op{OpObjectPut}, IncludeBody: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(w.ID) != 16 || len(secret) != 32 || w.Seq == 0 || w.Actor != "alice" || w.Paused {
		t.Fatalf("webhook %+v, secret of %d bytes", w, len(secret))
	}
	w2, secret2, err := db.CreateWebhook(ctx, Meta{Actor: "root"}, Webhook{URL: "http://10.0.0.1:9000/"})
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(secret, secret2) {
		t.Fatal("two webhooks share a secret")
	}
	v, _ := db.View()
	for ev, err := range v.Log(1) {
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := getBytes(v.v.snap, keys.LogKey(uint64(ev.Seq)))
		if bytes.Contains(raw, secret) || bytes.Contains(raw, secret2) {
			t.Fatalf("the log record %d holds a webhook secret", ev.Seq)
		}
	}
	v.Close()

	if err := db.SetWebhookPaused(ctx, Meta{Actor: "webhook"}, w.ID, true, "failing since 10:00: 503"); err != nil {
		t.Fatal(err)
	}
	head := db.Head()
	if err := db.SetWebhookPaused(ctx, Meta{Actor: "webhook"}, w.ID, true, "again"); err != nil || db.Head() != head {
		t.Fatalf("pausing a paused webhook: %v, head %d -> %d", err, head, db.Head())
	}
	db = reopenStale(t, db, fs)
	ws := mustWebhooks(t, db)
	if len(ws) != 2 {
		t.Fatalf("after a rebuild: %d webhooks", len(ws))
	}
	got := ws[slices.IndexFunc(ws, func(x *Webhook) bool { return x.ID == w.ID })]
	if !got.Paused || got.Reason != "failing since 10:00: 503" || got.URL != w.URL || got.Seq != w.Seq ||
		!slices.Equal(got.Kinds, []Kind{KindCalendar}) || !slices.Equal(got.Ops, []Op{OpObjectPut}) || !got.IncludeBody {
		t.Fatalf("after a rebuild: %+v", got)
	}
	if s := db.WebhookSecret(got); !bytes.Equal(s, secret) {
		t.Fatal("the secret changed across a rebuild")
	}
	if err := db.SetWebhookPaused(ctx, m, w.ID, false, ""); err != nil {
		t.Fatal(err)
	}
	if err := db.DeleteWebhook(ctx, m, w2.ID); err != nil {
		t.Fatal(err)
	}
	if err := db.DeleteWebhook(ctx, m, w2.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("deleting again: %v, want ErrNotFound", err)
	}
	ws = mustWebhooks(t, db)
	if len(ws) != 1 || ws[0].ID != w.ID || ws[0].Paused {
		t.Fatalf("after resume and delete: %+v", ws)
	}
}

func TestWebhookLimits(t *testing.T) {
	t.Parallel()
	db := MustOpen(t)
	m := Meta{Actor: "bob"}
	for _, u := range []string{"ftp://x/", "/relative", "http:///nohost", "https://u:p@host/", "http://h/" + string(make([]byte, MaxWebhookURL))} {
		if _, _, err := db.CreateWebhook(ctx, m, Webhook{URL: u, Owner: "bob"}); !errors.Is(err, ErrInvalidName) {
			t.Errorf("URL %.30q: %v, want ErrInvalidName", u, err)
		}
	}
	if _, _, err := db.CreateWebhook(ctx, m, Webhook{URL: "http://h/", Ops: []Op{OpUserSet}}); !errors.Is(err, ErrInvalidName) {
		t.Errorf("op user-set: %v, want ErrInvalidName", err)
	}
	if _, err := ParseOp("user-set"); !errors.Is(err, ErrInvalidName) {
		t.Errorf("ParseOp(user-set): %v", err)
	}
	if o, err := ParseOp("put"); err != nil || o != OpObjectPut {
		t.Errorf("ParseOp(put) = %v, %v", o, err)
	}
	for range MaxWebhooksPerOwner {
		if _, _, err := db.CreateWebhook(ctx, m, Webhook{URL: "https://h/", Owner: "bob"}); err != nil {
			t.Fatal(err)
		}
	}
	var lim *SharingLimitError
	if _, _, err := db.CreateWebhook(ctx, m, Webhook{URL: "https://h/", Owner: "bob"}); !errors.As(err, &lim) || lim.Limit != MaxWebhooksPerOwner {
		t.Fatalf("webhook %d of bob: %v", MaxWebhooksPerOwner+1, err)
	}
	if _, _, err := db.CreateWebhook(ctx, m, Webhook{URL: "https://h/", Owner: "carol"}); err != nil {
		t.Fatalf("carol's first webhook: %v", err)
	}
}

// TestWebhookOwnerDeleted: deleting an account deletes its webhooks (as
// events), so a new account of the name inherits none; others stay.
func TestWebhookOwnerDeleted(t *testing.T) {
	t.Parallel()
	db := MustOpen(t)
	m := Meta{Actor: "admin"}
	for _, u := range []string{"dora", "erin"} {
		if err := db.PutUser(ctx, m, User{Name: u, PasswordHash: "x"}); err != nil {
			t.Fatal(err)
		}
		if _, _, err := db.CreateWebhook(ctx, m, Webhook{URL: "https://h/" + u, Owner: u}); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.DeleteUser(ctx, m, "dora"); err != nil {
		t.Fatal(err)
	}
	if err := db.PutUser(ctx, m, User{Name: "dora", PasswordHash: "y"}); err != nil {
		t.Fatal(err)
	}
	ws := mustWebhooks(t, db)
	if len(ws) != 1 || ws[0].Owner != "erin" {
		t.Fatalf("after dora's deletion: %+v", ws)
	}
}

// FuzzCheckWebhookURL: CheckWebhookURL never panics, and what it accepts
// is an absolute http or https URL with a host, no user info, within
// MaxWebhookURL.
func FuzzCheckWebhookURL(f *testing.F) {
	for _, s := range []string{"https://h/", "http://[::1]:80/x?y#z", "ftp://h/", "https://u@h/", "http:///x", "//h/", "https://h:99999/", "http://%zz/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if CheckWebhookURL(s) != nil {
			return
		}
		u, err := url.Parse(s)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" || u.User != nil || len(s) > MaxWebhookURL {
			t.Fatalf("accepted %q: %+v, %v", s, u, err)
		}
	})
}
