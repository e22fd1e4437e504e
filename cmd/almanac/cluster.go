package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/almanac/almanac/jslog"
	"github.com/almanac/almanac/lease"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// clusterConfig holds the flags that make serve a node of a cluster: its
// log is a JetStream stream, on nats-servers embedded in every node and
// clustered over routes, or on an external NATS cluster.
type clusterConfig struct {
	LogNATSURL    string
	ClusterName   string
	NodeName      string
	ClusterListen string
	// ClusterAdvertise is the address the other nodes are told to reach
	// this node's routes at, when --cluster-listen is not that address
	// (NAT, a proxy, a container's port mapping).
	ClusterAdvertise string
	Routes           string
	LogReplicas      int
	JoinTimeout      time.Duration
	LeaseTTL         time.Duration
	// Writes is how the node writes: forward or cas (cluster_writes.go).
	Writes string
	// OnDivergence is what the node does when its database diverged
	// from the log: rejoin or stop (cluster_rejoin.go).
	OnDivergence string
	// SecretFile holds the secret the routes between the embedded log
	// servers present; TLSCert, TLSKey and TLSCA put the routes on mutual
	// TLS (cluster_auth.go).
	SecretFile             string
	TLSCert, TLSKey, TLSCA string
}

func (c *clusterConfig) flags(fs *flag.FlagSet) {
	fs.StringVar(&c.LogNATSURL, "log-nats-url", "", "`URL` of an external NATS cluster holding the log (a cluster node; no embedded log server then)")
	fs.StringVar(&c.ClusterName, "cluster-name", "almanac", "`name` of the NATS cluster the nodes' embedded log servers form")
	fs.StringVar(&c.NodeName, "node-name", "", "this node's `name` in the cluster, unique (required with --cluster-listen)")
	fs.StringVar(&c.ClusterListen, "cluster-listen", "", "`address` (host:port) where the embedded log server takes routes from the other nodes: makes this a cluster node")
	fs.StringVar(&c.ClusterAdvertise, "cluster-advertise", "", "`address` (host:port) the other nodes are told to reach this node's routes at, when it is not --cluster-listen (behind NAT or a proxy); give the same address in the other nodes' --routes")
	fs.StringVar(&c.Routes, "routes", "", "comma-separated `addresses` (host:port) of the other nodes' --cluster-listen")
	fs.IntVar(&c.LogReplicas, "log-replicas", 0, "replicas of the log stream (0: 3 with two or more --routes, else 1)")
	fs.DurationVar(&c.JoinTimeout, "cluster-join-timeout", 2*time.Minute, "how long a starting node waits for the cluster to place the log and elect its leader")
	c.authFlags(fs)
	fs.StringVar(&c.Writes, "cluster-writes", writesForward, "how a node writes to the log: forward (clients' DAV writes go to one writer, the node leading the log stream) or cas (every node appends its own with compare-and-set)")
	fs.StringVar(&c.OnDivergence, "on-divergence", divergenceRejoin, "what a node whose database diverged from the log does at start: rejoin (move the database aside to DATA/db.diverged-TIME, kept, and replay the log) or stop (refuse to start)")
	fs.DurationVar(&c.LeaseTTL, "cluster-lease-ttl", 10*time.Second, "how long after its holder died another node takes over the NATS change publisher, push and webhooks (the same on every node)")
}

// enabled reports whether serve runs as a cluster node.
func (c *clusterConfig) enabled() bool { return c.LogNATSURL != "" || c.ClusterListen != "" }

func (c *clusterConfig) validate() error {
	bad := func(field, format string, a ...any) error {
		return &ConfigError{Field: field, Err: fmt.Errorf(format, a...)}
	}
	if c.LogNATSURL != "" && c.ClusterListen != "" {
		return bad("log-nats-url", "use either --log-nats-url (an external NATS cluster) or --cluster-listen (embedded), not both")
	}
	if c.ClusterListen != "" {
		if _, _, err := net.SplitHostPort(c.ClusterListen); err != nil {
			return bad("cluster-listen", "want host:port, got %q", c.ClusterListen)
		}
		if c.NodeName == "" {
			return bad("node-name", "a cluster node needs a unique --node-name")
		}
	}
	if c.ClusterAdvertise != "" {
		if c.ClusterListen == "" {
			return bad("cluster-advertise", "--cluster-advertise is the embedded log server's route address: it needs --cluster-listen")
		}
		if _, _, err := net.SplitHostPort(c.ClusterAdvertise); err != nil {
			return bad("cluster-advertise", "want host:port, got %q", c.ClusterAdvertise)
		}
	}
	for _, r := range c.routes() {
		if _, _, err := net.SplitHostPort(r); err != nil {
			return bad("routes", "want host:port, got %q", r)
		}
	}
	if c.LogReplicas < 0 || c.LogReplicas > 5 {
		return bad("log-replicas", "want 0 to 5, got %d", c.LogReplicas)
	}
	if err := c.validateAuth(); err != nil {
		return err
	}
	if c.LeaseTTL < time.Second {
		return bad("cluster-lease-ttl", "must be at least 1s, got %s", c.LeaseTTL)
	}
	if c.Writes != writesForward && c.Writes != writesCAS {
		return bad("cluster-writes", "want %s or %s, got %q", writesForward, writesCAS, c.Writes)
	}
	if c.OnDivergence != divergenceRejoin && c.OnDivergence != divergenceStop {
		return bad("on-divergence", "want %s or %s, got %q", divergenceRejoin, divergenceStop, c.OnDivergence)
	}
	if c.JoinTimeout <= 0 {
		return bad("cluster-join-timeout", "must be positive, got %s", c.JoinTimeout)
	}
	return nil
}

func (c *clusterConfig) routes() []string {
	var out []string
	for _, r := range strings.Split(c.Routes, ",") {
		if r = strings.TrimSpace(r); r != "" {
			out = append(out, r)
		}
	}
	return out
}

func (c *clusterConfig) replicas() int {
	switch {
	case c.LogReplicas > 0:
		return c.LogReplicas
	case len(c.routes()) >= 2:
		return 3
	}
	return 1
}

// logSubject is the log stream's subject: outside "almanac.>", which the
// change feed's stream takes on the same servers (a cluster node
// publishes the feed there). Open moves an existing stream to it.
const logSubject = "almanac-log"

// clusterLog is a running cluster node's log: the connection, and the
// embedded server when there is one.
type clusterLog struct {
	log  *jslog.Log
	nc   *nats.Conn
	ns   *server.Server
	user nats.Option // the embedded server's user; nil with --log-nats-url
	url  string      // --log-nats-url
	// replicas of the log stream, and of the streams and buckets the
	// nodes share besides it.
	replicas int
}

// startClusterLog starts the embedded log server (or connects to the
// external one) and opens the log, waiting up to --cluster-join-timeout
// for the cluster to place it and for the log to say its head (a leader
// with a quorum of current replicas).
func startClusterLog(ctx context.Context, c clusterConfig, dataDir string, maxObject int64, log *slog.Logger) (_ *clusterLog, err error) {
	// Not the named result: an error return sets that to nil, and the
	// deferred close must still close what was started (it panicked on
	// nil when the join timeout passed).
	cl := &clusterLog{replicas: c.replicas()}
	defer func() {
		if err != nil {
			cl.close()
		}
	}()
	if c.LogNATSURL != "" {
		cl.url = c.LogNATSURL
	} else if cl.ns, cl.user, err = startLogServer(c, dataDir, maxObject); err != nil {
		return nil, err
	}
	if cl.nc, err = cl.connect(nats.MaxReconnects(-1)); err != nil {
		return nil, err
	}
	deadline := time.Now().Add(c.JoinTimeout)
	if cl.ns != nil {
		waitMetaCurrent(ctx, cl.ns, deadline)
	}
	for attempt := 0; ; attempt++ {
		octx, cancel := context.WithTimeout(ctx, attemptTimeout(attempt))
		err = cl.openLog(octx, c.replicas())
		cancel()
		if err == nil {
			return cl, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return nil, fmt.Errorf("cluster: the log has no place or no leader within --cluster-join-timeout %s (are enough nodes up?): %w", c.JoinTimeout, err)
		}
		log.Info("cluster: waiting for the cluster to place the log and elect its leader", "err", err)
		select {
		case <-time.After(200 * time.Millisecond):
		case <-ctx.Done():
		}
	}
}

// openLog opens the log (once) and asks its head. The engine's open asks
// the head within the log's own 10 s bound: a log just placed may have no
// leader yet, or too few current replicas to say its head (jslog's quorum
// check), for longer than that on a loaded machine (four three-node
// clusters starting at once under load 38 failed their open so). Asked
// here, within the join timeout, the engine opens on a log that answers.
func (cl *clusterLog) openLog(ctx context.Context, replicas int) error {
	if cl.log == nil {
		l, err := jslog.Open(ctx, cl.nc, &jslog.Options{Replicas: replicas, Subject: logSubject})
		if err != nil {
			return err
		}
		cl.log = l
	}
	_, err := cl.log.Head(ctx)
	return err
}

// attemptTimeout bounds the nth attempt (from 0) at a JetStream request a
// starting node repeats until the cluster answers: 1 s, then twice as
// long each time up to 5 s. Right after a node (re)joins, the first
// answer is often lost (the others do not know its reply subject yet):
// a short first bound asks again soon instead of waiting 5 s for it, and
// the longer ones leave a loaded cluster time to answer.
func attemptTimeout(n int) time.Duration {
	return min(time.Second<<min(n, 3), 5*time.Second)
}

// waitMetaCurrent waits until the embedded server has joined its
// cluster's JetStream meta group and caught up with its leader, or until
// deadline. Asked before, the log's JetStream requests wait out their
// whole 5 s timeout (a restarted node lost 5 s of its start to each), so
// the first request is sent once it can be answered; if the deadline
// comes first, the requests' own errors say why.
func waitMetaCurrent(ctx context.Context, ns *server.Server, deadline time.Time) {
	for !ns.JetStreamIsCurrent() && time.Now().Before(deadline) {
		select {
		case <-time.After(20 * time.Millisecond):
		case <-ctx.Done():
			return
		}
	}
}

// connect opens another connection to the log's NATS: the embedded
// server in process, or --log-nats-url.
func (cl *clusterLog) connect(opts ...nats.Option) (*nats.Conn, error) {
	if cl.ns == nil {
		nc, err := nats.Connect(cl.url, opts...)
		if err != nil {
			return nil, fmt.Errorf("cluster: connect %s: %w", cl.url, err)
		}
		return nc, nil
	}
	nc, err := nats.Connect("", append(opts, nats.InProcessServer(cl.ns), cl.user, nats.Timeout(inProcessConnectTimeout))...)
	if err != nil {
		return nil, fmt.Errorf("cluster: connect to the embedded log server: %w", err)
	}
	return nc, nil
}

// inProcessConnectTimeout bounds the handshake of a connection to an
// embedded nats-server, in process: nothing but a starved CPU delays it,
// and nats.go's default 2 s was too short for a node starting under load
// 40 ("read pipe: i/o timeout", the node did not start).
const inProcessConnectTimeout = 30 * time.Second

// publisherLease opens the lease the node must hold to run the senders
// that run once per cluster (singleton.go), and the bucket of their
// cursors, both with the log's replicas.
func (cl *clusterLog) publisherLease(ctx context.Context, c clusterConfig, log *slog.Logger) (*lease.Lease, jetstream.KeyValue, error) {
	holder := c.NodeName
	if holder == "" {
		h, err := os.Hostname()
		if err != nil {
			return nil, nil, &ConfigError{Field: "node-name", Err: fmt.Errorf("no --node-name and no host name: %w", err)}
		}
		holder = fmt.Sprintf("%s-%d", h, os.Getpid())
	}
	octx, cancel := context.WithTimeout(ctx, c.JoinTimeout)
	defer cancel()
	js, err := jetstream.New(cl.nc)
	if err != nil {
		return nil, nil, fmt.Errorf("cluster: %w", err)
	}
	for attempt := 0; ; attempt++ {
		// Both buckets are made once; a starting cluster may need a
		// moment to place them.
		actx, cancelAttempt := context.WithTimeout(octx, attemptTimeout(attempt))
		l, err := lease.Open(actx, cl.nc, lease.Options{Key: "publisher", Holder: holder, TTL: c.LeaseTTL, Replicas: c.replicas(), Logger: log})
		if err == nil {
			var kv jetstream.KeyValue
			kv, err = js.CreateOrUpdateKeyValue(actx, jetstream.KeyValueConfig{Bucket: "almanac_cursors", History: 1, Replicas: c.replicas(), Storage: jetstream.FileStorage})
			if err == nil {
				cancelAttempt()
				return l, kv, nil
			}
		}
		cancelAttempt()
		if octx.Err() != nil {
			return nil, nil, fmt.Errorf("cluster: publisher lease and cursor bucket: %w", err)
		}
		log.Info("cluster: waiting for the cluster to place the lease buckets", "err", err)
		select {
		case <-time.After(200 * time.Millisecond):
		case <-octx.Done():
		}
	}
}

// A route whose peer stopped answering without closing it (a firewall
// that drops packets, a peer frozen or cut off by a switch) is closed
// after routeMaxPingsOut pings of routePingInterval go unanswered: 6-8 s
// after the last byte came through, where nats-server's defaults for
// routes (30 s, 2) take 60-90 s. Until then the server sends into the
// route and keeps the peer's interest; closed, it dials the peer again
// (1 s timeouts), and routes come back within a second or two of the
// network healing. A write never waits on it: RAFT and the log's and
// forwarding's own timeouts bound writes (TestClusterPartitionBlackHole).
const (
	routePingInterval = 2 * time.Second
	routeMaxPingsOut  = 3
)

// startLogServer starts this node's embedded nats-server: JetStream under
// DATA/cluster, fsync on every write (sync_interval: always), clustered
// over routes. The node connects in-process, as a user whose password is
// made at start and kept in memory; the client port (loopback, a random
// port: nats-server needs one in a cluster) refuses everyone else.
func startLogServer(c clusterConfig, dataDir string, maxObject int64) (*server.Server, nats.Option, error) {
	host, p, _ := net.SplitHostPort(c.ClusterListen) // validated
	port, err := strconv.Atoi(p)
	if err != nil {
		return nil, nil, &ConfigError{Field: "cluster-listen", Err: err}
	}
	const user = "almanac-log"
	password := rand.Text()
	routeAuth, err := c.routeAuth()
	if err != nil {
		return nil, nil, err
	}
	var routes []*url.URL
	for _, r := range c.routes() {
		routes = append(routes, &url.URL{Scheme: "nats", Host: r, User: routeAuth.user})
	}
	opts := &server.Options{
		ServerName: c.NodeName,
		Host:       "127.0.0.1",
		Port:       server.RANDOM_PORT,
		Users:      []*server.User{{Username: user, Password: password}},
		JetStream:  true,
		StoreDir:   filepath.Join(dataDir, "cluster"),
		SyncAlways: true,
		// An event carries an object's body: room for the largest and
		// the event around it.
		MaxPayload: int32(min(max(2*maxObject, 1<<20), 64<<20)),
		NoSigs:     true,
		NoLog:      true,
		// A node tells the others where its routes are (route gossip):
		// the advertised address, or else --cluster-listen. A node
		// that learns of a peer this way dials it unless the address is
		// in its own --routes.
		Cluster: routeAuth.apply(server.ClusterOpts{Name: c.ClusterName, Host: host, Port: port, Advertise: c.ClusterAdvertise,
			PingInterval: routePingInterval, MaxPingsOut: routeMaxPingsOut}),
		Routes: routes,
	}
	ns, err := server.NewServer(opts)
	if err != nil {
		return nil, nil, fmt.Errorf("cluster: log server: %w", err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(30 * time.Second) {
		ns.Shutdown()
		return nil, nil, errors.New("cluster: the embedded log server did not start within 30s (is --cluster-listen free?)")
	}
	return ns, nats.UserInfo(user, password), nil
}

// close stops the log; the engine must be closed first.
func (cl *clusterLog) close() {
	if cl.log != nil {
		_ = cl.log.Close()
	}
	if cl.nc != nil {
		cl.nc.Close()
	}
	if cl.ns != nil {
		cl.ns.Shutdown()
		cl.ns.WaitForShutdown()
	}
}
