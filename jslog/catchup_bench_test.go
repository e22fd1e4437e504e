package jslog

import (
	"context"
	"fmt"
	"os"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/almanac/almanac/engine"
	"github.com/almanac/almanac/internal/calgen"
	"github.com/almanac/almanac/internal/natstest"
)

// catchUpEvents is how many events the catch-up benchmarks' stream holds.
const catchUpEvents = 100000

// BenchmarkCatchUpNATS measures a new node's catch-up through NATS: a
// JetStream stream on an embedded nats-server (one server, in this
// process, a client over TCP on loopback, as a node of a cluster reads
// its own embedded server) holds 100,000 realistic events (a calendar of
// 1 KB recurring events, put by 64 writers), and
//
//   - read: Log.Read from the first event to the last, as a catch-up asks
//     (readBatch records at a time, one read after another): the fetch
//     and the client's decoding alone;
//   - open: an engine opens on an empty data directory against the
//     stream and applies it all (engine.Open returns once caught up):
//     the whole, beside engine's BenchmarkCatchUp (the same log held in
//     memory, no NATS).
//
// events/s is wall time; cpu-µs/event is the process's CPU over the
// events, the server's share included, which a shared machine's load
// changes less:
//
//	go test -run '^$' -bench BenchmarkCatchUpNATS -benchtime 3x ./jslog
func BenchmarkCatchUpNATS(b *testing.B) {
	if os.Getenv("GOGC") == "" {
		defer debug.SetGCPercent(debug.SetGCPercent(engine.GCPercent)) // as serve runs
	}
	l := catchUpStream(b)
	b.Run("read", func(b *testing.B) {
		var used time.Duration
		for range b.N {
			start := cpuTime()
			for from := engine.Seq(1); from <= catchUpEvents; {
				recs, err := l.Read(ctx, from, catchUpBatch)
				if err != nil {
					b.Fatal(err)
				}
				from += engine.Seq(len(recs))
			}
			used += cpuTime() - start
		}
		reportCatchUp(b, used)
	})
	b.Run("open", func(b *testing.B) {
		var used time.Duration
		for range b.N {
			b.StopTimer()
			dir := b.TempDir()
			b.StartTimer()
			start := cpuTime()
			db, err := engine.Open(dir, &engine.Options{Log: l})
			if err != nil {
				b.Fatal(err)
			}
			used += cpuTime() - start
			b.StopTimer()
			if db.Head() != catchUpEvents {
				b.Fatalf("caught up to %d of %d", db.Head(), catchUpEvents)
			}
			if err := db.Close(); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
		}
		reportCatchUp(b, used)
	})
}

// catchUpBatch is how many records the read benchmark asks for at once.
const catchUpBatch = 8192

func reportCatchUp(b *testing.B, used time.Duration) {
	b.ReportMetric(float64(catchUpEvents*b.N)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(used.Microseconds())/float64(catchUpEvents*b.N), "cpu-µs/event")
}

// cpuTime returns the CPU time the process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// catchUpStream returns a Log on a stream of a new server holding
// catchUpEvents events, which an engine wrote to a log in memory.
func catchUpStream(b *testing.B) *Log {
	b.Helper()
	src := &memLog{changed: make(chan struct{})}
	db, err := engine.Open(b.TempDir(), &engine.Options{Log: src, MaxBatch: 1000})
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []engine.CollectionSpec{{Path: "/alice/", Kind: engine.KindHome, Owner: "alice"}, {Path: "/alice/cal/", Kind: engine.KindCalendar, Owner: "alice"}} {
		if _, err := db.CreateCollection(ctx, alice, c); err != nil {
			b.Fatal(err)
		}
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 64 {
		wg.Go(func() {
			for {
				i := next.Add(1)
				if db.Head() >= catchUpEvents || b.Failed() {
					return
				}
				name := fmt.Sprintf("e%d.ics", i)
				if _, err := db.PutObject(ctx, alice, "/alice/cal/", name, calgen.Realistic(name), engine.PutOptions{}); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err := db.Close(); err != nil {
		b.Fatal(err)
	}
	recs := src.recs[:catchUpEvents]
	s := natstest.Cluster(b, 1, nil)[0]
	l := mustLog(b, s, 1)
	if _, err := l.Identity(ctx, src.id); err != nil {
		b.Fatal(err)
	}
	for after := 0; after < len(recs); after += l.opts.MaxBatch {
		if err := l.Append(ctx, engine.Seq(after), recs[after:min(after+l.opts.MaxBatch, len(recs))]); err != nil {
			b.Fatal(err)
		}
	}
	return l
}

// memLog is an engine.SharedLog in memory: what the catch-up benchmark's
// writer appends to, to copy it into a stream afterwards.
type memLog struct {
	mu      sync.Mutex
	recs    [][]byte
	id      []byte
	changed chan struct{} // closed and replaced on every append
}

func (l *memLog) Append(_ context.Context, after engine.Seq, records [][]byte) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if int(after) != len(l.recs) {
		return &engine.LogConflictError{Head: engine.Seq(len(l.recs))}
	}
	for _, r := range records {
		l.recs = append(l.recs, slices.Clone(r))
	}
	close(l.changed)
	l.changed = make(chan struct{})
	return nil
}

func (l *memLog) Read(ctx context.Context, from engine.Seq, max int) ([][]byte, error) {
	for {
		l.mu.Lock()
		recs, changed := l.recs, l.changed
		l.mu.Unlock()
		if int(from) <= len(recs) {
			return slices.Clone(recs[from-1 : min(len(recs), int(from)-1+max)]), nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

func (l *memLog) Head(context.Context) (engine.Seq, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return engine.Seq(len(l.recs)), nil
}

func (l *memLog) Identity(_ context.Context, proposed []byte) ([]byte, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.id == nil {
		l.id = slices.Clone(proposed)
	}
	return l.id, nil
}

var _ engine.SharedLog = (*memLog)(nil)
