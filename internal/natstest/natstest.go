// Package natstest starts throw-away nats-servers with JetStream for
// tests: one, or several clustered over routes on loopback.
package natstest

import (
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/almanac/almanac/internal/testport"
	"github.com/nats-io/nats-server/v2/server"
)

// Cluster starts n nats-servers with JetStream (file storage under the
// test's temporary directories), clustered over routes on loopback when
// n > 1, and waits until JetStream has a meta leader that counts every
// server a peer. edit, when set, changes each server's options before it
// starts. The servers stop when the test ends.
func Cluster(t testing.TB, n int, edit func(i int, o *server.Options)) []*server.Server {
	t.Helper()
	var (
		ports  []int
		routes []*url.URL
	)
	if n > 1 {
		// Every route port is named before any server binds its own:
		// reserved, so that nothing else takes one meanwhile.
		ports = testport.Ports(t, n)
		for _, p := range ports {
			routes = append(routes, &url.URL{Scheme: "nats", Host: fmt.Sprintf("127.0.0.1:%d", p)})
		}
	}
	servers := make([]*server.Server, n)
	for i := range servers {
		opts := &server.Options{
			ServerName: fmt.Sprintf("n%d", i+1),
			Host:       "127.0.0.1",
			Port:       server.RANDOM_PORT,
			JetStream:  true,
			StoreDir:   t.TempDir(),
			NoLog:      true,
			NoSigs:     true,
		}
		if n > 1 {
			opts.Cluster = server.ClusterOpts{Name: "almanac", Host: "127.0.0.1", Port: ports[i]}
			opts.Routes = routes
		}
		if edit != nil {
			edit(i, opts)
		}
		servers[i] = Start(t, opts)
	}
	// A bound for a loaded machine (RAFT elections of servers that
	// get little CPU): the wait ends as soon as the cluster is ready.
	deadline := time.Now().Add(2 * time.Minute)
	for !Ready(servers) {
		if time.Now().After(deadline) {
			t.Fatal("natstest: JetStream has no meta leader with every server as a peer after 2 minutes")
		}
		time.Sleep(20 * time.Millisecond)
	}
	return servers
}

// Start starts one server with opts and waits until it takes clients; it
// stops when the test ends.
func Start(t testing.TB, opts *server.Options) *server.Server {
	t.Helper()
	s, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	if !s.ReadyForConnections(time.Minute) {
		t.Fatalf("natstest: server %s has not opened its listeners within a minute (a port taken?)", opts.ServerName)
	}
	return s
}

// Ready reports whether JetStream is current on every server and, in a
// cluster, has a meta leader that counts every server a peer.
func Ready(servers []*server.Server) bool {
	leader := len(servers) == 1
	for _, s := range servers {
		if !s.JetStreamIsCurrent() {
			return false
		}
		if len(servers) > 1 && s.JetStreamIsLeader() && len(s.JetStreamClusterPeers()) == len(servers) {
			leader = true
		}
	}
	return leader
}
