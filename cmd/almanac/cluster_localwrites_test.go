package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/almanac/almanac/engine"
	"github.com/almanac/almanac/internal/testscale"
)

// TestClusterLocalWritesRace: writes a node makes itself, with
// compare-and-set (the engine's own, the web app's, the admin API's: all
// call the node's engine as this test does), racing 16 clients whose
// PUTs go through another node to the writer. Every acknowledged write of
// either kind is on every node afterwards; a local write that loses the
// race again and again ends, within the log's 10 s bound and a margin,
// in engine.ErrUnavailable (503 with Retry-After), never another error
// or a hang; the nodes converge byte-identically and verify.
func TestClusterLocalWritesRace(t *testing.T) {
	t.Parallel() // its own nodes, ports and directories (startCluster)
	nodes := startCluster(t, 3)
	const coll = "/dav/home/alice/cal/"
	mkcalendar(t, nodes[0], coll)
	caughtUp(t, nodes)
	perClient := testscale.N(t, 10)
	var (
		mu      sync.Mutex
		acked   = map[string]string{}
		users   []string
		refused int
		wg      sync.WaitGroup
		errs    = make(chan error, 32)
	)
	for c := range 16 {
		wg.Go(func() {
			for i := range perClient {
				path := fmt.Sprintf("%sc%d-%d.ics", coll, c, i)
				code, etag, err := put(nodes[0], path, clusterICS(path))
				switch {
				case err != nil:
					errs <- err
					return
				case code == http.StatusCreated:
					mu.Lock()
					acked[path] = etag
					mu.Unlock()
				case code != http.StatusServiceUnavailable:
					errs <- fmt.Errorf("PUT %s through node 1: %d", path, code)
					return
				}
			}
		})
	}
	local := nodes[1].DB
	wg.Go(func() {
		for i := range 4 * perClient {
			name := fmt.Sprintf("local%d", i)
			start := time.Now()
			err := local.PutUser(context.Background(), engine.Meta{Actor: "admin"}, engine.User{Name: name, Role: engine.RoleUser})
			if took := time.Since(start); took > minorityBound {
				errs <- fmt.Errorf("a local write on node 2 took %s", took)
				return
			}
			switch {
			case err == nil:
				mu.Lock()
				users = append(users, name)
				mu.Unlock()
			case errors.Is(err, engine.ErrUnavailable):
				mu.Lock()
				refused++
				mu.Unlock()
			default:
				errs <- fmt.Errorf("a local write on node 2: %v", err)
				return
			}
		}
	})
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	st, err := local.Stats()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d PUTs through node 1 and %d local writes on node 2 acknowledged, %d local writes refused (503); node 2 lost %d races", len(acked), len(users), refused, st.LogConflicts)
	caughtUp(t, nodes)
	haveAcked(t, nodes, acked)
	for i, s := range nodes {
		for _, u := range users {
			if _, err := s.DB.User(u); err != nil {
				t.Fatalf("node %d: user %s, acknowledged on node 2: %v", i+1, u, err)
			}
		}
	}
	converged(t, nodes)
}

// haveAcked fails the test unless every node serves every path of acked
// to alice with the ETag it was acknowledged with.
func haveAcked(t *testing.T, nodes []*testServer, acked map[string]string) {
	t.Helper()
	for i, s := range nodes {
		for p, etag := range acked {
			if resp, _ := s.Do(t, http.MethodGet, p, "alice", ""); resp.StatusCode != http.StatusOK || resp.Header.Get("ETag") != etag {
				t.Errorf("node %d: GET %s: %s, ETag %q, acknowledged with %s", i+1, p, resp.Status, resp.Header.Get("ETag"), etag)
			}
		}
	}
}
