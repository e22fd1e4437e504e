package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/almanac/almanac/push"
	"github.com/almanac/almanac/push/pushtest"
)

// registerBody is the body DAVx5 sends (no trigger: content-update).
func registerBody(resource string, pub, auth []byte) string {
	return `<?xml version='1.0' encoding='UTF-8' standalone='yes' ?><n0:push-register xmlns:n0="https://bitfire.at/webdav-push"><n0:subscription><n0:web-push-subscription>` +
		`<n0:push-resource>` + resource + `</n0:push-resource><n0:subscription-public-key type="p256dh">` + base64.RawURLEncoding.EncodeToString(pub) +
		`</n0:subscription-public-key><n0:auth-secret>` + base64.RawURLEncoding.EncodeToString(auth) + `</n0:auth-secret></n0:web-push-subscription></n0:subscription></n0:push-register>`
}

// TestServePush: with serve's defaults (push on) DAVx5's registration
// body and a PUT round-trip to a Web Push service: the decrypted message
// names the calendar's topic (its PROPFIND value) and new sync-token,
// signed with the key in DATA/push/vapid.json (0600). `push key rotate`
// while the server runs: every registration gets a property-update signed
// with the old key, and later messages carry the new one.
func TestServePush(t *testing.T) {
	srv := startServer(t, "--push-private-endpoints", "--push-min-interval=10ms")
	svc := pushtest.New(t)
	res, pub, auth := svc.Subscribe("phone")
	resp, body := srv.Do(t, "MKCALENDAR", "/dav/home/alice/push/", "alice", "")
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("MKCALENDAR: %d %s", resp.StatusCode, body)
	}
	resp, body = srv.Do(t, "POST", "/dav/home/alice/push/", "alice", registerBody(res, pub, auth), "Content-Type", "application/xml")
	if resp.StatusCode != http.StatusCreated || !strings.HasPrefix(resp.Header.Get("Location"), srv.BaseURL+"/dav/push/") {
		t.Fatalf("register: %d %v %s", resp.StatusCode, resp.Header, body)
	}
	resp, body = srv.Do(t, "PROPFIND", "/dav/home/alice/push/", "alice",
		`<propfind xmlns="DAV:" xmlns:P="https://bitfire.at/webdav-push"><prop><P:topic/><sync-token/></prop></propfind>`, "Depth", "0")
	if resp.StatusCode != http.StatusMultiStatus {
		t.Fatalf("PROPFIND: %d %s", resp.StatusCode, body)
	}
	_, topic, _ := strings.Cut(body, `<X:topic xmlns:X="https://bitfire.at/webdav-push">`)
	topic, _, _ = strings.Cut(topic, "</X:topic>")
	resp, body = srv.Do(t, "PUT", "/dav/home/alice/push/a.ics", "alice", testEvent, "Content-Type", "text/calendar")
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("PUT: %d %s", resp.StatusCode, body)
	}
	c, err := srv.DB.Collection("/dav/home/alice/push/")
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(srv.DataDir, "push", push.KeyFile)
	keys, _, err := push.LoadKeys(filepath.Dir(keyFile))
	if err != nil {
		t.Fatal(err)
	}
	got := svc.Await("phone", func(r pushtest.Received) bool { return r.Msg.SyncToken == c.SyncToken })
	if topic == "" || got.Msg.Topic != topic || got.VAPIDKey != keys.Current().Public {
		t.Errorf("message %+v (PROPFIND topic %q) signed with %s", got.Msg, topic, got.VAPIDKey)
	}
	if fi, err := os.Stat(keyFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("key file: %v %v", fi.Mode(), err)
	}

	old := keys.Current().Public
	var out bytes.Buffer
	if err := runPushCLI(context.Background(), []string{"key", "rotate", "--data", srv.DataDir}, &out, func(string) string { return "" }); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "running server") {
		t.Errorf("rotate said %q", out.String())
	}
	rot := svc.Await("phone", func(r pushtest.Received) bool { return r.Msg.PropertyUpdate })
	if rot.VAPIDKey != old || len(rot.Msg.Props) != 1 || rot.Msg.Props[0] != "transports" {
		t.Errorf("rotation message %+v signed with %s", rot.Msg, rot.VAPIDKey)
	}
	if err := keys.Reload(); err != nil || keys.Current().Public == old {
		t.Fatalf("key not rotated: %v", err)
	}
	resp, _ = srv.Do(t, "PROPFIND", "/dav/home/alice/push/", "alice",
		`<propfind xmlns="DAV:" xmlns:P="https://bitfire.at/webdav-push"><prop><P:transports/></prop></propfind>`, "Depth", "0")
	if resp.StatusCode != http.StatusMultiStatus {
		t.Fatalf("PROPFIND transports: %d", resp.StatusCode)
	}
	srv.Do(t, "PUT", "/dav/home/alice/push/b.ics", "alice", strings.Replace(testEvent, "shutdown-1", "b", 1), "Content-Type", "text/calendar")
	c, _ = srv.DB.Collection("/dav/home/alice/push/")
	if r := svc.Await("phone", func(r pushtest.Received) bool { return r.Msg.SyncToken == c.SyncToken }); r.VAPIDKey != keys.Current().Public {
		t.Errorf("after the rotation signed with %s", r.VAPIDKey)
	}
}
