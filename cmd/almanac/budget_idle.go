package main

import (
	"context"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// Idle release (README, "Memory and disk"): Go keeps the heap a burst grew
// (at --gc-percent 100 up to twice the live heap) and hands its free pages
// back to the kernel only slowly. After a 10,000-event load that was 12
// MiB of anonymous memory out of 42, kept while the server sat idle.
// Collecting and returning it once the server goes quiet costs one
// collection per burst, never while requests run.
const (
	// idleInterval is how often the allocation counter is read.
	idleInterval = 2 * time.Second
	// idleQuiet: fewer bytes allocated in one interval is a quiet server
	// (an idle server's timers and metrics allocate a few KiB).
	idleQuiet = 1 << 20
	// idleBusy: at least this many bytes allocated since the last release
	// make a burst worth releasing.
	idleBusy = 16 << 20
)

// idleReleaser decides when to return memory: Observe gets the bytes
// allocated so far at each tick and says whether to release now.
type idleReleaser struct {
	last, released uint64 // counter at the previous tick, at the last release
}

// Observe reports whether the interval that ended with allocated was quiet
// after a burst: fewer than idleQuiet bytes in it, at least idleBusy since
// the last release.
func (r *idleReleaser) Observe(allocated uint64) bool {
	quiet := allocated-r.last < idleQuiet
	r.last = allocated
	if quiet && allocated-r.released >= idleBusy {
		r.released = allocated
		return true
	}
	return false
}

// releaseWhenIdle runs until ctx ends: every tick it reads the bytes the
// program allocated so far and, when the server turned quiet after a
// burst, calls free (debug.FreeOSMemory: a collection, then every free
// page back to the kernel).
func releaseWhenIdle(ctx context.Context, tick <-chan time.Time, allocated func() uint64, free func()) {
	var r idleReleaser
	r.last = allocated()
	r.released = r.last
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick:
			if r.Observe(allocated()) {
				free()
			}
		}
	}
}

// freeMemory is what the idle release frees: the Go heap's free pages
// (debug.FreeOSMemory: a collection, then every free page back to the
// kernel) and the C allocator's (trimCHeap: Pebble's cache and memtables
// with cgo).
func freeMemory() {
	debug.FreeOSMemory()
	trimCHeap()
}

// startIdleRelease starts releaseWhenIdle with the runtime's allocation
// counter and free (freeMemory, and with --release-code-pages the
// code pages' unmapping too); the returned func stops it.
func startIdleRelease(free func()) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	t := time.NewTicker(idleInterval)
	sample := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	allocated := func() uint64 {
		metrics.Read(sample)
		if sample[0].Value.Kind() != metrics.KindUint64 {
			return 0
		}
		return sample[0].Value.Uint64()
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		releaseWhenIdle(ctx, t.C, allocated, free)
	}()
	return func() { cancel(); t.Stop(); <-done }
}
