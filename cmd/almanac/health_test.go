package main

import (
	"context"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestServeHealth boots the server: /healthz and /readyz answer 200 "ok"
// without credentials; once the engine is closed /readyz answers 503 with
// the reason while /healthz stays 200.
func TestServeHealth(t *testing.T) {
	srv := startServer(t)
	for _, p := range []string{"/healthz", "/readyz"} {
		resp, body := srv.Do(t, "GET", p, "", "")
		if resp.StatusCode != http.StatusOK || body != "ok\n" {
			t.Errorf("GET %s: %d %q, want 200 \"ok\\n\"", p, resp.StatusCode, body)
		}
		if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
			t.Errorf("GET %s: Cache-Control %q", p, cc)
		}
	}
	if err := srv.DB.Close(); err != nil {
		t.Fatal(err)
	}
	srv.Main.DB = nil // closed already: Stop must not close it again
	resp, body := srv.Do(t, "GET", "/readyz", "", "")
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, "not ready: database:") || !strings.Contains(body, "closed") {
		t.Errorf("GET /readyz after the engine closed: %d %q, want 503 naming the closed database", resp.StatusCode, body)
	}
	if resp, body := srv.Do(t, "GET", "/healthz", "", ""); resp.StatusCode != http.StatusOK {
		t.Errorf("GET /healthz after the engine closed: %d %q, want 200", resp.StatusCode, body)
	}
}

// TestReadinessStuckWriter: a writer that does not answer makes /readyz's
// check fail with the reason once its timeout passes, and concurrent
// checks share the one ping in flight instead of queueing more; once the
// writer answers, the check passes again.
func TestReadinessStuckWriter(t *testing.T) {
	release := make(chan struct{})
	var pings atomic.Int32
	r := &readiness{timeout: 50 * time.Millisecond, ping: func(context.Context) error {
		if pings.Add(1) == 1 {
			<-release
		}
		return nil
	}}
	errs := make(chan error, 3)
	for range 3 {
		go func() { errs <- r.check(context.Background()) }()
	}
	for range 3 {
		if err := <-errs; err == nil || !strings.Contains(err.Error(), "did not answer") {
			t.Errorf("check with a stuck writer: %v, want a timeout naming the writer", err)
		}
	}
	if n := pings.Load(); n != 1 {
		t.Errorf("%d pings queued by concurrent checks, want 1", n)
	}
	close(release)
	// The stuck ping ends; a check then (sharing or starting a ping) passes.
	deadline := time.Now().Add(time.Minute)
	for {
		err := r.check(context.Background())
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("check after the writer answered: %v", err)
		}
	}
}
