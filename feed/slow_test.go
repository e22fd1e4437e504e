package feed

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/almanac/almanac/engine"
	feedv1 "github.com/almanac/almanac/proto/almanac/feed/v1"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// TestSlowConsumerCutOff: a live subscriber that stops reading while
// writes go on is cut off with RESOURCE_EXHAUSTED, the writers never
// block, and resubscribing from the last seq received + 1 continues
// exactly.
func TestSlowConsumerCutOff(t *testing.T) {
	db := MustOpenDB(t)
	ts := MustServe(t, db, Options{SendBuffer: 4, MaxLag: 50})
	// A fixed 64 KiB window (no BDP growth) so unread data backs up.
	admin := ts.client(t, basic("admin", "secret"), grpc.WithInitialWindowSize(64<<10), grpc.WithInitialConnWindowSize(64<<10))
	ctx := deadline(t, time.Minute)
	from := uint64(db.Head()) + 1
	s, err := admin.Subscribe(ctx, &feedv1.SubscribeRequest{FromSeq: from, IncludeBody: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Head(ctx, &feedv1.HeadRequest{}); err != nil { // the stream is established
		t.Fatal(err)
	}
	// Write ~3 MB of events without reading the stream: the writers must
	// finish although nobody reads.
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m := engine.Meta{Actor: "alice"}
			for i := range 120 {
				name := fmt.Sprintf("w%d-%d.ics", w, i)
				if _, err := db.PutObject(bg, m, home("alice")+"calendar/", name, ical(name, 3000), engine.PutOptions{}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()

	var got []uint64
	var cut error
	for {
		resp, err := s.Recv()
		if err != nil {
			cut = err
			break
		}
		got = append(got, seqs(resp.Changes)...)
	}
	if status.Code(cut) != codes.ResourceExhausted || !strings.Contains(status.Convert(cut).Message(), "resubscribe with from_seq") {
		t.Fatalf("stream ended with %v, want RESOURCE_EXHAUSTED telling to resubscribe", cut)
	}
	want := expected(t, db, func(ev *engine.Event, _ string) bool { return uint64(ev.Seq) >= from })
	if len(got) >= len(want) {
		t.Fatalf("received all %d changes before the cut-off", len(got))
	}
	next := from
	if len(got) > 0 {
		next = got[len(got)-1] + 1
	}
	s2, err := admin.Subscribe(ctx, &feedv1.SubscribeRequest{FromSeq: next})
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, seqs(collect(t, s2, want[len(want)-1]))...)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("received before and after the cut-off differs from the log (-want +got):\n%s", diff)
	}
}

// TestNoGoroutineLeak: after streams end and the server stops, the feed's
// goroutines are gone. A first round warms up grpc's global goroutines.
func TestNoGoroutineLeak(t *testing.T) {
	round := func(t *testing.T) {
		db := MustOpenDB(t)
		ts := MustServe(t, db, Options{})
		c := ts.client(t, basic("admin", "secret"))
		ctx := deadline(t, time.Minute)
		for i := range 5 {
			sctx, cancel := context.WithCancel(ctx)
			s, err := c.Subscribe(sctx, &feedv1.SubscribeRequest{})
			if err != nil {
				t.Fatal(err)
			}
			MustPut(t, db, "alice", fmt.Sprintf("x%d.ics", i))
			collect(t, s, uint64(db.Head()))
			cancel()
		}
	}
	t.Run("warm-up", round)
	before := runtime.NumGoroutine()
	t.Run("round", round)
	for end := time.Now().Add(time.Minute); runtime.NumGoroutine() > before; {
		if time.Now().After(end) {
			buf := make([]byte, 1<<20)
			t.Fatalf("a minute after the round the feed's goroutines have not ended: %d goroutines, %d before:\n%s", runtime.NumGoroutine(), before, buf[:runtime.Stack(buf, true)])
		}
		runtime.Gosched()
		time.Sleep(10 * time.Millisecond)
	}
}
