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
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/almanac/almanac/jslog"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// clusterConfig holds the flags that make serve a node of a cluster: its
// log is a JetStream stream, on nats-servers embedded in every node and
// clustered over routes, or on an external NATS cluster.
type clusterConfig struct {
	LogNATSURL    string
	ClusterName   string
	NodeName      string
	ClusterListen string
	Routes        string
	LogReplicas   int
	JoinTimeout   time.Duration
}

func (c *clusterConfig) flags(fs *flag.FlagSet) {
	fs.StringVar(&c.LogNATSURL, "log-nats-url", "", "`URL` of an external NATS cluster holding the log (a cluster node; no embedded log server then)")
	fs.StringVar(&c.ClusterName, "cluster-name", "almanac", "`name` of the NATS cluster the nodes' embedded log servers form")
	fs.StringVar(&c.NodeName, "node-name", "", "this node's `name` in the cluster, unique (required with --cluster-listen)")
	fs.StringVar(&c.ClusterListen, "cluster-listen", "", "`address` (host:port) where the embedded log server takes routes from the other nodes: makes this a cluster node")
	fs.StringVar(&c.Routes, "routes", "", "comma-separated `addresses` (host:port) of the other nodes' --cluster-listen")
	fs.IntVar(&c.LogReplicas, "log-replicas", 0, "replicas of the log stream (0: 3 with two or more --routes, else 1)")
	fs.DurationVar(&c.JoinTimeout, "cluster-join-timeout", 2*time.Minute, "how long a starting node waits for the cluster to place the log")
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
	for _, r := range c.routes() {
		if _, _, err := net.SplitHostPort(r); err != nil {
			return bad("routes", "want host:port, got %q", r)
		}
	}
	if c.LogReplicas < 0 || c.LogReplicas > 5 {
		return bad("log-replicas", "want 0 to 5, got %d", c.LogReplicas)
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

// clusterLog is a running cluster node's log: the connection, and the
// embedded server when there is one.
type clusterLog struct {
	log *jslog.Log
	nc  *nats.Conn
	ns  *server.Server
}

// startClusterLog starts the embedded log server (or connects to the
// external one) and opens the log, waiting up to --cluster-join-timeout
// for the cluster to place it.
func startClusterLog(ctx context.Context, c clusterConfig, dataDir string, maxObject int64, log *slog.Logger) (cl *clusterLog, err error) {
	cl = &clusterLog{}
	defer func() {
		if err != nil {
			cl.close()
		}
	}()
	if c.LogNATSURL != "" {
		if cl.nc, err = nats.Connect(c.LogNATSURL, nats.MaxReconnects(-1)); err != nil {
			return nil, fmt.Errorf("cluster: connect %s: %w", c.LogNATSURL, err)
		}
	} else {
		var user nats.Option
		if cl.ns, user, err = startLogServer(c, dataDir, maxObject); err != nil {
			return nil, err
		}
		if cl.nc, err = nats.Connect("", nats.InProcessServer(cl.ns), user, nats.MaxReconnects(-1)); err != nil {
			return nil, fmt.Errorf("cluster: connect to the embedded log server: %w", err)
		}
	}
	deadline := time.Now().Add(c.JoinTimeout)
	for {
		octx, cancel := context.WithTimeout(ctx, 5*time.Second)
		cl.log, err = jslog.Open(octx, cl.nc, &jslog.Options{Replicas: c.replicas()})
		cancel()
		if err == nil {
			return cl, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return nil, fmt.Errorf("cluster: the log has no place within --cluster-join-timeout %s (are enough nodes up?): %w", c.JoinTimeout, err)
		}
		log.Info("cluster: waiting for the cluster to place the log", "err", err)
		select {
		case <-time.After(500 * time.Millisecond):
		case <-ctx.Done():
		}
	}
}

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
	var routes []*url.URL
	for _, r := range c.routes() {
		routes = append(routes, &url.URL{Scheme: "nats", Host: r})
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
		Cluster:    server.ClusterOpts{Name: c.ClusterName, Host: host, Port: port},
		Routes:     routes,
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
