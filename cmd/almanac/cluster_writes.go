package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/almanac/almanac/engine"
	"github.com/almanac/almanac/internal/forward"
	"github.com/almanac/almanac/jslog"
	"github.com/almanac/almanac/lease"
	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
)

// How a cluster node writes (--cluster-writes).
const (
	// writesForward: a node forwards its clients' DAV writes to the
	// cluster's one writer (package forward), which appends them with
	// compare-and-set like any write. Measured through three serve
	// processes at 32 clients (BenchmarkClusterWrites, under load):
	// 388-549 PUT/s against cas's 257-370, p99 219-256 ms against
	// 305-460 ms, because no append loses a race; failover the same.
	writesForward = "forward"
	// writesCAS: every node appends its own writes with compare-and-set;
	// the losers of a race catch up and run again.
	writesCAS = "cas"
)

// forwarded reports whether a request is a write that a cluster node
// forwards to the writer: a DAV method that changes state. The web app's
// POSTs stay on the node (its sessions live in the node's memory), the
// admin API's too (backup, compact, verify act on the node's own data),
// and so do gRPC streams; they append with compare-and-set, as every
// write does with --cluster-writes=cas.
func forwarded(r *http.Request) bool {
	if r.URL.Path != "/dav" && !strings.HasPrefix(r.URL.Path, "/dav/") {
		return false
	}
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/grpc") {
		return false
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, "PROPFIND", "REPORT":
		return false
	}
	return true
}

// startForwarding puts the forwarding of client writes (--cluster-writes
// forward) in front of h and returns the handler to serve. The writer is
// the node whose embedded log server leads the log stream: its appends go
// to the stream's leader in process, and it changes within a Poll of the
// stream's election (tens of milliseconds after the leader dies). With
// --log-nats-url no node's server leads it: the writer is the holder of
// the publisher lease.
func (m *Main) startForwarding(h http.Handler, pub *lease.Lease, reg *prometheus.Registry) (http.Handler, error) {
	cl := m.cluster
	if cl == nil {
		return h, nil
	}
	leads := pub.Held
	if ns := cl.ns; ns != nil {
		leads = func() bool {
			// A server that is not clustered (one node) is the writer.
			return !ns.JetStreamIsClustered() || ns.JetStreamIsStreamLeader("$G", jslog.DefaultStream)
		}
		if err := reg.Register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "almanac_cluster_stream_leader",
			Help: "1 while this node's embedded log server leads the log stream (with --cluster-writes=forward: this node is the writer); 0 otherwise.",
		}, func() float64 {
			if leads() {
				return 1
			}
			return 0
		})); err != nil {
			return nil, err
		}
	}
	if m.Config.Cluster.Writes != writesForward {
		return h, nil
	}
	nc, err := cl.connect(nats.MaxReconnects(-1), nats.Name("almanac-forward"))
	if err != nil {
		return nil, err
	}
	db := m.DB
	fw, err := forward.Start(forward.Options{
		Conn:    nc,
		Leads:   leads,
		Forward: forwarded,
		Head:    func() uint64 { return uint64(db.Head()) },
		WaitFor: func(ctx context.Context, seq uint64) error { return db.WaitFor(ctx, engine.Seq(seq)) },
		Logger:  m.Logger.With("component", "forward"),
	}, h)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("cluster: %w", err)
	}
	m.stops = append(m.stops, hookStop{"forwarding", func(ctx context.Context) error {
		fw.Close(ctx)
		nc.Close()
		return nil
	}})
	if err := reg.Register(forwardCollector{fw}); err != nil {
		return nil, err
	}
	return fw, nil
}

// forwardCollector exports forward.Stats.
type forwardCollector struct{ fw *forward.Node }

var forwardDesc = prometheus.NewDesc("almanac_cluster_forwarded_total",
	"Client writes by how they ran (--cluster-writes=forward): forwarded (to the writer, answer relayed), local (no writer answered, it refused, or the body was too large: compare-and-set here), lost (the writer stopped answering: 503), served (forwarded to this node as the writer), refused (this writer was busy).",
	[]string{"outcome"}, nil)

func (c forwardCollector) Describe(ch chan<- *prometheus.Desc) { ch <- forwardDesc }

func (c forwardCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.fw.Stats()
	for _, o := range []struct {
		name string
		n    int64
	}{{"forwarded", st.Forwarded}, {"local", st.Local}, {"lost", st.Lost}, {"served", st.Served}, {"refused", st.Refused}} {
		ch <- prometheus.MustNewConstMetric(forwardDesc, prometheus.CounterValue, float64(o.n), o.name)
	}
}
