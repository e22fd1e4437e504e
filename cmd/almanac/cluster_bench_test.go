package main

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/almanac/almanac/engine"
	"github.com/almanac/almanac/internal/natstest"
	"github.com/almanac/almanac/jslog"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// The cluster benchmarks run three nats-servers clustered on loopback
// (fsync on every write, as serve's embedded servers) with an R3 log, and
// engines on them, in this process: on a shared machine report their
// ratios and latencies, not capacity.
//
//	go test -run '^$' -bench BenchmarkCluster -benchtime 1x ./cmd/almanac

var benchMeta = engine.Meta{Actor: "bench"}

// benchCluster starts three servers and opens one engine per server (on
// an in-memory filesystem) following the R3 log.
func benchCluster(b *testing.B) ([]*server.Server, []*engine.DB) {
	b.Helper()
	servers := natstest.Cluster(b, 3, func(_ int, o *server.Options) { o.SyncAlways = true })
	var dbs []*engine.DB
	for _, s := range servers {
		dbs = append(dbs, benchNode(b, s))
	}
	ctx := context.Background()
	for _, c := range []engine.CollectionSpec{{Path: "/alice/", Kind: engine.KindHome, Owner: "alice"}, {Path: "/alice/cal/", Kind: engine.KindCalendar, Owner: "alice"}} {
		if _, err := dbs[0].CreateCollection(ctx, benchMeta, c); err != nil {
			b.Fatal(err)
		}
	}
	benchCaughtUp(b, dbs, dbs[0].Head())
	return servers, dbs
}

// benchNode opens an engine on s's log, retrying while the cluster places
// it.
func benchNode(b *testing.B, s *server.Server) *engine.DB {
	b.Helper()
	nc, err := nats.Connect(s.ClientURL())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(nc.Close)
	deadline := time.Now().Add(60 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		l, err := jslog.Open(ctx, nc, &jslog.Options{Replicas: 3, Subject: logSubject})
		cancel()
		if err == nil {
			db, err := engine.Open("db", &engine.Options{FS: vfs.NewMem(), Log: l})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { db.Close(); l.Close() })
			return db
		}
		if time.Now().After(deadline) {
			b.Fatal(err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func benchCaughtUp(b *testing.B, dbs []*engine.DB, head engine.Seq) {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	for _, db := range dbs {
		if err := db.WaitFor(ctx, head); err != nil {
			b.Fatalf("at %d of %d: %v", db.Head(), head, err)
		}
	}
}

func benchEvent(uid string) []byte {
	return []byte("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//bench//EN\r\nBEGIN:VEVENT\r\nUID:" + uid +
		"\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20260105T100000Z\r\nSUMMARY:x\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")
}

// fill writes n objects through db with 32 writers.
func fill(b *testing.B, db *engine.DB, prefix string, n int) {
	b.Helper()
	var mu sync.Mutex
	next := 0
	var wg sync.WaitGroup
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				i := next
				next++
				mu.Unlock()
				if i >= n {
					return
				}
				name := fmt.Sprint(prefix, i)
				if _, err := db.PutObject(context.Background(), benchMeta, "/alice/cal/", name+".ics", benchEvent(name), engine.PutOptions{}); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// BenchmarkClusterCatchUp: a node opened on an empty database applies a
// log of 10,000 events from the stream (what a node added on an empty
// data directory does); events/s is the catch-up speed.
func BenchmarkClusterCatchUp(b *testing.B) {
	servers, dbs := benchCluster(b)
	fill(b, dbs[0], "e", 10000)
	head := dbs[0].Head()
	b.ResetTimer()
	for range b.N {
		fresh := benchNode(b, servers[1])
		benchCaughtUp(b, []*engine.DB{fresh}, head)
	}
	b.ReportMetric(float64(head)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkClusterReplicationLag: one writer on node A; for each write,
// the time from A's acknowledgement until node B has applied it.
func BenchmarkClusterReplicationLag(b *testing.B) {
	_, dbs := benchCluster(b)
	a, other := dbs[0], dbs[1]
	lags := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		name := fmt.Sprint("l", i)
		r, err := a.PutObject(context.Background(), benchMeta, "/alice/cal/", name+".ics", benchEvent(name), engine.PutOptions{})
		if err != nil {
			b.Fatal(err)
		}
		acked := time.Now()
		benchCaughtUp(b, []*engine.DB{other}, r.Seq)
		lags = append(lags, time.Since(acked))
	}
	b.StopTimer()
	slices.Sort(lags)
	b.ReportMetric(float64(lags[len(lags)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lags[len(lags)*99/100].Microseconds())/1000, "p99-ms")
}

// BenchmarkClusterFailover: the server leading the log stream dies
// (shut down abruptly, as a kill -9 of its node stops it); the time until
// a write through a survivor succeeds, and until a survivor leads the
// stream.
func BenchmarkClusterFailover(b *testing.B) {
	var total, election time.Duration
	for range b.N {
		b.StopTimer()
		servers, dbs := benchCluster(b)
		leader := -1
		for i, s := range servers {
			if s.JetStreamIsStreamLeader("$G", "ALMANAC_LOG") {
				leader = i
			}
		}
		if leader < 0 {
			b.Fatal("no server leads the log stream")
		}
		survivor := dbs[(leader+1)%3]
		b.StartTimer()
		start := time.Now()
		servers[leader].Shutdown()
		elected := make(chan time.Duration, 1)
		go func() {
			for time.Since(start) < 2*time.Minute {
				for i, s := range servers {
					if i != leader && s.JetStreamIsStreamLeader("$G", "ALMANAC_LOG") {
						elected <- time.Since(start)
						return
					}
				}
				time.Sleep(5 * time.Millisecond)
			}
			elected <- 0
		}()
		for n := 0; ; n++ {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			name := fmt.Sprint("f", n)
			// As a PUT through dav: the node catches up with the log's
			// head first (Sync), then writes.
			err := survivor.Sync(ctx)
			if err == nil {
				_, err = survivor.PutObject(ctx, benchMeta, "/alice/cal/", name+".ics", benchEvent(name), engine.PutOptions{})
			}
			cancel()
			if err == nil {
				break
			}
			if time.Since(start) > 2*time.Minute {
				b.Fatalf("no write succeeded within 2 minutes: %v", err)
			}
		}
		total += time.Since(start)
		election += <-elected
	}
	b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms-to-first-write")
	b.ReportMetric(float64(election.Milliseconds())/float64(b.N), "ms-to-new-leader")
}
