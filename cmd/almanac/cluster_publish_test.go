package main

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/almanac/almanac/feed"
	feedv1 "github.com/almanac/almanac/proto/almanac/feed/v1"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"
)

// holderOf waits until exactly one node of nodes holds the publisher
// lease and returns it.
func holderOf(t *testing.T, nodes []*testServer) *testServer {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		var held []*testServer
		for _, s := range nodes {
			if s.Main.publishers.lease.Held() {
				held = append(held, s)
			}
		}
		if len(held) > 1 {
			t.Fatalf("%s and %s both hold the publisher lease", held[0].BaseURL, held[1].BaseURL)
		}
		if len(held) == 1 {
			return held[0]
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("no node took the publisher lease within 60s")
	return nil
}

// publishedPuts reads the change stream through s's log connection until
// it holds a put of each of want objects, and fails on a message whose
// Nats-Msg-Id (the log seq) came before, or is not above the one before
// it.
func publishedPuts(t *testing.T, s *testServer, want int) map[string]int {
	t.Helper()
	js, err := jetstream.New(s.Main.cluster.nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	st, err := js.Stream(ctx, "ALMANAC")
	for err != nil && ctx.Err() == nil {
		time.Sleep(50 * time.Millisecond)
		st, err = js.Stream(ctx, "ALMANAC")
	}
	if err != nil {
		t.Fatal(err)
	}
	puts := map[string]int{}
	var next, lastID uint64 = 1, 0
	for len(puts) < want {
		m, err := st.GetMsg(ctx, next)
		if err != nil {
			if ctx.Err() != nil {
				t.Fatalf("the stream holds puts of %d objects, want %d: %v", len(puts), want, err)
			}
			time.Sleep(20 * time.Millisecond)
			continue
		}
		next++
		id, err := strconv.ParseUint(m.Header.Get(jetstream.MsgIDHeader), 10, 64)
		if err != nil {
			t.Fatalf("message %d: Nats-Msg-Id %q", m.Sequence, m.Header.Get(jetstream.MsgIDHeader))
		}
		if id <= lastID {
			t.Fatalf("message %d carries change %d after change %d: published twice or out of order", m.Sequence, id, lastID)
		}
		lastID = id
		if m.Subject == feed.DeadLetterSubject {
			t.Fatalf("change %d went to the dead letters", id)
		}
		var ch feedv1.Change
		if err := proto.Unmarshal(m.Data, &ch); err != nil {
			t.Fatal(err)
		}
		if ch.Op == feedv1.Op_OP_OBJECT_PUT {
			puts[ch.Object]++
		}
	}
	return puts
}

// TestClusterPublisher: in a cluster of three nodes, exactly one holds
// the publisher lease (and the gauge says so); changes written through
// all three reach the NATS change stream once each, in log order. When
// the holder's log server dies (as when its process is killed: the lease
// is not given back) another node takes the lease over once it expires,
// resumes from the cursor the holder left, and the changes written after
// reach the stream too: none is missing, none is there twice.
func TestClusterPublisher(t *testing.T) {
	nodes := startCluster(t, 3, "--nats=on", "--cluster-lease-ttl=1s")
	caughtUp(t, nodes)
	// The lease lasts 1 s: under load its holder can lose it between
	// reading the lease and reading the gauges (CI's scale under -race saw
	// it), so both are read again, up to 20 times, until they agree.
	var holder *testServer
	for try := 0; ; try++ {
		holder = holderOf(t, nodes)
		bad := ""
		for _, s := range nodes {
			resp, body := s.Do(t, http.MethodGet, "/metrics", "", "")
			want := "almanac_cluster_publisher 0"
			if s == holder {
				want = "almanac_cluster_publisher 1"
			}
			if resp.StatusCode != http.StatusOK || !strings.Contains("\n"+body, "\n"+want+"\n") {
				bad += fmt.Sprintf("%s: /metrics lacks %q\n", s.BaseURL, want)
			}
		}
		if bad == "" {
			break
		}
		if try == 20 {
			t.Fatalf("the publisher gauges never agreed with the lease:\n%s", bad)
		}
	}
	mkcalendar(t, nodes[0], "/dav/home/alice/cal/")
	written := 0
	write := func(through []*testServer, n int) {
		t.Helper()
		for range n {
			s := through[written%len(through)]
			name := fmt.Sprintf("e%d", written)
			ics := "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\nUID:" + name + "\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20260105T100000Z\r\nSUMMARY:x\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
			putAcked(t, s, "/dav/home/alice/cal/"+name+".ics", ics) // a survivor may still be settling (503)
			written++
		}
	}
	write(nodes, 30)
	checkPuts := func(s *testServer) {
		t.Helper()
		puts := publishedPuts(t, s, written)
		for i := range written {
			if n := puts[fmt.Sprintf("e%d.ics", i)]; n != 1 {
				t.Errorf("e%d.ics published %d times, want once", i, n)
			}
		}
	}
	checkPuts(holder)

	// The holder's log server dies: its lease is neither renewed nor
	// given back.
	holder.Main.cluster.ns.Shutdown()
	t.Cleanup(func() {
		holder.stopOnce.Do(func() { // a node without its log server stops with errors
			holder.cancel()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			_ = holder.Main.Close(ctx)
		})
	})
	var survivors []*testServer
	for _, s := range nodes {
		if s != holder {
			survivors = append(survivors, s)
		}
	}
	next := holderOf(t, survivors)
	write(survivors, 30)
	checkPuts(next)
	if holder.Main.publishers.lease.Held() {
		t.Error("the node cut off from the cluster still holds the lease")
	}
}
