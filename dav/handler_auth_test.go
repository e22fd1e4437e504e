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
