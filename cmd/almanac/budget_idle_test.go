package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// TestIdleReleaser: memory goes back once per burst (idleBusy allocated
// since the last release), idleAfter after the last request began or
// ended, at the first tick of little allocation (the background work a
// burst leaves, such as the engine's idle flush, is done); not while a
// request runs, however long, and not on an idle server; and once more,
// late, idleLate into the quiet spell.
func TestIdleReleaser(t *testing.T) {
	const mib = 1 << 20
	quietTicks := int(idleAfter / idleTick)
	r := idleReleaser{}
	var ticks int
	// observe feeds n ticks of s and returns the release decisions.
	observe := func(n int, s idleSample) []bool {
		var got []bool
		for range n {
			ticks++
			got = append(got, r.Observe(s))
		}
		return got
	}
	released := func(got []bool) int {
		for i, g := range got {
			if g {
				return i
			}
		}
		return -1
	}
	if got := observe(3*quietTicks, idleSample{allocated: 100 << 10}); released(got) >= 0 {
		t.Errorf("an idle server released at tick %d", released(got))
	}
	// A burst of requests ends at 40 MiB: the release comes idleAfter
	// later, not before.
	observe(1, idleSample{allocated: 20 * mib, inFlight: 3, changes: 10})
	observe(1, idleSample{allocated: 40 * mib, changes: 16})
	if got := released(observe(2*quietTicks, idleSample{allocated: 40 * mib, changes: 16})); got != quietTicks-1 {
		t.Errorf("after a burst: released at quiet tick %d, want %d (idleAfter)", got, quietTicks-1)
	}
	if got := observe(3*quietTicks, idleSample{allocated: 40*mib + 1000, changes: 16}); released(got) >= 0 {
		t.Error("released twice after one burst")
	}
	// The late release, once, idleLate into the quiet spell.
	lateTicks := int(idleLate / idleTick)
	if got := released(observe(lateTicks, idleSample{allocated: 40*mib + 2000, changes: 16})); got != lateTicks-5*quietTicks-1 {
		t.Errorf("late release at quiet tick %d of this batch, want %d (idleLate)", got, lateTicks-5*quietTicks-1)
	}
	if got := observe(3*lateTicks, idleSample{allocated: 40*mib + 3000, changes: 16}); released(got) >= 0 {
		t.Error("a second late release after one burst")
	}
	// A long request that allocates little stays in flight: no release.
	if got := observe(3*quietTicks, idleSample{allocated: 60 * mib, inFlight: 1, changes: 17}); released(got) >= 0 {
		t.Error("released while a request was in flight")
	}
	// It ends; background work goes on allocating more than idleTickQuiet
	// a tick: the release waits for the first quiet tick.
	a := uint64(60 * mib)
	var got []bool
	for range 2 * quietTicks {
		a += idleTickQuiet
		got = append(got, observe(1, idleSample{allocated: a, changes: 18})...)
	}
	if released(got) >= 0 {
		t.Error("released while the background work allocated")
	}
	if got := released(observe(1, idleSample{allocated: a, changes: 18})); got != 0 {
		t.Error("no release at the first quiet tick after the background work")
	}
	// A quiet spell after less than idleBusy: no release.
	observe(1, idleSample{allocated: a + 8*mib, changes: 20})
	if got := observe(3*quietTicks, idleSample{allocated: a + 8*mib, changes: 20}); released(got) >= 0 {
		t.Error("released after a burst under idleBusy")
	}
}

// TestReleaseWhenIdle: the loop calls free on the tick the releaser picks
// and stops when its context ends.
func TestReleaseWhenIdle(t *testing.T) {
	quietTicks := int(idleAfter / idleTick)
	samples := []idleSample{{}, {allocated: 32 << 20, changes: 2}}
	for range quietTicks + 2 {
		samples = append(samples, idleSample{allocated: 32 << 20, changes: 2})
	}
	i := 0
	sample := func() idleSample { s := samples[i]; i++; return s }
	freed := 0
	tick := make(chan time.Time)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); releaseWhenIdle(ctx, tick, sample, func(context.Context) { freed++ }) }()
	for range len(samples) - 1 {
		tick <- time.Time{}
	}
	cancel()
	<-done
	if freed != 1 || i != len(samples) {
		t.Errorf("freed %d times after %d samples, want once after %d", freed, i, len(samples))
	}
}

// TestRequestActivity: a request counts as in flight while its handler
// runs, and its start and end both change the count.
func TestRequestActivity(t *testing.T) {
	var a requestActivity
	var during idleSample
	h := a.wrap(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		during = idleSample{inFlight: a.inFlight.Load(), changes: a.changes.Load()}
	}))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	if during.inFlight != 1 || during.changes != 1 || a.inFlight.Load() != 0 || a.changes.Load() != 2 {
		t.Errorf("during: %d in flight, %d changes; after: %d, %d; want 1, 1; 0, 2",
			during.inFlight, during.changes, a.inFlight.Load(), a.changes.Load())
	}
}
