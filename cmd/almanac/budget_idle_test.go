package main

import (
	"context"
	"testing"
	"time"
)

// TestIdleReleaser: memory goes back only in a quiet interval (under
// idleQuiet allocated) that follows a burst (idleBusy since the last
// release), once per burst: not while busy, not on an idle server.
func TestIdleReleaser(t *testing.T) {
	const mib = 1 << 20
	r := idleReleaser{}
	for i, c := range []struct {
		allocated uint64
		want      bool
	}{
		{100 * 1024, false},       // idle since the start
		{20 * mib, false},         // a burst
		{60 * mib, false},         // still busy
		{60*mib + 1000, true},     // quiet after 60 MiB: release
		{60*mib + 2000, false},    // still quiet, nothing new
		{70 * mib, false},         // a smaller burst
		{70*mib + 5000, false},    // quiet, but under idleBusy since the release
		{80 * mib, false},         // busy again
		{80*mib + 512*1024, true}, // quiet (under 1 MiB) after 20 MiB
	} {
		if got := r.Observe(c.allocated); got != c.want {
			t.Errorf("tick %d at %d bytes: release %v, want %v", i, c.allocated, got, c.want)
		}
	}
}

// TestReleaseWhenIdle: the loop calls free on the tick the releaser picks
// and stops when its context ends.
func TestReleaseWhenIdle(t *testing.T) {
	counts := []uint64{0, 0, 32 << 20, 32<<20 + 10, 32<<20 + 20}
	i := 0
	allocated := func() uint64 { v := counts[i]; i++; return v }
	freed := 0
	tick := make(chan time.Time)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); releaseWhenIdle(ctx, tick, allocated, func() { freed++ }) }()
	for range len(counts) - 1 {
		tick <- time.Time{}
	}
	cancel()
	<-done
	if freed != 1 || i != len(counts) {
		t.Errorf("freed %d times after %d reads, want once after %d", freed, i, len(counts))
	}
}
