package jslog

import (
	"fmt"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/almanac/almanac/engine"
	"github.com/almanac/almanac/internal/natstest"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// BenchmarkClusterPut measures durable puts by 32 concurrent writers
// (b.N puts in all), in one run:
//
//   - single: one engine on its own Pebble log (the default, no cluster);
//   - cas: three engines, each on one of three clustered nats-servers
//     with an R3 log, fsync on every write (sync_interval: always, as
//     serve's embedded servers), the writers spread over the three, each
//     engine appending with compare-and-set (Almanac's design);
//   - forward: the same cluster, the writers spread the same way, but the
//     two other engines forward every put to the first (a NATS request)
//     and answer once they have applied it (read-your-writes): one writer,
//     no lost races, an extra hop and the replication lag;
//   - cas-nosync: as cas, the servers on NATS's default sync policy
//     (fsync every two minutes; an acknowledgement means in memory on a
//     quorum).
//
// It reports puts/s, the p50 and p99 latency of a put, the lost races
// (conflicts) and the unanswered appends tried again (retries) per put,
// and the mean append (a quorum's commit). Everything runs in one
// process: on a shared machine compare the ratios, not the capacity.
//
//	go test -run '^$' -bench BenchmarkClusterPut -benchtime 2000x ./jslog
func BenchmarkClusterPut(b *testing.B) {
	for _, mode := range []string{"single", "cas", "forward", "cas-nosync"} {
		b.Run(mode, func(b *testing.B) {
			servers, nodes := benchNodes(b, mode)
			put := func(db *engine.DB, name string) error {
				_, err := db.PutObject(ctx, alice, "/alice/cal/", name+".ics", event(name), engine.PutOptions{})
				return err
			}
			if mode == "forward" {
				put = forwarder(b, servers, nodes)
			}
			const writers = 32
			var (
				mu   sync.Mutex
				next int
				lats = make([]time.Duration, 0, b.N)
				wg   sync.WaitGroup
			)
			b.ResetTimer()
			for w := range writers {
				db := nodes[w%len(nodes)]
				wg.Go(func() {
					for {
						mu.Lock()
						i := next
						next++
						mu.Unlock()
						if i >= b.N {
							return
						}
						start := time.Now()
						if err := put(db, "e"+strconv.Itoa(i)); err != nil {
							b.Error(err)
							return
						}
						lat := time.Since(start)
						mu.Lock()
						lats = append(lats, lat)
						mu.Unlock()
					}
				})
			}
			wg.Wait()
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "puts/s")
			slices.Sort(lats)
			if len(lats) > 0 {
				b.ReportMetric(float64(lats[len(lats)/2].Microseconds())/1000, "p50-ms")
				b.ReportMetric(float64(lats[len(lats)*99/100].Microseconds())/1000, "p99-ms")
			}
			var conflicts, retries int64
			var appends engine.Histogram
			for _, db := range nodes {
				st, err := db.Stats()
				if err != nil {
					b.Fatal(err)
				}
				conflicts += st.LogConflicts
				retries += st.LogRetries
				appends.Count += st.AppendSeconds.Count
				appends.Sum += st.AppendSeconds.Sum
			}
			if len(nodes) > 1 {
				b.ReportMetric(float64(conflicts)/float64(b.N), "conflicts/put")
				b.ReportMetric(float64(retries)/float64(b.N), "retries/put")
				b.ReportMetric(1000*appends.Sum/float64(max(appends.Count, 1)), "append-ms")
			}
		})
	}
}

// benchNodes opens the engines of mode (BenchmarkClusterPut) on disk,
// with a calendar that every one of them has applied.
func benchNodes(b *testing.B, mode string) ([]*server.Server, []*engine.DB) {
	var servers []*server.Server
	var nodes []*engine.DB
	if mode == "single" {
		db, err := engine.Open(b.TempDir(), nil)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { db.Close() })
		nodes = []*engine.DB{db}
	} else {
		servers = natstest.Cluster(b, 3, func(_ int, o *server.Options) { o.SyncAlways = mode != "cas-nosync" })
		for _, s := range servers {
			db, err := engine.Open(b.TempDir(), &engine.Options{Log: mustLog(b, s, 3)})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { db.Close() })
			nodes = append(nodes, db)
		}
	}
	for _, c := range []engine.CollectionSpec{{Path: "/alice/", Kind: engine.KindHome, Owner: "alice"}, {Path: "/alice/cal/", Kind: engine.KindCalendar, Owner: "alice"}} {
		if _, err := nodes[0].CreateCollection(ctx, alice, c); err != nil {
			b.Fatal(err)
		}
	}
	for _, db := range nodes {
		if err := db.WaitFor(ctx, nodes[0].Head()); err != nil {
			b.Fatal(err)
		}
	}
	return servers, nodes
}

// forwarder makes nodes[0] the one writer: a put on another node is a
// NATS request to it through that node's server, answered with the put's
// sequence number, and the node answers once it has applied that far
// (read-your-writes on every node, as with compare-and-set).
func forwarder(b *testing.B, servers []*server.Server, nodes []*engine.DB) func(*engine.DB, string) error {
	conns := make(map[*engine.DB]*nats.Conn)
	for i, s := range servers {
		nc, err := nats.Connect(s.ClientURL())
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(nc.Close)
		conns[nodes[i]] = nc
	}
	writer := nodes[0]
	sub, err := conns[writer].Subscribe("bench.forward", func(m *nats.Msg) {
		go func() {
			name := string(m.Data)
			res, err := writer.PutObject(ctx, alice, "/alice/cal/", name+".ics", event(name), engine.PutOptions{})
			if err != nil {
				m.Respond([]byte("error: " + err.Error()))
				return
			}
			m.Respond([]byte(strconv.FormatUint(uint64(res.Seq), 10)))
		}()
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { sub.Unsubscribe() })
	if err := conns[writer].Flush(); err != nil {
		b.Fatal(err)
	}
	return func(db *engine.DB, name string) error {
		if db == writer {
			_, err := db.PutObject(ctx, alice, "/alice/cal/", name+".ics", event(name), engine.PutOptions{})
			return err
		}
		reply, err := conns[db].Request("bench.forward", []byte(name), time.Minute)
		if err != nil {
			return fmt.Errorf("forward %s: %w", name, err)
		}
		seq, err := strconv.ParseUint(string(reply.Data), 10, 64)
		if err != nil {
			return fmt.Errorf("forward %s: %s", name, reply.Data)
		}
		return db.WaitFor(ctx, engine.Seq(seq))
	}
}
