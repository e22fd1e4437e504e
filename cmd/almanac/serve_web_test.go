package main

import (
	"net/http"
	"strings"
	"testing"
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
