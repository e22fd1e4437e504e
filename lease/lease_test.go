package lease

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/almanac/almanac/internal/natstest"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// terms records, in order, when each node's work started and ended.
type terms struct {
	mu     sync.Mutex
	events []string
}

func (tr *terms) add(e string) {
	tr.mu.Lock()
	tr.events = append(tr.events, e)
	tr.mu.Unlock()
}

// overlap returns the first moment two works ran at once, "" if none.
func (tr *terms) overlap() string {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	running := ""
	for i, e := range tr.events {
		f := strings.Fields(e)
		what, who := f[0], f[1]
		switch {
		case what == "start" && running != "":
			return fmt.Sprintf("event %d: %s started while %s ran (%v)", i, who, running, tr.events)
		case what == "start":
			running = who
		case what == "end" && who == running:
			running = ""
		}
	}
	return ""
}

type node struct {
	name   string
	nc     *nats.Conn
	lease  *Lease
	cancel context.CancelFunc
	done   chan struct{}
}

// startNodes opens one lease per server and runs each, recording terms.
func startNodes(t *testing.T, servers []*server.Server, ttl time.Duration, tr *terms) []*node {
	t.Helper()
	nodes := make([]*node, len(servers))
	for i, s := range servers {
		nc, err := nats.Connect(s.ClientURL())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		n := &node{name: fmt.Sprint("node", i+1), nc: nc, done: make(chan struct{})}
		octx, cancel := context.WithTimeout(context.Background(), 2*time.Minute) // a loaded machine
		for {
			n.lease, err = Open(octx, nc, Options{Key: "publisher", Holder: n.name, TTL: ttl, Replicas: len(servers)})
			if err == nil || octx.Err() != nil {
				break
			}
			time.Sleep(100 * time.Millisecond) // an R3 bucket may need the cluster to settle
		}
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		ctx, stop := context.WithCancel(context.Background())
		n.cancel = stop
		go func() {
			defer close(n.done)
			_ = n.lease.Run(ctx, func(ctx context.Context) {
				tr.add("start " + n.name)
				<-ctx.Done()
				how := "given back"
				if errors.Is(context.Cause(ctx), ErrLost) {
					how = "lost"
				}
				tr.add("end " + n.name + " " + how)
			})
		}()
		t.Cleanup(func() { stop(); <-n.done })
		nodes[i] = n
	}
	return nodes
}

// waitHolder waits until exactly one of nodes holds the lease, none of
// skip, and every other node not in skip has seen it as the holder.
func waitHolder(t *testing.T, nodes []*node, skip ...*node) *node {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute) // a loaded machine: returns once one holds it
	for time.Now().Before(deadline) {
		var holders []*node
		for _, n := range nodes {
			if n.lease.Held() {
				holders = append(holders, n)
			}
		}
		if len(holders) > 1 {
			t.Fatalf("%s and %s both hold the lease", holders[0].name, holders[1].name)
		}
		if len(holders) == 1 && !contains(skip, holders[0]) {
			seen := true
			for _, n := range nodes {
				if n != holders[0] && !contains(skip, n) && n.lease.Holder() != holders[0].name {
					seen = false
				}
			}
			if seen {
				return holders[0]
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("no node took the lease within 2 minutes")
	return nil
}

func contains(ns []*node, n *node) bool {
	for _, m := range ns {
		if m == n {
			return true
		}
	}
	return false
}

// TestLeaseHandover: three nodes on three clustered servers (an R3
// bucket) campaign for one lease: exactly one holds it and the others
// name it; when the holder stops, it gives the lease back and another
// takes it; when the next holder is cut off (its connection closed, as
// when its process is killed) it stops its work and another takes over
// once the lease expires. No two nodes' works ever run at once.
func TestLeaseHandover(t *testing.T) {
	servers := natstest.Cluster(t, 3, nil)
	tr := &terms{}
	nodes := startNodes(t, servers, time.Second, tr)

	first := waitHolder(t, nodes)
	first.cancel()
	<-first.done
	second := waitHolder(t, nodes, first)
	second.nc.Close()
	waitHolder(t, nodes, first, second)
	if o := tr.overlap(); o != "" {
		t.Fatal(o)
	}
	if second.lease.Held() {
		t.Error("the cut-off node still believes it holds the lease")
	}
	tr.mu.Lock()
	defer tr.mu.Unlock()
	got := strings.Join(tr.events, ", ")
	if !strings.Contains(got, "end "+first.name+" given back") || !strings.Contains(got, "end "+second.name+" lost") {
		t.Errorf("the stopped node's work must end as given back, the cut-off node's as lost: %s", got)
	}
}

// TestLeaseBucketTTL: a node asking for another TTL than the bucket's is
// refused (it would renew too late, or give up too early).
func TestLeaseBucketTTL(t *testing.T) {
	s := natstest.Cluster(t, 1, nil)[0]
	nc, err := nats.Connect(s.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	ctx := context.Background()
	if _, err := Open(ctx, nc, Options{Key: "k", Holder: "a", TTL: 2 * time.Second}); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(ctx, nc, Options{Key: "k", Holder: "b", TTL: 3 * time.Second}); err == nil || !strings.Contains(err.Error(), "same") {
		t.Fatalf("Open with another TTL: %v, want a refusal", err)
	}
	if _, err := Open(ctx, nc, Options{Key: "k", Holder: "b", TTL: time.Millisecond}); err == nil {
		t.Fatal("Open with a TTL under 1s succeeded")
	}
}
