package main

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestServeWebApp: a browser's GET of / reaches the web app (a redirect
// to its sign-in page, which renders), while OPTIONS and PROPFIND of /
// stay DAV's, /dav/ and /.well-known/ answer as before, and a path no
// one owns is the web app's 404 page.
func TestServeWebApp(t *testing.T) {
	srv := startServer(t)
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Get(srv.BaseURL + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login" {
		t.Fatalf("GET /: %d to %q, want 303 to /login", resp.StatusCode, resp.Header.Get("Location"))
	}
	resp, body := srv.Do(t, http.MethodGet, "/login", "", "")
	if resp.StatusCode != 200 || !strings.Contains(body, `action="/login"`) || resp.Header.Get("Content-Security-Policy") == "" {
		t.Errorf("GET /login: %d\n%s", resp.StatusCode, body)
	}
	resp, body = srv.Do(t, "PROPFIND", "/", "alice", `<propfind xmlns="DAV:"><prop><current-user-principal/></prop></propfind>`, "Depth", "0")
	if resp.StatusCode != http.StatusMultiStatus || !strings.Contains(body, "/dav/principals/alice/") {
		t.Errorf("PROPFIND /: %d", resp.StatusCode)
	}
	if resp, _ := srv.Do(t, http.MethodOptions, "/", "", ""); resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("DAV"), "calendar-access") {
		t.Errorf("OPTIONS /: %d DAV %q", resp.StatusCode, resp.Header.Get("DAV"))
	}
	if resp, _ := srv.Do(t, http.MethodGet, "/dav/home/alice/", "", ""); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("GET /dav/home/alice/ without credentials: %d, want 401", resp.StatusCode)
	}
	if resp, body := srv.Do(t, http.MethodGet, "/no/such/page", "", ""); resp.StatusCode != 404 || !strings.Contains(body, "</html>") {
		t.Errorf("GET /no/such/page: %d", resp.StatusCode)
	}
}

// TestServeWebHooksWiring: the web app of a running server shows what
// the webhook deliverer knows (a webhook made on the page delivers and
// shows as delivering, no events behind) and the server's uptime since
// this start, and what the status page shows of the feed and the
// cluster (webRuntime).
func TestServeWebHooksWiring(t *testing.T) {
	got := make(chan struct{}, 16)
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case got <- struct{}{}:
		default:
		}
	}))
	defer recv.Close()
	srv := startServer(t, "--webhook-allow-private")
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	csrfRE := regexp.MustCompile(`name="csrf" value="([^"]+)"`)
	page := func(method, path string, form url.Values) string {
		t.Helper()
		var resp *http.Response
		var err error
		if method == http.MethodGet {
			resp, err = c.Get(srv.BaseURL + path)
		} else {
			resp, err = c.PostForm(srv.BaseURL+path, form)
		}
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode >= 400 {
			t.Fatalf("%s %s: %d\n%s", method, path, resp.StatusCode, b)
		}
		return string(b)
	}
	csrf := func(body string) string { return csrfRE.FindStringSubmatch(body)[1] }
	body := page(http.MethodGet, "/login", nil)
	page(http.MethodPost, "/login", url.Values{"csrf": {csrf(body)}, "name": {"admin"}, "password": {testPassword}})
	body = page(http.MethodGet, "/webhooks", nil)
	page(http.MethodPost, "/webhooks/create", url.Values{"csrf": {csrf(body)}, "url": {recv.URL + "/hook"}})
	if resp, _ := srv.Do(t, "MKCALENDAR", "/dav/home/admin/w/", "admin", ""); resp.StatusCode != http.StatusCreated {
		t.Fatalf("MKCALENDAR: %d", resp.StatusCode)
	}
	select { // the deliverer posted the change
	case <-got:
	case <-time.After(time.Minute):
		t.Fatal("the webhook made on the page delivered nothing in a minute")
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		body = page(http.MethodGet, "/webhooks", nil)
		if strings.Contains(body, "delivering") && strings.Contains(body, ">0 events behind<") || time.Now().After(deadline) {
			break
		}
	}
	if !strings.Contains(body, "delivering") || !strings.Contains(body, ">0 events behind<") {
		t.Errorf("the webhooks page does not show the deliverer's state:\n%s", body)
	}
	body = page(http.MethodGet, "/manage/status", nil)
	if m := regexp.MustCompile(`\(up ([0-9hms.]+)\)`).FindStringSubmatch(body); m == nil || strings.Contains(m[1], "h") {
		t.Errorf("status page uptime: %v, want minutes or seconds since this start", m)
	}
	for _, want := range []string{`<td id="feed">0</td>`, `<td id="nats">off</td>`, `<td id="cluster">single node</td>`, `<td id="backup">never`} {
		if !strings.Contains(body, want) { // the gRPC feed on, --nats=off (startServer), no cluster, no backup
			t.Errorf("status page lacks %s:\n%s", want, body)
		}
	}
}
