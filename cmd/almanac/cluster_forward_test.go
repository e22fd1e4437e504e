package main

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/almanac/almanac/jslog"
)

// writerIndex returns the index of the node whose embedded log server
// leads the log stream (the writer of --cluster-writes=forward), waiting
// for one.
func writerIndex(t *testing.T, nodes []*testServer) int {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		for i, s := range nodes {
			if cl := s.Main.cluster; cl != nil && cl.ns.JetStreamIsStreamLeader("$G", jslog.DefaultStream) {
				return i
			}
		}
	}
	t.Fatal("no node leads the log stream")
	return -1
}

// forwardStat returns a node's almanac_cluster_forwarded_total of
// outcome, from its /metrics.
func forwardStat(t *testing.T, s *testServer, outcome string) string {
	t.Helper()
	_, metrics := s.Do(t, http.MethodGet, "/metrics", "", "")
	prefix := `almanac_cluster_forwarded_total{outcome="` + outcome + `"} `
	for _, line := range strings.Split(metrics, "\n") {
		if v, ok := strings.CutPrefix(line, prefix); ok {
			return v
		}
	}
	return ""
}

// TestClusterForward: three serve nodes with --cluster-writes=forward
// (the default). A write sent to a node that is not the writer runs on
// the writer, once (the log grows by what the same write sent to the
// writer adds), and when the node answers it serves the write with its
// ETag itself (read-your-writes, with no waiting by the test). A write
// over the object size limit gets the same answer from either node, and
// so does one too large to forward. When the writer stops, a write on a
// survivor succeeds.
func TestClusterForward(t *testing.T) {
	t.Parallel() // its own nodes, ports and directories (startCluster)
	if testing.Short() {
		t.Skip("three clustered servers")
	}
	nodes := startCluster(t, 3, "--max-object-size=65536")
	caughtUp(t, nodes)
	w := writerIndex(t, nodes)
	writer, other := nodes[w], nodes[(w+1)%3]
	const coll = "/dav/home/alice/cal/"
	mkcalendars := mkcalendar(t, other, coll) // on a node that is not the writer

	// The same kind of write, once through the writer and once
	// forwarded, adds the same events to the log.
	grown := func(s *testServer, name string) (int64, string) {
		t.Helper()
		caughtUp(t, nodes)
		before := writer.DB.Head()
		code, etag, err := put(s, coll+name, clusterICS(name))
		if err != nil || code != http.StatusCreated || etag == "" {
			t.Fatalf("PUT %s on %s: %d %q %v", name, s.BaseURL, code, etag, err)
		}
		return int64(s.DB.Head() - before), etag
	}
	direct, _ := grown(writer, "direct.ics")
	forwarded, etag := grown(other, "forwarded.ics")
	if forwarded != direct || direct == 0 {
		t.Fatalf("a forwarded PUT grew the log by %d events, one on the writer by %d", forwarded, direct)
	}
	if resp, _ := other.Do(t, http.MethodGet, coll+"forwarded.ics", "alice", ""); resp.StatusCode != http.StatusOK || resp.Header.Get("ETag") != etag {
		t.Fatalf("GET on the node the PUT went to, right after its answer: %s ETag %q, want 200 %s", resp.Status, resp.Header.Get("ETag"), etag)
	}
	// MKCALENDAR and the PUT; a MKCALENDAR answered 503 (the log did
	// not take it within its bound, relayed; or the node stopped
	// hearing from the writer: lost) was tried again, and the writer may
	// or may not have run it.
	fwd, err1 := strconv.Atoi(forwardStat(t, other, "forwarded"))
	lost, err2 := strconv.Atoi(forwardStat(t, other, "lost"))
	if err1 != nil || err2 != nil || fwd+lost != mkcalendars+1 {
		t.Fatalf("the node forwarded %d writes and lost %d (%v, %v), want %d in all", fwd, lost, err1, err2, mkcalendars+1)
	}
	if n, err := strconv.Atoi(forwardStat(t, writer, "served")); err != nil || n < 2 || n > mkcalendars+1 {
		t.Fatalf("the writer ran %d forwarded writes (%v), want 2 to %d (%d MKCALENDARs sent)", n, err, mkcalendars+1, mkcalendars)
	}

	// Too large: the first is forwarded and refused by the writer's
	// handler, the second is too large to forward and refused here.
	for _, size := range []int{100 << 10, 1536 << 10} {
		body := clusterICS(strings.Repeat("x", size))
		var answers []string
		for _, s := range []*testServer{writer, other} {
			resp, got := s.Do(t, http.MethodPut, coll+"large.ics", "alice", body, "Content-Type", "text/calendar")
			answers = append(answers, resp.Status+" "+got)
		}
		if !strings.HasPrefix(answers[0], "4") || answers[0] != answers[1] {
			t.Fatalf("a %d-byte PUT: the writer answered %.200q, the other node %.200q", size, answers[0], answers[1])
		}
	}

	// The writer stops: the survivors elect another, and a write through
	// one succeeds.
	writer.Stop(t)
	survivor := nodes[(w+2)%3]
	for deadline := time.Now().Add(2 * time.Minute); ; {
		code, _, err := put(survivor, coll+"after.ics", clusterICS("after"))
		if err == nil && code == http.StatusCreated {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no write through a survivor after the writer stopped: %d %v", code, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), retryBound)
	defer cancel()
	if err := other.DB.WaitFor(ctx, survivor.DB.Head()); err != nil {
		t.Fatal(err)
	}
}

// TestClusterWritesFlag: --cluster-writes takes forward or cas.
func TestClusterWritesFlag(t *testing.T) {
	for _, v := range []string{"forward", "cas"} {
		c := clusterConfig{Writes: v, LeaseTTL: time.Second, JoinTimeout: time.Second, OnDivergence: divergenceRejoin}
		if err := c.validate(); err != nil {
			t.Errorf("%s: %v", v, err)
		}
	}
	c := clusterConfig{Writes: "leader", LeaseTTL: time.Second, JoinTimeout: time.Second, OnDivergence: divergenceRejoin}
	if err := c.validate(); err == nil || !strings.Contains(err.Error(), "cluster-writes") {
		t.Errorf("--cluster-writes=leader: %v", err)
	}
}
