package main

import (
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// clusterICS is a small event with the given UID.
func clusterICS(uid string) string {
	return "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\nUID:" + uid +
		"\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20260105T100000Z\r\nSUMMARY:x\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
}

var syncTokenRE = regexp.MustCompile(`sync-token>([^<]+)<`)

// clusterSync sends a sync-collection REPORT with token to a node as
// alice: the status, the new token and the body.
func clusterSync(t *testing.T, s *testServer, path, token string) (int, string, string) {
	t.Helper()
	body := `<?xml version="1.0" encoding="utf-8"?><D:sync-collection xmlns:D="DAV:"><D:sync-token>` + token +
		`</D:sync-token><D:sync-level>1</D:sync-level><D:prop><D:getetag/></D:prop></D:sync-collection>`
	resp, got := s.Do(t, "REPORT", path, "alice", body, "Content-Type", "application/xml")
	m := syncTokenRE.FindStringSubmatch(got)
	if m == nil {
		return resp.StatusCode, "", got
	}
	return resp.StatusCode, m[1], got
}

// TestClusterFaults: three serve nodes (in-process) on one replicated
// log, shared by the subtests in order; the last one stops two nodes.
// Stopping them and waiting for the survivor to give up on its quorum
// takes about 20 s (the log's 10 s bound on a write, then the probe's).
func TestClusterFaults(t *testing.T) {
	t.Parallel() // its own nodes, ports and directories (startCluster)
	if testing.Short() {
		t.Skip("three clustered servers; a node without its quorum waits out the log's timeouts")
	}
	nodes := startCluster(t, 3)
	caughtUp(t, nodes)
	const coll = "/dav/home/alice/cal/"
	mkcalendar(t, nodes[0], coll)
	caughtUp(t, nodes)

	// A client that syncs on node 1, writes there, and then syncs with
	// node 1's newest token on node 2 (the load balancer switched it)
	// gets an answer from node 2, not DAV:valid-sync-token: node 2
	// waits until it has applied what the token names.
	t.Run("TokenSwitch", func(t *testing.T) {
		code, first, body := clusterSync(t, nodes[0], coll, "")
		if code != http.StatusMultiStatus || first == "" {
			t.Fatalf("initial sync on node 1: %d %s", code, body)
		}
		for i := range 5 {
			name := fmt.Sprintf("switch-%d.ics", i)
			putAcked(t, nodes[0], coll+name, clusterICS(name))
			code, tok, body := clusterSync(t, nodes[0], coll, first)
			if code != http.StatusMultiStatus || !strings.Contains(body, name) {
				t.Fatalf("sync on node 1: %d %s", code, body)
			}
			code, got, body := clusterSync(t, nodes[1+i%2], coll, tok)
			if code != http.StatusMultiStatus || got != tok {
				t.Fatalf("node 1's token %s on node %d: %d, token %q: %s", tok, 2+i%2, code, got, body)
			}
			code, _, body = clusterSync(t, nodes[1+i%2], coll, first)
			if code != http.StatusMultiStatus || !strings.Contains(body, name) {
				t.Fatalf("node 1's older token on node %d: %d, want %s listed: %s", 2+i%2, code, name, body)
			}
		}
	})

	// One UID put under two names on two nodes at once: exactly one
	// node stores it, the other answers 403 no-uid-conflict. A round in
	// which a node answers 503 (its log did not take the write within
	// its bound, under load) does not count: its write may or may not be
	// stored, but the UID is stored under one name at most.
	t.Run("UIDRace", func(t *testing.T) {
		for round, clean := 0, 0; clean < 5; round++ {
			if round == 20 {
				t.Fatalf("%d of 20 rounds without a 503, want 5", clean)
			}
			uid := fmt.Sprint("race-", round)
			codes := make([]int, 2)
			errs := make([]error, 2)
			var wg sync.WaitGroup
			for i := range 2 {
				wg.Go(func() {
					codes[i], _, errs[i] = put(nodes[i], fmt.Sprintf("%s%s-%d.ics", coll, uid, i), clusterICS(uid))
				})
			}
			wg.Wait()
			won, unavailable := 0, 0
			for i := range 2 {
				switch {
				case errs[i] != nil:
					t.Fatalf("round %d: node %d: %v", round, i+1, errs[i])
				case codes[i] == http.StatusCreated:
					won++
				case codes[i] == http.StatusServiceUnavailable:
					unavailable++
				case codes[i] != http.StatusForbidden:
					t.Fatalf("round %d: node %d answered %d", round, i+1, codes[i])
				}
			}
			if unavailable == 0 {
				if won != 1 {
					t.Fatalf("round %d: %d nodes stored UID %s (%v), want exactly 1", round, won, uid, codes)
				}
				clean++
				continue
			}
			t.Logf("round %d: answers %v (503: the log did not take the write within its bound)", round, codes)
			caughtUp(t, nodes)
			stored := 0
			for i := range 2 {
				if resp, _ := nodes[0].Do(t, http.MethodGet, fmt.Sprintf("%s%s-%d.ics", coll, uid, i), "alice", ""); resp.StatusCode == http.StatusOK {
					stored++
				}
			}
			if stored < won || stored > 1 {
				t.Fatalf("round %d: answers %v, UID %s stored under %d names, want at most 1 (and the 201's)", round, codes, uid, stored)
			}
		}
	})

	// A node cut off from its quorum (the two others stopped) refuses
	// writes with 503 and Retry-After, serves reads, and /healthz and
	// the metrics say it cannot reach the log.
	t.Run("NoQuorum", func(t *testing.T) {
		const path = coll + "kept.ics"
		putAcked(t, nodes[0], path, clusterICS("kept"))
		nodes[1].Stop(t)
		nodes[2].Stop(t)
		resp, body := nodes[0].Do(t, http.MethodPut, coll+"refused.ics", "alice", clusterICS("refused"), "Content-Type", "text/calendar")
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
			t.Fatalf("PUT without a quorum: %s, Retry-After %q: %s", resp.Status, resp.Header.Get("Retry-After"), body)
		}
		if resp, _ := nodes[0].Do(t, http.MethodGet, path, "alice", ""); resp.StatusCode != http.StatusOK {
			t.Fatalf("GET without a quorum: %s", resp.Status)
		}
		for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(100 * time.Millisecond) {
			resp, health := nodes[0].Do(t, http.MethodGet, "/healthz", "", "")
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("/healthz: %s", resp.Status)
			}
			if strings.Contains(health, "writes are refused") {
				break
			}
			if !strings.Contains(health, "cluster: applied") || time.Now().After(deadline) {
				t.Fatalf("/healthz on a node without its quorum: %q", health)
			}
		}
		_, metrics := nodes[0].Do(t, http.MethodGet, "/metrics", "", "")
		if !strings.Contains(metrics, "\nalmanac_cluster_log_reachable 0\n") {
			t.Errorf("metrics without a quorum: no almanac_cluster_log_reachable 0")
		}
	})
}
