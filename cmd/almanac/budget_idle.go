package main

import (
	"context"
	"net/http"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync/atomic"
	"time"
)

// Idle release (README, "Memory and disk"): Go keeps the heap a burst grew
// (at --gc-percent 100 up to twice the live heap) and hands its free pages
// back to the kernel only slowly. After a 10,000-event load that was 12
// MiB of anonymous memory out of 42, kept while the server sat idle.
// Collecting and returning it once the server goes quiet costs one
// collection per burst, never while requests run.
//
// Quiet is told by the requests, not by the bytes allocated: up to session
// 14 an interval of 2 s with under 1 MiB allocated was quiet, and the
// engine's idle flush (0.7 MiB, 2 to 4 s after the last write), the
// previous release's own reading of /proc and a request's tail often
// added up to more, so that about 1 run in 4 of the fresh footprint still
// held the burst 5 s after its last request (bench/micro-results.md,
// "Idle release").
const (
	// idleTick is how often the releaser looks.
	idleTick = 250 * time.Millisecond
	// idleAfter: no HTTP request in flight, begun or ended for this long
	// is a quiet server.
	idleAfter = 2 * time.Second
	// idleTickQuiet: fewer bytes allocated in one tick is a server whose
	// background work (a feed's publisher, a cluster's catch-up, a
	// compaction) is done too; an idle server's timers and metrics
	// allocate a few KiB a second.
	idleTickQuiet = 128 << 10
	// idleBusy: at least this many bytes allocated since the last release
	// make a burst worth releasing.
	idleBusy = 16 << 20
	// idleLate: a release is followed by a second one once the server has
	// been quiet this long, for what the embedded NATS server keeps past
	// the first: its file store holds a stream block's messages in a
	// buffer until the block has gone unused for 10 s (nats-server's
	// defaultCacheBufferExpiration, not configurable for a stream), then
	// returns it to a sync.Pool. After a 10,000-event load that was 8 MiB
	// of the 13 MiB live heap at the first release: the block written
	// (4 MiB) and the first block, decompressed to drop the messages past
	// --nats-max-bytes (4 MiB).
	idleLate = 12 * time.Second
)

// requestActivity counts the HTTP requests a server serves, for the idle
// release: those in flight, and every start and end.
type requestActivity struct {
	inFlight atomic.Int64
	changes  atomic.Uint64
}

// wrap counts h's requests in a. The feed's gRPC streams, which last as
// long as their subscribers, are not HTTP requests here (serve wraps the
// handler they bypass).
func (a *requestActivity) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.inFlight.Add(1)
		a.changes.Add(1)
		defer func() {
			a.inFlight.Add(-1)
			a.changes.Add(1)
		}()
		h.ServeHTTP(w, r)
	})
}

// idleSample is what the releaser reads at each tick: the bytes the
// program allocated so far and its requests (requestActivity).
type idleSample struct {
	allocated uint64
	inFlight  int64
	changes   uint64
}

// idleReleaser decides when to return memory: Observe gets a sample at
// each tick and says whether to release now.
type idleReleaser struct {
	last     idleSample
	released uint64        // allocated at the last release
	quiet    time.Duration // since the last request's start or end
	late     bool          // a release awaits its late one (idleLate)
}

// Observe reports whether to release at the tick that took s, idleTick
// after the previous one: no request in flight, begun or ended for
// idleAfter, under idleTickQuiet allocated since the previous tick, and
// at least idleBusy since the last release; or, once after each such
// release, at the first tick of as little allocation idleLate into a
// quiet spell (requests in between only put it off).
func (r *idleReleaser) Observe(s idleSample) bool {
	if s.inFlight > 0 || s.changes != r.last.changes {
		r.quiet = 0
	} else {
		r.quiet += idleTick
	}
	tickQuiet := s.allocated-r.last.allocated < idleTickQuiet
	r.last = s
	if r.quiet >= idleAfter && tickQuiet && s.allocated-r.released >= idleBusy {
		r.released, r.late = s.allocated, true
		return true
	}
	if r.late && r.quiet >= idleLate && tickQuiet {
		r.late = false
		return true
	}
	return false
}

// releaseWhenIdle runs until ctx ends: at every tick it takes a sample
// and, when the server turned quiet after a burst, calls free with ctx.
func releaseWhenIdle(ctx context.Context, tick <-chan time.Time, sample func() idleSample, free func(context.Context)) {
	var r idleReleaser
	r.last = sample()
	r.released = r.last.allocated
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick:
			if r.Observe(sample()) {
				free(ctx)
			}
		}
	}
}

// freeMemory is what the idle release frees: the Go heap's free pages
// (runtime.GC, then debug.FreeOSMemory, which collects again and hands
// every free page back to the kernel: a sync.Pool's objects go only at
// the second collection) and the C allocator's (trimCHeap: Pebble's cache
// and memtables with cgo).
func freeMemory() {
	runtime.GC()
	debug.FreeOSMemory()
	trimCHeap()
}

// startIdleRelease starts releaseWhenIdle with the runtime's allocation
// counter, a's requests and free (serve's: the engine's idle flush, then
// freeMemory, and with --release-code-pages the code pages' unmapping
// too); the returned func stops it, ending a release under way.
func startIdleRelease(a *requestActivity, free func(context.Context)) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	t := time.NewTicker(idleTick)
	ms := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	sample := func() idleSample {
		s := idleSample{inFlight: a.inFlight.Load(), changes: a.changes.Load()}
		metrics.Read(ms)
		if ms[0].Value.Kind() == metrics.KindUint64 {
			s.allocated = ms[0].Value.Uint64()
		}
		return s
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		releaseWhenIdle(ctx, t.C, sample, free)
	}()
	return func() { cancel(); t.Stop(); <-done }
}
