package dav

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/almanac/almanac/dav/auth"
	"github.com/almanac/almanac/engine"
	"github.com/almanac/almanac/internal/logbound"
)

// limitedAuth refuses every login as rate limited for 42 seconds.
type limitedAuth struct{}

type retryErr struct{}

func (retryErr) Error() string   { return "too many failed attempts" }
func (retryErr) RetryAfter() int { return 42 }

func (limitedAuth) Authenticate(context.Context, string, string, string) (*engine.User, error) {
	return nil, fmt.Errorf("auth: %w", retryErr{})
}

// TestRateLimitedIs429: a login refused by the limiter gets 429 with
// Retry-After and no WWW-Authenticate (the client should wait, not ask
// for another password); a wrong password still gets 401.
func TestRateLimitedIs429(t *testing.T) {
	h, _ := mustHandler(t, Options{})
	h.auth = limitedAuth{}
	req := httptest.NewRequest("PROPFIND", "/dav/", nil)
	req.SetBasicAuth("alice", "alice")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if got, want := rec.Code, 429; got != want {
		t.Errorf("status %d, want %d", got, want)
	}
	if got, want := rec.Header().Get("Retry-After"), "42"; got != want {
		t.Errorf("Retry-After %q, want %q", got, want)
	}
	if got := rec.Header().Get("WWW-Authenticate"); got != "" {
		t.Errorf("WWW-Authenticate %q on 429", got)
	}

	h.auth = fakeAuth{}
	req = httptest.NewRequest("PROPFIND", "/dav/", nil)
	req.SetBasicAuth("alice", "wrong")
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if got, want := rec.Code, 401; got != want {
		t.Errorf("wrong password: status %d, want %d", got, want)
	}
	if rec.Header().Get("Retry-After") != "" {
		t.Errorf("Retry-After on 401")
	}
}

// busyAuth refuses every login as the verifier does when no
// password-hashing slot came free in time.
type busyAuth struct{}

func (busyAuth) Authenticate(context.Context, string, string, string) (*engine.User, error) {
	return nil, fmt.Errorf("auth: %w", &auth.BusyError{Slots: 2, Wait: 6500 * time.Millisecond})
}

// TestBusyLoginIs503: a login refused because every password-hashing slot
// stayed busy gets 503 with Retry-After (the configured wait, 6.5 s,
// rounded up) and a body naming the limit, no WWW-Authenticate (the
// password may be right).
func TestBusyLoginIs503(t *testing.T) {
	h, _ := mustHandler(t, Options{})
	h.auth = busyAuth{}
	req := httptest.NewRequest("PROPFIND", "/dav/", nil)
	req.SetBasicAuth("alice", "alice")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if got, want := rec.Code, 503; got != want {
		t.Errorf("status %d, want %d", got, want)
	}
	if got, want := rec.Header().Get("Retry-After"), "7"; got != want {
		t.Errorf("Retry-After %q, want %q", got, want)
	}
	if got, want := rec.Body.String(), "all 2 password-hashing slots stayed busy for 6.5s; retry in 7 seconds"; !strings.Contains(got, want) {
		t.Errorf("body %q, want it to contain %q", got, want)
	}
	if got := rec.Header().Get("WWW-Authenticate"); got != "" {
		t.Errorf("WWW-Authenticate %q on 503", got)
	}
}

// TestRefusedLoginLogBounded: a flood of logins refused at once (503,
// no hash spent) from one address writes at most
// logbound.DefaultPerClient "login refused" lines and as many "request"
// lines a minute, then counts the rest; another address's lines are still
// written, and so is every request of a signed-in user.
func TestRefusedLoginLogBounded(t *testing.T) {
	var logged strings.Builder
	h, _ := mustHandler(t, Options{Logger: newTestLogger(&logged)})
	serve := func(user, password, remote string) int {
		req := httptest.NewRequest("PROPFIND", "/dav/", nil)
		req.SetBasicAuth(user, password)
		req.RemoteAddr = remote
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code
	}
	count := func(msg, remote string) int { // msg as the text handler writes it
		n := 0
		for _, line := range strings.Split(logged.String(), "\n") {
			if strings.Contains(line, " msg="+msg+" ") && strings.Contains(line, remote) {
				n++
			}
		}
		return n
	}
	h.auth = busyAuth{}
	const flood = 3 * logbound.DefaultPerClient
	for i := range flood {
		if code := serve("alice", "alice", fmt.Sprintf("198.51.100.7:%d", 1000+i)); code != 503 {
			t.Fatalf("flood: status %d, want 503", code)
		}
	}
	serve("alice", "alice", "192.0.2.1:1")
	if got := count(`"login refused"`, "remote=198.51.100.7:"); got != logbound.DefaultPerClient {
		t.Errorf("%d requests refused: %d \"login refused\" lines, want %d", flood, got, logbound.DefaultPerClient)
	}
	if got := count(`"login refused"`, "remote=192.0.2.1:"); got != 1 {
		t.Errorf("another address: %d \"login refused\" lines, want 1", got)
	}
	if got := count("request", "user=\"\""); got != logbound.DefaultPerClient+1 {
		t.Errorf("%d+1 requests without a user: %d \"request\" lines, want %d+1", flood, got, logbound.DefaultPerClient)
	}
	h.auth = fakeAuth{}
	for range flood {
		serve("alice", "alice", "198.51.100.7:1")
	}
	if got := count("request", "user=alice"); got != flood {
		t.Errorf("%d requests of alice: %d \"request\" lines, want every one", flood, got)
	}
}
