package main

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/almanac/almanac/internal/tcpproxy"
	"github.com/almanac/almanac/internal/testscale"
	"github.com/nats-io/nats-server/v2/server"
)

// partitionedCluster is three serve nodes whose routes all run through
// proxies the test cuts: link[i][j] carries the routes node i opens to
// node j, so each pair's traffic is in link[i][j] and link[j][i] alone.
// Every node advertises (--cluster-advertise) its own proxy, gossip[j],
// in place of its --cluster-listen: a node that learns of a peer through
// route gossip can reach it only through a proxy too, and isolate cuts
// those as well, so nothing routes around a cut.
type partitionedCluster struct {
	nodes  []*testServer
	link   [][]*tcpproxy.Proxy // nil on the diagonal
	gossip []*tcpproxy.Proxy
}

func startPartitionedCluster(t *testing.T, n int) *partitionedCluster {
	t.Helper()
	listens := freeAddrs(t, n)
	newProxy := func(target string) *tcpproxy.Proxy {
		p, err := tcpproxy.New(target)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { p.Close() })
		return p
	}
	c := &partitionedCluster{link: make([][]*tcpproxy.Proxy, n), gossip: make([]*tcpproxy.Proxy, n)}
	for i := range n {
		c.gossip[i] = newProxy(listens[i])
		c.link[i] = make([]*tcpproxy.Proxy, n)
		for j := range n {
			if j != i {
				c.link[i][j] = newProxy(listens[j])
			}
		}
	}
	c.nodes = startClusterWith(t, listens, func(i int) []string {
		var routes []string
		for _, p := range c.link[i] {
			if p != nil {
				routes = append(routes, p.Addr())
			}
		}
		return []string{"--cluster-advertise=" + c.gossip[i].Addr(), "--routes=" + strings.Join(routes, ",")}
	})
	return c
}

// isolate cuts node m off from every other node: closes its links, or
// with hole black-holes them (kept open, nothing forwarded, as behind a
// firewall that drops packets). Both cut the advertised proxies of the
// other nodes, so m cannot route around through them (the nodes route
// to each other through their links, so no route between two others
// runs through those); with hole, m's own advertised proxy is
// black-holed, not cut.
func (c *partitionedCluster) isolate(m int, hole bool) {
	for i := range c.nodes {
		if i != m {
			if hole {
				c.link[i][m].BlackHole()
				c.link[m][i].BlackHole()
			} else {
				c.link[i][m].Cut()
				c.link[m][i].Cut()
			}
		}
		if hole && i == m {
			c.gossip[i].BlackHole()
		} else {
			c.gossip[i].Cut()
		}
	}
}

// heal reconnects every node.
func (c *partitionedCluster) heal() {
	for i := range c.nodes {
		for _, p := range c.link[i] {
			if p != nil {
				p.Heal()
			}
		}
		c.gossip[i].Heal()
	}
}

// streamLeader returns the node whose embedded server leads the log's
// stream, waiting for one to be elected.
func (c *partitionedCluster) streamLeader(t *testing.T) int {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		for i, s := range c.nodes {
			if s.Main.cluster.ns.JetStreamIsStreamLeader("$G", "ALMANAC_LOG") {
				return i
			}
		}
	}
	t.Fatal("no node leads the log's stream after 30 s")
	return -1
}

// TestClusterPartition: three nodes whose routes run through proxies;
// each round cuts the node that leads the log's stream off from both
// others (closes its connections). The minority node refuses writes with
// 503 and Retry-After, still serves reads, and /healthz says it cannot
// reach the log; the majority elects a new leader and acknowledges
// writes. After healing, the old minority takes writes again, every
// acknowledged write is on every node with its ETag, the write the
// minority refused is on none, and the nodes' logs and projections are
// byte-identical and verify. A round takes 10-20 s (the log's 10 s bound
// on a write on each side of the cut); rounds scale with
// ALMANAC_TEST_SCALE.
func TestClusterPartition(t *testing.T) {
	t.Parallel() // its own nodes, ports and directories (startCluster)
	if testing.Short() {
		t.Skip("three clustered servers cut apart; each side waits out the log's timeouts")
	}
	testPartition(t, false)
}

// TestClusterPartitionBlackHole is TestClusterPartition with the links
// black-holed instead of closed: every connection stays open and no byte
// goes through, as behind a firewall that silently drops packets, so no
// node learns of the cut from a closed connection. Besides what
// TestClusterPartition checks, every request to the minority answers
// within minorityBound (none waits on the dead route unbounded), its
// metrics say the log is unreachable, and its log server closes the
// black-holed routes within routeBound (the route ping settings,
// routePingInterval x routeMaxPingsOut). After healing, the held bytes
// flow again and the nodes converge.
func TestClusterPartitionBlackHole(t *testing.T) {
	t.Parallel() // its own nodes, ports and directories (startCluster)
	if testing.Short() {
		t.Skip("three clustered servers cut apart; each side waits out the log's timeouts")
	}
	testPartition(t, true)
}

// minorityBound bounds a request to a node cut off from the quorum: the
// log's 10 s bound on a write (engine logTimeout), with room for the
// catch-up before it and a loaded machine.
const minorityBound = 30 * time.Second

// routeBound bounds how long after a black hole opens a node's log
// server closes the routes through it: (routeMaxPingsOut+1) x
// routePingInterval, and slack for a loaded machine.
const routeBound = (routeMaxPingsOut+1)*routePingInterval + 5*time.Second

// testPartition runs TestClusterPartition's rounds, the links closed or
// (hole) black-holed.
func testPartition(t *testing.T, hole bool) {
	c := startPartitionedCluster(t, 3)
	nodes := c.nodes
	caughtUp(t, nodes)
	const coll = "/dav/home/alice/cal/"
	mkcalendar(t, nodes[0], coll)
	acked := map[string]string{} // path -> ETag acknowledged
	var refused []string
	for i := range nodes {
		path := fmt.Sprintf("%sbefore-%d.ics", coll, i)
		acked[path] = putAcked(t, nodes[i], path, clusterICS(path))
	}
	caughtUp(t, nodes)

	for round := range testscale.N(t, 1) {
		m := c.streamLeader(t)
		var majority []*testServer
		for i, s := range nodes {
			if i != m {
				majority = append(majority, s)
			}
		}
		minority := nodes[m]
		start := time.Now()
		c.isolate(m, hole)
		// How long the minority's log server keeps routes that carry
		// nothing (watched from the moment of the cut; up to routeBound).
		routesGone := make(chan time.Duration, 1)
		if hole {
			go func() {
				ns := minority.Main.cluster.ns
				for time.Since(start) <= routeBound {
					if rz, err := ns.Routez(nil); err == nil && len(rz.Routes) == 0 {
						break
					}
					time.Sleep(20 * time.Millisecond)
				}
				routesGone <- time.Since(start)
			}()
		}

		// The majority elects a new leader and goes on: writes on it
		// are acknowledged while the minority is cut off.
		var (
			wg          sync.WaitGroup
			majorityErr error
			majorityAck = map[string]string{}
		)
		wg.Go(func() {
			for i, deadline := 0, time.Now().Add(time.Minute); len(majorityAck) < 3; i++ {
				if time.Now().After(deadline) {
					majorityErr = fmt.Errorf("%d writes acknowledged by the majority in a minute, want 3", len(majorityAck))
					return
				}
				path := fmt.Sprintf("%smajority-%d-%d.ics", coll, round, i)
				code, etag, err := put(majority[i%2], path, clusterICS(path))
				switch {
				case err == nil && code == http.StatusCreated:
					majorityAck[path] = etag
				case err == nil && code == http.StatusServiceUnavailable:
					time.Sleep(100 * time.Millisecond) // electing a leader
				default:
					majorityErr = fmt.Errorf("PUT on the majority: %d %v", code, err)
					return
				}
			}
		})

		// The minority refuses writes, 503 with Retry-After, within
		// minorityBound ...
		path := fmt.Sprintf("%sminority-%d.ics", coll, round)
		resp, body, took := boundedDo(t, minority, http.MethodPut, path, "alice", clusterICS(path), "Content-Type", "text/calendar")
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
			t.Fatalf("round %d: PUT on the cut-off node %d: %s, Retry-After %q: %s", round, m+1, resp.Status, resp.Header.Get("Retry-After"), body)
		}
		t.Logf("round %d: the cut-off node refused a PUT in %s", round, took.Round(time.Millisecond))
		refused = append(refused, path)
		// ... serves reads of what it has ...
		for p, etag := range acked {
			if resp, _, _ := boundedDo(t, minority, http.MethodGet, p, "alice", ""); resp.StatusCode != http.StatusOK || resp.Header.Get("ETag") != etag {
				t.Fatalf("round %d: GET %s on the cut-off node: %s, ETag %q, want %s", round, p, resp.Status, resp.Header.Get("ETag"), etag)
			}
		}
		// ... and says in /healthz that it cannot reach the log.
		for deadline := time.Now().Add(time.Minute); ; time.Sleep(100 * time.Millisecond) {
			resp, health, _ := boundedDo(t, minority, http.MethodGet, "/healthz", "", "")
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("round %d: /healthz on the cut-off node: %s", round, resp.Status)
			}
			if strings.Contains(health, "writes are refused") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("round %d: /healthz on the cut-off node a minute after the cut: %q", round, health)
			}
		}
		if hole {
			if _, metrics, _ := boundedDo(t, minority, http.MethodGet, "/metrics", "", ""); !strings.Contains(metrics, "\nalmanac_cluster_log_reachable 0\n") {
				t.Errorf("round %d: metrics on the cut-off node: no almanac_cluster_log_reachable 0", round)
			}
			// Its log server gave up the black-holed routes on its own.
			routesGone := <-routesGone
			if routesGone > routeBound {
				t.Fatalf("round %d: %s after the black hole the cut-off node still had routes to %v", round, routesGone.Round(time.Millisecond), routedNames(t, minority.Main.cluster.ns))
			}
			t.Logf("round %d: the cut-off node closed its black-holed routes %s after the hole opened", round, routesGone.Round(time.Millisecond))
		}
		wg.Wait()
		if majorityErr != nil {
			t.Fatalf("round %d, node %d cut off: %v", round, m+1, majorityErr)
		}
		t.Logf("round %d: node %d (the stream leader) cut off; the majority acknowledged %d writes, the minority refused, in %s", round, m+1, len(majorityAck), time.Since(start).Round(time.Millisecond))
		for p, e := range majorityAck {
			acked[p] = e
		}

		// Healed, the old minority rejoins and takes writes again. A
		// client retries one PUT until it is acknowledged: a 503 says
		// the node gave up waiting for the log, not that the write was
		// not stored (the log may store it later), so a retry may find
		// its own earlier attempt (204).
		c.heal()
		healed := time.Now()
		path = fmt.Sprintf("%shealed-%d.ics", coll, round)
		var codes []int
		for deadline := time.Now().Add(time.Minute); ; time.Sleep(100 * time.Millisecond) {
			code, etag, err := put(minority, path, clusterICS(path))
			codes = append(codes, code)
			if err == nil && (code == http.StatusCreated || code == http.StatusNoContent && len(codes) > 1) {
				acked[path] = etag
				break
			}
			if err != nil || code != http.StatusServiceUnavailable || time.Now().After(deadline) {
				t.Fatalf("round %d: PUT on node %d after healing: %v, then %v", round, m+1, codes, err)
			}
		}
		t.Logf("round %d: node %d took a write %s after healing (answers %v)", round, m+1, time.Since(healed).Round(time.Millisecond), codes)
	}

	// Every node has every acknowledged write with its ETag, and none
	// has a write that was refused.
	caughtUp(t, nodes)
	haveAcked(t, nodes, acked)
	for i, s := range nodes {
		for _, p := range refused {
			if resp, _ := s.Do(t, http.MethodGet, p, "alice", ""); resp.StatusCode != http.StatusNotFound {
				t.Errorf("node %d: GET %s, refused with 503: %s, want 404", i+1, p, resp.Status)
			}
		}
	}
	converged(t, nodes)
}

// TestClusterAdvertiseFlag: --cluster-advertise takes host:port, and only
// with --cluster-listen (it is the embedded log server's address).
func TestClusterAdvertiseFlag(t *testing.T) {
	for _, args := range [][]string{
		{"--cluster-listen=127.0.0.1:6222", "--node-name=n1", "--cluster-advertise=nonsense"},
		{"--cluster-advertise=10.0.0.1:6222"},
	} {
		m := NewMain()
		m.Getenv = func(string) string { return "" }
		err := m.ParseFlags(append([]string{"--data=" + t.TempDir()}, args...))
		var ce *ConfigError
		if !errors.As(err, &ce) || ce.Field != "cluster-advertise" {
			t.Errorf("%v: %v, want a ConfigError on cluster-advertise", args, err)
		}
	}
	m := NewMain()
	m.Getenv = func(string) string { return "" }
	if err := m.ParseFlags([]string{"--data=" + t.TempDir(), "--cluster-listen=127.0.0.1:6222", "--node-name=n1", "--cluster-advertise=proxy.example:7222"}); err != nil {
		t.Fatal(err)
	}
	if got := m.Config.Cluster.ClusterAdvertise; got != "proxy.example:7222" {
		t.Errorf("ClusterAdvertise = %q", got)
	}
}

// TestClusterAdvertise: a node that learns of a peer through route
// gossip dials the address the peer advertises, not its --cluster-listen.
// Nodes a and c each have a route to b only (b to both); each learns of
// the other from b, and the route between them must go through the proxy
// the dialled one advertises.
func TestClusterAdvertise(t *testing.T) {
	t.Parallel() // its own nodes, ports and directories (startCluster)
	listens := freeAddrs(t, 3)
	names := []string{"a", "b", "c"}
	var proxies []*tcpproxy.Proxy
	servers := make([]*server.Server, 3)
	errs := make([]error, 3)
	var wg sync.WaitGroup
	for i := range servers {
		p, err := tcpproxy.New(listens[i])
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { p.Close() })
		proxies = append(proxies, p)
		cfg := clusterConfig{ClusterName: "almanac", NodeName: names[i], ClusterListen: listens[i], ClusterAdvertise: p.Addr()}
		if i == 1 {
			cfg.Routes = listens[0] + "," + listens[2]
		} else {
			cfg.Routes = listens[1]
		}
		dir := t.TempDir()
		wg.Go(func() { // a clustered server is ready when it has its peers: start all at once
			servers[i], _, errs[i] = startLogServer(cfg, dir, 1<<20)
		})
	}
	wg.Wait()
	for i, ns := range servers {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		t.Cleanup(ns.Shutdown)
	}
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(50 * time.Millisecond) {
		full := true
		for _, ns := range servers {
			full = full && len(routedNames(t, ns)) == 2
		}
		if full {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the three servers did not form a full mesh within a minute")
		}
	}
	// a and c reached each other through the proxies they advertise:
	// cut those, and a and c lose their route to each other (both keep
	// b's). Had either dialled the other's --cluster-listen, the route
	// would stay.
	for _, p := range proxies {
		p.Cut()
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		a, c := routedNames(t, servers[0]), routedNames(t, servers[2])
		if !a["c"] && !c["a"] {
			if !a["b"] || !c["b"] {
				t.Fatalf("a and c lost their routes to b too: %v, %v", a, c)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("30 s after the advertised proxies were cut a routes to %v, c to %v: the route between them went around the proxies", a, c)
		}
	}
}

// boundedDo is testServer.Do, failing the test when the answer takes
// longer than minorityBound (a request hanging on a dead route); it
// returns how long the answer took.
func boundedDo(t *testing.T, s *testServer, method, path, user, body string, header ...string) (*http.Response, string, time.Duration) {
	t.Helper()
	start := time.Now()
	resp, err := (&http.Client{Timeout: minorityBound}).Do(s.request(t, method, path, user, body, header...))
	if err != nil {
		t.Fatalf("%s %s on a node cut off (no answer within %s?): %v", method, path, minorityBound, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s on a node cut off: reading the body: %v", method, path, err)
	}
	return resp, string(b), time.Since(start)
}

// routesOf returns a server's route connections.
func routesOf(t *testing.T, ns *server.Server) []*server.RouteInfo {
	t.Helper()
	rz, err := ns.Routez(nil)
	if err != nil {
		t.Fatal(err)
	}
	return rz.Routes
}

// routedNames returns the names of the servers ns has a route to.
func routedNames(t *testing.T, ns *server.Server) map[string]bool {
	t.Helper()
	names := map[string]bool{}
	for _, r := range routesOf(t, ns) {
		names[r.RemoteName] = true
	}
	return names
}
