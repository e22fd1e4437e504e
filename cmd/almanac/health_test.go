package main

import (
	"context"
	"errors"
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

// TestReadinessPublisherStall: the publisher behind the head makes /readyz
// fail only once its cursor has stood still for longer than the bound (the
// reason names the seq, the lag and the publisher's error); a moving
// cursor, a caught-up one, or no publisher at all are ready.
func TestReadinessPublisherStall(t *testing.T) {
	now := time.Date(2026, 12, 4, 21, 0, 0, 0, time.UTC)
	state, has := publisherState{cursor: 10, head: 10}, true
	r := &readiness{timeout: time.Minute, stallBound: 2 * time.Minute,
		ping:      func(context.Context) error { return nil },
		now:       func() time.Time { return now },
		publisher: func() (publisherState, bool) { return state, has }}
	step := func(d time.Duration, cursor, head uint64, wantErr string) {
		t.Helper()
		now = now.Add(d)
		state.cursor, state.head = cursor, head
		err := r.check(context.Background())
		switch {
		case wantErr == "" && err != nil:
			t.Errorf("after %s at %d/%d: %v, want ready", d, cursor, head, err)
		case wantErr != "" && (err == nil || !strings.Contains(err.Error(), wantErr)):
			t.Errorf("after %s at %d/%d: %v, want %q", d, cursor, head, err, wantErr)
		}
	}
	step(0, 10, 10, "")              // caught up
	step(10*time.Minute, 10, 20, "") // newly behind: not stalled yet, whatever the time since the last probe
	step(time.Minute, 10, 30, "")    // behind for 1m
	step(90*time.Second, 15, 30, "") // it moved
	step(90*time.Second, 15, 30, "") // still for 1m30s
	state.err = errTestNATS
	step(time.Minute, 15, 40, "nats: publishing stalled for 2m30s at seq 15, 25 events behind: nats down")
	step(time.Second, 40, 40, "") // caught up again
	has = false
	step(time.Hour, 0, 50, "") // --nats=off
}

var errTestNATS = errors.New("nats down")

// TestServeReadyWithNATS boots the server with the embedded NATS server:
// /readyz reads the running publisher and answers 200 after a write.
func TestServeReadyWithNATS(t *testing.T) {
	srv := startServer(t, "--nats=on", "--nats-listen=127.0.0.1:0")
	if rt := runtimeFor(srv.DB); rt == nil || rt.publisher == nil {
		t.Fatal("no publisher running")
	}
	if resp, body := srv.Do(t, "PUT", "/dav/home/alice/calendar/ready.ics", "alice", testEvent,
		"Content-Type", "text/calendar"); resp.StatusCode != http.StatusCreated {
		t.Fatalf("PUT: status %d: %s", resp.StatusCode, body)
	}
	if resp, body := srv.Do(t, "GET", "/readyz", "", ""); resp.StatusCode != http.StatusOK || body != "ok\n" {
		t.Errorf("GET /readyz: %d %q, want 200 ok", resp.StatusCode, body)
	}
}
