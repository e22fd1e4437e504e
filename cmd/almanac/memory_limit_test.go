package main

import (
	"runtime/debug"
	"testing"
)

// TestHoldMemoryLimitOverlapping: two offline commands in one process
// whose runs overlap, the first finishing first, leave the soft memory
// limit as they found it; while either runs, the limit is one of theirs.
func TestHoldMemoryLimitOverlapping(t *testing.T) {
	// Not parallel: it changes the process's limit, which TestMain checks.
	before := debug.SetMemoryLimit(-1)
	releaseA := holdMemoryLimit(func() { debug.SetMemoryLimit(48 << 20) })
	releaseB := holdMemoryLimit(func() { debug.SetMemoryLimit(96 << 20) })
	releaseA()
	if got := debug.SetMemoryLimit(-1); got != 96<<20 {
		t.Errorf("limit while B runs = %d, want B's %d", got, 96<<20)
	}
	releaseB()
	releaseB() // a second call lets go only once
	if got := debug.SetMemoryLimit(-1); got != before {
		t.Fatalf("limit after both = %d, want the one before them, %d", got, before)
	}
	// A command starting after both holds it anew.
	releaseC := holdMemoryLimit(func() { debug.SetMemoryLimit(32 << 20) })
	releaseC()
	if got := debug.SetMemoryLimit(-1); got != before {
		t.Fatalf("limit after C = %d, want %d", got, before)
	}
}
