package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/almanac/almanac/engine"
	"github.com/almanac/almanac/internal/testport"
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

// freeAddrs returns n addresses on loopback whose ports nothing listens
// on, held for the test (testport): the nodes bind them later, and the
// ports of a port-0 listener closed at once could go to another process
// meanwhile (or come out twice), failing a node's start after 30 s.
func freeAddrs(t *testing.T, n int) []string {
	t.Helper()
	return testport.Addrs(t, n)
}

// testJoinTimeout is the test nodes' --cluster-join-timeout: at 60 s,
// nodes of four clusters starting at once (the cluster tests run
// -parallel 4, as make test runs them) under load 38 gave up before
// their log was placed (its identity bucket, its publisher lease).
const testJoinTimeout = 3 * time.Minute

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
			"--node-name=" + fmt.Sprint("n", i+1), "--cluster-listen=" + listens[i], "--cluster-join-timeout=" + testJoinTimeout.String()}, args(i)...)
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
	h := testHash(t)
	// Retried while the log does not take it within its bound (as
	// retried does for requests): putting the same user again is
	// harmless.
	for deadline := time.Now().Add(retryBound); ; time.Sleep(200 * time.Millisecond) {
		err := nodes[0].DB.PutUser(context.Background(), engine.Meta{Actor: "test"}, engine.User{Name: "alice", PasswordHash: h, Role: engine.RoleUser})
		if err == nil {
			break
		}
		if !errors.Is(err, engine.ErrUnavailable) || time.Now().After(deadline) {
			t.Fatalf("putting alice on node 1: %v", err)
		}
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
	ctx, cancel := context.WithTimeout(context.Background(), retryBound) // a loaded machine: returns once they have
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

// retryBound is how long a test's write retries the 503s of a cluster
// whose log does not take it within its 10 s bound (engine logTimeout):
// under load 30+ a RAFT election or a slow quorum does that now and then.
// A cluster that answers 503 for two minutes with every node up is broken.
const retryBound = 2 * time.Minute

// retried sends a write as alice to s again and again while it is
// answered 503 with Retry-After, as a client does, for up to retryBound,
// and returns every answer's status (the last one not 503, else the test
// fails naming them) and the last ETag. A 503 does not say the write was
// not stored (the log may store it after the node gave up waiting), so
// the caller takes what a retry answers to its own stored write (412 to
// a PUT with If-None-Match: *, 405 to a MKCALENDAR) after a 503 as done.
func retried(t *testing.T, s *testServer, method, path, body string, header ...string) (codes []int, etag string) {
	t.Helper()
	for deadline := time.Now().Add(retryBound); ; time.Sleep(200 * time.Millisecond) {
		resp, _ := s.Do(t, method, path, "alice", body, header...)
		codes = append(codes, resp.StatusCode)
		if resp.StatusCode != http.StatusServiceUnavailable {
			return codes, resp.Header.Get("ETag")
		}
		if resp.Header.Get("Retry-After") == "" {
			t.Fatalf("%s %s on %s: 503 without Retry-After", method, path, s.BaseURL)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s %s on %s: 503 for %s with every node up (answers %v)", method, path, s.BaseURL, retryBound, codes)
		}
	}
}

// doneAfter reports whether a retried write's answers say it is done:
// its last answer is ok, or again (the write was stored by an attempt
// answered 503) after a 503.
func doneAfter(codes []int, ok, again int) bool {
	last := codes[len(codes)-1]
	return last == ok || last == again && len(codes) > 1
}

// mkcalendar makes the calendar coll as alice through s, retrying 503s,
// and returns how many requests that took.
func mkcalendar(t *testing.T, s *testServer, coll string) int {
	t.Helper()
	codes, _ := retried(t, s, "MKCALENDAR", coll, "")
	if !doneAfter(codes, http.StatusCreated, http.StatusMethodNotAllowed) {
		t.Fatalf("MKCALENDAR %s on %s: answers %v", coll, s.BaseURL, codes)
	}
	return len(codes)
}

// putAcked creates the object at path with body as alice through s,
// retrying 503s, and returns its ETag. Its PUTs carry If-None-Match: *,
// so that a retry after a 503 whose write was stored stores no second
// version (the log holds one put of the object, as without a 503).
func putAcked(t *testing.T, s *testServer, path, body string) string {
	t.Helper()
	codes, etag := retried(t, s, http.MethodPut, path, body, "Content-Type", "text/calendar", "If-None-Match", "*")
	if !doneAfter(codes, http.StatusCreated, http.StatusPreconditionFailed) {
		t.Fatalf("PUT %s on %s: answers %v", path, s.BaseURL, codes)
	}
	if codes[len(codes)-1] == http.StatusPreconditionFailed {
		resp, got := s.Do(t, http.MethodGet, path, "alice", "")
		if resp.StatusCode != http.StatusOK || got != body {
			t.Fatalf("PUT %s on %s answered %v; GET: %s, body %q", path, s.BaseURL, codes, resp.Status, got)
		}
		etag = resp.Header.Get("ETag")
	}
	if etag == "" {
		t.Fatalf("PUT %s on %s: answers %v, no ETag", path, s.BaseURL, codes)
	}
	return etag
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
	mkcalendar(t, nodes[1], "/dav/home/alice/cal/")
	const path = "/dav/home/alice/cal/a.ics"
	ics := "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\nUID:a\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20260105T100000Z\r\nSUMMARY:x\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
	etag := putAcked(t, nodes[0], path, ics)
	caughtUp(t, nodes)
	for i, s := range nodes {
		resp, body := s.Do(t, http.MethodGet, path, "alice", "")
		if resp.StatusCode != http.StatusOK || resp.Header.Get("ETag") != etag || body != ics {
			t.Fatalf("GET on node %d: %s, ETag %s, want %s", i+1, resp.Status, resp.Header.Get("ETag"), etag)
		}
	}
	// A round in which a node answers 503 (its log did not take the
	// write within its bound, under load) does not count: its write may
	// or may not be stored, but at most one of the round's writes is,
	// and a node that answered 204 holds the version stored. A write
	// answered 503 may also be stored after the round's GET (a forwarded
	// write the writer still runs): then the next round's If-Match names
	// a version no longer current, and every node answers 412. Such a
	// write can be stored only while no later round took a write (its
	// If-Match is stale after one): a round without a 204 that follows a
	// 503 with no 204 since, and after which the object's ETag changed,
	// does not count either.
	unsettled := false // a write answered 503 may still be stored
	for round, clean := 0, 0; clean < 5; round++ {
		if round == 20 {
			t.Fatalf("%d of 20 rounds without a 503, want 5", clean)
		}
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
		asked := etag
		won, unavailable := 0, 0
		for i := range nodes {
			switch {
			case errs[i] != nil:
				t.Fatalf("round %d: node %d: %v", round, i+1, errs[i])
			case codes[i] == http.StatusNoContent:
				won++
				etag = etags[i]
			case codes[i] == http.StatusServiceUnavailable:
				unavailable++
			case codes[i] != http.StatusPreconditionFailed:
				t.Fatalf("round %d: node %d answered %d", round, i+1, codes[i])
			}
		}
		if won > 1 {
			t.Fatalf("round %d: %d nodes took the If-Match PUT (%v), want exactly 1", round, won, codes)
		}
		caughtUp(t, nodes)
		resp, _ := nodes[0].Do(t, http.MethodGet, path, "alice", "")
		got := resp.Header.Get("ETag")
		switch {
		case won == 1 && got != etag:
			t.Fatalf("round %d: answers %v, the object's ETag %s, want the 204's %s", round, codes, got, etag)
		case won == 0 && unavailable == 0 && (!unsettled || got == asked):
			t.Fatalf("round %d: no node took the If-Match PUT (%v), want exactly 1 (the ETag %s is still the object's: %s)", round, codes, asked, got)
		case won == 0 && unavailable == 0:
			t.Logf("round %d: answers %v: a write answered 503 before was stored since (ETag %s, then %s)", round, codes, asked, got)
		case unavailable == 0:
			clean++
		default:
			t.Logf("round %d: answers %v (503: the log did not take the write within its bound)", round, codes)
		}
		etag = got // after 503s alone, one of them may be stored
		unsettled = won == 0 && (unsettled || unavailable > 0)
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
