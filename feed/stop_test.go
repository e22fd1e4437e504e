package feed

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/almanac/almanac/engine"
	feedv1 "github.com/almanac/almanac/proto/almanac/feed/v1"
)

// TestStopWaitsForSubscribers: the gRPC server's Stop returns only once
// every Subscribe handler has, so the database can be closed right after:
// a handler still reading the log would make Pebble panic.
func TestStopWaitsForSubscribers(t *testing.T) {
	m := engine.Meta{Actor: "alice", UserAgent: "feed-test"}
	for round := range 10 {
		db := MustOpenDB(t)
		for i := range 300 {
			name := fmt.Sprintf("e%d.ics", i)
			if _, err := db.PutObject(bg, m, home("alice")+"calendar/", name, ical(name, 2000), engine.PutOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		ts := MustServe(t, db, Options{SendBuffer: 4})
		s, err := ts.client(t, basic("admin", "secret")).Subscribe(deadline(t, time.Minute), &feedv1.SubscribeRequest{FromSeq: 1, IncludeBody: true})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Recv(); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		ts.stop()
		if n := handlersRunning(); n > 0 {
			t.Fatalf("round %d: %d Subscribe handlers still run after Stop", round, n)
		}
		if err := db.Close(); err != nil {
			t.Fatalf("round %d: close: %v", round, err)
		}
	}
}

// handlersRunning counts the goroutines inside the feed's Subscribe.
func handlersRunning() int {
	buf := make([]byte, 1<<20)
	return strings.Count(string(buf[:runtime.Stack(buf, true)]), "feed.(*Server).Subscribe(")
}
