package main

import (
	"net/http"
	"strings"
	"testing"
)

// login sends PROPFIND /dav/ as user with password, through a proxy that
// says the client is xff ("" for no header).
func login(t *testing.T, srv *testServer, user, password, xff string) *http.Response {
	t.Helper()
	req, err := http.NewRequest("PROPFIND", srv.BaseURL+"/dav/", strings.NewReader(""))
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth(user, password)
	req.Header.Set("Depth", "0")
	if xff != "" {
		req.Header.Set("X-Forwarded-For", xff)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

// TestServeLoginLimiterBehindProxy: behind a trusted proxy (the test
// client on 127.0.0.1), the limiter keys on the X-Forwarded-For client.
// An attacker flooding wrong passwords for alice gets 429 with
// Retry-After; alice from another client, and bob through the attacker's
// own address, still log in.
func TestServeLoginLimiterBehindProxy(t *testing.T) {
	srv := startServer(t, "--trusted-proxies=127.0.0.1/32,::1", "--login-max-failures=3")
	const attacker, alice = "198.51.100.7", "203.0.113.9"
	for range 3 {
		if got := login(t, srv, "alice", "guess", attacker).StatusCode; got != http.StatusUnauthorized {
			t.Fatalf("wrong password: status %d, want 401", got)
		}
	}
	resp := login(t, srv, "alice", testPassword, attacker)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Errorf("locked pair: status %d Retry-After %q, want 429 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if got := login(t, srv, "alice", testPassword, alice).StatusCode; got != http.StatusMultiStatus {
		t.Errorf("alice from her own address: status %d, want 207", got)
	}
	if got := login(t, srv, "bob", testPassword, attacker).StatusCode; got != http.StatusMultiStatus {
		t.Errorf("bob from the attacker's address: status %d, want 207", got)
	}
	if !strings.Contains(srv.Logs.String(), `msg="authentication failed" remote=198.51.100.7 user=alice `) {
		t.Errorf("the fail2ban line does not name the client address:\n%s", srv.Logs)
	}
}

// TestServeXFFIgnoredWithoutTrustedProxies: by default X-Forwarded-For is
// not believed, so a client cannot dodge the limiter by inventing one.
func TestServeXFFIgnoredWithoutTrustedProxies(t *testing.T) {
	srv := startServer(t, "--login-max-failures=3")
	for i := range 3 {
		login(t, srv, "alice", "guess", "192.0.2."+string(rune('1'+i)))
	}
	if got := login(t, srv, "alice", testPassword, "192.0.2.99").StatusCode; got != http.StatusTooManyRequests {
		t.Errorf("status %d, want 429: a forged X-Forwarded-For was believed", got)
	}
}

func TestServeTrustedProxiesFlag(t *testing.T) {
	m := NewMain()
	m.Getenv = func(string) string { return "" }
	m.LogOutput = &syncBuffer{}
	err := m.ParseFlags([]string{"--trusted-proxies=10.0.0.0/33"})
	if err == nil || !strings.Contains(err.Error(), "trusted-proxies") {
		t.Errorf("bad CIDR: err = %v, want one naming trusted-proxies", err)
	}
}
