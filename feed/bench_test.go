package feed

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/almanac/almanac/engine"
	feedv1 "github.com/almanac/almanac/proto/almanac/feed/v1"
	"github.com/nats-io/nats.go/jetstream"
)

// fill writes n calendar objects for alice with 16 concurrent writers as
// fast as they can, calling acked(name) right after each write returns.
func fill(b *testing.B, db *engine.DB, n int, acked func(name string)) {
	b.Helper()
	fillPaced(b, db, n, 0, acked)
}

// fillPaced is fill with each writer starting a write at most every
// interval (0: no pause); the writers' ticks are spread over the interval.
func fillPaced(b *testing.B, db *engine.DB, n int, interval time.Duration, acked func(name string)) {
	b.Helper()
	var wg sync.WaitGroup
	const writers = 16
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m := engine.Meta{Actor: "alice", UserAgent: "bench"}
			var tick <-chan time.Time
			if interval > 0 {
				time.Sleep(time.Duration(w) * interval / writers)
				t := time.NewTicker(interval)
				defer t.Stop()
				tick = t.C
			}
			for i := w; i < n; i += writers {
				if tick != nil {
					<-tick
				}
				name := fmt.Sprintf("o%d.ics", i)
				if _, err := db.PutObject(bg, m, home("alice")+"calendar/", name, ical(name, 200), engine.PutOptions{}); err != nil {
					b.Error(err)
					return
				}
				if acked != nil {
					acked(name)
				}
			}
		}()
	}
	wg.Wait()
}

// sinceAck returns, per object, the time from its acknowledgement to its
// arrival, 0 when it arrived first.
func sinceAck(acked, arrived map[string]time.Time) []time.Duration {
	out := make([]time.Duration, 0, len(arrived))
	for name, at := range arrived {
		out = append(out, max(0, at.Sub(acked[name])))
	}
	return out
}

func percentiles(b *testing.B, lat []time.Duration, prefix string) {
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), prefix+"-p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), prefix+"-p99-µs")
}

// BenchmarkLatency measures PUT-to-receive latency — from the moment
// PutObject returns (the write is acknowledged, as a client gets its HTTP
// response) to the change arriving — for a gRPC subscriber and a JetStream
// consumer, over 10k changes written by 16 writers at full speed. A change
// can arrive before its writer's goroutine has returned: that counts as 0.
// The NATS latency is also split at the moment JetStream stored the
// message (its metadata timestamp): "stored" is ack to stored (engine
// wake-up, publisher, broker ingest), "deliver" stored to consumer.
//
// store=disk is the database as a server runs it, every write synced:
// the disk paces the writers (~15k puts/s). store=memory takes the disk
// away, so the writers saturate both cores (~30k puts/s) and the feed
// competes with them for CPU: a stress case, not the target's setting.
func BenchmarkLatency(b *testing.B) {
	b.Run("store=disk", func(b *testing.B) { benchmarkLatency(b, mustOpenDiskDB, 0) })
	b.Run("store=memory", func(b *testing.B) { benchmarkLatency(b, MustOpenDB, 0) })
}

// BenchmarkPacedLatency is BenchmarkLatency at a steady, realistic write
// rate: each of the 16 writers starts a write every 16 ms, about 1,000
// writes/s in all, so the feed is measured without the writers saturating
// the CPU. It takes about 10 s per run.
func BenchmarkPacedLatency(b *testing.B) { benchmarkLatency(b, mustOpenDiskDB, 16*time.Millisecond) }

// benchmarkLatency runs the latency benchmark on a database from open,
// with each writer writing at most every interval (0: full speed).
func benchmarkLatency(b *testing.B, open func(testing.TB) *engine.DB, interval time.Duration) {
	const n = 10000
	for b.Loop() {
		b.StopTimer()
		dir := b.TempDir()
		db := open(b)
		ts := MustServe(b, db, Options{})
		ns := MustNATS(b, filepath.Join(dir, "nats"), "")
		nc := MustConnect(b, ns)
		runPublisher(b, PublisherOptions{DB: db, Conn: nc})
		ctx, cancel := context.WithTimeout(bg, 5*time.Minute)
		s, err := ts.client(b, basic("admin", "secret")).Subscribe(ctx, &feedv1.SubscribeRequest{FromSeq: uint64(db.Head()) + 1})
		if err != nil {
			b.Fatal(err)
		}
		// The consumer is a downstream service: its own connection.
		js, err := jetstream.New(MustConnect(b, ns))
		if err != nil {
			b.Fatal(err)
		}
		var cons jetstream.Consumer
		for cons == nil {
			cons, err = js.OrderedConsumer(ctx, "ALMANAC", jetstream.OrderedConsumerConfig{
				FilterSubjects: []string{"almanac.alice.calendar.calendar.put"}, DeliverPolicy: jetstream.DeliverNewPolicy})
			if err != nil && ctx.Err() != nil {
				b.Fatal(err)
			}
		}
		var mu sync.Mutex
		acked := make(map[string]time.Time, n)
		grpcAt := make(map[string]time.Time, n)
		natsAt := make(map[string]time.Time, n)
		storedAt := make(map[string]time.Time, n)
		natsDone := make(chan struct{})
		cc, err := cons.Consume(func(m jetstream.Msg) {
			now := time.Now()
			var ch feedv1.Change
			if err := protoUnmarshal(m.Data(), &ch); err != nil {
				b.Error(err)
				return
			}
			md, _ := m.Metadata()
			mu.Lock()
			storedAt[ch.Object] = md.Timestamp
			natsAt[ch.Object] = now
			if len(natsAt) == n {
				close(natsDone)
			}
			mu.Unlock()
		})
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		filled := make(chan struct{})
		go func() {
			fillPaced(b, db, n, interval, func(name string) { now := time.Now(); mu.Lock(); acked[name] = now; mu.Unlock() })
			close(filled)
		}()
		for got := 0; got < n; {
			r, err := s.Recv()
			if err != nil {
				b.Fatal(err)
			}
			now := time.Now()
			mu.Lock()
			for _, ch := range r.Changes {
				grpcAt[ch.Object] = now
			}
			got = len(grpcAt)
			mu.Unlock()
		}
		<-natsDone
		<-filled
		b.StopTimer()
		cc.Stop()
		cancel()
		grpcLat, natsLat := sinceAck(acked, grpcAt), sinceAck(acked, natsAt)
		percentiles(b, grpcLat, "grpc")
		percentiles(b, natsLat, "nats")
		percentiles(b, sinceAck(acked, storedAt), "stored")
		percentiles(b, sinceAck(storedAt, natsAt), "deliver")
		b.StartTimer()
	}
}

// BenchmarkReplay measures catch-up throughput: a subscriber reads 200k
// changes from seq 0 over gRPC (bufconn).
func BenchmarkReplay(b *testing.B) {
	const n = 200000
	db := MustOpenDB(b)
	fill(b, db, n, nil)
	ts := MustServe(b, db, Options{})
	c := ts.client(b, basic("admin", "secret"))
	head := uint64(db.Head())
	b.ResetTimer()
	for b.Loop() {
		ctx, cancel := context.WithCancel(bg)
		s, err := c.Subscribe(ctx, &feedv1.SubscribeRequest{})
		if err != nil {
			b.Fatal(err)
		}
		got := 0
		for last := uint64(0); last < head; {
			r, err := s.Recv()
			if err != nil {
				b.Fatal(err)
			}
			got += len(r.Changes)
			last = r.Changes[len(r.Changes)-1].Seq
		}
		cancel()
		if got < n {
			b.Fatalf("got %d changes, want at least %d", got, n)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "changes/s")
}
