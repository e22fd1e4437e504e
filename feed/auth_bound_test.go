package feed

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/almanac/almanac/internal/logbound"
	feedv1 "github.com/almanac/almanac/proto/almanac/feed/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// syncBuffer is a bytes.Buffer safe for concurrent use (the gRPC
// server's goroutines log into it).
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestFailedLoginLogBounded: a client failing logins as fast as it can
// writes at most logbound.DefaultPerClient "feed: authentication failed"
// lines a minute, not one per call.
func TestFailedLoginLogBounded(t *testing.T) {
	var logs syncBuffer
	ts := MustServe(t, MustOpenDB(t), Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	c := ts.client(t, basic("alice", "wrong"))
	const calls = 3 * logbound.DefaultPerClient
	for range calls {
		if _, err := c.Head(bg, &feedv1.HeadRequest{}); status.Code(err) != codes.Unauthenticated {
			t.Fatalf("code = %v (%v), want Unauthenticated", status.Code(err), err)
		}
	}
	if got := strings.Count(logs.String(), `msg="feed: authentication failed"`); got != logbound.DefaultPerClient {
		t.Errorf("%d failed logins: %d log lines, want %d", calls, got, logbound.DefaultPerClient)
	}
}

// TestHeaderListBound: a call whose metadata is over the server's 64 KiB
// bound (a 100 KiB authorization) is refused by the transport, as serve's
// HTTP listener refuses such headers, before any password check: with
// --grpc-listen gRPC's own default would take 16 MiB of it.
func TestHeaderListBound(t *testing.T) {
	var logs syncBuffer
	ts := MustServe(t, MustOpenDB(t), Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	_, err := ts.client(t, basic(strings.Repeat("u", 100<<10), "wrong")).Head(bg, &feedv1.HeadRequest{})
	if err == nil || status.Code(err) == codes.Unauthenticated {
		t.Errorf("100 KiB of credentials: %v, want refused before any check", err)
	}
	if strings.Contains(logs.String(), "authentication failed") {
		t.Errorf("the oversized credentials were checked:\n%s", logs.String())
	}
	// A call within the bound is answered.
	if _, err := ts.client(t, basic("alice", "secret")).Head(bg, &feedv1.HeadRequest{}); err != nil {
		t.Errorf("alice: %v", err)
	}
}
