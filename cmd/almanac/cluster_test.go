package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/almanac/almanac/engine"
	"golang.org/x/crypto/bcrypt"
)

// startCluster boots n `almanac serve` nodes in-process, each with its
// embedded log server, clustered over routes on loopback, and the users
// of startServer; extra flags follow (and override) the defaults. The
// nodes start at once: a replicated log needs its peers before the first
// node can open it.
//
// The cluster tests that boot their own cluster run in parallel (each
// has its own nodes, free ports and directories): most of their time
// waits on nats-server's RAFT elections and the log's timeouts, which
// overlap; one after another they took 275 s of the package's run under
// -race (session 12, under load). TestClusterPublisher, whose lease
// lasts 1 s, stays sequential.
func startCluster(t *testing.T, n int, extra ...string) []*testServer {
	t.Helper()
	listens := freeAddrs(t, n)
	return startClusterWith(t, listens, func(i int) []string {
		var others []string
		for j, r := range listens {
			if j != i {
				others = append(others, r)
			}
		}
		return append([]string{"--routes=" + strings.Join(others, ",")}, extra...)
	})
}

// freeAddrs returns n addresses on loopback whose ports were free a
// moment ago.
func freeAddrs(t *testing.T, n int) []string {
	t.Helper()
	addrs := make([]string, n)
	for i := range addrs {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addrs[i] = l.Addr().String()
		l.Close()
	}
	return addrs
}

// startClusterWith boots one node per --cluster-listen address, node i
// with the flags args(i) after the defaults (its --routes among them),
// as startCluster does.
func startClusterWith(t *testing.T, listens []string, args func(i int) []string) []*testServer {
	t.Helper()
	n := len(listens)
	nodes := make([]*testServer, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range nodes {
		args := append([]string{"--listen=127.0.0.1:0", "--data=" + t.TempDir(), "--nats=off", "--grpc-listen=127.0.0.1:0",
			"--node-name=" + fmt.Sprint("n", i+1), "--cluster-listen=" + listens[i], "--cluster-join-timeout=60s"}, args(i)...)
		logs := &syncBuffer{}
		m := NewMain()
		m.Getenv = testGetenv(nil)
		m.Stdout, m.LogOutput = logs, logs
		m.noFirstRun = true
		if err := m.ParseFlags(args); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		nodes[i] = &testServer{Main: m, Logs: logs, cancel: cancel}
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = m.Run(ctx)
		}()
	}
	wg.Wait()
	for i, s := range nodes {
		if errs[i] != nil {
			t.Fatalf("node %d: %v\nlogs:\n%s", i+1, errs[i], s.Logs)
		}
		s.BaseURL, s.DataDir, s.DB = "http://"+s.Main.Addr(), s.Main.Config.DataDir, s.Main.DB
		t.Cleanup(func() { s.Stop(t) })
	}
	h, err := bcrypt.GenerateFromPassword([]byte(testPassword), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	if err := nodes[0].DB.PutUser(context.Background(), engine.Meta{Actor: "test"}, engine.User{Name: "alice", PasswordHash: string(h), Role: engine.RoleUser}); err != nil {
		t.Fatal(err)
	}
	return nodes
}

// caughtUp waits until every node has applied what any has.
func caughtUp(t *testing.T, nodes []*testServer) engine.Seq {
	t.Helper()
	var head engine.Seq
	for _, s := range nodes {
		head = max(head, s.DB.Head())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, s := range nodes {
		if err := s.DB.WaitFor(ctx, head); err != nil {
			t.Fatalf("%s at %d, want %d: %v", s.BaseURL, s.DB.Head(), head, err)
		}
	}
	return head
}

// put sends a PUT of body as alice and returns the status and ETag; safe
// to call from any goroutine.
func put(s *testServer, path, body string, header ...string) (int, string, error) {
	req, err := http.NewRequest(http.MethodPut, s.BaseURL+path, strings.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	req.SetBasicAuth("alice", testPassword)
	req.Header.Set("Content-Type", "text/calendar")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("ETag"), nil
}

// TestClusterServe: three serve nodes on one replicated log. A write on
// one is read back with its ETag from the others; PUTs with If-Match of
// one ETag sent to all three at once succeed on exactly one node each
// round (the others 412); afterwards all nodes hold the same log and
// projections (the same digest) and each verifies.
func TestClusterServe(t *testing.T) {
	t.Parallel() // its own nodes, ports and directories (startCluster)
	nodes := startCluster(t, 3)
	caughtUp(t, nodes)
	if resp, _ := nodes[1].Do(t, "MKCALENDAR", "/dav/home/alice/cal/", "alice", ""); resp.StatusCode != http.StatusCreated {
		t.Fatalf("MKCALENDAR on node 2: %s", resp.Status)
	}
	const path = "/dav/home/alice/cal/a.ics"
	ics := "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\nUID:a\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20260105T100000Z\r\nSUMMARY:x\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
	code, etag, err := put(nodes[0], path, ics)
	if err != nil || code != http.StatusCreated {
		t.Fatalf("PUT on node 1: %d, %v", code, err)
	}
	caughtUp(t, nodes)
	for i, s := range nodes {
		resp, body := s.Do(t, http.MethodGet, path, "alice", "")
		if resp.StatusCode != http.StatusOK || resp.Header.Get("ETag") != etag || body != ics {
			t.Fatalf("GET on node %d: %s, ETag %s, want %s", i+1, resp.Status, resp.Header.Get("ETag"), etag)
		}
	}
	for round := range 5 {
		codes := make([]int, len(nodes))
		etags := make([]string, len(nodes))
		errs := make([]error, len(nodes))
		var wg sync.WaitGroup
		for i, s := range nodes {
			wg.Add(1)
			go func() {
				defer wg.Done()
				codes[i], etags[i], errs[i] = put(s, path, ics, "If-Match", etag)
			}()
		}
		wg.Wait()
		won := 0
		for i := range nodes {
			switch {
			case errs[i] != nil:
				t.Fatalf("round %d: node %d: %v", round, i+1, errs[i])
			case codes[i] == http.StatusNoContent:
				won++
				etag = etags[i]
			case codes[i] != http.StatusPreconditionFailed:
				t.Fatalf("round %d: node %d answered %d", round, i+1, codes[i])
			}
		}
		if won != 1 {
			t.Fatalf("round %d: %d nodes took the If-Match PUT (%v), want exactly 1", round, won, codes)
		}
		caughtUp(t, nodes)
	}
	converged(t, nodes)
}

// converged waits until every node has applied the same head, then checks
// that all hold the same log and projections (equal digests) and verify.
func converged(t *testing.T, nodes []*testServer) {
	t.Helper()
	head := caughtUp(t, nodes)
	var first []byte
	for i, s := range nodes {
		h, d, err := s.DB.Digest(context.Background())
		if err != nil || h != head {
			t.Fatalf("node %d: digest at %d (head %d): %v", i+1, h, head, err)
		}
		if i == 0 {
			first = d
		} else if !bytes.Equal(d, first) {
			t.Errorf("node %d's log and projections differ from node 1's", i+1)
		}
		if err := s.DB.Verify(context.Background()); err != nil {
			t.Errorf("node %d: %v", i+1, err)
		}
	}
}
